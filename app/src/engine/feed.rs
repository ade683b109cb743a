//! The elevation tracker's inputs of what this process stores, handed over as they commit
//! ([`Feed`]), so that the first rules run of a process does not read back what its import just
//! wrote.
//!
//! The first rules run of a process has no kept tracker ([`super::RulesMemory`]) and rebuilt one
//! from every stored input: after `privtrail ingest` of a million Graph records, reading back the
//! 550,000 PIM records the import had just written was a third of the rules run's CPU and its
//! first 1.4 s, with the judging thread half idle. The writer now shows every committed batch to
//! a [`privtrail_store::CommitTap`] on the indexing thread, which adds the batch's inputs to a
//! [`TrackerFeed`]; the first run takes what was fed and reads from the store only the inputs
//! the feed does not hold.
//!
//! What holds it together: the feed covers the seqs `from < seq <= upto` exactly — `from` is the
//! writer's head when the tap was installed (on the writer's thread, so no batch commits in
//! between), and a batch is added only when its seqs follow on from `upto`; any other batch (one
//! whose events were not handed over, or after a gap) stops the feed where it is. The run reads
//! every stored input outside that range ([`privtrail_store::Store::events_with_actions_after`]'s
//! `skip`), so inputs committed while the indexing thread lags behind, or after the feed
//! stopped, are read as before. The tracker's result depends only on the set of inputs, never
//! their order, and a fed input is what the rebuild reads of it
//! ([`privtrail_store::as_input_read`], beside the rebuild's column list and tested against it). The feed is used once, by the first run that rebuilds, and only
//! when the policy and the store's first seq are still those it was fed under; otherwise it is
//! dropped and the run rebuilds from the store as before.

use std::sync::{Arc, Mutex, PoisonError};

use privtrail_model::Event;
use privtrail_rules::{ELEVATION_INPUTS, Policy, TrackerFeed};
use privtrail_store::CommitTap;

/// The fed inputs, shared with the tap until a rules run takes them.
#[derive(Debug, Clone)]
pub struct Feed(Arc<Mutex<Option<Fed>>>);

/// What a rules run takes from a [`Feed`].
#[derive(Debug)]
pub(crate) struct Fed {
    pub tracker: TrackerFeed,
    /// Every input with `from < seq <= upto` is added, no other.
    pub from: i64,
    pub upto: i64,
    /// A batch did not follow on from `upto`: nothing more is added.
    stopped: bool,
    /// The store's first seq when feeding began, or the next seq in an empty store (a purge
    /// moves it).
    first_seq: i64,
}

impl Feed {
    /// A feed for inputs judged under `policy`, in a store whose first seq is `first_seq`; it
    /// begins when [`Feed::tap`]'s tap is installed.
    pub fn new(policy: Policy, first_seq: i64) -> Feed {
        Feed(Arc::new(Mutex::new(Some(Fed {
            tracker: TrackerFeed::new(policy),
            from: 0,
            upto: 0,
            stopped: false,
            first_seq,
        }))))
    }

    /// The tap for [`privtrail_store::Writer::tap`], given the head seq it is installed at.
    pub fn tap(&self, head: i64) -> Box<dyn CommitTap> {
        if let Some(fed) = self.lock().as_mut() {
            fed.from = head;
            fed.upto = head;
            // An empty store: its first event will be the next one.
            if fed.first_seq == 0 {
                fed.first_seq = head + 1;
            }
        }
        Box::new(Tap(Arc::clone(&self.0)))
    }

    /// What was fed, when it was fed under `policy` in a store whose first seq is still
    /// `first_seq`; the tap adds nothing from now on either way.
    pub(crate) fn take(&self, policy: &Policy, first_seq: i64) -> Option<Fed> {
        let fed = self.lock().take()?;
        (fed.tracker.policy() == policy && fed.first_seq == first_seq).then_some(fed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Fed>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Tap(Arc<Mutex<Option<Fed>>>);

impl CommitTap for Tap {
    fn committed(&mut self, events: Option<&mut [(i64, Event)]>, last_seq: i64) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(fed) = slot.as_mut().filter(|f| !f.stopped) else {
            return;
        };
        let follows = |events: &[(i64, Event)]| {
            events.first().map(|(s, _)| *s) == Some(fed.upto + 1)
                && events.last().map(|(s, _)| *s) == Some(last_seq)
                && i64::try_from(events.len()).ok() == Some(last_seq - fed.upto)
        };
        match events {
            Some(events) if follows(events) => {
                let inputs = events
                    .iter_mut()
                    .map(|(_, e)| e)
                    .filter(|e| ELEVATION_INPUTS.contains(&e.action));
                fed.tracker.add(inputs.map(|e| {
                    privtrail_store::as_input_read(e);
                    &*e
                }));
                fed.upto = last_seq;
            }
            _ => fed.stopped = true,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Utc;
    use privtrail_model::{Action, Event, EventId, Source};
    use privtrail_rules::Policy;

    use super::Feed;

    fn stored(seq: i64) -> (i64, Event) {
        let id = EventId::windows("h", "Security", seq.unsigned_abs());
        let mut e = Event::new(
            id,
            Source::Windows,
            Action::GroupMemberAdded,
            Utc::now(),
            "4732",
        );
        e.message = "said".into();
        (seq, e)
    }

    #[test]
    fn a_feed_covers_the_batches_that_follow_on_and_is_taken_once() {
        let policy = Policy::default();
        let feed = Feed::new(policy.clone(), 0);
        let mut tap = feed.tap(10);
        tap.committed(Some(&mut [stored(11), stored(12)]), 12);
        // A gap (13 was not shown): nothing more is added, not even what would follow on.
        tap.committed(Some(&mut [stored(14)]), 14);
        tap.committed(Some(&mut [stored(15)]), 15);
        // An empty store's first event is the one after the head.
        assert!(feed.take(&policy, 1).is_none());
        let feed = Feed::new(policy.clone(), 0);
        let mut tap = feed.tap(10);
        tap.committed(Some(&mut [stored(11), stored(12)]), 12);
        tap.committed(None, 13);
        tap.committed(Some(&mut [stored(14)]), 14);
        let fed = feed.take(&policy, 11).unwrap();
        assert_eq!((fed.from, fed.upto), (10, 12));
        assert!(feed.take(&policy, 11).is_none(), "taken once");
        tap.committed(Some(&mut [stored(13)]), 13);
        assert!(feed.take(&policy, 11).is_none(), "nothing is fed after");

        // Not under another policy, nor in a store purged since.
        let feed = Feed::new(policy.clone(), 3);
        let _tap = feed.tap(10);
        let other = policy
            .clone()
            .with_directory_users(&[("a@contoso.com".into(), "S-1-5-21-1-2-3-500".into())]);
        assert!(other != policy);
        assert!(feed.take(&other, 3).is_none());
        let feed = Feed::new(policy.clone(), 3);
        let _tap = feed.tap(10);
        assert!(feed.take(&policy, 4).is_none());
        let feed = Feed::new(policy.clone(), 3);
        let _tap = feed.tap(10);
        assert!(feed.take(&policy, 3).is_some());
    }
}
