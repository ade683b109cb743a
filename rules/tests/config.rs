#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions
mod common;

use chrono::Duration;
use common::*;
use privtrail_model::Action;
use privtrail_rules::{
    ChannelHealth, CollectorRun, Context, Policy, PolicyConfig, RulesConfig, evaluate_all,
};

fn cfg(s: &str) -> RulesConfig {
    toml::from_str(s).unwrap()
}

fn build_err(s: &str) -> String {
    cfg(s).build().unwrap_err().to_string()
}

#[test]
fn defaults_build_every_builtin_but_the_notices() {
    let rules = RulesConfig::default().build().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r.id()).collect();
    let mut all = privtrail_rules::builtin::BUILTIN_IDS.to_vec();
    all.retain(|id| *id != "activation-notice");
    assert_eq!(ids, all);
    assert_eq!(RulesConfig::default().renotify(), Duration::hours(24));

    let rules = cfg("[activation-notice]\nenabled = true\n")
        .build()
        .unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r.id()).collect();
    assert_eq!(ids, privtrail_rules::builtin::BUILTIN_IDS.to_vec());
    let notice = rules
        .iter()
        .find(|r| r.id() == "activation-notice")
        .unwrap();
    assert_eq!(notice.severity(), privtrail_rules::Severity::Info);
    assert!(
        notice
            .description()
            .contains("Privileged Role Administrator"),
        "{}",
        notice.description()
    );
}

