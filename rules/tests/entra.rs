#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions
mod common;

use chrono::Duration;
use common::*;
use privtrail_model::Action;
use privtrail_rules::{
    AlertStatus, Context, ElevationKind, EndReason, InstanceType, PimInstanceView, Policy, Tracker,
    elevations_for_key, evaluate_all, evaluate_new_events, reconcile,
};

const UPN: &str = "alice@contoso.com";

#[test]
fn activation_closed_by_expiry() {
    let events = vec![
        activation(
            "a1",
            "2024-03-01T09:00:00Z",
            UPN,
            GA,
            "2024-03-01T10:00:00Z",
        ),
        entra(
            Action::RoleActivationExpired,
            "a2",
            "2024-03-01T10:00:01Z",
            UPN,
            GA,
        ),
    ];
    let els = elevations_for_key(&events, &Policy::default());
    assert_eq!(els.len(), 1);
    assert_eq!(els[0].kind, ElevationKind::Activation);
    assert_eq!(els[0].end_reason, Some(EndReason::Expired));
    assert_eq!(els[0].expected_end, Some(t("2024-03-01T10:00:00Z")));
    assert_eq!(els[0].tenant.as_deref(), Some("contoso"));
}

#[test]
fn pim_core_directory_pair_is_one_elevation_without_duplicate() {
    let pim = activation(
        "pim",
        "2024-03-01T09:00:00Z",
        UPN,
        GA,
        "2024-03-01T10:00:00Z",
    );
    let mut core = entra(
        Action::RoleAssigned,
        "core",
        "2024-03-01T09:00:01Z",
        UPN,
        GA,
    );
    core.via_pim = Some(true);
    core.linked_to = Some(pim.id.clone());
    let events = vec![pim, core];
    let els = elevations_for_key(&events, &Policy::default());
    assert_eq!(els.len(), 1);
    assert!(els[0].duplicates.is_empty());
    let alerts = run(
        &events,
        &Policy::default(),
        "2024-03-01T08:00:00Z",
        "2024-03-01T09:30:00Z",
        10,
    );
    assert!(
        of_rule(&alerts, "duplicate-elevation").is_empty(),
        "{alerts:#?}"
    );
}

#[test]
fn core_record_stored_first_is_enriched_by_its_linked_pim_record() {
    let mut core = entra(
        Action::RoleAssigned,
        "core",
        "2024-03-01T09:00:00Z",
        UPN,
        GA,
    );
    core.via_pim = Some(true);
    let mut pim = activation(
        "pim",
        "2024-03-01T09:00:01Z",
        UPN,
        GA,
        "2024-03-01T10:00:00Z",
    );
    pim.linked_to = Some(core.id.clone());
    let els = elevations_for_key(&[core, pim], &Policy::default());
    assert_eq!(els.len(), 1);
    assert_eq!(els[0].kind, ElevationKind::Activation);
    assert_eq!(els[0].expected_end, Some(t("2024-03-01T10:00:00Z")));
}

#[test]
fn second_activation_while_open_is_a_duplicate() {
    let events = vec![
        activation(
            "a1",
            "2024-03-01T09:00:00Z",
            UPN,
            GA,
            "2024-03-01T10:00:00Z",
        ),
        activation(
            "a2",
            "2024-03-01T09:20:00Z",
            UPN,
            GA,
            "2024-03-01T10:20:00Z",
        ),
    ];
    let els = elevations_for_key(&events, &Policy::default());
    assert_eq!(els.len(), 1);
    assert_eq!(els[0].duplicates, vec![events[1].id.clone()]);
    let alerts = run(
        &events,
        &Policy::default(),
        "2024-03-01T08:00:00Z",
        "2024-03-01T09:30:00Z",
        10,
    );
    let dup = of_rule(&alerts, "duplicate-elevation");
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0].status, AlertStatus::Open, "an occurrence stays open");
}

