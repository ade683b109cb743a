#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions
//! `group-burst`: bursts of group adds and first grants by new granters, on events shaped as the
//! Windows normalizer makes them from 4728/4732/4756, and its memory of granters across runs.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use common::*;
use privtrail_model::{Action, Event, EventId, Source};
use privtrail_rules::builtin::GroupBurst;
use privtrail_rules::{Context, Finding, Policy, Rule, Severity, Tracker, backtest};
use proptest::prelude::*;

const DC: &str = "rootdc1.offsec.lan";
const DOMAIN: &str = "S-1-5-21-4230534742-2542757381-3142984815";
const LAMBDA: &str = "S-1-5-21-4230534742-2542757381-3142984815-1609";
const LAMBDA_DN: &str = "CN=lambda-user,OU=Test-OU,OU=OFFSEC-COMPANY,DC=offsec,DC=lan";

/// A domain group add as the normalizer makes it from 4728 (global) or 4756 (universal): the
/// member by `MemberSid` (its DN as `MemberName`), the group by `TargetSid` and
/// `TargetUserName`, the scope the `TargetDomainName`, the actor `SubjectDomainName\SubjectUserName`.
fn domain_add(
    rec: u64,
    time: DateTime<Utc>,
    member: &str,
    group: &str,
    rid: u32,
    actor: &str,
) -> Event {
    let code = if rid < 1000 { "4728" } else { "4756" };
    let mut e = Event::new(
        EventId::windows(DC, "Security", rec),
        Source::Windows,
        Action::GroupMemberAdded,
        time,
        code,
    );
    e.host = Some(DC.to_owned());
    e.record_id = Some(rec.to_string());
    e.actor = Some(actor.to_owned());
    e.target = Some(member.to_owned());
    e.target_name = Some(if member == LAMBDA {
        LAMBDA_DN.to_owned()
    } else {
        format!("CN={member},DC=offsec,DC=lan")
    });
    e.privilege = Some(group.to_owned());
    e.privilege_id = Some(format!("{DOMAIN}-{rid}"));
    e.scope = Some("OFFSEC".to_owned());
    e.message = format!("{actor} added {member} to {group} on OFFSEC");
    e
}

/// Exchange's role groups in "Microsoft Exchange Security Groups" (universal, RIDs above 1000):
/// what an attacker with Exchange rights adds an account to, all within a second.
const EXCHANGE_GROUPS: [&str; 15] = [
    "Organization Management",
    "Security Administrator",
    "Recipient Management",
    "View-Only Organization Management",
    "Public Folder Management",
    "UM Management",
    "Help Desk",
    "Records Management",
    "Discovery Management",
    "Server Management",
    "Delegated Setup",
    "Hygiene Management",
    "Compliance Management",
    "Exchange Trusted Subsystem",
    "Exchange Windows Permissions",
];

fn exchange_burst(start: DateTime<Utc>, actor: &str) -> Vec<Event> {
    EXCHANGE_GROUPS
        .iter()
        .enumerate()
        .map(|(i, g)| {
            domain_add(
                100 + i as u64,
                start + Duration::milliseconds(60 * i as i64),
                LAMBDA,
                g,
                1101 + i as u32,
                actor,
            )
        })
        .collect()
}

fn rule() -> GroupBurst {
    GroupBurst {
        severity: Severity::High,
        count: 5,
        within: Duration::minutes(1),
        new_granters: true,
        baseline: Duration::zero(),
    }
}

fn only(rule: GroupBurst) -> Vec<Box<dyn Rule>> {
    vec![Box::new(rule)]
}

fn replay(events: &[Event], rules: &[Box<dyn Rule>]) -> Vec<privtrail_rules::Alert> {
    let mut sorted = events.to_vec();
    sorted.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
    let from = sorted.first().map_or_else(Utc::now, |e| e.time);
    let until = sorted.last().map_or_else(Utc::now, |e| e.time) + Duration::minutes(1);
    backtest(
        &sorted,
        &Policy::default(),
        rules,
        from,
        until,
        Duration::hours(1),
    )
}