#[test]
fn new_rules_settings() {
    let rules = cfg(r#"
        [group-burst]
        count = 3
        within = "2m"
        new_granters = false
        severity = "critical"
        [permanent-eligibility]
        enabled = false
        [activation-notice]
        enabled = true
        severity = "low"
        roles = ["Exchange Administrator"]
    "#)
    .build()
    .unwrap();
    let by = |id: &str| rules.iter().find(|r| r.id() == id);
    let burst = by("group-burst").unwrap();
    assert_eq!(burst.severity(), privtrail_rules::Severity::Critical);
    assert_eq!(burst.lookback(), Duration::minutes(2));
    assert_eq!(
        burst.description(),
        "a principal is added to 3 or more groups within 2m"
    );
    assert!(by("permanent-eligibility").is_none());
    let notice = by("activation-notice").unwrap();
    assert_eq!(notice.severity(), privtrail_rules::Severity::Low);
    assert!(notice.description().contains("Exchange Administrator"));

    assert!(build_err("[activation-notice]\nenabled = true\nroles = []\n").contains("roles"));
    assert!(build_err("[group-burst]\nwithin = \"0s\"\n").contains("group-burst"));
    assert!(toml::from_str::<RulesConfig>("[group-burst]\ncounts = 3").is_err());
    assert!(toml::from_str::<RulesConfig>("[activation-notice]\nrole = []").is_err());
    assert!(toml::from_str::<RulesConfig>("[activation-notice]\nseverity = \"info\"").is_ok());
}

#[test]
fn settings_and_unknown_keys() {
    let c = cfg(r#"
        renotify = "12h"
        [overdue-elevation]
        grace = "30m"
        severity = "critical"
        [collector-failure]
        enabled = false
    "#);
    let rules = c.build().unwrap();
    assert_eq!(
        rules.len(),
        privtrail_rules::builtin::BUILTIN_IDS.len() - 2,
        "every built-in but activation-notice (off by default) and the one disabled"
    );
    assert_eq!(rules[0].severity(), privtrail_rules::Severity::Critical);
    assert!(toml::from_str::<RulesConfig>("[overdue-elevation]\ngrase = \"1m\"").is_err());
    assert!(toml::from_str::<RulesConfig>("[overdue-elevation]\ngrace = \"soon\"").is_err());
    assert!(toml::from_str::<RulesConfig>("[nope]").is_err());
    let p: PolicyConfig = toml::from_str(
        r#"
        max_duration = "4h"
        grace = "5m"
        break_glass = ["bg@contoso.com"]
        [identity_map]
        "S-1-5-21-1-2-3-1104" = "alice@contoso.com"
        [privileges."Global Administrator"]
        max_duration = "2h"
    "#,
    )
    .unwrap();
    let p = p.policy();
    assert_eq!(p.max_duration, Duration::hours(4));
    assert_eq!(
        p.max_duration_for(None, Some("Global Administrator")),
        Duration::hours(2)
    );
    assert_eq!(p.canonical("S-1-5-21-1-2-3-1104"), "alice@contoso.com");
}

#[test]
fn custom_rule_validation_names_the_rule() {
    let e = build_err(
        r#"
        [[custom]]
        id = "bad-regex"
        severity = "low"
        match = [{ field = "actor", op = "regex", value = "(" }]
    "#,
    );
    assert!(
        e.contains("bad-regex") && e.contains("invalid regex"),
        "{e}"
    );
    let e = build_err(
        r#"
        [[custom]]
        id = "bad-field"
        severity = "low"
        match = [{ field = "colour", op = "equals", value = "x" }]
    "#,
    );
    assert!(
        e.contains("bad-field") && e.contains("unknown field"),
        "{e}"
    );
    let e = build_err(
        r#"
        [[custom]]
        id = "bad-op"
        severity = "low"
        match = [{ field = "actor", op = "resembles", value = "x" }]
    "#,
    );
    assert!(e.contains("bad-op") && e.contains("unknown op"), "{e}");
    let e = build_err(
        r#"
        [[custom]]
        id = "bad-time"
        severity = "low"
        match = [{ field = "time", op = "gt", value = "yesterday" }]
    "#,
    );
    assert!(e.contains("bad-time") && e.contains("RFC 3339"), "{e}");
    let e = build_err(
        r#"
        [[custom]]
        id = "audit-tampering"
        severity = "low"
        match = [{ field = "actor", op = "exists" }]
    "#,
    );
    assert!(e.contains("duplicate rule id"), "{e}");
    assert!(
        toml::from_str::<RulesConfig>(
            r#"
        [[custom]]
        id = "x"
        severity = "low"
        match = [{ field = "actor", op = "exists", colour = 1 }]
    "#
        )
        .is_err()
    );
}

#[test]
fn custom_match_and_threshold() {
    let c = cfg(r#"
        [[custom]]
        id = "explicit-creds-burst"
        severity = "medium"
        summary = "{actor} used explicit credentials {count} times on {host}"
        match = [
          { field = "action", op = "equals", value = "LOGON.explicit_credentials" },
          { field = "actor", op = "glob", value = "*$", negate = true },
          { field = "event_code", op = "gte", value = 4648 },
          { field = "host", op = "one_of", values = ["h1", "h2"] },
        ]
        threshold = { count = 3, within = "10m", group_by = ["actor", "host"] }

        [[custom]]
        id = "after-hours-admin"
        severity = "high"
        match = [
          { field = "action", op = "equals", value = "group.member.added" },
          { field = "time", op = "gte", value = "2024-01-01T20:00:00Z" },
          { field = "message", op = "regex", value = "(?i)privileged" },
        ]
    "#);
    let mut events = Vec::new();
    for (i, m) in [0, 2, 4, 30].iter().enumerate() {
        let mut e = win_event(
            "h1",
            10 + i as u64,
            &format!("2024-01-01T10:{m:02}:00Z"),
            Action::LogonExplicitCredentials,
            "4648",
        );
        e.actor = Some("CONTOSO\\eve".into());
        events.push(e);
    }
    let mut machine = win_event(
        "h1",
        20,
        "2024-01-01T10:05:00Z",
        Action::LogonExplicitCredentials,
        "4648",
    );
    machine.actor = Some("WS1$".into());
    events.push(machine);
    let mut late = win_add("h1", 30, "2024-01-01T21:00:00Z", "S-1-5-21-1-2-3-1001", "x");
    late.message = "x added y to Administrators [privileged]".into();
    let mut early = win_add("h1", 31, "2024-01-01T09:00:00Z", "S-1-5-21-1-2-3-1002", "x");
    early.message = late.message.clone();
    events.push(late);
    events.push(early);
    events.sort_by_key(|e| e.time);
    let rules = c.build().unwrap();
    let alerts = privtrail_rules::backtest(
        &events,
        &Policy::default(),
        &rules,
        t("2024-01-01T00:00:00Z"),
        t("2024-01-02T00:00:00Z"),
        Duration::hours(1),
    );
    let burst = of_rule(&alerts, "explicit-creds-burst");
    assert_eq!(burst.len(), 1, "{burst:#?}");
    assert_eq!(
        burst[0].summary,
        "CONTOSO\\eve used explicit credentials 3 times on h1"
    );
    assert_eq!(burst[0].opened_at, t("2024-01-01T10:04:00Z"));
    let ah = of_rule(&alerts, "after-hours-admin");
    assert_eq!(ah.len(), 1);
    assert_eq!(ah[0].opened_at, t("2024-01-01T21:00:00Z"));
}

#[test]
fn collector_failure_on_error_and_on_silence() {
    let rules = RulesConfig::default().build().unwrap();
    let policy = Policy::default();
    let mut err = privtrail_model::Event::new(
        privtrail_model::EventId::native(privtrail_model::Source::Privtrail, "contoso", "x"),
        privtrail_model::Source::Privtrail,
        Action::CollectorError,
        t("2024-01-01T10:00:00Z"),
        "graph.permission",
    );
    err.tenant = Some("contoso".into());
    let runs = [CollectorRun {
        collector: "graph:contoso".into(),
        last_success: Some(t("2024-01-01T09:00:00Z")),
        watched_since: Some(t("2024-01-01T08:00:00Z")),
        interval: Duration::minutes(5),
    }];
    let ctx = Context {
        new_events: std::slice::from_ref(&err),
        collectors: &runs,
        ..Context::new(t("2024-01-01T10:00:00Z"), &policy)
    };
    let (findings, _) = evaluate_all(&rules, &ctx);
    let mut subjects: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "collector-failure")
        .map(|f| (f.subject.clone(), f.condition))
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        vec![
            ("error|contoso|graph".to_owned(), false),
            ("stale|graph:contoso".to_owned(), true)
        ]
    );
    let ok = [CollectorRun {
        last_success: Some(t("2024-01-01T09:50:00Z")),
        ..runs[0].clone()
    }];
    let ctx = Context {
        collectors: &ok,
        ..Context::new(t("2024-01-01T10:00:00Z"), &policy)
    };
    assert!(evaluate_all(&rules, &ctx).0.is_empty());

    // Never succeeded: missed runs count from the first recorded run.
    let never = |since: &str| CollectorRun {
        last_success: None,
        watched_since: Some(t(since)),
        ..runs[0].clone()
    };
    for (since, fires) in [
        ("2024-01-01T09:40:00Z", true),
        ("2024-01-01T09:50:00Z", false),
    ] {
        let runs = [never(since)];
        let ctx = Context {
            collectors: &runs,
            ..Context::new(t("2024-01-01T10:00:00Z"), &policy)
        };
        let found = evaluate_all(&rules, &ctx).0;
        assert_eq!(found.len(), usize::from(fires), "{since}: {found:?}");
        if fires {
            assert!(
                found[0].summary.contains("never run successfully"),
                "{}",
                found[0].summary
            );
        }
    }
}

#[test]
fn delivery_failure_fires_at_once_on_refused_credentials_and_after_the_delay_otherwise() {
    let rules = cfg("[delivery-failure]\nafter = \"30m\"\n")
        .build()
        .unwrap();
    let policy = Policy::default();
    let now = t("2024-01-01T10:00:00Z");
    let health = |name: &str, since: Option<&str>, auth: bool| ChannelHealth {
        channel: name.into(),
        failing_since: since.map(t),
        auth_failure: auth,
        last_error: Some("HTTP 401 Unauthorized".into()),
    };
    let channels = [
        health("hec-auth", Some("2024-01-01T09:59:59Z"), true),
        health("hook-down-long", Some("2024-01-01T09:00:00Z"), false),
        health("hook-down-briefly", Some("2024-01-01T09:45:00Z"), false),
        health("mail-fine", None, false),
    ];
    let ctx = Context {
        channels: &channels,
        ..Context::new(now, &policy)
    };
    let found: Vec<_> = evaluate_all(&rules, &ctx)
        .0
        .into_iter()
        .filter(|f| f.rule == "delivery-failure")
        .collect();
    let subjects: Vec<&str> = found.iter().map(|f| f.subject.as_str()).collect();
    assert_eq!(subjects, ["channel|hec-auth", "channel|hook-down-long"]);
    assert!(
        found.iter().all(|f| f.condition),
        "resolves when the channel recovers"
    );
    assert_eq!(found[0].scope.as_deref(), Some("hec-auth"));
    assert_eq!(found[0].severity, privtrail_rules::Severity::High);
    assert!(
        found[0].summary.contains("refuses the credentials"),
        "{}",
        found[0].summary
    );
    assert!(
        found[1].summary.contains("since 2024-01-01T09:00:00Z"),
        "{}",
        found[1].summary
    );
}
