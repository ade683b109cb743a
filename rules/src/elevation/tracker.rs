//! Incremental reconstruction: per-key event lists, recomputed for the keys a batch touches.

use crate::hash::{FastMap, FastSet};
use std::sync::Arc;

use privtrail_model::{Event, Source};

use super::view::{Input, Strings};
use super::{Elevation, ElevationKey, Granters, View, view_key, view_tag_host, walk};
use crate::policy::Policy;

#[derive(Debug, Default)]
struct KeyState {
    events: Vec<Input>,
    /// Lower-cased hosts whose endpoint tags take part in this key (memberships only).
    hosts: Vec<String>,
    /// Indexes into `Tracker::elevations`.
    slots: Vec<usize>,
}

/// What one [`Tracker::apply`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Elevations that are new or differ from before (opened, closed, re-dated by a late event).
    pub upserted: Vec<Elevation>,
    /// Ids of elevations that no longer exist (a late event reshaped their key's intervals).
    pub removed: Vec<String>,
    /// The keys that were recomputed.
    pub keys: Vec<ElevationKey>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.upserted.is_empty() && self.removed.is_empty()
    }
}

/// Maintains elevations incrementally and order-independently.
///
/// It keeps every relevant event per key (and endpoint tags per host) in memory, in the compact
/// form of [`super::view`]; for each key a batch touches it recomputes the key as
/// [`elevations_for_key`](super::elevations_for_key) does, so the result depends only on the set
/// of events applied, never on their arrival order. Rebuild one from stored events with
/// [`Tracker::from_events`] or [`Tracker::from_pieces`].
#[derive(Debug)]
pub struct Tracker {
    policy: Policy,
    keys: FastMap<ElevationKey, KeyState>,
    /// The ids of the inputs kept (shared with them).
    seen: FastSet<Arc<str>>,
    strings: Strings,
    tags: FastMap<String, Vec<Input>>,
    host_keys: FastMap<String, FastSet<ElevationKey>>,
    elevations: Vec<Elevation>,
    owner: Vec<ElevationKey>,
    granters: Granters,
}

impl Tracker {
    pub fn new(policy: Policy) -> Self {
        Tracker {
            policy,
            keys: FastMap::default(),
            seen: FastSet::default(),
            strings: Strings::default(),
            tags: FastMap::default(),
            host_keys: FastMap::default(),
            elevations: Vec::new(),
            owner: Vec::new(),
            granters: Granters::default(),
        }
    }

