#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions
mod common;

use common::*;
use privtrail_model::Action;
use privtrail_rules::{EndReason, Policy, Tracker, at, elevations_for_key, key_of};

const SID: &str = "S-1-5-21-2603537626-3982775912-406486804";

fn member(rid: u32) -> String {
    format!("{SID}-{rid}")
}

/// The four Administrators events of `security.evtx` (SPEC data README).
fn security_evtx() -> Vec<privtrail_model::Event> {
    vec![
        win_add(
            HOST,
            100,
            "2016-07-08T18:15:23.4292263Z",
            &member(1000),
            "WIN-03DLIIOFRRA$",
        ),
        win_add(
            HOST,
            200,
            "2016-07-09T22:25:47.6209057Z",
            &member(1001),
            "fsir",
        ),
        win_remove(
            HOST,
            201,
            "2016-07-09T22:29:34.5485219Z",
            &member(1000),
            "fsir",
        ),
        win_add(
            HOST,
            300,
            "2016-07-16T00:18:31.3954906Z",
            &member(1000),
            "archir",
        ),
    ]
}

#[test]
fn add_then_remove_is_one_closed_elevation() {
    let p = Policy::default();
    let events = vec![
        win_add(
            "h1",
            1,
            "2020-07-12T05:14:30Z",
            "S-1-5-21-1-2-3-1001",
            "admin",
        ),
        win_remove(
            "h1",
            2,
            "2020-07-12T05:15:26Z",
            "S-1-5-21-1-2-3-1001",
            "admin",
        ),
    ];
    let els = elevations_for_key(&events, &p);
    assert_eq!(els.len(), 1);
    let el = &els[0];
    assert_eq!(el.end_reason, Some(EndReason::Removed));
    assert_eq!(el.ended_at, Some(t("2020-07-12T05:15:26Z")));
    // The source's case is kept (keys compare lower-cased).
    assert_eq!(el.principal, "S-1-5-21-1-2-3-1001");
    assert_eq!(el.scope, "h1");
    assert_eq!(el.privilege, "Administrators");
    assert_eq!(el.expected_end, Some(t("2020-07-12T13:14:30Z")));
    let json = serde_json::to_value(el).unwrap();
    assert_eq!(json["kind"], "membership");
    assert_eq!(json["end_reason"], "removed");
    assert_eq!(json["started_at"], "2020-07-12T05:14:30Z");
}

#[test]
fn security_evtx_point_in_time() {
    let p = Policy::default();
    let tracker = Tracker::from_events(p.clone(), &security_evtx());
    let els = tracker.elevations();
    assert_eq!(els.len(), 3);
    let who = |s: &str| {
        let mut v: Vec<String> = at(els, t(s)).iter().map(|e| e.principal.clone()).collect();
        v.sort();
        v
    };
    assert_eq!(who("2016-07-10T00:00:00Z"), vec![member(1001)]);
    assert_eq!(
        who("2016-07-17T00:00:00Z"),
        vec![member(1000), member(1001)]
    );
    // The same from elevations_for_key per key.
    let ev = security_evtx();
    let key = key_of(&ev[0], &p).unwrap();
    let mine: Vec<_> = ev
        .iter()
        .filter(|e| key_of(e, &p).as_ref() == Some(&key))
        .cloned()
        .collect();
    let els = elevations_for_key(&mine, &p);
    assert_eq!(els.len(), 2);
    assert_eq!(els[0].end_reason, Some(EndReason::Removed));
    assert!(els[1].is_open());
}

