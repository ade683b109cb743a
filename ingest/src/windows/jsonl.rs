//! JSON lines from agents: Winlogbeat 7/8 and Elastic Agent (`winlog.*`), Winlogbeat 6 (`event_data`,
//! `computer_name`), NXLog `im_msvistalog` (flat), and the `evtx` crate's own record JSON. Keys are
//! matched without regard to case.

use std::io::BufRead;

use serde_json::{Map, Value};

use super::record::{Fields, WinRecord, keywords_audit_failure, parse_time};
use crate::Format;
use crate::emit::Emitter;

/// The largest line accepted; longer ones are rejected without being held in memory.
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// Which JSON shape a record has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Winlogbeat,
    Winlogbeat6,
    Nxlog,
    /// `{"Event":{"System":…}}` as the `evtx` crate renders a record.
    EvtxJson,
}

impl Shape {
    pub(crate) fn format(self) -> Option<Format> {
        match self {
            Shape::Winlogbeat | Shape::Winlogbeat6 => Some(Format::Winlogbeat),
            Shape::Nxlog => Some(Format::Nxlog),
            Shape::EvtxJson => None,
        }
    }
}

/// A key, exact first, then without regard to case (the first such in the object's order).
pub(crate) fn get<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let other_case = |m: &'a Map<String, Value>| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    };
    // A record's objects have a few keys: comparing them is cheaper than hashing the key
    // (SipHash), which was 7 % of the Entra parsing thread. One pass finds either match.
    if m.len() > SCAN_KEYS {
        return m.get(key).or_else(|| other_case(m));
    }
    scan_members(m.iter().map(|(k, v)| (k.as_str(), v)), key)
}

/// The value of `key` among `members` (in order): the exact name, else the first that matches it
/// without regard to ASCII case. One pass, no hashing.
pub(crate) fn scan_members<'a, V: 'a>(
    members: impl IntoIterator<Item = (&'a str, &'a V)>,
    key: &str,
) -> Option<&'a V> {
    let mut first_other = None;
    for (k, v) in members {
        if k.len() == key.len() {
            if k == key {
                return Some(v);
            }
            if first_other.is_none() && k.eq_ignore_ascii_case(key) {
                first_other = Some(v);
            }
        }
    }
    first_other
}

/// Objects with up to this many keys are searched by comparing names (see [`get`]).
const SCAN_KEYS: usize = 24;

fn obj<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    get(m, key).and_then(Value::as_object)
}

/// A scalar as text: strings as they are, numbers in decimal, `null` and containers `None`.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            a.iter().map(value_text).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

/// The shape of a parsed record, or `None` when it is none of the supported ones.
pub(crate) fn shape_of(m: &Map<String, Value>) -> Option<Shape> {
    if obj(m, "winlog").is_some() {
        Some(Shape::Winlogbeat)
    } else if get(m, "event_id").is_some()
        && (get(m, "event_data").is_some()
            || get(m, "user_data").is_some()
            || get(m, "computer_name").is_some()
            || get(m, "log_name").is_some())
    {
        Some(Shape::Winlogbeat6)
    } else if get(m, "EventID").is_some()
        && (get(m, "Hostname").is_some() || get(m, "Channel").is_some())
    {
        Some(Shape::Nxlog)
    } else if obj(m, "Event").is_some_and(|e| obj(e, "System").is_some()) {
        Some(Shape::EvtxJson)
    } else {
        None
    }
}

/// Parse one JSON line into a [`WinRecord`]. `forced` makes a file-level `--format` apply to every
/// line; otherwise each line's shape is detected. The error is a reason for a reject.
pub(crate) fn parse_line(line: &str, forced: Option<Format>) -> Result<WinRecord<'static>, String> {
    parse_line_borrowed(line, forced).map(WinRecord::into_owned)
}

