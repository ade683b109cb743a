#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions
//! Order independence and interval invariants over random event sequences.

mod common;

use std::collections::BTreeMap;

use chrono::Duration;
use common::*;
use privtrail_model::{Action, Event};
use privtrail_rules::{
    Elevation, ElevationKey, Policy, Tracker, elevations_for_key, key_of, tag_host,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Step {
    op: u8,
    principal: u8,
    privilege: u8,
    scope: u8,
    minute: u16,
    duplicate_time: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (0u8..10, 0u8..3, 0u8..2, 0u8..2, 0u16..600, any::<bool>()).prop_map(
        |(op, principal, privilege, scope, minute, duplicate_time)| Step {
            op,
            principal,
            privilege,
            scope,
            minute,
            duplicate_time,
        },
    )
}

fn build(steps: &[Step]) -> Vec<Event> {
    let base = t("2024-01-01T00:00:00Z");
    let mut out = Vec::new();
    let mut last = base;
    for (i, s) in steps.iter().enumerate() {
        let time = if s.duplicate_time {
            last
        } else {
            base + Duration::minutes(i64::from(s.minute))
        };
        last = time;
        let ts = privtrail_model::format_time(time);
        let host = format!("h{}", s.scope);
        let sid = format!("S-1-5-21-1-2-3-{}", 1000 + u32::from(s.principal));
        let upn = format!("u{}@contoso.com", s.principal);
        let role = if s.privilege == 0 {
            GA.to_owned()
        } else {
            "role-b".to_owned()
        };
        let rec = i as u64 + 1;
        let id = format!("e{i}");
        let mut e = match s.op {
            0 | 1 => win_add(&host, rec, &ts, &sid, "x"),
            2 => win_remove(&host, rec, &ts, &sid, "x"),
            3 => {
                let exp = privtrail_model::format_time(time + Duration::hours(1));
                activation(&id, &ts, &upn, &role, &exp)
            }
            4 => entra(Action::RoleAssigned, &id, &ts, &upn, &role),
            5 => entra(Action::RoleDeactivated, &id, &ts, &upn, &role),
            6 => entra(Action::RoleActivationExpired, &id, &ts, &upn, &role),
            7 => entra(Action::RoleUnassigned, &id, &ts, &upn, &role),
            8 => {
                let exp = privtrail_model::format_time(time + Duration::minutes(90));
                let who = (s.principal == 0).then_some(sid.as_str());
                tag(&host, &id, &ts, &exp, who)
            }
            _ => {
                // A linked second record of the previous event.
                let mut e = entra(Action::RoleActivated, &id, &ts, &upn, &role);
                if let Some(prev) = out.last() {
                    let prev: &Event = prev;
                    e.linked_to = Some(prev.id.clone());
                }
                e
            }
        };
        if s.op == 1 {
            e.privilege_id = Some("S-1-5-32-551".into());
        }
        out.push(e);
    }
    out
}

fn by_key(els: &[Elevation]) -> BTreeMap<ElevationKey, Vec<Elevation>> {
    let mut m: BTreeMap<ElevationKey, Vec<Elevation>> = BTreeMap::new();
    for e in els {
        m.entry(e.key()).or_default().push(e.clone());
    }
    for v in m.values_mut() {
        // Walk order: zero-length closed intervals sort before an open one starting at the same time.
        v.sort_by_key(|e| (e.started_at, e.ended_at.is_none(), e.ended_at, e.id.clone()));
    }
    m
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn order_independent_and_never_overlapping(
        steps in prop::collection::vec(step(), 0..60),
        seed in any::<u64>(),
        chunk in 1usize..8,
    ) {
        let policy = Policy::default();
        let events = build(&steps);

        // Reference: elevations_for_key on each key's sorted set (plus its host's tags).
        let mut sorted = events.clone();
        sorted.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
        let mut groups: BTreeMap<ElevationKey, Vec<Event>> = BTreeMap::new();
        for e in &sorted {
            if let Some(k) = key_of(e, &policy) {
                groups.entry(k).or_default().push(e.clone());
            }
        }
        let mut reference = Vec::new();
        for (k, mut evs) in groups {
            if k.realm.is_empty() {
                evs.extend(sorted.iter().filter(|e| tag_host(e).as_deref() == Some(k.scope.as_str())).cloned());
            }
            reference.extend(elevations_for_key(&evs, &policy));
        }
        let reference = by_key(&reference);

        // Shuffled arrival, in chunks, with some events delivered twice.
        let mut arrival = events.clone();
        arrival.extend(events.iter().take(3).cloned());
        shuffle(&mut arrival, seed);
        let mut tracker = Tracker::new(policy.clone());
        for c in arrival.chunks(chunk) {
            tracker.apply(c);
        }
        let got = by_key(tracker.elevations());
        prop_assert_eq!(&got, &reference);

        // The same arrival given in pieces, each key computed once at the end (a rebuild).
        let mut pieces = arrival.chunks(chunk).map(<[Event]>::to_vec);
        let rebuilt = Tracker::from_pieces(policy.clone(), |_| Ok::<_, ()>(pieces.next()));
        prop_assert_eq!(&by_key(rebuilt.expect("no error").elevations()), &reference);

        for els in got.values() {
            for el in els {
                if let Some(end) = el.ended_at {
                    prop_assert!(end >= el.started_at);
                    prop_assert!(el.closed_by.is_some() && el.end_reason.is_some());
                }
            }
            for w in els.windows(2) {
                let end = w[0].ended_at;
                prop_assert!(end.is_some(), "only the last elevation of a key may be open");
                prop_assert!(end.is_some_and(|e| e <= w[1].started_at), "overlap: {:?}", w);
            }
        }
    }
}