/// One evaluation as the engine runs it: the tracker has applied everything stored so far
/// (`history` and `new`), `recent` is what the store holds within the lookback.
fn evaluate(
    rule: &GroupBurst,
    tracker: &Tracker,
    new: &[Event],
    recent: &[Event],
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let policy = tracker.policy().clone();
    let ctx = Context {
        new_events: new,
        recent_events: recent,
        elevations: tracker.elevations(),
        granters: tracker.granters(),
        ..Context::new(now, &policy)
    };
    rule.evaluate(&ctx)
}

#[test]
fn fifteen_exchange_groups_in_a_second_is_a_burst_and_three_are_privileged() {
    let t0 = t("2021-04-19T20:13:05Z");
    let events = exchange_burst(t0, "OFFSEC\\admmig");
    let alerts = replay(&events, &only(rule()));
    let burst: Vec<_> = alerts
        .iter()
        .filter(|a| a.subject.starts_with("burst|"))
        .collect();
    assert_eq!(burst.len(), 1, "{alerts:#?}");
    let a = burst[0];
    assert_eq!(a.severity, Severity::High);
    assert_eq!(
        a.subject,
        format!("burst|{}|2021-04-19", LAMBDA.to_lowercase())
    );
    assert_eq!(a.event_ids.len(), 15);
    assert!(
        a.summary.starts_with(&format!(
            "{LAMBDA_DN} ({LAMBDA}) was added to 15 groups (3 privileged) within 1m by OFFSEC\\admmig"
        )),
        "{}",
        a.summary
    );
    assert!(a.summary.ends_with("and 7 more"), "{}", a.summary);
    assert!(
        a.summary
            .contains("Organization Management, Security Administrator")
    );

    // The granter had never granted a privileged membership: Organization Management is their
    // first, and the only one reported.
    let granter: Vec<_> = alerts
        .iter()
        .filter(|a| a.subject.starts_with("granter|"))
        .collect();
    assert_eq!(granter.len(), 1, "{alerts:#?}");
    assert_eq!(granter[0].subject, "granter|offsec\\admmig");
    assert_eq!(
        granter[0].privilege.as_deref(),
        Some("Organization Management")
    );
    assert_eq!(granter[0].event_ids, vec![events[0].id.clone()]);
}

#[test]
fn fewer_groups_spread_out_or_repeated_are_no_burst() {
    let t0 = t("2024-03-01T10:00:00Z");
    let quiet = GroupBurst {
        new_granters: false,
        ..rule()
    };
    // Four groups within a second.
    let four: Vec<Event> = exchange_burst(t0, "OFFSEC\\admmig")
        .into_iter()
        .take(4)
        .collect();
    assert!(replay(&four, &only(quiet.clone())).is_empty());
    // Six groups, one every 20 s: no minute holds five.
    let spread: Vec<Event> = (0..6)
        .map(|i| {
            domain_add(
                200 + i,
                t0 + Duration::seconds(20 * i as i64),
                LAMBDA,
                EXCHANGE_GROUPS[i as usize],
                1101 + i as u32,
                "OFFSEC\\admmig",
            )
        })
        .collect();
    assert!(replay(&spread, &only(quiet.clone())).is_empty());
    // Every 12 s: the fifth add is 48 s after the first.
    let tight: Vec<Event> = (0..5)
        .map(|i| {
            domain_add(
                300 + i,
                t0 + Duration::seconds(12 * i as i64),
                LAMBDA,
                EXCHANGE_GROUPS[i as usize],
                1101 + i as u32,
                "OFFSEC\\admmig",
            )
        })
        .collect();
    assert_eq!(replay(&tight, &only(quiet.clone())).len(), 1);
    // The same group five times is one group.
    let same: Vec<Event> = (0..5)
        .map(|i| {
            domain_add(
                400 + i,
                t0 + Duration::seconds(i as i64),
                LAMBDA,
                "Help Desk",
                1107,
                "OFFSEC\\admmig",
            )
        })
        .collect();
    assert!(replay(&same, &only(quiet.clone())).is_empty());
    // Five members, one group each: no one principal is in a burst.
    let many: Vec<Event> = (0..5)
        .map(|i| {
            domain_add(
                500 + i,
                t0 + Duration::seconds(i as i64),
                &format!("{DOMAIN}-{}", 1700 + i),
                EXCHANGE_GROUPS[i as usize],
                1101 + i as u32,
                "OFFSEC\\admmig",
            )
        })
        .collect();
    assert!(replay(&many, &only(quiet)).is_empty());
}

