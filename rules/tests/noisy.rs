#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions
//! `noisy-audit-policy`: judged on a day's Windows event volume per host.
mod common;

use chrono::{Duration, NaiveDate};
use common::*;
use privtrail_model::{Event, EventId, Outcome, Source};
use privtrail_rules::builtin::{
    MAX_CODES, NoisyAuditPolicy, NoisySettings, VolumeCounter, advice, day_to_judge,
};
use privtrail_rules::{
    AlertStatus, CodeCount, Context, DayVolume, Finding, HostVolume, Policy, Rule, RulesConfig,
    Severity, apply_findings, backtest, evaluate_all,
};
use proptest::prelude::*;

fn rule() -> NoisyAuditPolicy {
    NoisySettings::default().build().unwrap()
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 5, 1).unwrap()
}

fn code(code: &str, success: u64, failure: u64) -> CodeCount {
    CodeCount {
        code: code.into(),
        success,
        failure,
    }
}

fn host(name: &str, codes: Vec<CodeCount>) -> HostVolume {
    HostVolume {
        host: name.into(),
        total: codes.iter().map(CodeCount::total).sum(),
        codes,
    }
}

fn judge(rule: &NoisyAuditPolicy, hosts: Vec<HostVolume>) -> Vec<Finding> {
    let policy = Policy::default();
    let v = DayVolume { day: day(), hosts };
    let ctx = Context {
        volume: Some(&v),
        ..Context::new(t("2024-05-02T01:00:00Z"), &policy)
    };
    rule.evaluate(&ctx)
}

#[test]
fn a_host_drowning_in_firewall_events_fires_with_its_top_ids_and_advice() {
    let found = judge(
        &rule(),
        vec![
            host(
                "DC01.contoso.local",
                vec![
                    code("4624", 500, 20),
                    code("5156", 9_000, 0),
                    code("4663", 300, 0),
                    code("5157", 0, 700),
                    code("4732", 2, 0),
                ],
            ),
            host("WS7", vec![code("4624", 5_000, 0), code("5156", 100, 0)]),
        ],
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f.rule, "noisy-audit-policy");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.subject, "host|dc01.contoso.local");
    assert_eq!(f.scope.as_deref(), Some("DC01.contoso.local"));
    assert!(f.condition);
    // 10,000 of 10,522 events are outside the categories that matter.
    assert!(f.summary.contains("95.0%"), "{}", f.summary);
    assert!(f.summary.contains("10522 Windows events on 2024-05-01"));
    assert!(f.summary.contains("522 were"), "{}", f.summary);
    // Most frequent first; signal ids (4624, 4732) are not listed.
    let at = |s: &str| f.summary.find(s).unwrap();
    assert!(at("5156 ×9000") < at("5157 ×700") && at("5157 ×700") < at("4663 ×300"));
    assert!(!f.summary.contains("4624 ×") && !f.summary.contains("4732 ×"));
    // Each with its auditpol line, for the outcomes it was written for.
    assert!(f.summary.contains(
        "5156 ×9000 (auditpol /set /subcategory:\"Filtering Platform Connection\" /success:disable)"
    ));
    assert!(f.summary.contains(
        "5157 ×700 (auditpol /set /subcategory:\"Filtering Platform Connection\" /failure:disable)"
    ));
    assert!(f.summary.contains("\"File System\", \"Registry\""));
    assert!(f.summary.contains("Advanced Audit Policy Configuration"));
}

#[test]
fn the_threshold_must_be_exceeded() {
    // 800 of 1000 outside: exactly 80%, not above.
    let at = host("h", vec![code("5156", 800, 0), code("4624", 200, 0)]);
    assert!(judge(&rule(), vec![at]).is_empty());
    let above = host("h", vec![code("5156", 801, 0), code("4624", 199, 0)]);
    assert_eq!(judge(&rule(), vec![above]).len(), 1);
    let custom = NoisySettings {
        threshold: Some(0.5),
        ..NoisySettings::default()
    }
    .build()
    .unwrap();
    let half = host("h", vec![code("5156", 501, 0), code("4624", 499, 0)]);
    assert_eq!(judge(&custom, vec![half.clone()]).len(), 1);
    assert!(judge(&rule(), vec![half]).is_empty());
}

#[test]
fn quiet_hosts_are_not_judged() {
    let few = host("h", vec![code("5156", 999, 0)]);
    assert!(judge(&rule(), vec![few]).is_empty());
    let enough = host("h", vec![code("5156", 1000, 0)]);
    assert_eq!(judge(&rule(), vec![enough]).len(), 1);
    let strict = NoisySettings {
        min_events: Some(5000),
        ..NoisySettings::default()
    }
    .build()
    .unwrap();
    assert!(judge(&strict, vec![host("h", vec![code("5156", 4999, 0)])]).is_empty());
}