    /// A tracker that has applied `events`.
    pub fn from_events(policy: Policy, events: &[Event]) -> Self {
        let mut t = Tracker::new(policy);
        t.apply(events);
        t
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Every known elevation, open and closed, in no particular order.
    pub fn elevations(&self) -> &[Elevation] {
        &self.elevations
    }

    /// Names the elevations that have no `principal_name` yet (see
    /// [`crate::backtest::NameFn`]); a key's recomputation clears its names again.
    pub fn name_with(&mut self, names: crate::backtest::NameFn<'_>) {
        for el in self
            .elevations
            .iter_mut()
            .filter(|e| e.principal_name.is_none())
        {
            el.principal_name = names(&el.principal, el.started_at);
        }
    }

    /// Sets every elevation's `principal_name` to what `name` says (the principal and when the
    /// elevation started); reconstruction never sets names, and a recomputed key's elevations come
    /// back without them. For a caller that names them all on each use (the rules job), so that
    /// it needs no copy of them.
    pub fn rename<E>(
        &mut self,
        mut name: impl FnMut(&str, chrono::DateTime<chrono::Utc>) -> Result<Option<String>, E>,
    ) -> Result<(), E> {
        for el in &mut self.elevations {
            el.principal_name = name(&el.principal, el.started_at)?;
        }
        Ok(())
    }

    /// Who has granted privileged group membership, from every event applied (`group-burst`).
    pub fn granters(&self) -> &Granters {
        &self.granters
    }

    /// The open elevations.
    pub fn open(&self) -> impl Iterator<Item = &Elevation> {
        self.elevations.iter().filter(|e| e.is_open())
    }

    /// The elevations of a key.
    pub fn elevations_of(&self, key: &ElevationKey) -> Vec<&Elevation> {
        self.keys.get(key).map_or_else(Vec::new, |k| {
            k.slots.iter().map(|&i| &self.elevations[i]).collect()
        })
    }

    /// Adds events (any order, repeats ignored) and recomputes the keys they touch.
    pub fn apply(&mut self, new_events: &[Event]) -> Changes {
        let mut touched: FastSet<ElevationKey> = FastSet::default();
        self.add(new_events, &mut touched);
        self.recompute_all(touched)
    }

    /// A tracker that has applied inputs given in pieces (a store's whole history, read in
    /// chunks so that it is never all in memory twice): each key is computed once, at the end.
    /// `next` is handed each piece back once applied (to free or reuse where it was made).
    pub fn from_pieces<E>(
        policy: Policy,
        next: impl FnMut(Option<Vec<Event>>) -> Result<Option<Vec<Event>>, E>,
    ) -> Result<Self, E> {
        let mut feed = TrackerFeed::new(policy);
        feed.add_pieces(next)?;
        Ok(feed.finish())
    }

    /// The id of `e` as kept, or `None` when an input with it was applied before.
    fn first_sight(&mut self, e: &Event) -> Option<Arc<str>> {
        if self.seen.contains(e.id.as_str()) {
            return None;
        }
        let id: Arc<str> = Arc::from(e.id.as_str());
        self.seen.insert(id.clone());
        Some(id)
    }

    fn add<'e>(
        &mut self,
        new_events: impl IntoIterator<Item = &'e Event>,
        touched: &mut FastSet<ElevationKey>,
    ) {
        for e in new_events {
            let v = View::of(e);
            if let Some(host) = view_tag_host(&v) {
                if let Some(id) = self.first_sight(e) {
                    if let Some(keys) = self.host_keys.get(&host) {
                        touched.extend(keys.iter().cloned());
                    }
                    let input = Input::new(&v, id, &mut self.strings);
                    self.tags.entry(host).or_default().push(input);
                }
                continue;
            }
            let Some(key) = view_key(&v, &self.policy) else {
                continue;
            };
            let Some(id) = self.first_sight(e) else {
                continue;
            };
            self.granters.note(e, &self.policy);
            // Most inputs join a key seen before: look it up by reference rather than clone its
            // four strings for `entry` each time.
            if !self.keys.contains_key(&key) {
                self.keys.insert(key.clone(), KeyState::default());
            }
            let Some(state) = self.keys.get_mut(&key) else {
                continue;
            };
            if e.source == Source::Windows {
                for h in [
                    Some(key.scope.clone()),
                    e.host.as_deref().map(str::to_lowercase),
                ]
                .into_iter()
                .flatten()
                {
                    if !state.hosts.contains(&h) {
                        state.hosts.push(h.clone());
                        self.host_keys.entry(h).or_default().insert(key.clone());
                    }
                }
            }
            state.events.push(Input::new(&v, id, &mut self.strings));
            touched.insert(key);
        }
    }

    fn recompute_all(&mut self, touched: FastSet<ElevationKey>) -> Changes {
        let mut changes = Changes::default();
        changes.keys = self.recompute_keys(touched, Some(&mut changes));
        changes
    }

    /// Recomputes the `touched` keys in order, noting what changed in `changes` when given;
    /// returns the keys.
    fn recompute_keys(
        &mut self,
        touched: FastSet<ElevationKey>,
        mut changes: Option<&mut Changes>,
    ) -> Vec<ElevationKey> {
        let mut keys: Vec<ElevationKey> = touched.into_iter().collect();
        keys.sort();
        for key in &keys {
            self.recompute(key, changes.as_deref_mut());
        }
        keys
    }

