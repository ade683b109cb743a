//! The three import shapes of one audit record, and their conversion to a Graph `directoryAudit`:
//! Graph itself, a Log Analytics `AuditLogs` row (PascalCase columns, JSON-string columns decoded a
//! second time) and an Azure Monitor diagnostic record (`{"time","operationName","category",
//! "tenantId","properties":{…}}`).

use serde_json::{Map, Value};

use super::json::{JsonMap, JsonValue, get, obj, text};
use crate::Format;

/// The shape of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Graph,
    LogAnalytics,
    AzureMonitor,
}

impl Shape {
    pub(crate) fn format(self) -> Format {
        match self {
            Shape::Graph => Format::Graph,
            Shape::LogAnalytics => Format::LogAnalytics,
            Shape::AzureMonitor => Format::AzureMonitor,
        }
    }
}

/// Columns that hold JSON as text in Log Analytics (and sometimes in Azure Monitor records).
const JSON_COLUMNS: [&str; 3] = ["initiatedBy", "targetResources", "additionalDetails"];

/// Graph key ← Log Analytics columns (first present wins).
const LA_COLUMNS: [(&str, &[&str]); 12] = [
    ("id", &["Id"]),
    ("category", &["Category"]),
    ("correlationId", &["CorrelationId"]),
    ("result", &["Result", "ResultType"]),
    ("resultReason", &["ResultReason", "ResultDescription"]),
    (
        "activityDisplayName",
        &["ActivityDisplayName", "OperationName"],
    ),
    ("activityDateTime", &["ActivityDateTime", "TimeGenerated"]),
    ("loggedByService", &["LoggedByService"]),
    ("operationType", &["AADOperationType", "OperationType"]),
    ("initiatedBy", &["InitiatedBy"]),
    ("targetResources", &["TargetResources"]),
    ("additionalDetails", &["AdditionalDetails"]),
];

fn audit_like<M: JsonMap>(m: &M) -> bool {
    get(m, "activityDisplayName").is_some()
        || (get(m, "activityDateTime").is_some()
            && (get(m, "targetResources").is_some() || get(m, "initiatedBy").is_some()))
}

/// The shape of a record, or `None` when it is no audit record.
pub(crate) fn shape_of<M: JsonMap>(m: &M) -> Option<Shape> {
    if get(m, "properties").is_some_and(|p| p.as_map().is_some() || p.string().is_some())
        && (get(m, "operationName").is_some() || get(m, "time").is_some())
    {
        return Some(Shape::AzureMonitor);
    }
    if !audit_like(m) && get(m, "OperationName").is_none() {
        return None;
    }
    let stringly = JSON_COLUMNS
        .iter()
        .any(|k| get(m, k).is_some_and(|v| v.string().is_some()));
    let la_only = [
        "TimeGenerated",
        "TenantId",
        "SourceSystem",
        "AADOperationType",
    ]
    .iter()
    .any(|k| get(m, k).is_some());
    if stringly || la_only {
        Some(Shape::LogAnalytics)
    } else if audit_like(m) {
        Some(Shape::Graph)
    } else {
        None
    }
}

/// A record converted for normalization.
#[derive(Debug)]
pub(crate) enum Converted {
    /// A `directoryAudit` and the tenant id the record carries, if any.
    Audit(Value, Option<String>),
    /// A record of another log (an Azure Monitor `SignInLogs` record): skipped, with why.
    Skip(String),
}

/// Decode a JSON-string column: text starting with `{` or `[` is parsed, empty text is `null`.
fn decode(key: &str, v: &Value) -> Result<Value, String> {
    match v {
        Value::String(s) if s.trim().is_empty() => Ok(Value::Null),
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => {
            serde_json::from_str(s).map_err(|e| format!("{key} holds invalid JSON text: {e}"))
        }
        Value::String(s) => Err(format!("{key} is text, not JSON: {s:?}")),
        other => Ok(other.clone()),
    }
}

fn tenant_of(m: &Map<String, Value>) -> Option<String> {
    text(m, "TenantId").or_else(|| text(m, "AADTenantId"))
}

