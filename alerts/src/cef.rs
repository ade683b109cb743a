//! ArcSight CEF lines: `CEF:0|privtrail|privtrail|{version}|{class id}|{name}|{severity}|{extensions}`.
//!
//! Header fields escape `\` and `|` (newlines become spaces); extension values escape `\`, `=` and
//! newlines (`\n`, `\r` as the two-character escapes). Class id: the rule for alerts, the action for
//! events. Severity 0-10: info 1, low 3, medium 5, high 8, critical 10; events 3, `audit.log_cleared` 10.

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event};

use crate::AlertNotice;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The extension a shortened line ends with (see [`crate::syslog::format_within`]).
pub const TRUNCATED: &str = "cs6Label=truncated cs6=true";

/// Escapes a header field.
pub fn escape_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an extension value.
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// CEF severity of an alert severity name.
pub fn alert_severity(severity: &str) -> u8 {
    match severity {
        "critical" => 10,
        "high" => 8,
        "medium" => 5,
        "info" => 1,
        _ => 3,
    }
}

/// CEF severity of an event.
pub fn event_severity(e: &Event) -> u8 {
    if e.action == Action::AuditLogCleared {
        10
    } else {
        3
    }
}

struct Ext(String);

impl Ext {
    fn add(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(key);
            self.0.push('=');
            self.0.push_str(&escape_value(v));
        }
    }

    fn labeled(&mut self, n: u8, label: &str, value: Option<&str>) {
        if value.is_some() {
            self.add(&format!("cs{n}Label"), Some(label));
            self.add(&format!("cs{n}"), value);
        }
    }
}

fn ms(t: DateTime<Utc>) -> String {
    t.timestamp_millis().to_string()
}

fn header(class: &str, name: &str, severity: u8) -> String {
    format!(
        "CEF:0|privtrail|privtrail|{VERSION}|{}|{}|{severity}|",
        escape_header(class),
        escape_header(name)
    )
}

/// The CEF line of an alert.
pub fn alert_line(a: &AlertNotice, idempotency_key: &str) -> String {
    let mut x = Ext(String::new());
    x.add("rt", Some(&ms(a.opened_at)));
    x.add("duser", a.principal.as_deref());
    x.add("dhost", a.scope.as_deref());
    x.labeled(1, "rule", Some(&a.rule));
    x.labeled(2, "privilege", a.privilege.as_deref());
    x.labeled(3, "alertId", Some(&a.id));
    x.add("msg", Some(&a.summary));
    x.add("externalId", Some(idempotency_key));
    header(&a.rule, &a.summary, alert_severity(&a.severity)) + &x.0
}

/// The CEF line of a forwarded event.
pub fn event_line(e: &Event, idempotency_key: &str) -> String {
    let mut x = Ext(String::new());
    x.add("rt", Some(&ms(e.time)));
    x.add("suser", e.actor.as_deref());
    x.add("duser", e.target.as_deref());
    x.add("dhost", e.host.as_deref().or(e.scope.as_deref()));
    x.labeled(2, "privilege", e.privilege.as_deref());
    x.labeled(3, "eventId", Some(e.id.as_str()));
    x.add("msg", (!e.message.is_empty()).then_some(e.message.as_str()));
    x.add("outcome", Some(e.outcome.as_str()));
    x.add("externalId", Some(idempotency_key));
    let name = if e.message.is_empty() {
        e.action.as_str()
    } else {
        &e.message
    };
    header(e.action.as_str(), name, event_severity(e)) + &x.0
}

/// The CEF line of a chain anchor.
pub fn anchor_line(a: &crate::AnchorNotice, idempotency_key: &str) -> String {
    let mut x = Ext(String::new());
    x.add("rt", Some(&ms(a.at)));
    x.labeled(1, "store", Some(&a.store));
    x.labeled(2, "seq", Some(&a.seq.to_string()));
    x.labeled(3, "hash", Some(&a.hash));
    x.add("externalId", Some(idempotency_key));
    header("chain.anchor", "privtrail chain anchor", 1) + &x.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use privtrail_model::{EventId, Source};

    fn notice() -> AlertNotice {
        let t = DateTime::parse_from_rfc3339("2026-11-26T10:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc);
        AlertNotice {
            id: "a-1".into(),
            rule: "standing|access".into(),
            severity: "critical".into(),
            status: "open".into(),
            principal: Some("alice@contoso.com".into()),
            privilege: Some("Global Administrator".into()),
            scope: Some("/".into()),
            opened_at: t,
            updated_at: t,
            summary: "a=b \\ c\nd|e".into(),
            event_ids: vec![],
            elevation_id: None,
            link: None,
        }
    }

    #[test]
    fn escapes_header_and_extensions() {
        assert_eq!(escape_header(r"a|b\c"), r"a\|b\\c");
        assert_eq!(escape_value("a=b\\c\nd\re|f"), r"a\=b\\c\nd\re|f");
        let line = alert_line(&notice(), "k=1");
        assert_eq!(
            line,
            format!(
                "CEF:0|privtrail|privtrail|{VERSION}|standing\\|access|a=b \\\\ c d\\|e|10|\
                 rt=1795687200250 duser=alice@contoso.com dhost=/ cs1Label=rule cs1=standing|access \
                 cs2Label=privilege cs2=Global Administrator cs3Label=alertId cs3=a-1 \
                 msg=a\\=b \\\\ c\\nd|e externalId=k\\=1"
            )
        );
    }

    #[test]
    fn event_line_has_actor_outcome_and_severity() {
        let t = DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut e = Event::new(
            EventId::windows("DC1", "Security", 7),
            Source::Windows,
            Action::AuditLogCleared,
            t,
            "1102",
        );
        e.actor = Some("CONTOSO\\bob".into());
        e.host = Some("DC1".into());
        let line = event_line(&e, "key");
        assert!(line.starts_with(&format!(
            "CEF:0|privtrail|privtrail|{VERSION}|audit.log_cleared|audit.log_cleared|10|rt=1795687200000 suser=CONTOSO\\\\bob dhost=DC1 "
        )));
        assert!(line.ends_with(" outcome=success externalId=key"), "{line}");
    }
}
