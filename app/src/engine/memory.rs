//! What the rules job keeps between runs in a long-running process ([`RulesMemory`], held by
//! [`crate::App`] under its rules lock): the elevation tracker, what the `elevations` table holds,
//! and the active alerts.
//!
//! Without it every run rebuilt the tracker from every stored elevation input and rewrote the
//! whole `elevations` table: work that grows with the history, done whenever events are stored.
//! Under a steady `/_bulk` load into a store of 10M events that was half of the request threads'
//! CPU, and the table rewrite took the writer thread from the pushes. The tracker's result depends
//! only on the set of events applied, not on their order, so applying the inputs stored since the
//! last run gives what a rebuild gives; the table gets only the rows that changed.
//!
//! The active alerts (open or acknowledged, decoded from their JSON) were likewise read back for
//! every chunk of every run: a fifth of the request threads' CPU once thousands were open. Only
//! this process writes the store (one writer per data dir), and every in-process alert write
//! other than the rules job's own holds the same lock and forgets them ([`crate::App`]'s
//! `alerts_lock`); the rules job applies its own changes to what it keeps.
//!
//! Forgotten (rebuilt from the store) when the policy joined with the directory changed, when
//! events were purged (the store's first seq moved), and after a run that failed half-way (the
//! memory is taken out for the run and put back only at its end).

use std::collections::HashMap;

use privtrail_rules::{
    Alert, AlertChanges, AlertStatus, ELEVATION_INPUTS, Elevation, Policy, Tracker, TrackerFeed,
};
use privtrail_store::{ElevationRow, ElevationWrite, Store};

use super::feed::Feed;
use crate::error::Result;

/// Elevation inputs read back per query when catching up.
const CHUNK: usize = 50_000;

/// The rules job's memory between runs; empty at first.
#[derive(Debug, Default)]
pub struct RulesMemory {
    kept: Option<Kept>,
    /// The active alerts as stored.
    alerts: Option<Vec<Alert>>,
    /// The inputs this process stored, until the first rebuild takes them.
    feed: Option<Feed>,
}

#[derive(Debug)]
struct Kept {
    tracker: Tracker,
    policy: Policy,
    /// Every elevation input with a seq up to this one is applied.
    upto: i64,
    first_seq: i64,
    /// What the `elevations` table holds.
    saved: Saved,
}

/// A run's tracker, and what it needs to save the elevations it ends with.
pub(crate) struct Recalled {
    pub tracker: Tracker,
    /// The store's first seq when the tracker was recalled.
    pub first_seq: i64,
    /// What the `elevations` table holds, when known (see [`changes`]).
    pub saved: Option<Saved>,
    /// The elevation inputs read back from the store for it.
    pub read: u64,
}

/// What the `elevations` table holds: each elevation's id and [`fingerprint`]. A fingerprint,
/// not the value, as the table may hold millions of elevations and the tracker already holds
/// them once.
pub(crate) type Saved = foldhash::HashMap<String, u128>;

/// 128 bits of an elevation's content: two SipHash runs over it with different prefixes. Equal
/// for equal elevations; for different ones equal by chance only (2^-128), which would leave one
/// changed row unwritten until its next change.
pub(crate) fn fingerprint(e: &Elevation) -> u128 {
    use std::hash::{Hash, Hasher};
    let half = |prefix: u8| {
        // Fixed keys (`new()`): the same elevation has the same fingerprint in every run of the
        // process (the memory is never kept longer).
        let mut h = std::collections::hash_map::DefaultHasher::new();
        prefix.hash(&mut h);
        e.hash(&mut h);
        h.finish()
    };
    (u128::from(half(1)) << 64) | u128::from(half(2))
}

impl RulesMemory {
    /// The active alerts: the kept ones, or as read from the store. Put them back with
    /// [`RulesMemory::keep_alerts`] once what the run changed is committed and applied to them.
    pub(crate) fn take_alerts(&mut self, store: &Store) -> Result<Vec<Alert>> {
        if let Some(a) = self.alerts.take() {
            return Ok(a);
        }
        let mut out = Vec::new();
        for status in [AlertStatus::Open, AlertStatus::Acknowledged] {
            for row in store.alerts(Some(status.as_str()))? {
                out.push(super::decode_alert(&row)?);
            }
        }
        Ok(out)
    }

    pub(crate) fn keep_alerts(&mut self, alerts: Vec<Alert>) {
        self.alerts = Some(alerts);
    }

    /// The inputs this process stores from now on, for the first run that rebuilds the tracker
    /// ([`super::feed`]).
    pub fn feed_from(&mut self, feed: Feed) {
        self.feed = Some(feed);
    }

    /// Called by whoever changes alerts outside the rules job (under the same lock).
    pub(crate) fn forget_alerts(&mut self) {
        self.alerts = None;
    }