#[test]
fn top_limits_and_orders_the_ids_ties_by_id() {
    let r = NoisySettings {
        top: Some(2),
        ..NoisySettings::default()
    }
    .build()
    .unwrap();
    let found = judge(
        &r,
        vec![host(
            "h",
            vec![
                code("4689", 300, 0),
                code("4688", 300, 0),
                code("5145", 100, 0),
                code("5158", 2000, 0),
            ],
        )],
    );
    let s = &found[0].summary;
    assert!(s.contains("5158 ×2000"), "{s}");
    assert!(s.contains("4688 ×300 (auditpol /set /subcategory:\"Process Creation\""));
    assert!(!s.contains("4689") && !s.contains("5145"), "{s}");
    assert!(s.find("5158").unwrap() < s.find("4688").unwrap());
}

#[test]
fn ids_counted_only_in_the_total_are_outside() {
    // The store keeps only the most frequent ids of a host: the rest are noise.
    let h = HostVolume {
        host: "h".into(),
        total: 10_000,
        codes: vec![code("4624", 1_500, 0)],
    };
    let found = judge(&rule(), vec![h]);
    assert_eq!(found.len(), 1);
    assert!(found[0].summary.contains("85.0%"), "{}", found[0].summary);
    assert!(found[0].summary.contains("none recorded"));
}

#[test]
fn expected_ids_count_as_signal() {
    let h = host("fs01", vec![code("4663", 9_000, 0), code("4624", 1_000, 0)]);
    assert_eq!(judge(&rule(), vec![h.clone()]).len(), 1);
    let r: RulesConfig = toml::from_str("[noisy-audit-policy]\nexpected = [\"4663\"]\n").unwrap();
    let rules = r.build().unwrap();
    let noisy = rules
        .iter()
        .find(|r| r.id() == "noisy-audit-policy")
        .unwrap();
    let policy = Policy::default();
    let v = DayVolume {
        day: day(),
        hosts: vec![h],
    };
    let ctx = Context {
        volume: Some(&v),
        ..Context::new(t("2024-05-02T01:00:00Z"), &policy)
    };
    assert!(noisy.evaluate(&ctx).is_empty());
}

#[test]
fn advice_by_subcategory_and_outcome() {
    assert_eq!(
        advice(&code("5156", 5, 0)),
        "auditpol /set /subcategory:\"Filtering Platform Connection\" /success:disable"
    );
    assert_eq!(
        advice(&code("5152", 0, 5)),
        "auditpol /set /subcategory:\"Filtering Platform Packet Drop\" /failure:disable"
    );
    assert_eq!(
        advice(&code("5145", 5, 5)),
        "auditpol /set /subcategory:\"Detailed File Share\" /success:disable /failure:disable"
    );
    assert_eq!(
        advice(&code("4703", 5, 0)),
        "auditpol /set /subcategory:\"Token Right Adjusted Events\" /success:disable"
    );
    assert_eq!(
        advice(&code("4689", 5, 0)),
        "auditpol /set /subcategory:\"Process Termination\" /success:disable"
    );
    // A subcategory that also records what matters stays on: the id is dropped at the forwarder.
    let keep = advice(&code("4799", 5, 0));
    assert!(
        keep.starts_with("Security Group Management, which also records group membership changes"),
        "{keep}"
    );
    assert!(!keep.contains("auditpol"), "{keep}");
    assert!(advice(&code("5379", 5, 0)).starts_with("User Account Management"));
    assert!(advice(&code("5061", 5, 0)).contains("lost audit events (4612)"));
    assert!(advice(&code("7036", 5, 0)).contains("not from an audit subcategory"));
    assert!(advice(&code("banana", 5, 0)).contains("not from an audit subcategory"));
}

