#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions
//! The rules on what this crate reads from real and documented-shape files: what a user is told
//! after importing them.

mod common;

use chrono::Duration;
use common::{data, fixture, read};
use privtrail_model::{Event, Span};
use privtrail_rules::{Context, Finding, Policy, RulesConfig, Tracker, backtest};

const SENSITIVE: &str = "evtx/ID4728-4756-Member added to sensitive domain groups.evtx";
const HONEY_POT: &str = "S-1-5-21-4230534742-2542757381-3142984815-1159";

/// One evaluation as the engine runs it after an import: every event of the file is new, the
/// tracker has applied them all, and nothing is recent (the events are older than any lookback).
fn import(events: &[Event], config: &RulesConfig) -> Vec<Finding> {
    let rules = config.build().unwrap();
    let policy = Policy::default();
    let tracker = Tracker::from_events(policy.clone(), events);
    let now = events.iter().map(|e| e.time).max().unwrap();
    let ctx = Context {
        new_events: events,
        elevations: tracker.elevations(),
        granters: tracker.granters(),
        ..Context::new(now, &policy)
    };
    privtrail_rules::evaluate_all(&rules, &ctx).0
}

fn of<'a>(found: &'a [Finding], rule: &str) -> Vec<&'a Finding> {
    found.iter().filter(|f| f.rule == rule).collect()
}

/// Judges new granters from the first grant on record (the default learns two weeks first).
fn no_baseline() -> RulesConfig {
    let mut c = RulesConfig::default();
    c.group_burst.baseline = Some(Span(Duration::zero()));
    c
}

/// A real DC log: `OFFSEC\lambda-user` adds honey-pot1 to Domain Admins, Enterprise Admins,
/// Enterprise Key Admins and Schema Admins within 11 ms, never having granted one before.
#[test]
fn sensitive_domain_groups_raise_a_new_granter_and_with_four_a_burst() {
    let r = read(&data(SENSITIVE));
    // By default: four groups are below five, and a log of one second is all baseline.
    let found = import(&r.events, &RulesConfig::default());
    assert!(of(&found, "group-burst").is_empty(), "{found:#?}");
    assert_eq!(of(&found, "unapproved-local-admin").len(), 4);
    let found = import(&r.events, &no_baseline());
    let burst = of(&found, "group-burst");
    // Only the new granter.
    assert_eq!(burst.len(), 1, "{burst:#?}");
    assert_eq!(burst[0].subject, "granter|offsec\\lambda-user");
    assert_eq!(burst[0].privilege.as_deref(), Some("Domain Admins"));
    assert_eq!(burst[0].principal.as_deref(), Some(HONEY_POT));
    assert!(
        burst[0].summary.starts_with(
            "OFFSEC\\lambda-user added CN=honey-pot1,OU=Test-OU,OU=OFFSEC-COMPANY,DC=offsec,DC=lan"
        ),
        "{}",
        burst[0].summary
    );

    let mut four = no_baseline();
    four.group_burst.count = Some(4);
    let found = import(&r.events, &four);
    let burst: Vec<_> = of(&found, "group-burst")
        .into_iter()
        .filter(|f| f.subject.starts_with("burst|"))
        .collect();
    assert_eq!(burst.len(), 1);
    assert_eq!(
        burst[0].subject,
        format!("burst|{}|2020-07-12", HONEY_POT.to_lowercase())
    );
    assert_eq!(burst[0].event_ids.len(), 4);
    assert!(
        burst[0].summary.contains(
            "was added to 4 groups (4 privileged) within 1m by OFFSEC\\lambda-user, from 2020-07-12T06:01:13.7587346Z to 2020-07-12T06:01:13.7699394Z: Domain Admins, Enterprise Admins, Enterprise Key Admins, Schema Admins"
        ),
        "{}",
        burst[0].summary
    );

    // `rules test` replays the same file event by event and reaches the same alerts.
    let rules = four.build().unwrap();
    let mut sorted = r.events.clone();
    sorted.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
    let alerts = backtest(
        &sorted,
        &Policy::default(),
        &rules,
        sorted[0].time,
        sorted[sorted.len() - 1].time,
        chrono::Duration::hours(1),
    );
    let mut subjects: Vec<&str> = alerts
        .iter()
        .filter(|a| a.rule == "group-burst")
        .map(|a| a.subject.as_str())
        .collect();
    subjects.sort_unstable();
    assert_eq!(
        subjects,
        [
            format!("burst|{}|2020-07-12", HONEY_POT.to_lowercase()).as_str(),
            "granter|offsec\\lambda-user"
        ]
    );
}

/// The PIM flows fixture (Graph `directoryAudit` shapes): a permanent Global Administrator
/// eligibility, a timebound Security Administrator one, and activations of Global Administrator
/// (its ticket on the request), Exchange Administrator and User Administrator.
#[test]
fn pim_flows_raise_one_permanent_eligibility_and_one_notice() {
    let r = read(&fixture("entra/pim_flows.json"));
    let found = import(&r.events, &RulesConfig::default());
    assert!(of(&found, "activation-notice").is_empty(), "off by default");
    let elig = of(&found, "permanent-eligibility");
    assert_eq!(elig.len(), 1, "{elig:#?}");
    assert_eq!(
        elig[0].summary,
        "bob@contoso.com made Alice Wilber (alice@contoso.com) eligible for Global Administrator at / with no end date (2024-05-07T10:00:00Z)"
    );

    let mut on = RulesConfig::default();
    on.activation_notice.enabled = true;
    let found = import(&r.events, &on);
    let notices = of(&found, "activation-notice");
    assert_eq!(notices.len(), 1, "{notices:#?}");
    assert_eq!(
        notices[0].summary,
        "Alice Wilber (alice@contoso.com) activated Global Administrator in tenant default at 2024-05-06T08:02:12.5Z, until 2024-05-06T10:02:12Z; justification: \"Investigate incident INC-1234\"; ticket: ServiceNow INC-1234"
    );
    on.activation_notice.roles = Some(vec![
        "User Administrator".into(),
        "Exchange Administrator".into(),
    ]);
    let found = import(&r.events, &on);
    assert_eq!(of(&found, "activation-notice").len(), 2);
}

/// A real workstation's week: three accounts grant local Administrators for the first time
/// (the machine account at setup, `fsir` a day later, `archir` seven days later); their adds to
/// None and Users are no grants, and no one is added to five groups in a minute.
#[test]
fn security_evtx_granters_are_learned_by_default_and_new_without_baseline() {
    let r = read(&data("evtx/security.evtx"));
    let found = import(&r.events, &RulesConfig::default());
    assert!(of(&found, "group-burst").is_empty(), "{found:#?}");
    let found = import(&r.events, &no_baseline());
    let firsts: Vec<(&str, String)> = of(&found, "group-burst")
        .into_iter()
        .map(|f| {
            let e = r.events.iter().find(|e| e.id == f.event_ids[0]).unwrap();
            (f.subject.as_str(), privtrail_model::format_time(e.time))
        })
        .collect();
    assert_eq!(
        firsts,
        [
            (
                "granter|workgroup\\win-03dliiofrra$",
                "2016-07-08T18:15:23.4292263Z".to_owned()
            ),
            (
                "granter|win-03dliiofrra\\fsir",
                "2016-07-09T22:25:47.6209057Z".to_owned()
            ),
            (
                "granter|win-03dliiofrra\\archir",
                "2016-07-16T00:18:31.3954906Z".to_owned()
            ),
        ]
    );
}