/// [`parse_line`], borrowing from `line` where it can: Winlogbeat 7/8 lines as Beats writes them
/// take the typed fast path ([`super::jsonl_fast`]); everything else, and anything the fast path is
/// not sure of, takes the `Value` path, which gives the same record for what the fast path accepts.
fn parse_line_borrowed(line: &str, forced: Option<Format>) -> Result<WinRecord<'_>, String> {
    if forced.is_none_or(|f| f == Format::Winlogbeat)
        && let Some(rec) = super::jsonl_fast::winlogbeat(line)
    {
        return Ok(rec);
    }
    parse_line_value(line, forced)
}

/// [`parse_line`] through a `serde_json::Value`: every shape, and every reason for a reject.
pub(super) fn parse_line_value(
    line: &str,
    forced: Option<Format>,
) -> Result<WinRecord<'static>, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(m) = value else {
        return Err("not a JSON object".to_owned());
    };
    let shape = shape_of(&m).ok_or_else(|| {
        "unrecognized record shape (no winlog, event_id/event_data, EventID/Hostname or Event/System)"
            .to_owned()
    })?;
    if let (Some(f), Some(sf)) = (forced, shape.format())
        && f != sf
    {
        return Err(format!("record is {sf}, not {f}"));
    }
    match shape {
        Shape::Winlogbeat => winlogbeat(&m, line),
        Shape::Winlogbeat6 => winlogbeat6(&m, line),
        Shape::Nxlog => nxlog(&m, line),
        Shape::EvtxJson => super::evtx_json::parse_record_json(line, None, &|_| true)?
            .map(WinRecord::into_owned)
            .ok_or_else(|| "record not selected".to_owned()),
    }
}

fn required_u64(v: Option<&Value>, what: &str) -> Result<u64, String> {
    text(v)
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("missing or non-numeric {what}"))
}

fn required_time(v: Option<&Value>, what: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    text(v)
        .and_then(|s| parse_time(&s))
        .ok_or_else(|| format!("missing or invalid {what}"))
}

fn fields_of(m: Option<&Map<String, Value>>) -> Fields<'static> {
    m.map(|m| m.iter().map(|(k, v)| (k.clone(), value_text(v))).collect())
        .unwrap_or_default()
}

/// `user_data` holds the fields either directly or under one element (`LogFileCleared`).
fn user_data_fields(m: Option<&Map<String, Value>>) -> Fields<'static> {
    let Some(m) = m else {
        return Fields::new();
    };
    let mut f = Fields::new();
    for (k, v) in m {
        match v {
            Value::Object(inner) => {
                for (ik, iv) in inner {
                    if !ik.starts_with('#') {
                        f.push(ik.clone(), value_text(iv));
                    }
                }
            }
            _ if k == "xml_name" || k.starts_with('#') => {}
            other => f.push(k.clone(), value_text(other)),
        }
    }
    f
}

fn has_audit_failure(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Array(a)) => a.iter().any(|k| {
            k.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("Audit Failure"))
        }),
        Some(Value::String(s)) => s.eq_ignore_ascii_case("Audit Failure"),
        _ => false,
    }
}

/// Winlogbeat 7/8 and Elastic Agent: `winlog.*`, `@timestamp` is the event's creation time.
fn winlogbeat(m: &Map<String, Value>, line: &str) -> Result<WinRecord<'static>, String> {
    let w = obj(m, "winlog").ok_or("no winlog object")?;
    let event = obj(m, "event");
    let event_id = required_u64(
        get(w, "event_id").or_else(|| event.and_then(|e| get(e, "code"))),
        "winlog.event_id",
    )?;
    let computer = text(get(w, "computer_name"))
        .or_else(|| obj(m, "host").and_then(|h| text(get(h, "name"))))
        .unwrap_or_default();
    let event_data = obj(w, "event_data");
    let data = if event_data.is_some_and(|d| !d.is_empty()) {
        fields_of(event_data)
    } else {
        user_data_fields(obj(w, "user_data"))
    };
    let outcome_failure = event
        .and_then(|e| get(e, "outcome"))
        .and_then(Value::as_str)
        .is_some_and(|o| o.eq_ignore_ascii_case("failure"));
    Ok(WinRecord {
        provider: text(get(w, "provider_name")).unwrap_or_default().into(),
        event_id: u32::try_from(event_id).map_err(|_| "event id out of range".to_owned())?,
        channel: text(get(w, "channel")).unwrap_or_default().into(),
        computer: computer.into(),
        record_id: required_u64(get(w, "record_id"), "winlog.record_id")?,
        time: required_time(get(m, "@timestamp"), "@timestamp")?,
        audit_failure: outcome_failure || has_audit_failure(get(w, "keywords")),
        data,
        raw: line.to_owned().into(),
    })
}