#[test]
fn security_evtx_backtest_raises_overdue_and_unapproved() {
    let alerts = run(
        &security_evtx(),
        &Policy::default(),
        "2016-07-08T00:00:00Z",
        "2016-07-17T00:00:00Z",
        60,
    );
    let overdue = of_rule(&alerts, "overdue-elevation");
    let m1001 = member(1001);
    assert!(
        overdue
            .iter()
            .any(|a| a.principal.as_deref() == Some(&m1001)),
        "{overdue:#?}"
    );
    // 1001 was added 22:25:47; 8 h + 15 min later, with hourly sweeps, the next sweep opens it.
    let a = overdue
        .iter()
        .find(|a| a.principal.as_deref() == Some(&m1001))
        .unwrap();
    assert_eq!(a.opened_at, t("2016-07-10T07:00:00Z"));
    let unapproved = of_rule(&alerts, "unapproved-local-admin");
    assert_eq!(unapproved.len(), 3, "{unapproved:#?}");
    // The first …-1000 membership (18:15 → removed next day 22:29) was overdue too and resolved
    // itself when removed.
    let m1000 = member(1000);
    let first = overdue
        .iter()
        .find(|a| a.principal.as_deref() == Some(&m1000))
        .unwrap();
    assert_eq!(first.status, privtrail_rules::AlertStatus::Resolved);
    assert_eq!(first.resolved_at, Some(t("2016-07-09T22:29:34.5485219Z")));
}

#[test]
fn approved_granter_and_tag_cover_an_add() {
    let p = Policy {
        approved_local_admin_granters: vec!["CONTOSO\\svc-rmm".into()],
        ..Policy::default()
    };
    let mut by_rmm = win_add(
        "h1",
        1,
        "2024-01-01T10:00:00Z",
        "S-1-5-21-1-2-3-1001",
        "CONTOSO\\svc-rmm",
    );
    by_rmm.actor = Some("svc-rmm".into());
    let tagged = vec![
        tag(
            "h1",
            "t1",
            "2024-01-01T10:59:00Z",
            "2024-01-01T12:00:00Z",
            None,
        ),
        win_add(
            "h1",
            2,
            "2024-01-01T11:00:00Z",
            "S-1-5-21-1-2-3-1002",
            "helpdesk",
        ),
    ];
    let mut events = vec![by_rmm];
    events.extend(tagged);
    let alerts = run(
        &events,
        &p,
        "2024-01-01T00:00:00Z",
        "2024-01-01T11:30:00Z",
        60,
    );
    assert!(
        of_rule(&alerts, "unapproved-local-admin").is_empty(),
        "{alerts:#?}"
    );
}

#[test]
fn quick_add_remove_raises_no_overdue() {
    let m = "S-1-5-21-1470532092-3758209836-3742276719-1001";
    let events = vec![
        win_add(
            "jump01.offsec.lan",
            10,
            "2020-07-12T05:14:30.9766127Z",
            m,
            "admin",
        ),
        win_remove(
            "jump01.offsec.lan",
            11,
            "2020-07-12T05:15:26.6793305Z",
            m,
            "admin",
        ),
    ];
    let alerts = run(
        &events,
        &Policy::default(),
        "2020-07-12T00:00:00Z",
        "2020-07-14T00:00:00Z",
        15,
    );
    assert!(of_rule(&alerts, "overdue-elevation").is_empty());
    assert_eq!(of_rule(&alerts, "unapproved-local-admin").len(), 1);
}

#[test]
fn audit_tampering_on_1102_104_4719() {
    let events = vec![
        win_event(
            HOST,
            1,
            "2024-01-01T10:00:00Z",
            Action::AuditLogCleared,
            "1102",
        ),
        win_event(
            HOST,
            2,
            "2024-01-01T10:01:00Z",
            Action::AuditLogCleared,
            "104",
        ),
        win_event(
            HOST,
            3,
            "2024-01-01T10:02:00Z",
            Action::AuditLogCleared,
            "104",
        ),
        win_event(
            HOST,
            4,
            "2024-01-01T10:03:00Z",
            Action::AuditPolicyChanged,
            "4719",
        ),
    ];
    let alerts = run(
        &events,
        &Policy::default(),
        "2024-01-01T00:00:00Z",
        "2024-01-01T11:00:00Z",
        60,
    );
    let tamper = of_rule(&alerts, "audit-tampering");
    assert_eq!(tamper.len(), 3, "one per host + code: {tamper:#?}");
    assert!(
        tamper
            .iter()
            .all(|a| a.severity == privtrail_rules::Severity::Critical)
    );
    let two = tamper.iter().find(|a| a.subject.ends_with("|104")).unwrap();
    assert_eq!(two.event_ids.len(), 2);
}