#[test]
fn administrators_on_five_hosts_is_five_groups() {
    let member = "S-1-5-21-1-2-3-1001";
    let events: Vec<Event> = (0..5)
        .map(|i| {
            let time =
                privtrail_model::format_time(t("2024-03-01T10:00:00Z") + Duration::seconds(i));
            win_add(
                &format!("ws{i}"),
                10 + i as u64,
                &time,
                member,
                "CONTOSO\\deploy",
            )
        })
        .collect();
    let alerts = replay(
        &events,
        &only(GroupBurst {
            new_granters: false,
            ..rule()
        }),
    );
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(
        alerts[0].summary.contains("5 groups (5 privileged)"),
        "{}",
        alerts[0].summary
    );
}

#[test]
fn a_burst_split_across_two_runs_is_seen_by_the_second() {
    let t0 = t("2024-03-01T10:00:00Z");
    let events = exchange_burst(t0, "OFFSEC\\admmig");
    let (first, second) = events.split_at(3);
    let quiet = GroupBurst {
        new_granters: false,
        ..rule()
    };
    let mut tracker = Tracker::new(Policy::default());
    tracker.apply(first);
    assert!(evaluate(&quiet, &tracker, first, first, t0 + Duration::seconds(1)).is_empty());
    tracker.apply(second);
    // The store's recent events (the lookback before now) hold the first run's adds.
    let found = evaluate(&quiet, &tracker, second, &events, t0 + Duration::seconds(2));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].event_ids.len(), 15);
    // The window is read from the events, not from the run: two adds with nothing before them
    // are no burst.
    let found = evaluate(
        &quiet,
        &tracker,
        &second[10..],
        &second[10..],
        t0 + Duration::seconds(2),
    );
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn a_granter_is_new_once_across_runs() {
    let r = GroupBurst { count: 0, ..rule() };
    let t0 = t("2024-03-01T10:00:00Z");
    let helpdesk = 1107;
    let old = domain_add(1, t0, LAMBDA, "Domain Admins", 512, "OFFSEC\\alice");
    let mut tracker = Tracker::new(Policy::default());
    tracker.apply(std::slice::from_ref(&old));
    let f = evaluate(&r, &tracker, std::slice::from_ref(&old), &[], t0);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].subject, "granter|offsec\\alice");
    assert!(
        f[0].summary
            .contains("no earlier grant by anyone is on record"),
        "{}",
        f[0].summary
    );

    // A day later, in another run: alice again (not new), bob's first (new), carol's add to a
    // group that is not privileged (no grant).
    let t1 = t0 + Duration::days(1);
    let batch = vec![
        domain_add(
            2,
            t1,
            "S-1-5-21-1-2-3-1701",
            "Enterprise Admins",
            519,
            "OFFSEC\\alice",
        ),
        domain_add(
            3,
            t1,
            "S-1-5-21-1-2-3-1702",
            "Schema Admins",
            518,
            "offsec\\BOB",
        ),
        domain_add(
            4,
            t1,
            "S-1-5-21-1-2-3-1703",
            "Help Desk",
            helpdesk,
            "OFFSEC\\carol",
        ),
    ];
    tracker.apply(&batch);
    let f = evaluate(&r, &tracker, &batch, &[], t1);
    let subjects: Vec<&str> = f.iter().map(|f| f.subject.as_str()).collect();
    assert_eq!(subjects, ["granter|offsec\\bob"]);
    assert!(
        f[0].summary
            .contains("grants on record since 2024-03-01T10:00:00Z"),
        "{}",
        f[0].summary
    );

    // Bob's second grant, later: not new any more.
    let again = domain_add(
        5,
        t1 + Duration::hours(1),
        LAMBDA,
        "Domain Admins",
        512,
        "OFFSEC\\bob",
    );
    tracker.apply(std::slice::from_ref(&again));
    assert!(evaluate(&r, &tracker, std::slice::from_ref(&again), &[], t1).is_empty());

    // An approved granter is never new.
    let policy = Policy {
        approved_local_admin_granters: vec!["OFFSEC\\dave".into()],
        ..Policy::default()
    };
    let dave = domain_add(6, t1, LAMBDA, "Domain Admins", 512, "OFFSEC\\dave");
    let tracker = Tracker::from_events(policy, std::slice::from_ref(&dave));
    assert!(evaluate(&r, &tracker, &[dave], &[], t1).is_empty());
}