/// Winlogbeat 6: top-level `event_id`, `log_name`, `computer_name`, `record_number`, `source_name`,
/// `event_data`/`user_data`.
fn winlogbeat6(m: &Map<String, Value>, line: &str) -> Result<WinRecord<'static>, String> {
    let event_id = required_u64(get(m, "event_id"), "event_id")?;
    let event_data = obj(m, "event_data");
    let data = if event_data.is_some_and(|d| !d.is_empty()) {
        fields_of(event_data)
    } else {
        user_data_fields(obj(m, "user_data"))
    };
    Ok(WinRecord {
        provider: text(get(m, "source_name")).unwrap_or_default().into(),
        event_id: u32::try_from(event_id).map_err(|_| "event id out of range".to_owned())?,
        channel: text(get(m, "log_name")).unwrap_or_default().into(),
        computer: text(get(m, "computer_name")).unwrap_or_default().into(),
        record_id: required_u64(get(m, "record_number"), "record_number")?,
        time: required_time(get(m, "@timestamp"), "@timestamp")?,
        audit_failure: has_audit_failure(get(m, "keywords")),
        data,
        raw: line.to_owned().into(),
    })
}

/// NXLog `im_msvistalog`: flat, event data at the top level beside NXLog's own fields.
fn nxlog(m: &Map<String, Value>, line: &str) -> Result<WinRecord<'static>, String> {
    let event_id = required_u64(get(m, "EventID"), "EventID")?;
    // `EventTime` and `EventReceivedTime` are the agent's LOCAL time without a zone. `@timestamp`
    // (added by the shipper, UTC) is preferred when present; otherwise the local times are taken as
    // UTC, which is only right for agents running in UTC.
    let time = required_time(
        get(m, "@timestamp")
            .or_else(|| get(m, "EventReceivedTime"))
            .or_else(|| get(m, "EventTime")),
        "@timestamp/EventTime",
    )?;
    let audit_failure = text(get(m, "Keywords")).is_some_and(|k| keywords_audit_failure(&k))
        || text(get(m, "EventType")).is_some_and(|t| t.eq_ignore_ascii_case("AUDIT_FAILURE"));
    Ok(WinRecord {
        provider: text(get(m, "SourceName"))
            .or_else(|| text(get(m, "ProviderName")))
            .unwrap_or_default()
            .into(),
        event_id: u32::try_from(event_id).map_err(|_| "event id out of range".to_owned())?,
        channel: text(get(m, "Channel")).unwrap_or_default().into(),
        computer: text(get(m, "Hostname")).unwrap_or_default().into(),
        record_id: required_u64(get(m, "RecordNumber"), "RecordNumber")?,
        time,
        audit_failure,
        data: fields_of(Some(m)),
        raw: line.to_owned().into(),
    })
}

