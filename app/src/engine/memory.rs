//! What the rules job keeps between runs in a long-running process ([`RulesMemory`], held by
//! [`crate::App`] under its rules lock): the elevation tracker, and what the `elevations` table
//! holds.
//!
//! Without it every run rebuilt the tracker from every stored elevation input and rewrote the
//! whole `elevations` table: work that grows with the history, done whenever events are stored.
//! Under a steady `/_bulk` load into a store of 10M events that was half of the request threads'
//! CPU, and the table rewrite took the writer thread from the pushes. The tracker's result depends
//! only on the set of events applied, not on their order, so applying the inputs stored since the
//! last run gives what a rebuild gives; the table gets only the rows that changed.
//!
//! Forgotten (rebuilt from the store) when the policy joined with the directory changed, when
//! events were purged (the store's first seq moved), and after a run that failed half-way (the
//! memory is taken out for the run and put back only at its end).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use privtrail_model::Event;
use privtrail_rules::{ELEVATION_INPUTS, Policy, Tracker};
use privtrail_store::{ElevationRow, ElevationWrite, Store};

use crate::error::Result;

/// Elevation inputs read back per query when catching up.
const CHUNK: usize = 50_000;

/// The rules job's memory between runs; empty at first.
#[derive(Debug, Default)]
pub struct RulesMemory(Option<Kept>);

#[derive(Debug)]
struct Kept {
    tracker: Tracker,
    policy: Policy,
    /// Every elevation input with a seq up to this one is applied.
    upto: i64,
    first_seq: i64,
    /// What the `elevations` table holds: id → hash of the row.
    saved: HashMap<String, u64>,
}

/// A run's tracker, and what it needs to save the elevations it ends with.
pub(crate) struct Recalled {
    pub tracker: Tracker,
    /// The store's first seq when the tracker was recalled.
    pub first_seq: i64,
    /// What the `elevations` table holds, when known (see [`changes`]).
    pub saved: Option<HashMap<String, u64>>,
}

impl RulesMemory {
    /// The tracker of a run that judges events up to `upto`: the kept one with the inputs stored
    /// since, or one built from every stored input.
    pub(crate) fn recall(&mut self, store: &Store, policy: &Policy, upto: i64) -> Result<Recalled> {
        let first_seq = store.first_seq()?;
        let names: Vec<&str> = ELEVATION_INPUTS.iter().map(|a| a.as_str()).collect();
        match self.0.take() {
            Some(k) if k.policy == *policy && k.first_seq == first_seq && k.upto <= upto => {
                let mut tracker = k.tracker;
                let mut from = k.upto;
                loop {
                    let chunk = store.events_after_seq(from, upto, Some(&names), CHUNK)?;
                    let full = chunk.len() == CHUNK;
                    from = chunk.last().map_or(upto, |(s, _)| *s);
                    let events: Vec<Event> = chunk.into_iter().map(|(_, e)| e).collect();
                    tracker.apply(&events);
                    if !full {
                        break;
                    }
                }
                Ok(Recalled {
                    tracker,
                    first_seq,
                    saved: Some(k.saved),
                })
            }
            _ => {
                // Inputs stored after `upto` may be read here too: applying them again next time
                // changes nothing (the tracker skips events it has seen).
                let inputs = store.events_with_actions(&names)?;
                Ok(Recalled {
                    tracker: Tracker::from_events(policy.clone(), &inputs),
                    first_seq,
                    saved: None,
                })
            }
        }
    }

    /// Keeps `tracker` for the next run, once the run's results (including `saved`, see
    /// [`changes`]) are committed.
    pub(crate) fn keep(
        &mut self,
        tracker: Tracker,
        policy: Policy,
        upto: i64,
        first_seq: i64,
        saved: HashMap<String, u64>,
    ) {
        self.0 = Some(Kept {
            tracker,
            policy,
            upto,
            first_seq,
            saved,
        });
    }
}

/// The elevation rows a run saves: all of them, or the changed ones and the ids gone.
#[derive(Debug)]
pub(crate) enum Save {
    All(Vec<ElevationRow>),
    Changed {
        rows: Vec<ElevationRow>,
        removed: Vec<String>,
    },
}

impl Save {
    pub fn as_write(&self) -> ElevationWrite<'_> {
        match self {
            Save::All(rows) => ElevationWrite::All(rows),
            Save::Changed { rows, removed } => ElevationWrite::Changed { rows, removed },
        }
    }
}

/// What to write of `rows` (every elevation a run ends with) over what the table holds (`saved`),
/// and what it holds afterwards.
pub(crate) fn changes(
    saved: Option<&HashMap<String, u64>>,
    rows: Vec<ElevationRow>,
) -> (Save, HashMap<String, u64>) {
    let now: HashMap<String, u64> = rows.iter().map(|r| (r.id.clone(), row_hash(r))).collect();
    let Some(saved) = saved else {
        return (Save::All(rows), now);
    };
    let removed = saved
        .keys()
        .filter(|id| !now.contains_key(*id))
        .cloned()
        .collect();
    let rows = rows
        .into_iter()
        .filter(|r| saved.get(&r.id) != now.get(&r.id))
        .collect();
    (Save::Changed { rows, removed }, now)
}

fn row_hash(r: &ElevationRow) -> u64 {
    let mut h = DefaultHasher::new();
    (&r.principal, &r.privilege, &r.scope, &r.body).hash(&mut h);
    (r.started_at, r.ended_at, r.expected_end).hash(&mut h);
    h.finish()
}