#[test]
fn tag_expiry_makes_overdue_before_the_maximum() {
    let m = "S-1-5-21-1-2-3-1005";
    let events = vec![
        win_add("h2", 1, "2024-01-01T10:00:00Z", m, "helpdesk"),
        tag(
            "h2",
            "tag1",
            "2024-01-01T10:00:05Z",
            "2024-01-01T11:00:00Z",
            Some(m),
        ),
    ];
    let tr = Tracker::from_events(Policy::default(), &events);
    let el = &tr.elevations()[0];
    assert_eq!(el.expected_end, Some(t("2024-01-01T11:00:00Z")));
    assert!(el.tagged_by.is_some());
    let alerts = run(
        &events,
        &Policy::default(),
        "2024-01-01T10:00:00Z",
        "2024-01-01T13:00:00Z",
        5,
    );
    let overdue = of_rule(&alerts, "overdue-elevation");
    assert_eq!(overdue.len(), 1);
    // 11:00 + 15 min grace; the 11:15 sweep is not after it, 11:20 is. Far before 18:15 (8 h + grace).
    assert_eq!(overdue[0].opened_at, t("2024-01-01T11:20:00Z"));
    assert!(overdue[0].summary.contains("endpoint tag"));
}

#[test]
fn tag_for_another_principal_or_host_does_not_apply() {
    let m = "S-1-5-21-1-2-3-1005";
    let events = vec![
        win_add("h2", 1, "2024-01-01T10:00:00Z", m, "helpdesk"),
        tag(
            "h2",
            "tag1",
            "2024-01-01T10:00:05Z",
            "2024-01-01T11:00:00Z",
            Some("S-1-5-21-1-2-3-9"),
        ),
        tag(
            "h3",
            "tag2",
            "2024-01-01T10:00:05Z",
            "2024-01-01T11:00:00Z",
            None,
        ),
    ];
    let tr = Tracker::from_events(Policy::default(), &events);
    assert_eq!(
        tr.elevations()[0].expected_end,
        Some(t("2024-01-01T18:00:00Z"))
    );
}

#[test]
fn non_privileged_groups_and_failures_are_no_elevation() {
    let p = Policy::default();
    let mut users = win_add("h1", 1, "2024-01-01T10:00:00Z", "S-1-5-21-1-2-3-1001", "x");
    users.privilege_id = Some("S-1-5-32-545".into());
    users.privilege = Some("Users".into());
    let mut failed = win_add("h1", 2, "2024-01-01T10:00:00Z", "S-1-5-21-1-2-3-1001", "x");
    failed.outcome = privtrail_model::Outcome::Failure;
    assert!(key_of(&users, &p).is_none());
    assert!(key_of(&failed, &p).is_none());
    let mut helpdesk = users.clone();
    helpdesk.privilege = Some("Helpdesk Admins".into());
    helpdesk.privilege_id = Some("S-1-5-21-1-2-3-1101".into());
    assert!(key_of(&helpdesk, &p).is_none());
    let p2 = Policy {
        privileged_groups: vec!["helpdesk admins".into()],
        ..Policy::default()
    };
    assert!(key_of(&helpdesk, &p2).is_some());
}

#[test]
fn groups_attackers_use_are_privileged_by_default_unless_switched_off() {
    let p = Policy::default();
    let mut dns = win_add("dc1", 1, "2024-01-01T10:00:00Z", "S-1-5-21-1-2-3-1001", "x");
    dns.privilege = Some("DnsAdmins".into());
    dns.privilege_id = Some("S-1-5-21-1-2-3-1101".into());
    let mut dcs = dns.clone();
    dcs.privilege = Some("Domain Controllers".into());
    dcs.privilege_id = Some("S-1-5-21-1-2-3-516".into());
    let mut exchange = dns.clone();
    exchange.privilege = Some("Exchange Windows Permissions".into());
    exchange.privilege_id = Some("S-1-5-21-1-2-3-1121".into());
    for e in [&dns, &dcs, &exchange] {
        assert!(key_of(e, &p).is_some(), "{:?}", e.privilege);
    }
    let off = Policy {
        privileged_groups: vec!["!DnsAdmins".into(), "!Domain Controllers".into()],
        ..Policy::default()
    };
    assert!(key_of(&dns, &off).is_none());
    assert!(key_of(&dcs, &off).is_none());
    assert!(key_of(&exchange, &off).is_some());
}