/// Read one line of at most `max` bytes into `buf` (without its `\n`/`\r\n`). Returns the bytes
/// consumed (0 at end of input) and whether the line was longer than `max` (then `buf` holds its
/// first `max` bytes and the rest was skipped).
pub(crate) fn read_line_limited(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    buf.clear();
    let mut consumed = 0;
    let mut too_long = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            break;
        }
        let (chunk, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (&avail[..i], Some(i + 1)),
            None => (avail, None),
        };
        let room = max.saturating_sub(buf.len());
        if chunk.len() > room {
            too_long = true;
        }
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = done.unwrap_or(avail.len());
        r.consume(used);
        consumed += used;
        if done.is_some() {
            break;
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok((consumed, too_long))
}

/// Read JSON lines from `r` into `em`. A bad line is a reject naming its line number; a read error
/// (a truncated gzip stream) is damage and ends the file, keeping what came before.
pub(crate) fn read(
    r: &mut dyn BufRead,
    forced: Option<Format>,
    em: &mut Emitter<'_>,
    progress: &dyn Fn(),
) {
    read_from(r, forced, em, progress, 0);
}

/// [`read`] of a part of a file: its first line is line `lines_before + 1`.
pub(crate) fn read_from(
    r: &mut dyn BufRead,
    forced: Option<Format>,
    em: &mut Emitter<'_>,
    progress: &dyn Fn(),
    lines_before: u64,
) {
    let mut buf = Vec::with_capacity(4096);
    let mut line_no: u64 = lines_before;
    let max = em.opts().limits.max_record_bytes;
    loop {
        let res = read_line_limited(r, &mut buf, max);
        line_no += 1;
        let (consumed, too_long) = match res {
            Ok(x) => x,
            Err(e) => {
                em.damage(&format!("line {line_no}"), format_args!("read error: {e}"));
                if !buf.iter().all(u8::is_ascii_whitespace) {
                    let raw = String::from_utf8_lossy(&buf);
                    em.reject(
                        format!("line {line_no}"),
                        format!("truncated record: {e}"),
                        &raw,
                    );
                }
                break;
            }
        };
        if consumed == 0 {
            break;
        }
        if line_no.is_multiple_of(1024) {
            progress();
        }
        let location = || format!("line {line_no}");
        if too_long {
            let raw = String::from_utf8_lossy(&buf);
            em.reject(
                location(),
                format!("record longer than {max} bytes ([ingest] max_record_bytes)"),
                &raw,
            );
            continue;
        }
        let line = match std::str::from_utf8(&buf) {
            Ok(s) => s.trim_start_matches('\u{feff}').trim(),
            Err(e) => {
                let raw = String::from_utf8_lossy(&buf).into_owned();
                em.reject(location(), format!("invalid UTF-8: {e}"), &raw);
                continue;
            }
        };
        if line.is_empty() {
            continue;
        }
        match parse_line_borrowed(line, forced) {
            Ok(rec) => em.record(rec),
            Err(reason) => em.reject(location(), reason, line),
        }
        if em.stopped() {
            return;
        }
    }
    progress();
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Small objects (compared name by name) and large ones (hashed) answer alike: the exact
    /// name wins wherever it stands, else the first name in another case.
    #[test]
    fn get_prefers_the_exact_name_then_the_first_in_another_case() {
        for filler in [0, SCAN_KEYS + 5] {
            let mut m = Map::new();
            for i in 0..filler {
                m.insert(format!("k{i}"), json!(i));
            }
            m.insert("ID".into(), json!("upper"));
            m.insert("Id".into(), json!("mixed"));
            m.insert("id".into(), json!("exact"));
            let got = |k: &str| get(&m, k).and_then(Value::as_str).map(str::to_owned);
            assert_eq!(got("id").as_deref(), Some("exact"), "{filler}");
            assert_eq!(got("iD").as_deref(), Some("upper"), "{filler}");
            assert_eq!(got("ID").as_deref(), Some("upper"), "{filler}");
            assert_eq!(got("name"), None, "{filler}");
            assert_eq!(get(&m, "K1").is_some(), filler > 1, "{filler}");
        }
    }
}
