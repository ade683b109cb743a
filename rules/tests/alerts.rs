#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions
mod common;

use chrono::Duration;
use common::t;
use privtrail_model::EventId;
use privtrail_rules::{AlertStatus, Finding, Severity, Silence, ack, apply_findings, resolve};

fn finding(rule: &str, subject: &str, principal: &str, condition: bool, ev: &str) -> Finding {
    Finding {
        rule: rule.into(),
        severity: Severity::High,
        subject: subject.into(),
        principal: Some(principal.into()),
        privilege: Some("Administrators".into()),
        scope: Some("h1".into()),
        summary: format!("{rule} about {subject}"),
        event_ids: vec![EventId::from_stored(ev.into())],
        elevation_id: None,
        condition,
    }
}

const DAY: i64 = 24;

#[test]
fn one_alert_per_subject_updates_and_auto_resolves() {
    let now = t("2024-01-01T10:00:00Z");
    let f = finding("overdue-elevation", "el1", "alice", true, "e1");
    let ch = apply_findings(
        &[],
        &[f.clone(), f.clone()],
        &["overdue-elevation"],
        now,
        &[],
        Duration::hours(DAY),
    );
    assert_eq!(ch.opened.len(), 1);
    assert_eq!(ch.notify, vec![ch.opened[0].id.clone()]);
    let alert = ch.opened[0].clone();
    // Reported again, unchanged: nothing to do.
    let later = now + Duration::minutes(5);
    let ch = apply_findings(
        std::slice::from_ref(&alert),
        std::slice::from_ref(&f),
        &["overdue-elevation"],
        later,
        &[],
        Duration::hours(DAY),
    );
    assert!(
        ch.opened.is_empty()
            && ch.updated.is_empty()
            && ch.resolved.is_empty()
            && ch.notify.is_empty()
    );
    // With a new event id: updated, not duplicated.
    let f2 = finding("overdue-elevation", "el1", "alice", true, "e2");
    let ch = apply_findings(
        std::slice::from_ref(&alert),
        &[f2],
        &["overdue-elevation"],
        later,
        &[],
        Duration::hours(DAY),
    );
    assert_eq!(ch.updated.len(), 1);
    assert_eq!(ch.updated[0].event_ids.len(), 2);
    assert_eq!(ch.updated[0].updated_at, later);
    // Another rule ran, this one did not: stays open.
    let ch = apply_findings(
        std::slice::from_ref(&alert),
        &[],
        &["audit-tampering"],
        later,
        &[],
        Duration::hours(DAY),
    );
    assert!(ch.resolved.is_empty());
    // This rule ran and no longer reports it: resolved.
    let ch = apply_findings(
        std::slice::from_ref(&alert),
        &[],
        &["overdue-elevation"],
        later,
        &[],
        Duration::hours(DAY),
    );
    assert_eq!(ch.resolved.len(), 1);
    assert_eq!(ch.resolved[0].status, AlertStatus::Resolved);
    // Firing again after resolution opens a new alert.
    let resolved = ch.resolved[0].clone();
    let again = later + Duration::hours(1);
    let ch = apply_findings(
        std::slice::from_ref(&resolved),
        &[f],
        &["overdue-elevation"],
        again,
        &[],
        Duration::hours(DAY),
    );
    assert_eq!(ch.opened.len(), 1);
    assert_ne!(ch.opened[0].id, resolved.id);
}

#[test]
fn occurrences_stay_open_until_a_person_resolves_them() {
    let now = t("2024-01-01T10:00:00Z");
    let f = finding("audit-tampering", "h1|1102", "x", false, "e1");
    let a = apply_findings(
        &[],
        &[f],
        &["audit-tampering"],
        now,
        &[],
        Duration::hours(DAY),
    )
    .opened
    .remove(0);
    let ch = apply_findings(
        std::slice::from_ref(&a),
        &[],
        &["audit-tampering"],
        now,
        &[],
        Duration::hours(DAY),
    );
    assert!(ch.resolved.is_empty());
    let acked = ack(&a, now).unwrap();
    assert_eq!(acked.status, AlertStatus::Acknowledged);
    assert_eq!(ack(&acked, now).unwrap(), acked);
    let done = resolve(&acked, now).unwrap();
    assert_eq!(done.status, AlertStatus::Resolved);
    assert_eq!(done.resolved_at, Some(now));
    assert!(ack(&done, now).is_err());
    assert!(resolve(&done, now).is_err());
}

