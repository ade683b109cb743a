//! The `collector.error` event: how a failing collector shows up where users look (search, alerts).

use chrono::{DateTime, Timelike, Utc};
use privtrail_model::{Action, Event, EventId, Outcome, Source};

use super::error::GraphError;

/// A `collector.error` event for `err` at `now` (pure).
///
/// The id covers the endpoint, the error kind and `now` cut to the minute, so a retry storm within
/// one minute stores one event, while a failure that persists still shows up once a minute it is
/// retried. The message is the error's own: it names the endpoint and what to grant or fix.
pub fn collector_error_event(tenant: &str, err: &GraphError, now: DateTime<Utc>) -> Event {
    let minute = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let code = format!("graph.{}", err.kind.code());
    let native = format!(
        "{}|{}|{}",
        err.endpoint,
        code,
        minute.format("%Y-%m-%dT%H:%MZ")
    );
    let mut e = Event::new(
        EventId::native(Source::Privtrail, tenant, &native),
        Source::Privtrail,
        Action::CollectorError,
        now,
        code,
    );
    e.tenant = Some(tenant.to_owned());
    e.outcome = Outcome::Failure;
    e.actor = Some("privtrail".to_owned());
    e.message = err.message.clone();
    let permission = match &err.kind {
        super::ErrorKind::Permission { permission } => Some(permission.as_str()),
        _ => None,
    };
    e.raw = serde_json::json!({
        "collector": "graph",
        "endpoint": err.endpoint,
        "kind": err.kind.code(),
        "status": err.status,
        "permission": permission,
        "message": err.message,
    })
    .to_string();
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ErrorKind;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .expect("time")
    }

    #[test]
    fn one_event_per_endpoint_kind_and_minute() {
        let err = crate::graph::error::from_graph_response(
            403,
            br#"{"error":{"code":"Authorization_RequestDenied","message":"x"}}"#,
            "/auditLogs/directoryAudits",
            "contoso",
            None,
        );
        let a = collector_error_event("contoso", &err, at("2026-01-01T10:00:05Z"));
        let b = collector_error_event("contoso", &err, at("2026-01-01T10:00:59Z"));
        let c = collector_error_event("contoso", &err, at("2026-01-01T10:01:00Z"));
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(a.action, Action::CollectorError);
        assert_eq!(a.source, Source::Privtrail);
        assert_eq!(a.outcome, Outcome::Failure);
        assert_eq!(a.tenant.as_deref(), Some("contoso"));
        assert_eq!(a.event_code, "graph.permission");
        assert_eq!(
            a.message,
            "Graph request to /auditLogs/directoryAudits was denied (403 \
             Authorization_RequestDenied): grant the application permission AuditLog.Read.All \
             and admin consent"
        );
        let raw: serde_json::Value = serde_json::from_str(&a.raw).expect("raw json");
        assert_eq!(raw["permission"], "AuditLog.Read.All");
        let other = GraphError::new(
            ErrorKind::Transient,
            "/auditLogs/directoryAudits",
            "contoso",
            "x",
        );
        assert_ne!(
            collector_error_event("contoso", &other, at("2026-01-01T10:00:05Z")).id,
            a.id
        );
    }
}