#[test]
fn the_baseline_learns_the_first_granters() {
    let r = GroupBurst {
        count: 0,
        baseline: Duration::days(7),
        ..rule()
    };
    let t0 = t("2024-03-01T10:00:00Z");
    let events = vec![
        domain_add(1, t0, LAMBDA, "Domain Admins", 512, "OFFSEC\\alice"),
        domain_add(
            2,
            t0 + Duration::days(6),
            LAMBDA,
            "Domain Admins",
            512,
            "OFFSEC\\bob",
        ),
        domain_add(
            3,
            t0 + Duration::days(8),
            LAMBDA,
            "Domain Admins",
            512,
            "OFFSEC\\carol",
        ),
    ];
    let alerts = replay(&events, &only(r));
    let subjects: Vec<&str> = alerts.iter().map(|a| a.subject.as_str()).collect();
    assert_eq!(subjects, ["granter|offsec\\carol"]);
}

/// The daemon may store the later part of a history first (a watched folder's files in any
/// order): a first grant the shorter history held back as baseline is reported once the older
/// part arrives, as when the whole history is judged at once.
#[test]
fn the_baseline_does_not_depend_on_the_order_history_arrives_in() {
    let r = GroupBurst {
        count: 0,
        baseline: Duration::days(7),
        ..rule()
    };
    let t0 = t("2024-03-01T10:00:00Z");
    let alice = domain_add(1, t0, LAMBDA, "Domain Admins", 512, "OFFSEC\\alice");
    let carol = domain_add(
        3,
        t0 + Duration::days(8),
        LAMBDA,
        "Domain Admins",
        512,
        "OFFSEC\\carol",
    );
    let now = t0 + Duration::days(9);
    let subjects = |f: &[Finding]| -> Vec<String> { f.iter().map(|f| f.subject.clone()).collect() };
    // At once.
    let mut all = Tracker::new(Policy::default());
    all.apply(&[alice.clone(), carol.clone()]);
    let at_once = evaluate(&r, &all, &[alice.clone(), carol.clone()], &[], now);
    assert_eq!(subjects(&at_once), ["granter|offsec\\carol"]);
    // Later part first: carol alone is the start of the history, so held back…
    let mut piecewise = Tracker::new(Policy::default());
    piecewise.apply(std::slice::from_ref(&carol));
    assert!(evaluate(&r, &piecewise, std::slice::from_ref(&carol), &[], now).is_empty());
    // …and reported when alice's older grant moves the start back.
    piecewise.apply(std::slice::from_ref(&alice));
    let later = evaluate(&r, &piecewise, std::slice::from_ref(&alice), &[], now);
    assert_eq!(subjects(&later), ["granter|offsec\\carol"]);
    // Nothing is reported twice in order: a third run with nothing new is silent.
    assert!(evaluate(&r, &piecewise, &[], &[], now).is_empty());
}

// --- properties of the granter memory ---------------------------------------------------------

#[derive(Debug, Clone)]
struct Grant {
    granter: u8,
    privileged: bool,
    minute: u16,
}

fn grant() -> impl Strategy<Value = Grant> {
    (0u8..5, any::<bool>(), 0u16..300).prop_map(|(granter, privileged, minute)| Grant {
        granter,
        privileged,
        minute,
    })
}

fn grant_events(grants: &[Grant]) -> Vec<Event> {
    let t0 = t("2024-03-01T00:00:00Z");
    grants
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let (name, rid) = if g.privileged {
                ("Domain Admins", 512)
            } else {
                ("Help Desk", 1107)
            };
            // Two spellings of one account: the canonical form is what counts.
            let actor = if i % 2 == 0 {
                format!("OFFSEC\\user{}", g.granter)
            } else {
                format!("offsec\\USER{}", g.granter)
            };
            domain_add(
                i as u64 + 1,
                t0 + Duration::minutes(i64::from(g.minute)),
                &format!("{DOMAIN}-{}", 2000 + i),
                name,
                rid,
                &actor,
            )
        })
        .collect()
}