    fn recompute(&mut self, key: &ElevationKey, changes: Option<&mut Changes>) {
        let Some(state) = self.keys.get(key) else {
            return;
        };
        let table = &self.strings;
        let mut views: Vec<View<'_>> = state.events.iter().map(|i| i.view(table)).collect();
        for h in &state.hosts {
            views.extend(
                self.tags
                    .get(h)
                    .into_iter()
                    .flatten()
                    .map(|i| i.view(table)),
            );
        }
        let fresh = walk::of_views(views, &self.policy);
        let old_slots = state.slots.clone();
        if let Some(changes) = changes {
            let old: FastMap<&str, &Elevation> = old_slots
                .iter()
                .map(|&i| (self.elevations[i].id.as_str(), &self.elevations[i]))
                .collect();
            let fresh_ids: FastSet<&str> = fresh.iter().map(|e| e.id.as_str()).collect();
            changes.removed.extend(
                old.keys()
                    .filter(|id| !fresh_ids.contains(*id))
                    .map(|id| (*id).to_owned()),
            );
            for el in &fresh {
                if old.get(el.id.as_str()) != Some(&el) {
                    changes.upserted.push(el.clone());
                }
            }
        }
        self.replace(key, old_slots, fresh);
    }

    /// Puts `fresh` in the slots of `key`, growing or shrinking the flat list as needed.
    fn replace(&mut self, key: &ElevationKey, old_slots: Vec<usize>, fresh: Vec<Elevation>) {
        let mut fresh = fresh.into_iter();
        let mut kept = Vec::with_capacity(old_slots.len());
        let mut spare = Vec::new();
        for slot in old_slots {
            match fresh.next() {
                Some(el) => {
                    self.elevations[slot] = el;
                    kept.push(slot);
                }
                None => spare.push(slot),
            }
        }
        for el in fresh {
            kept.push(self.elevations.len());
            self.elevations.push(el);
            self.owner.push(key.clone());
        }
        if let Some(state) = self.keys.get_mut(key) {
            state.slots = kept;
        }
        spare.sort_unstable_by(|a, b| b.cmp(a));
        for slot in spare {
            self.remove_slot(slot);
        }
    }

    /// Removes a slot that no key refers to any more, moving the last elevation into it.
    fn remove_slot(&mut self, slot: usize) {
        let last = self.elevations.len() - 1;
        self.elevations.swap_remove(slot);
        self.owner.swap_remove(slot);
        if slot != last
            && let Some(state) = self.keys.get_mut(&self.owner[slot])
        {
            for s in state.slots.iter_mut().filter(|s| **s == last) {
                *s = slot;
            }
        }
    }
}

/// A [`Tracker`] being given its inputs before any key is computed: a store's history read in
/// pieces, or the inputs an import stores handed over as they commit (the app's feed), in any
/// order, repeats ignored. [`TrackerFeed::finish`] computes each key once; the tracker is then
/// the one [`Tracker::from_events`] gives for the same set of events.
#[derive(Debug)]
pub struct TrackerFeed {
    tracker: Tracker,
    touched: FastSet<ElevationKey>,
}

impl TrackerFeed {
    pub fn new(policy: Policy) -> Self {
        TrackerFeed {
            tracker: Tracker::new(policy),
            touched: FastSet::default(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.tracker.policy
    }

    /// Adds events, any order. Give it what a rebuild reads: events of the
    /// [`ELEVATION_INPUTS`](super::ELEVATION_INPUTS) actions (others are not skipped by action).
    pub fn add<'e>(&mut self, events: impl IntoIterator<Item = &'e Event>) {
        self.tracker.add(events, &mut self.touched);
    }

    /// Adds the pieces `next` gives until it gives none, handing each back once added.
    pub fn add_pieces<E>(
        &mut self,
        mut next: impl FnMut(Option<Vec<Event>>) -> Result<Option<Vec<Event>>, E>,
    ) -> Result<(), E> {
        let mut done = None;
        while let Some(events) = next(done.take())? {
            self.add(&events);
            done = Some(events);
        }
        Ok(())
    }

    /// The tracker, its keys computed.
    pub fn finish(self) -> Tracker {
        let TrackerFeed {
            tracker: mut t,
            touched,
        } = self;
        // A whole history was pushed: give back the lists' spare room (up to half of them).
        for state in t.keys.values_mut() {
            state.events.shrink_to_fit();
        }
        // Nothing to compare with: every elevation is new, and a list of them as changes (a
        // copy of each, 105,581 after 1M Graph records) would go unread.
        t.recompute_keys(touched, None);
        t
    }
}