/// On evaluations without a day's volume the rule does not run, so its open condition alerts stay
/// open; a day on which the host is quiet resolves them.
#[test]
fn only_a_judged_day_opens_or_resolves() {
    let rules: Vec<Box<dyn Rule>> = vec![Box::new(rule())];
    let policy = Policy::default();
    let noisy = DayVolume {
        day: day(),
        hosts: vec![host("h", vec![code("5156", 5_000, 0)])],
    };
    let now = t("2024-05-02T01:00:00Z");
    let ctx = Context {
        volume: Some(&noisy),
        ..Context::new(now, &policy)
    };
    let (found, ran) = evaluate_all(&rules, &ctx);
    assert_eq!(ran, vec!["noisy-audit-policy"]);
    let opened = apply_findings(&[], &found, &ran, now, &[], Duration::hours(24)).opened;
    assert_eq!(opened.len(), 1);

    let later = now + Duration::minutes(1);
    let (found, ran) = evaluate_all(&rules, &Context::new(later, &policy));
    assert!(found.is_empty() && ran.is_empty());
    let ch = apply_findings(&opened, &found, &ran, later, &[], Duration::hours(24));
    assert!(ch.resolved.is_empty());

    let next_day = DayVolume {
        day: day() + Duration::days(1),
        hosts: vec![host("h", vec![code("4624", 5_000, 0)])],
    };
    let then = now + Duration::days(1);
    let ctx = Context {
        volume: Some(&next_day),
        ..Context::new(then, &policy)
    };
    let (found, ran) = evaluate_all(&rules, &ctx);
    let ch = apply_findings(&opened, &found, &ran, then, &[], Duration::hours(24));
    assert_eq!(ch.resolved.len(), 1);
    assert_eq!(ch.resolved[0].status, AlertStatus::Resolved);
}

#[test]
fn settings_are_checked() {
    let err = |s: &str| {
        toml::from_str::<RulesConfig>(s)
            .map_err(|e| e.to_string())
            .and_then(|c| c.build().map(|_| ()).map_err(|e| e.to_string()))
            .unwrap_err()
    };
    assert!(err("[noisy-audit-policy]\nthreshold = 1.0\n").contains("below 1"));
    assert!(err("[noisy-audit-policy]\nthreshold = -0.1\n").contains("threshold"));
    assert!(err("[noisy-audit-policy]\ntop = 0\n").contains("`top`"));
    assert!(err("[noisy-audit-policy]\nexpected = [\"file\"]\n").contains("not an event id"));
    assert!(err("[noisy-audit-policy]\nthreshhold = 0.5\n").contains("unknown field"));
    let off: RulesConfig = toml::from_str("[noisy-audit-policy]\nenabled = false\n").unwrap();
    assert!(
        off.build()
            .unwrap()
            .iter()
            .all(|r| r.id() != "noisy-audit-policy")
    );
    let on = RulesConfig::default().build().unwrap();
    let r = on.iter().find(|r| r.id() == "noisy-audit-policy").unwrap();
    assert_eq!(r.severity(), Severity::Low);
    assert!(
        r.description().contains("more than 80%"),
        "{}",
        r.description()
    );
}

#[test]
fn the_day_judged_is_the_last_one_settled() {
    let d = |s: &str| day_to_judge(t(s)).unwrap().to_string();
    assert_eq!(d("2024-05-02T00:30:00Z"), "2024-04-30");
    assert_eq!(d("2024-05-02T01:00:00Z"), "2024-05-01");
    assert_eq!(d("2024-05-02T23:59:59Z"), "2024-05-01");
}

fn win(host: &str, rec: u64, time: &str, code: &str) -> Event {
    let mut e = Event::new(
        EventId::windows(host, "Security", rec),
        Source::Windows,
        privtrail_model::Action::WindowsEvent,
        t(time),
        code,
    );
    e.host = Some(host.to_owned());
    e
}

#[test]
fn the_counter_counts_per_day_host_and_id_and_forgets_judged_days() {
    let mut c = VolumeCounter::default();
    let mut failed = win("H1", 3, "2024-05-01T10:00:00Z", "5157");
    failed.outcome = Outcome::Failure;
    for e in [
        win("H1", 1, "2024-04-30T23:59:59Z", "5156"),
        win("H1", 2, "2024-05-01T10:00:00Z", "5156"),
        failed,
        win("h1", 4, "2024-05-01T11:00:00Z", "5156"),
        win("H2", 5, "2024-05-02T00:00:00Z", "4624"),
    ] {
        c.add(&e);
    }
    let mut entra = win("H1", 6, "2024-05-01T10:00:00Z", "5156");
    entra.source = Source::Entra;
    c.add(&entra);
    let v = c.take(day());
    assert_eq!(v.day, day());
    assert_eq!(v.hosts.len(), 1);
    assert_eq!(v.hosts[0].host, "H1");
    assert_eq!(v.hosts[0].total, 3);
    assert_eq!(
        v.hosts[0].codes,
        vec![code("5156", 2, 0), code("5157", 0, 1)]
    );
    // Earlier days are forgotten, later ones kept.
    assert!(c.take(day() - Duration::days(1)).hosts.is_empty());
    assert_eq!(c.take(day() + Duration::days(1)).hosts[0].host, "H2");

    // Made-up ids cannot grow it without bound.
    for i in 0..(MAX_CODES as u64 + 50) {
        c.add(&win(
            "H3",
            100 + i,
            "2024-05-03T10:00:00Z",
            &format!("{}", 10_000 + i),
        ));
    }
    let v = c.take(day() + Duration::days(2));
    assert_eq!(v.hosts[0].codes.len(), MAX_CODES);
    assert_eq!(v.hosts[0].total, MAX_CODES as u64 + 50);
}