/// Turn a record of any shape into a `directoryAudit`. The error is a reject reason.
pub(crate) fn to_directory_audit(v: Value) -> Result<Converted, String> {
    let Value::Object(m) = v else {
        return Err("not a JSON object".to_owned());
    };
    match shape_of(&m) {
        None => Err(
            "not an audit record (no activityDisplayName, activityDateTime with initiatedBy or \
             targetResources, or Azure Monitor properties)"
                .to_owned(),
        ),
        Some(Shape::Graph) => Ok(Converted::Audit(Value::Object(m), None)),
        Some(Shape::LogAnalytics) => {
            let mut out = Map::new();
            for (key, columns) in LA_COLUMNS {
                if let Some(v) = columns
                    .iter()
                    .find_map(|c| get(&m, c).filter(|v| !v.is_null()))
                {
                    let v = if JSON_COLUMNS.contains(&key) {
                        decode(columns[0], v)?
                    } else {
                        v.clone()
                    };
                    out.insert(key.to_owned(), v);
                }
            }
            Ok(Converted::Audit(Value::Object(out), tenant_of(&m)))
        }
        Some(Shape::AzureMonitor) => {
            if let Some(c) = text(&m, "category")
                && !c.eq_ignore_ascii_case("AuditLogs")
            {
                return Ok(Converted::Skip(format!("category {c}, not AuditLogs")));
            }
            let props = match get(&m, "properties") {
                Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                    .map_err(|e| format!("properties holds invalid JSON text: {e}"))?,
                Some(v) => v.clone(),
                None => Value::Null,
            };
            let Value::Object(mut props) = props else {
                return Err("properties is not a JSON object".to_owned());
            };
            for key in JSON_COLUMNS {
                if let Some((k, v)) = props.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
                    *v = decode(k, v)?;
                }
            }
            let fill = [
                ("activityDateTime", "time"),
                ("activityDisplayName", "operationName"),
                ("correlationId", "correlationId"),
                ("result", "resultType"),
            ];
            for (key, from) in fill {
                if get(&props, key).is_none_or(Value::is_null)
                    && let Some(v) = get(&m, from).filter(|v| !v.is_null())
                {
                    props.insert(key.to_owned(), v.clone());
                }
            }
            let tenant = text(&m, "tenantId")
                .or_else(|| obj(&m, "identity").and_then(|i| text(i, "tenantId")));
            Ok(Converted::Audit(Value::Object(props), tenant))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes() {
        let s = |v: Value| shape_of(v.as_object().unwrap());
        assert_eq!(
            s(json!({"id":"x","activityDisplayName":"a","activityDateTime":"t"})),
            Some(Shape::Graph)
        );
        assert_eq!(
            s(json!({"Id":"x","ActivityDisplayName":"a","InitiatedBy":"{}"})),
            Some(Shape::LogAnalytics)
        );
        assert_eq!(
            s(json!({"time":"t","operationName":"a","category":"AuditLogs","properties":{}})),
            Some(Shape::AzureMonitor)
        );
        assert_eq!(
            s(json!({"principalId":"p","assignmentType":"Assigned"})),
            None
        );
    }

    #[test]
    fn log_analytics_row_is_decoded_twice() {
        let row = json!({"Id":"i","TenantId":"t","ActivityDisplayName":"Add member to role",
            "TimeGenerated":"2024-01-01T00:00:00Z","InitiatedBy":"{\"app\":{\"displayName\":\"MS-PIM\"}}",
            "TargetResources":"[]","AdditionalDetails":""});
        let Ok(Converted::Audit(a, tenant)) = to_directory_audit(row) else {
            panic!("not converted")
        };
        assert_eq!(tenant.as_deref(), Some("t"));
        assert_eq!(a["initiatedBy"]["app"]["displayName"], "MS-PIM");
        assert_eq!(a["activityDateTime"], "2024-01-01T00:00:00Z");
        assert_eq!(a["targetResources"], json!([]));
        assert!(a.get("additionalDetails").is_none_or(Value::is_null));
        let bad = json!({"Id":"i","ActivityDisplayName":"x","InitiatedBy":"{not json"});
        assert!(to_directory_audit(bad).unwrap_err().contains("InitiatedBy"));
    }

    #[test]
    fn azure_monitor_other_categories_are_skipped() {
        let r = json!({"time":"t","operationName":"Sign-in activity","category":"SignInLogs","properties":{}});
        assert!(matches!(to_directory_audit(r), Ok(Converted::Skip(_))));
    }
}