/// A duplicate is reported when it arrives, or when the elevation's opener does (a late opener
/// makes duplicates of what came before it); the elevation's earlier duplicates are not reported
/// again with every new one.
#[test]
fn duplicates_are_reported_when_they_or_the_opener_are_new() {
    let a = |id: &str, at: &str| {
        activation(
            id,
            &format!("2024-03-01T{at}:00Z"),
            UPN,
            GA,
            "2024-03-01T12:00:00Z",
        )
    };
    let (opener, d1, d2) = (a("a1", "09:00"), a("a2", "09:10"), a("a3", "09:20"));
    let all = vec![opener.clone(), d1.clone(), d2.clone()];
    let els = elevations_for_key(&all, &Policy::default());
    assert_eq!(els.len(), 1);
    assert_eq!(els[0].duplicates, vec![d1.id.clone(), d2.id.clone()]);
    let rules = default_rules();
    let policy = Policy::default();
    let subjects = |new: &[privtrail_model::Event]| {
        let ctx = Context {
            new_events: new,
            elevations: &els,
            ..Context::new(t("2024-03-01T09:30:00Z"), &policy)
        };
        let mut s: Vec<String> = evaluate_all(&rules, &ctx)
            .0
            .into_iter()
            .filter(|f| f.rule == "duplicate-elevation")
            .map(|f| {
                f.event_ids
                    .last()
                    .map(|i| i.to_string())
                    .unwrap_or_default()
            })
            .collect();
        s.sort();
        s
    };
    let ids = |v: &[&privtrail_model::Event]| {
        let mut s: Vec<String> = v.iter().map(|e| e.id.to_string()).collect();
        s.sort();
        s
    };
    assert_eq!(subjects(std::slice::from_ref(&d2)), ids(&[&d2]));
    assert_eq!(subjects(std::slice::from_ref(&d1)), ids(&[&d1]));
    assert_eq!(subjects(std::slice::from_ref(&opener)), ids(&[&d1, &d2]));
    assert_eq!(subjects(&all), ids(&[&d1, &d2]));
    assert!(subjects(&[]).is_empty());
}

/// A further piece of one run judges only what is new: rules that look only at the state (here
/// `overdue-elevation`) reported it in the first piece and sit the others out — and so their
/// condition alerts cannot resolve there either.
#[test]
fn further_pieces_of_a_run_leave_state_rules_out() {
    let open = activation(
        "a1",
        "2024-03-01T09:00:00Z",
        UPN,
        GA,
        "2024-03-01T10:00:00Z",
    );
    let second = activation(
        "a2",
        "2024-03-01T09:20:00Z",
        UPN,
        GA,
        "2024-03-01T10:20:00Z",
    );
    let events = vec![open, second.clone()];
    let els = elevations_for_key(&events, &Policy::default());
    let rules = default_rules();
    let policy = Policy::default();
    let ctx = Context {
        new_events: std::slice::from_ref(&second),
        elevations: &els,
        ..Context::new(t("2024-03-01T15:00:00Z"), &policy)
    };
    let (all, ran_all) = evaluate_all(&rules, &ctx);
    let (again, ran_again) = evaluate_new_events(&rules, &ctx);
    let rules_of = |f: &[privtrail_rules::Finding]| {
        let mut r: Vec<String> = f.iter().map(|f| f.rule.clone()).collect();
        r.sort();
        r.dedup();
        r
    };
    assert_eq!(rules_of(&all), ["duplicate-elevation", "overdue-elevation"]);
    assert_eq!(rules_of(&again), ["duplicate-elevation"]);
    assert!(ran_all.contains(&"overdue-elevation"));
    assert!(!ran_again.contains(&"overdue-elevation"));
    assert!(ran_again.contains(&"duplicate-elevation"));
}