#[test]
fn renotify_open_but_not_acknowledged() {
    let now = t("2024-01-01T10:00:00Z");
    let f = finding("standing-access", "el9", "bob", true, "e1");
    let a = apply_findings(
        &[],
        std::slice::from_ref(&f),
        &["standing-access"],
        now,
        &[],
        Duration::hours(DAY),
    )
    .opened
    .remove(0);
    let soon = now + Duration::hours(23);
    let ch = apply_findings(
        std::slice::from_ref(&a),
        std::slice::from_ref(&f),
        &["standing-access"],
        soon,
        &[],
        Duration::hours(DAY),
    );
    assert!(ch.notify.is_empty());
    let day = now + Duration::hours(24);
    let ch = apply_findings(
        std::slice::from_ref(&a),
        std::slice::from_ref(&f),
        &["standing-access"],
        day,
        &[],
        Duration::hours(DAY),
    );
    assert_eq!(ch.notify, vec![a.id.clone()]);
    assert_eq!(ch.updated[0].last_notified_at, Some(day));
    let acked = ack(&a, soon).unwrap();
    let ch = apply_findings(
        &[acked],
        &[f],
        &["standing-access"],
        day,
        &[],
        Duration::hours(DAY),
    );
    assert!(ch.notify.is_empty());
}

#[test]
fn silences_suppress_opening_and_renotify() {
    let now = t("2024-01-01T10:00:00Z");
    let f = finding("overdue-elevation", "el1", "Alice@Contoso.com", true, "e1");
    let s = Silence {
        rule: Some("overdue-elevation".into()),
        principal: Some("alice@contoso.com".into()),
        until: now + Duration::hours(2),
    };
    let ch = apply_findings(
        &[],
        std::slice::from_ref(&f),
        &["overdue-elevation"],
        now,
        std::slice::from_ref(&s),
        Duration::hours(DAY),
    );
    assert!(ch.opened.is_empty() && ch.notify.is_empty());
    // Another principal is not silenced.
    let g = finding("overdue-elevation", "el2", "bob", true, "e2");
    let ch = apply_findings(
        &[],
        &[g],
        &["overdue-elevation"],
        now,
        std::slice::from_ref(&s),
        Duration::hours(DAY),
    );
    assert_eq!(ch.opened.len(), 1);
    // After the silence ends, the condition still holding opens the alert.
    let after = now + Duration::hours(3);
    let ch = apply_findings(
        &[],
        std::slice::from_ref(&f),
        &["overdue-elevation"],
        after,
        std::slice::from_ref(&s),
        Duration::hours(DAY),
    );
    assert_eq!(ch.opened.len(), 1);
    // A silence over an already open alert holds back re-notification, not auto-resolution.
    let a = ch.opened[0].clone();
    let s2 = Silence {
        rule: None,
        principal: None,
        until: after + Duration::days(3),
    };
    let later = after + Duration::days(2);
    let ch = apply_findings(
        std::slice::from_ref(&a),
        &[f],
        &["overdue-elevation"],
        later,
        std::slice::from_ref(&s2),
        Duration::hours(DAY),
    );
    assert!(ch.notify.is_empty());
    let ch = apply_findings(
        std::slice::from_ref(&a),
        &[],
        &["overdue-elevation"],
        later,
        &[s2],
        Duration::hours(DAY),
    );
    assert_eq!(ch.resolved.len(), 1);
}

#[test]
fn alert_json_uses_spec_names() {
    let now = t("2024-01-01T10:00:00Z");
    let f = finding("overdue-elevation", "el1", "alice", true, "e1");
    let a = apply_findings(
        &[],
        &[f],
        &["overdue-elevation"],
        now,
        &[],
        Duration::hours(DAY),
    )
    .opened
    .remove(0);
    let v = serde_json::to_value(&a).unwrap();
    for k in [
        "id",
        "rule",
        "severity",
        "status",
        "principal",
        "privilege",
        "scope",
        "opened_at",
        "updated_at",
        "summary",
        "event_ids",
        "elevation_id",
    ] {
        assert!(v.get(k).is_some(), "{k}");
    }
    assert_eq!(v["status"], "open");
    assert_eq!(v["severity"], "high");
    assert_eq!(v["opened_at"], "2024-01-01T10:00:00Z");
    let back: privtrail_rules::Alert = serde_json::from_value(v).unwrap();
    assert_eq!(back, a);
}
