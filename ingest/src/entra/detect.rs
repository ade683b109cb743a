//! Detection of the Entra import formats by content, and a small JSON structure scanner used by
//! detection (on a head cut at 64 KiB) and by the reader (to salvage the records of a damaged
//! document).

use serde_json::{Map, Value};

use super::convert::{Shape, shape_of};
use super::json::{JsonMap, JsonValue, get};
use crate::Format;

/// What the head of a file is, as far as Entra imports go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detected {
    Format(Format),
    /// JSON from Microsoft Graph (or with Graph-like wrappers) whose records are no audit records,
    /// such as `roleAssignmentScheduleInstances` pages.
    NotAuditLog,
}

/// Index just past the object or array that starts `b`; `None` when `b` ends first.
pub(crate) fn value_end(b: &[u8]) -> Option<usize> {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for (i, &c) in b.iter().enumerate() {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Byte spans of the complete objects that sit directly in an array at most two levels deep: the
/// records of `[…]`, `{"value":[…]}` or `{"records":[…]}`.
pub(crate) fn record_spans(b: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut stack: Vec<u8> = Vec::new();
    let (mut in_str, mut esc) = (false, false);
    let mut start: Option<(usize, usize)> = None;
    for (i, &c) in b.iter().enumerate() {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => {
                if c == b'{' && start.is_none() && stack.last() == Some(&b'[') && stack.len() <= 2 {
                    start = Some((i, stack.len()));
                }
                stack.push(c);
            }
            b'}' | b']' => {
                stack.pop();
                if let Some((s, depth)) = start
                    && stack.len() == depth
                {
                    spans.push((s, i + 1));
                    start = None;
                }
            }
            _ => {}
        }
    }
    spans
}

/// The array of records a wrapper object holds (`value`, `records`), if it is one.
pub(crate) fn wrapped<M: JsonMap>(m: &M) -> Option<(&'static str, &[M::Value])> {
    if shape_of(m).is_some() {
        return None;
    }
    ["value", "records"]
        .into_iter()
        .find_map(|k| get(m, k).and_then(JsonValue::array).map(|a| (k, a)))
}

fn graph_context_is_other(m: &Map<String, Value>) -> bool {
    get(m, "@odata.context")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.to_ascii_lowercase().contains("directoryaudits"))
}

fn classify_object(m: &Map<String, Value>) -> Option<Detected> {
    if let Some((key, records)) = wrapped(m) {
        return match records.first() {
            Some(Value::Object(r)) => {
                Some(shape_of(r).map_or(Detected::NotAuditLog, |s| Detected::Format(s.format())))
            }
            Some(_) => None,
            None if graph_context_is_other(m) => Some(Detected::NotAuditLog),
            None if key == "records" => Some(Detected::Format(Format::AzureMonitor)),
            None => Some(Detected::Format(Format::Graph)),
        };
    }
    if get(m, "tables").and_then(Value::as_array).is_some() {
        return Some(Detected::Format(Format::LogAnalytics));
    }
    match shape_of(m) {
        Some(s) => Some(Detected::Format(s.format())),
        None if get(m, "@odata.context").is_some() => Some(Detected::NotAuditLog),
        None => None,
    }
}

fn classify(v: &Value) -> Option<Detected> {
    match v {
        Value::Object(m) => classify_object(m),
        Value::Array(a) => a
            .iter()
            .find_map(Value::as_object)
            .and_then(classify_object),
        _ => None,
    }
}

/// Key names on a head too short to parse (a first record longer than 64 KiB).
fn by_key_names(b: &[u8]) -> Option<Detected> {
    let s = String::from_utf8_lossy(b).to_ascii_lowercase();
    if !s.contains("\"activitydisplayname\"") && !s.contains("\"activitydatetime\"") {
        return None;
    }
    let shape = if s.contains("\"properties\"") && s.contains("\"operationname\"") {
        Shape::AzureMonitor
    } else if s.contains("\"timegenerated\"") || s.contains("\"initiatedby\":\"") {
        Shape::LogAnalytics
    } else {
        Shape::Graph
    };
    Some(Detected::Format(shape.format()))
}