#[test]
fn four_activations_in_a_day_are_frequent() {
    let mut events = Vec::new();
    for (i, h) in [8, 11, 14, 17].iter().enumerate() {
        events.push(activation(
            &format!("a{i}"),
            &format!("2024-03-01T{h:02}:00:00Z"),
            UPN,
            GA,
            &format!("2024-03-01T{h:02}:30:00Z"),
        ));
        events.push(entra(
            Action::RoleDeactivated,
            &format!("d{i}"),
            &format!("2024-03-01T{h:02}:20:00Z"),
            UPN,
            GA,
        ));
    }
    let alerts = run(
        &events,
        &Policy::default(),
        "2024-03-01T00:00:00Z",
        "2024-03-02T00:00:00Z",
        60,
    );
    let freq = of_rule(&alerts, "frequent-activation");
    assert_eq!(
        freq.len(),
        1,
        "the 4th activation updates the alert of the 3rd: {freq:#?}"
    );
    assert_eq!(freq[0].event_ids.len(), 4);
    assert_eq!(freq[0].opened_at, t("2024-03-01T14:00:00Z"));
    // Two activations are no series.
    let alerts = run(
        &events[..4],
        &Policy::default(),
        "2024-03-01T00:00:00Z",
        "2024-03-02T00:00:00Z",
        60,
    );
    assert!(of_rule(&alerts, "frequent-activation").is_empty());
}

#[test]
fn standing_access_permanent_and_outside_pim_but_not_break_glass() {
    let mut permanent = entra(Action::RoleAssigned, "p1", "2024-03-01T09:00:00Z", UPN, GA);
    permanent.via_pim = Some(true);
    let mut outside = entra(
        Action::RoleAssigned,
        "o1",
        "2024-03-01T09:00:00Z",
        "bob@contoso.com",
        "Reports Reader",
    );
    outside.via_pim = Some(false);
    outside.expires_at = Some(t("2024-03-08T09:00:00Z"));
    let mut bg = entra(
        Action::RoleAssigned,
        "b1",
        "2024-03-01T09:00:00Z",
        "BreakGlass@contoso.com",
        GA,
    );
    bg.via_pim = Some(true);
    let mut timebound = entra(
        Action::RoleAssigned,
        "tb",
        "2024-03-01T09:00:00Z",
        "carol@contoso.com",
        GA,
    );
    timebound.via_pim = Some(true);
    timebound.expires_at = Some(t("2024-03-02T09:00:00Z"));
    let policy = Policy {
        break_glass: vec!["breakglass@contoso.com".into()],
        ..Policy::default()
    };
    let alerts = run(
        &[permanent, outside, bg, timebound],
        &policy,
        "2024-03-01T08:00:00Z",
        "2024-03-01T10:00:00Z",
        30,
    );
    let mut who: Vec<_> = of_rule(&alerts, "standing-access")
        .iter()
        .map(|a| a.principal.clone().unwrap())
        .collect();
    who.sort();
    assert_eq!(who, vec!["alice@contoso.com", "bob@contoso.com"]);
    // A permanent assignment is not overdue: nothing promised an end.
    assert!(of_rule(&alerts, "overdue-elevation").is_empty());
}

#[test]
fn overdue_resolves_itself_when_the_elevation_closes() {
    let events = vec![
        activation(
            "a1",
            "2024-03-01T09:00:00Z",
            UPN,
            GA,
            "2024-03-01T10:00:00Z",
        ),
        entra(
            Action::RoleActivationExpired,
            "a2",
            "2024-03-01T11:00:00Z",
            UPN,
            GA,
        ),
    ];
    let alerts = run(
        &events,
        &Policy::default(),
        "2024-03-01T08:00:00Z",
        "2024-03-01T12:00:00Z",
        10,
    );
    let o = of_rule(&alerts, "overdue-elevation");
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].opened_at, t("2024-03-01T10:20:00Z"));
    assert_eq!(o[0].status, AlertStatus::Resolved);
    assert_eq!(o[0].resolved_at, Some(t("2024-03-01T11:00:00Z")));
}

#[test]
fn too_many_global_admins() {
    let events: Vec<_> = (0..6)
        .map(|i| {
            activation(
                &format!("g{i}"),
                &format!("2024-03-01T09:0{i}:00Z"),
                &format!("u{i}@contoso.com"),
                GA,
                "2024-03-01T11:00:00Z",
            )
        })
        .collect();
    let alerts = run(
        &events,
        &Policy::default(),
        "2024-03-01T08:00:00Z",
        "2024-03-01T10:00:00Z",
        30,
    );
    let g = of_rule(&alerts, "too-many-global-admins");
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].opened_at, t("2024-03-01T09:05:00Z"));
    assert!(
        run(
            &events[..5],
            &Policy::default(),
            "2024-03-01T08:00:00Z",
            "2024-03-01T10:00:00Z",
            30
        )
        .iter()
        .all(|a| a.rule != "too-many-global-admins")
    );
}