/// Each granter's first privileged grant: (time, id) least.
fn oracle_first(events: &[Event]) -> BTreeMap<String, EventId> {
    let mut first: BTreeMap<String, (DateTime<Utc>, EventId)> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e.privilege.as_deref() == Some("Domain Admins"))
    {
        let k = e.actor.as_deref().unwrap().to_lowercase();
        let at = (e.time, e.id.clone());
        if first.get(&k).is_none_or(|f| at < *f) {
            first.insert(k, at);
        }
    }
    first.into_iter().map(|(k, (_, id))| (k, id)).collect()
}

/// Runs the rule as the engine does over `arrival` in chunks; returns (subject, event id) per
/// finding, in report order.
fn run_granters(arrival: &[Event], chunk: usize) -> Vec<(String, EventId)> {
    let r = GroupBurst { count: 0, ..rule() };
    let mut tracker = Tracker::new(Policy::default());
    let mut out = Vec::new();
    for c in arrival.chunks(chunk.max(1)) {
        tracker.apply(c);
        let now = c.iter().map(|e| e.time).max().unwrap();
        for f in evaluate(&r, &tracker, c, &[], now) {
            out.push((f.subject, f.event_ids[0].clone()));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// In time order, whatever the batching: every granter is reported exactly once, on its
    /// first privileged grant of all.
    #[test]
    fn in_time_order_each_granter_is_new_once_on_its_first_grant(
        grants in prop::collection::vec(grant(), 0..40),
        chunk in 1usize..10,
    ) {
        let mut events = grant_events(&grants);
        events.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
        let got = run_granters(&events, chunk);
        let want: Vec<(String, EventId)> = {
            let first = oracle_first(&events);
            let mut v: Vec<(String, EventId)> = first
                .into_iter()
                .map(|(k, id)| (format!("granter|{k}"), id))
                .collect();
            // Report order is arrival order.
            v.sort_by_key(|(_, id)| events.iter().position(|e| e.id == *id));
            v
        };
        prop_assert_eq!(got, want);
    }

    /// In any order: the reported granters are exactly those with a privileged grant, each report
    /// is on the earliest grant of its granter known at that run, and replaying the same history
    /// later reports the first grants of all (the memory is the stored history, not the runs).
    #[test]
    fn in_any_order_reports_cover_every_granter_and_agree_with_the_history(
        grants in prop::collection::vec(grant(), 0..40),
        seed in any::<u64>(),
        chunk in 1usize..10,
    ) {
        let events = grant_events(&grants);
        let mut arrival = events.clone();
        shuffle(&mut arrival, seed);
        let got = run_granters(&arrival, chunk);
        let first = oracle_first(&events);
        let reported: BTreeSet<String> = got.iter().map(|(s, _)| s.clone()).collect();
        let expected: BTreeSet<String> = first.keys().map(|k| format!("granter|{k}")).collect();
        prop_assert_eq!(&reported, &expected);
        // Each report was the earliest grant of its granter among the events arrived so far.
        let mut seen: Vec<&Event> = Vec::new();
        for c in arrival.chunks(chunk.max(1)) {
            seen.extend(c);
            let now_first = oracle_first(&seen.iter().map(|e| (*e).clone()).collect::<Vec<_>>());
            for (subject, id) in got.iter().filter(|(_, id)| c.iter().any(|e| e.id == *id)) {
                let k = subject.trim_start_matches("granter|");
                prop_assert_eq!(now_first.get(k), Some(id));
            }
        }
        // The overall first grant of every granter is among the reports, whatever the order.
        for id in first.values() {
            prop_assert!(got.iter().any(|(_, g)| g == id));
        }
    }

    /// Bursts match a brute-force reading of the definition: a member is reported iff some add
    /// of theirs has `count` distinct groups among their adds of the minute up to it.
    #[test]
    fn bursts_match_the_definition(
        adds in prop::collection::vec((0u8..3, 0u8..7, 0u16..180), 0..40),
    ) {
        let events = generated_adds(&adds, t("2024-03-01T00:00:00Z"));
        let quiet = GroupBurst { new_granters: false, count: 3, ..rule() };
        let alerts = replay(&events, &only(quiet));
        let got: BTreeSet<String> = alerts
            .iter()
            .map(|a| a.subject.split('|').nth(1).unwrap().to_owned())
            .collect();
        let mut want = BTreeSet::new();
        for e in &events {
            let who = e.target.clone().unwrap();
            let groups: BTreeSet<&str> = events
                .iter()
                .filter(|x| x.target.as_deref() == Some(who.as_str()))
                .filter(|x| x.time > e.time - Duration::minutes(1) && x.time <= e.time)
                .map(|x| x.privilege_id.as_deref().unwrap())
                .collect();
            if groups.len() >= 3 {
                want.insert(who.to_lowercase());
            }
        }
        prop_assert_eq!(got, want);
    }
}

proptest! {
    /// One evaluation's burst findings equal a brute-force reading of the definition, subject by
    /// subject: every add among the new events whose window (that member's adds, recent or new,
    /// timed in the minute up to it) holds `count` distinct groups puts the window's adds and
    /// groups into the finding of its subject (member and the day of the window's first add).
    /// Times straddle midnight, so one member's windows can have two subjects; `recent` overlaps
    /// the new events, as the store's lookback does.
    #[test]
    fn burst_findings_match_the_definition_exactly(
        adds in prop::collection::vec((0u8..3, 0u8..7, 0u16..240), 0..60),
        split in 0usize..60,
        overlap in 0usize..10,
    ) {
        let t0 = t("2024-03-01T23:58:30Z");
        let events = generated_adds(&adds, t0);
        let split = split.min(events.len());
        let recent = &events[..(split + overlap).min(events.len())];
        let new = &events[split..];
        let r = GroupBurst { new_granters: false, count: 3, ..rule() };
        let tracker = Tracker::new(Policy::default());
        let got: BTreeMap<String, (BTreeSet<EventId>, usize)> =
            evaluate(&r, &tracker, new, recent, t0)
                .into_iter()
                .map(|f| {
                    let groups = f.summary.split(" was added to ").nth(1).unwrap();
                    let groups: usize = groups.split(' ').next().unwrap().parse().unwrap();
                    (f.subject, (f.event_ids.into_iter().collect(), groups))
                })
                .collect();
        let mut want: BTreeMap<String, (BTreeSet<EventId>, BTreeSet<&str>)> = BTreeMap::new();
        for e in new {
            let who = e.target.as_deref().unwrap();
            let mut window: Vec<&Event> = events
                .iter()
                .filter(|x| x.target.as_deref() == Some(who))
                .filter(|x| x.time > e.time - Duration::minutes(1) && x.time <= e.time)
                .collect();
            window.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
            let groups: BTreeSet<&str> =
                window.iter().map(|x| x.privilege_id.as_deref().unwrap()).collect();
            if groups.len() < 3 {
                continue;
            }
            let subject = format!("burst|{}|{}", who.to_lowercase(), window[0].time.date_naive());
            let entry = want.entry(subject).or_default();
            entry.0.extend(window.iter().map(|x| x.id.clone()));
            entry.1.extend(groups);
        }
        let want: BTreeMap<String, (BTreeSet<EventId>, usize)> =
            want.into_iter().map(|(s, (ids, g))| (s, (ids, g.len()))).collect();
        prop_assert_eq!(got, want);
    }
}

/// Generated adds `(member, group, second)`, by one actor, from `t0` on.
fn generated_adds(adds: &[(u8, u8, u16)], t0: DateTime<Utc>) -> Vec<Event> {
    adds.iter()
        .enumerate()
        .map(|(i, (m, g, s))| {
            domain_add(
                i as u64 + 1,
                t0 + Duration::seconds(i64::from(*s)),
                &format!("{DOMAIN}-{}", 3000 + u32::from(*m)),
                EXCHANGE_GROUPS[usize::from(*g)],
                1101 + u32::from(*g),
                "OFFSEC\\admmig",
            )
        })
        .collect()
}

/// A small deterministic shuffle (Fisher–Yates with an LCG).
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (seed >> 33) as usize % (i + 1);
        v.swap(i, j);
    }
}