    /// The tracker of a run that judges events up to `upto`: the kept one with the inputs stored
    /// since, or one built from every stored input. `read_done` is called once no other thread
    /// reads for the recall: a rebuild's reading thread after its last piece (the keys are then
    /// computed on this thread, with the other core free), at once for a kept tracker (this
    /// thread reads the inputs since as it applies them). Dropped uncalled when reading fails.
    pub(crate) fn recall(
        &mut self,
        store: &Store,
        policy: &Policy,
        upto: i64,
        read_done: impl FnOnce() + Send,
    ) -> Result<Recalled> {
        let first_seq = store.first_seq()?;
        let names: Vec<&str> = ELEVATION_INPUTS.iter().map(|a| a.as_str()).collect();
        // Taken by the first run either way: a kept tracker needs none, and one run's feed
        // (given to the tracker it rebuilds) is not the next run's.
        let fed = self.feed.take().and_then(|f| f.take(policy, first_seq));
        match self.kept.take() {
            Some(k) if k.policy == *policy && k.first_seq == first_seq && k.upto <= upto => {
                // The inputs since the last run are read on this thread, as they are applied.
                read_done();
                let mut tracker = k.tracker;
                let mut next = super::ahead::pieces_after(
                    store,
                    k.upto,
                    upto,
                    Some(&names),
                    (&[], None),
                    CHUNK,
                );
                let mut read = 0;
                while let Some((events, _)) = next()? {
                    read += events.len() as u64;
                    tracker.apply(&events);
                }
                Ok(Recalled {
                    tracker,
                    first_seq,
                    saved: Some(k.saved),
                    read,
                })
            }
            _ => {
                // What this process stored since it began is fed (`super::feed`); the rest is
                // read.
                let (mut feed, skip) = match fed {
                    Some(fed) => {
                        tracing::debug!(from = fed.from, upto = fed.upto, "rules: fed inputs");
                        (
                            fed.tracker,
                            (fed.from < fed.upto).then_some((fed.from, fed.upto)),
                        )
                    }
                    None => (TrackerFeed::new(policy.clone()), None),
                };
                // In pieces: the inputs are a store's whole history (every PIM record is one).
                // Inputs stored after `upto` may be read here too: applying them again next time
                // changes nothing (the tracker skips events it has seen).
                let mut after = None;
                let mut done = false;
                let mut read_back = 0;
                let names = &names;
                let mut read_done = Some(read_done);
                let read = || {
                    if done {
                        return Ok(None);
                    }
                    let piece = store.events_with_actions_after(names, after, skip, CHUNK)?;
                    read_back += piece.len() as u64;
                    done = piece.len() < CHUNK;
                    if done && let Some(f) = read_done.take() {
                        f();
                    }
                    after = piece.last().map(|(at, _)| *at);
                    Ok(Some(piece.into_iter().map(|(_, e)| e).collect::<Vec<_>>()))
                };
                // Decoding the next piece on the other core while the tracker takes this one.
                let tracker = super::ahead::read_ahead(read, |next| {
                    feed.add_pieces(next)?;
                    Ok::<_, crate::error::AppError>(feed.finish())
                })?;
                Ok(Recalled {
                    tracker,
                    first_seq,
                    saved: None,
                    read: read_back,
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
        saved: Saved,
    ) {
        self.kept = Some(Kept {
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

/// What to write of `elevations` (every elevation a run ends with) over what the table holds
/// (`saved`, when known), and what it holds afterwards. Only new and changed elevations are turned
/// into rows (`row`).
pub(crate) fn changes(
    saved: Option<&Saved>,
    elevations: &[Elevation],
    row: impl Fn(&Elevation) -> Result<ElevationRow>,
) -> Result<(Save, Saved)> {
    let mut now = Saved::with_capacity_and_hasher(elevations.len(), Default::default());
    now.extend(elevations.iter().map(|e| (e.id.clone(), fingerprint(e))));
    let Some(saved) = saved else {
        let rows = elevations.iter().map(row).collect::<Result<_>>()?;
        return Ok((Save::All(rows), now));
    };
    let removed = saved
        .keys()
        .filter(|id| !now.contains_key(*id))
        .cloned()
        .collect();
    let rows = elevations
        .iter()
        .filter(|e| saved.get(&e.id) != now.get(&e.id))
        .map(row)
        .collect::<Result<_>>()?;
    Ok((Save::Changed { rows, removed }, now))
}

/// The active alerts after `changes` (from [`privtrail_rules::apply_findings`] over `alerts`) were
/// saved.
pub(crate) fn apply_alert_changes(alerts: &mut Vec<Alert>, changes: &AlertChanges) {
    let gone: HashMap<&str, ()> = changes
        .resolved
        .iter()
        .map(|a| (a.id.as_str(), ()))
        .collect();
    let updated: HashMap<&str, &Alert> =
        changes.updated.iter().map(|a| (a.id.as_str(), a)).collect();
    alerts.retain(|a| !gone.contains_key(a.id.as_str()));
    for a in alerts.iter_mut() {
        if let Some(u) = updated.get(a.id.as_str()) {
            a.clone_from(u);
        }
    }
    alerts.extend(changes.opened.iter().cloned());
    alerts.retain(Alert::is_active);
}
