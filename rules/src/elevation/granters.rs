//! Who has granted privileged group membership before: the memory behind `group-burst`'s "added
//! by a subject that never granted one before".
//!
//! It is derived from the stored history, not kept beside it: [`Tracker`](super::Tracker) notes
//! every privileged add it applies, and the engine rebuilds its tracker from every stored
//! elevation input on each run (a backtest replays them), so the answer survives restarts and is
//! the same whichever run or process stored the events.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, EventId, Outcome};

use super::{Effect, ElevationKind, effect};
use crate::policy::Policy;

/// The first privileged grant of every granter.
///
/// A grant is a successful `group.member.added` to a privileged group (one that opens a
/// membership elevation) with an actor. "First" is the least (time, event id), so the result does
/// not depend on the order events arrive in; keys are canonical (identity-mapped, lower-cased)
/// actors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Granters {
    /// Per granter, the (time, id) of the first grant and the event itself (without `raw`), so
    /// that a grant held back by a shorter history can still be reported (`group-burst`).
    first: BTreeMap<String, (DateTime<Utc>, EventId, Event)>,
    /// The earliest grant by anyone: since when privtrail has known who grants.
    since: Option<DateTime<Utc>>,
}

/// No history: what a [`Context`](crate::Context) without a tracker sees.
pub(crate) static NO_GRANTERS: Granters = Granters {
    first: BTreeMap::new(),
    since: None,
};

/// Whether `e` grants privileged group membership; its canonical actor if so.
pub fn grant_actor(e: &Event, policy: &Policy) -> Option<String> {
    if e.action != Action::GroupMemberAdded
        || e.outcome != Outcome::Success
        || e.linked_to.is_some()
        || effect(&super::View::of(e), policy) != Some(Effect::Open(ElevationKind::Membership))
    {
        return None;
    }
    let actor = e
        .actor
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())?;
    Some(policy.canonical(actor))
}

impl Granters {
    /// Notes `e` if it is a grant (any order; repeats change nothing).
    pub fn note(&mut self, e: &Event, policy: &Policy) {
        let Some(actor) = grant_actor(e, policy) else {
            return;
        };
        let at = (e.time, e.id.clone());
        let kept = || {
            let mut k = e.clone();
            k.raw = String::new();
            (e.time, e.id.clone(), k)
        };
        match self.first.get_mut(&actor) {
            Some(first) if (first.0, &first.1) <= (at.0, &at.1) => {}
            Some(first) => *first = kept(),
            None => {
                self.first.insert(actor, kept());
            }
        }
        if self.since.is_none_or(|s| e.time < s) {
            self.since = Some(e.time);
        }
    }

    /// The first grant noted for `actor` (any form the identity map knows).
    pub fn first_grant(&self, actor: &str, policy: &Policy) -> Option<(DateTime<Utc>, &EventId)> {
        self.first
            .get(&policy.canonical(actor))
            .map(|(t, id, _)| (*t, id))
    }

    /// Whether `e` is a grant and the first its actor made: no grant of theirs is noted before it.
    /// `false` for an event that was not noted (the history does not hold it).
    pub fn is_first(&self, e: &Event, policy: &Policy) -> bool {
        grant_actor(e, policy)
            .and_then(|a| self.first.get(&a))
            .is_some_and(|(_, id, _)| *id == e.id)
    }

    /// Every granter's first grant.
    pub fn firsts(&self) -> impl Iterator<Item = &Event> {
        self.first.values().map(|(_, _, e)| e)
    }

    /// The time of the earliest grant noted, by anyone.
    pub fn since(&self) -> Option<DateTime<Utc>> {
        self.since
    }

    /// How many granters are known.
    pub fn len(&self) -> usize {
        self.first.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_empty()
    }
}