/// A CSV header of the Log Analytics `AuditLogs` table (the portal writes `TimeGenerated [UTC]`).
pub(crate) fn csv_header_names(line: &str) -> Vec<String> {
    let delim = csv_delimiter(line);
    line.split(delim as char)
        .map(|h| {
            let h = h
                .trim()
                .trim_start_matches('\u{feff}')
                .trim_matches('"')
                .trim();
            h.split(" [").next().unwrap_or(h).trim().to_owned()
        })
        .collect()
}

/// `,`, `;` or tab, whichever the header line has most of.
pub(crate) fn csv_delimiter(line: &str) -> u8 {
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| line.bytes().filter(|b| b == d).count())
        .unwrap_or(b',')
}

fn csv_like(b: &[u8]) -> bool {
    let first = b.split(|&c| c == b'\n').next().unwrap_or(b);
    let names = csv_header_names(&String::from_utf8_lossy(first));
    let has = |n: &str| names.iter().any(|x| x.eq_ignore_ascii_case(n));
    (has("ActivityDisplayName") || has("OperationName"))
        && (has("ActivityDateTime") || has("TimeGenerated"))
}

/// Detect an Entra import from the head of a file (whitespace and BOM already skipped;
/// `complete` when it is the whole file).
pub(crate) fn sniff(body: &[u8], complete: bool) -> Option<Detected> {
    match body.first() {
        Some(b'{' | b'[') => {
            if let Some(end) = value_end(body)
                && let Ok(v) = serde_json::from_slice::<Value>(&body[..end])
            {
                return classify(&v);
            }
            let first = record_spans(body).into_iter().find_map(|(s, e)| {
                serde_json::from_slice::<Value>(&body[s..e])
                    .ok()
                    .and_then(|v| classify(&v))
            });
            first.or_else(|| (!complete).then(|| by_key_names(body)).flatten())
        }
        Some(_) => csv_like(body).then_some(Detected::Format(Format::LogAnalytics)),
        None => None,
    }
}

/// What a file detected as [`Detected::NotAuditLog`] holds, for the error message.
pub(crate) fn describe_not_audit(body: &[u8]) -> String {
    let end = value_end(body).unwrap_or(body.len());
    let context = serde_json::from_slice::<Value>(&body[..end])
        .ok()
        .and_then(|v| {
            v.as_object()
                .and_then(|m| get(m, "@odata.context"))
                .and_then(Value::as_str)
                .map(|c| c.rsplit('#').next().unwrap_or(c).to_owned())
        });
    match context {
        Some(c) => format!("a Microsoft Graph response of {c}, not directoryAudits"),
        None => "JSON records without activityDisplayName or activityDateTime".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_finds_values_and_records() {
        let doc = br#"{"value":[{"a":"}"},{"b":[{"c":1}]}],"x":1} tail"#;
        let end = value_end(doc).unwrap();
        assert_eq!(&doc[end..], b" tail");
        let spans = record_spans(doc);
        let texts: Vec<&[u8]> = spans.iter().map(|&(s, e)| &doc[s..e]).collect();
        assert_eq!(
            texts,
            vec![&br#"{"a":"}"}"#[..], &br#"{"b":[{"c":1}]}"#[..]]
        );
        assert_eq!(value_end(br#"{"a":"\"}"#), None);
    }

    #[test]
    fn sniffs() {
        let f = |b: &[u8]| sniff(b, true);
        let graph = Some(Detected::Format(Format::Graph));
        assert_eq!(
            f(br#"{"value":[{"id":"x","activityDisplayName":"a"}]}"#),
            graph
        );
        assert_eq!(f(br#"[{"ID":"x","ACTIVITYDISPLAYNAME":"a"}]"#), graph);
        assert_eq!(
            f(br#"{"@odata.context":"x#roleManagement/directory/roleAssignmentScheduleInstances","value":[{"principalId":"p"}]}"#),
            Some(Detected::NotAuditLog)
        );
        assert_eq!(
            f(b"TimeGenerated [UTC],OperationName,Id\n1,2,3\n"),
            Some(Detected::Format(Format::LogAnalytics))
        );
        assert_eq!(f(b"a,b,c\n"), None);
        assert_eq!(f(br#"{"foo":1}"#), None);
        // Cut inside the second record: the first one decides.
        assert_eq!(
            sniff(
                br#"{"records":[{"time":"t","operationName":"o","properties":{}},{"ti"#,
                false
            ),
            Some(Detected::Format(Format::AzureMonitor))
        );
    }
}