#[test]
fn windows_add_covered_by_entra_activation_of_the_mapped_principal() {
    let sid = "S-1-5-21-1-2-3-1104";
    let policy = Policy::default().with_directory_users(&[(UPN.into(), sid.into())]);
    let events = vec![
        activation(
            "a1",
            "2024-03-01T09:00:00Z",
            UPN,
            GA,
            "2024-03-01T10:00:00Z",
        ),
        win_add("h1", 1, "2024-03-01T09:10:00Z", sid, "helpdesk"),
    ];
    let alerts = run(
        &events,
        &policy,
        "2024-03-01T08:00:00Z",
        "2024-03-01T09:30:00Z",
        10,
    );
    assert!(
        of_rule(&alerts, "unapproved-local-admin").is_empty(),
        "{alerts:#?}"
    );
    let tr = Tracker::from_events(policy, &events);
    assert!(
        tr.elevations()
            .iter()
            .any(|e| e.principal == UPN && e.kind == ElevationKind::Membership)
    );
    // Without the join the add is unapproved.
    let alerts = run(
        &events,
        &Policy::default(),
        "2024-03-01T08:00:00Z",
        "2024-03-01T09:30:00Z",
        10,
    );
    assert_eq!(of_rule(&alerts, "unapproved-local-admin").len(), 1);
}

#[test]
fn reconcile_opens_missing_and_closes_vanished() {
    let policy = Policy::default();
    let open_one = activation(
        "a1",
        "2024-03-01T09:00:00Z",
        UPN,
        GA,
        "2024-03-01T17:00:00Z",
    );
    let mut tr = Tracker::from_events(policy.clone(), &[open_one]);
    let snapshot = vec![PimInstanceView {
        principal: "bob@contoso.com".into(),
        role_template_id: GA.into(),
        role_name: Some("Global Administrator".into()),
        scope: "/".into(),
        assignment_type: InstanceType::Activated,
        start: Some(t("2024-03-01T09:30:00Z")),
        end: Some(t("2024-03-01T10:30:00Z")),
    }];
    let open: Vec<_> = tr.open().cloned().collect();
    let taken = t("2024-03-01T10:00:00Z");
    let rec = reconcile(&open, &snapshot, taken, "contoso", &policy);
    assert_eq!(rec.opened.len(), 1);
    assert_eq!(rec.opened[0].principal, "bob@contoso.com");
    assert_eq!(rec.opened[0].kind, ElevationKind::Activation);
    assert_eq!(rec.opened[0].expected_end, Some(t("2024-03-01T10:30:00Z")));
    assert_eq!(rec.closed, vec![(open[0].id.clone(), taken)]);
    let ch = tr.apply(&rec.events);
    assert_eq!(ch.upserted.len(), 2);
    let alice = tr.elevations().iter().find(|e| e.principal == UPN).unwrap();
    assert_eq!(alice.end_reason, Some(EndReason::Reconciled));
    assert_eq!(alice.ended_at, Some(taken));
    let bob = tr
        .elevations()
        .iter()
        .find(|e| e.principal == "bob@contoso.com")
        .unwrap();
    assert_eq!(bob, &rec.opened[0]);
    // A second identical snapshot changes nothing.
    let open: Vec<_> = tr.open().cloned().collect();
    let again = reconcile(
        &open,
        &snapshot,
        taken + Duration::minutes(5),
        "contoso",
        &policy,
    );
    assert!(again.opened.is_empty() && again.closed.is_empty());
    // The real activation record arriving late adopts the snapshot's elevation: no duplicate.
    let late = activation(
        "b1",
        "2024-03-01T09:30:00Z",
        "bob@contoso.com",
        GA,
        "2024-03-01T10:30:00Z",
    );
    tr.apply(std::slice::from_ref(&late));
    let bob = tr
        .elevations()
        .iter()
        .find(|e| e.principal == "bob@contoso.com")
        .unwrap();
    assert_eq!(bob.opened_by, late.id);
    assert!(bob.duplicates.is_empty());
}