/// The backtest counts the events it replays and judges each whole day once, as live.
#[test]
fn backtest_judges_each_whole_day_once() {
    let mut events = Vec::new();
    let mut rec = 0;
    let mut add = |events: &mut Vec<Event>, host: &str, day: &str, code: &str, n: u64| {
        for i in 0..n {
            rec += 1;
            let time = format!("{day}T{:02}:{:02}:00Z", (i / 60) % 24, i % 60);
            events.push(win(host, rec, &time, code));
        }
    };
    // Day 1 and 2: NOISY floods 5156; day 3 it is fixed. QUIET logs logons throughout.
    for d in ["2024-05-01", "2024-05-02"] {
        add(&mut events, "NOISY", d, "5156", 1_200);
        add(&mut events, "NOISY", d, "4624", 100);
    }
    add(&mut events, "NOISY", "2024-05-03", "4624", 1_300);
    for d in ["2024-05-01", "2024-05-02", "2024-05-03"] {
        add(&mut events, "QUIET", d, "4624", 1_300);
    }
    events.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    let policy = Policy::default();
    let rules: Vec<Box<dyn Rule>> = vec![Box::new(rule())];
    let alerts = backtest(
        &events,
        &policy,
        &rules,
        t("2024-05-01T00:00:00Z"),
        t("2024-05-04T02:00:00Z"),
        Duration::minutes(30),
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.subject, "host|noisy");
    assert_eq!(a.opened_at, t("2024-05-02T01:00:00Z"));
    assert_eq!(a.status, AlertStatus::Resolved);
    assert_eq!(a.resolved_at, Some(t("2024-05-04T01:00:00Z")));
    // Updated with the second day's figures.
    assert!(a.summary.contains("on 2024-05-02"), "{}", a.summary);

    // A replay that starts mid-day does not judge that partial day.
    let alerts = backtest(
        &events,
        &policy,
        &rules,
        t("2024-05-01T12:00:00Z"),
        t("2024-05-02T23:00:00Z"),
        Duration::minutes(30),
    );
    assert!(alerts.is_empty(), "{alerts:#?}");
}

fn arb_host() -> impl Strategy<Value = HostVolume> {
    let ids = prop::sample::select(vec![
        "4624", "4672", "4732", "1102", "5156", "5157", "4663", "4688", "4799", "7036",
    ]);
    (
        "[A-Za-z]{1,6}",
        prop::collection::vec((ids, 0u64..2_000, 0u64..500), 1..8),
    )
        .prop_map(|(name, cs)| {
            let mut codes: Vec<CodeCount> = Vec::new();
            for (id, s, f) in cs {
                if !codes.iter().any(|c| c.code == id) {
                    codes.push(code(id, s, f));
                }
            }
            host(&name, codes)
        })
}

proptest! {
    /// The judgement depends on the counts, not on the order they come in; and more noise never
    /// quiets a noisy host.
    #[test]
    fn order_does_not_matter_and_noise_only_adds(mut hosts in prop::collection::vec(arb_host(), 1..5)) {
        let mut seen = std::collections::HashSet::new();
        hosts.retain(|h| seen.insert(h.host.to_lowercase()));
        let r = rule();
        let mut a = judge(&r, hosts.clone());
        let mut reversed = hosts.clone();
        reversed.reverse();
        for h in &mut reversed {
            h.codes.reverse();
        }
        let mut b = judge(&r, reversed);
        a.sort_by(|x, y| x.subject.cmp(&y.subject));
        b.sort_by(|x, y| x.subject.cmp(&y.subject));
        prop_assert_eq!(&a, &b);
        let louder: Vec<HostVolume> = hosts
            .iter()
            .map(|h| {
                let mut h = h.clone();
                h.codes.push(code("5447", 3_000, 0));
                h.total += 3_000;
                h
            })
            .collect();
        let c = judge(&r, louder);
        for f in &a {
            prop_assert!(c.iter().any(|g| g.subject == f.subject));
        }
    }
}
