//! Events as rows: the field list of SPEC §2 in order, each event's values, and the one rule that
//! keeps a CSV cell from running as a spreadsheet formula. The CLI (`search --format csv`) and the
//! API (`/api/v1/export`) both write with these.

use privtrail_model::{Event, format_time};

/// Every field of SPEC §2 but `raw` (kept out of spreadsheets; JSON carries it), in order.
pub const EVENT_FIELDS: [&str; 20] = [
    "id",
    "time",
    "ingested_at",
    "source",
    "tenant",
    "host",
    "action",
    "outcome",
    "actor",
    "target",
    "target_name",
    "privilege",
    "privilege_id",
    "scope",
    "expires_at",
    "justification",
    "correlation_id",
    "event_code",
    "record_id",
    "message",
];

/// The values of [`EVENT_FIELDS`] for one event (empty for a missing value).
pub fn event_values(e: &Event) -> [String; 20] {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        e.id.to_string(),
        format_time(e.time),
        format_time(e.ingested_at),
        e.source.as_str().to_owned(),
        o(&e.tenant),
        o(&e.host),
        e.action.to_string(),
        e.outcome.as_str().to_owned(),
        o(&e.actor),
        o(&e.target),
        o(&e.target_name),
        o(&e.privilege),
        o(&e.privilege_id),
        o(&e.scope),
        e.expires_at.map(format_time).unwrap_or_default(),
        o(&e.justification),
        o(&e.correlation_id),
        e.event_code.clone(),
        o(&e.record_id),
        e.message.clone(),
    ]
}

/// A CSV cell that a spreadsheet will not run as a formula (OWASP's rule: a leading `=`, `+`,
/// `-`, `@`, tab or carriage return gets a `'` in front). Quoting is the CSV writer's job.
pub fn csv_safe(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("-1"), "'-1");
        assert_eq!(csv_safe("S-1-5-32-544"), "S-1-5-32-544");
    }
}