/// A rule that says it reads only the ids of its inputs' new events finds the same whether it is
/// given them whole or with only their identity (what the engine reads of an action no other rule
/// reads whole), and the other built-in rules do not say so: the engine would read their inputs
/// thin.
#[test]
fn rules_that_read_only_ids_find_the_same_in_identity_only_events() {
    let policy = Policy::default();
    let mut events = Vec::new();
    // Duplicates (a second and third activation while the first is open) and a frequent series
    // (four activations of another role in a day), for two principals.
    for (who, role) in [(UPN, GA), ("bob@contoso.com", "Exchange Administrator")] {
        for (i, at) in ["09:00", "09:10", "09:20"].iter().enumerate() {
            events.push(activation(
                &format!("{who}-dup{i}"),
                &format!("2024-03-01T{at}:00Z"),
                who,
                role,
                "2024-03-01T12:00:00Z",
            ));
        }
        for (i, h) in [13, 15, 17, 19].iter().enumerate() {
            events.push(activation(
                &format!("{who}-f{i}"),
                &format!("2024-03-01T{h}:00:00Z"),
                who,
                "Security Administrator",
                &format!("2024-03-01T{h}:30:00Z"),
            ));
            events.push(entra(
                Action::RoleDeactivated,
                &format!("{who}-d{i}"),
                &format!("2024-03-01T{h}:20:00Z"),
                who,
                "Security Administrator",
            ));
        }
    }
    let tracker = Tracker::from_events(policy.clone(), &events);
    let identity = |e: &privtrail_model::Event| {
        let mut thin = privtrail_model::Event::new(e.id.clone(), e.source, e.action, e.time, "");
        thin.ingested_at = e.ingested_at;
        thin.outcome = e.outcome;
        thin
    };
    let rules: Vec<Box<dyn privtrail_rules::Rule>> = default_rules()
        .into_iter()
        .filter(|r| r.reads_ids_only())
        .collect();
    let mut ids_only: Vec<&str> = rules.iter().map(|r| r.id()).collect();
    ids_only.sort_unstable();
    assert_eq!(ids_only, ["duplicate-elevation", "frequent-activation"]);
    let findings = |new: &[privtrail_model::Event]| {
        let ctx = Context {
            new_events: new,
            elevations: tracker.elevations(),
            ..Context::new(t("2024-03-02T00:00:00Z"), &policy)
        };
        let mut f: Vec<String> = evaluate_all(&rules, &ctx)
            .0
            .iter()
            .map(|f| format!("{f:?}"))
            .collect();
        f.sort();
        f
    };
    let mut seen = std::collections::HashSet::new();
    for new in events.chunks(3).chain([&events[..]]) {
        let whole = findings(new);
        let thin: Vec<_> = new.iter().map(identity).collect();
        assert_eq!(findings(&thin), whole, "new: {new:#?}");
        for f in &whole {
            seen.insert(f.split('"').nth(1).unwrap_or_default().to_owned());
        }
    }
    // Both rules found something to compare.
    assert!(seen.contains("duplicate-elevation"), "{seen:?}");
    assert!(seen.contains("frequent-activation"), "{seen:?}");
    // The actions read whole: not the ones only these two rules look at.
    let whole =
        privtrail_rules::whole_inputs_of(&default_rules()).expect("built-in rules name theirs");
    for thin in [
        Action::RoleAssigned,
        Action::RoleUnassigned,
        Action::RoleDeactivated,
        Action::RoleActivationExpired,
    ] {
        assert!(!whole.contains(&thin), "{thin:?} in {whole:?}");
    }
    assert!(whole.contains(&Action::GroupMemberAdded), "{whole:?}");
}
