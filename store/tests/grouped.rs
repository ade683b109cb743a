//! Batches that share one transaction ([`privtrail_store::Writer::write_prepared`] with `Commit::Grouped`):
//! nothing of a group is visible (or indexed) before it commits, every batch of it is after,
//! the chain runs on through and after groups, and a batch that fails takes its group with it
//! (no savepoint per batch: `writer/group.rs`) and says so.
#![allow(clippy::unwrap_used)]

mod common;

use common::{req, win_event};
use privtrail_model::Event;
use privtrail_store::{Commit, OutboxEntry, Store, StoreError, Writer};

fn batch(from: u64, n: u64) -> Vec<Event> {
    (from..from + n)
        .map(|i| win_event(i, "2024-05-01T10:00:00Z"))
        .collect()
}

fn grouped(w: &mut Writer, events: Vec<Event>) -> Result<u64, StoreError> {
    let raws = w.raw_encoder().prepare(&events);
    w.write_prepared(events, raws, &[], None, &|_| Vec::new(), Commit::Grouped)
        .map(|s| s.stored)
}

/// An outbox entry the store refuses (no channel): it fails its batch.
fn refused(e: &Event) -> Vec<OutboxEntry> {
    vec![OutboxEntry {
        channel: String::new(),
        idempotency_key: e.id.to_string(),
        payload: "{}".into(),
    }]
}

fn stored(store: &Store, n: u64) -> bool {
    let id = privtrail_model::EventId::windows("WIN-03DLIIOFRRA", "Security", n);
    store.get_event(&id).unwrap().is_some()
}

fn verified(store: &Store, checked: u64) {
    let report = store.verify().unwrap();
    assert!(report.first_broken.is_none(), "{report:?}");
    assert_eq!(report.checked, checked);
}

#[test]
fn a_group_commits_whole_and_the_chain_runs_through_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    let before = store.head().unwrap();
    for k in 0..3 {
        assert_eq!(grouped(&mut w, batch(1 + k * 700, 700)).unwrap(), 700);
    }
    // Not committed: another connection sees none of it, the stored head has not moved.
    assert!(!stored(&store, 1));
    assert!(!stored(&store, 2100));
    assert_eq!(store.head().unwrap(), before);
    w.end_group().unwrap();
    assert!(stored(&store, 1) && stored(&store, 2100));
    assert_eq!(store.head().unwrap(), w.head());
    assert_eq!(w.head().0, 2100);
    w.commit().unwrap();
    assert_eq!(store.count(&req("*")).unwrap(), 2100);
    drop(w);
    verified(&store, 2100);
}

#[test]
fn any_other_write_commits_the_group_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    grouped(&mut w, batch(1, 100)).unwrap();
    assert!(!stored(&store, 1));
    // Its own transaction, after the group's: both are stored, chained in that order.
    w.write_batch(&batch(101, 100), &[]).unwrap();
    assert!(stored(&store, 1) && stored(&store, 200));
    grouped(&mut w, batch(201, 100)).unwrap();
    assert!(!stored(&store, 201));
    w.set_checkpoint("collector", "position").unwrap();
    assert!(stored(&store, 300));
    grouped(&mut w, batch(301, 100)).unwrap();
    // The head the anchor job publishes is a committed one.
    assert_eq!(w.head().0, 400);
    assert!(stored(&store, 400));
    drop(w);
    verified(&store, 400);
}

#[test]
fn a_failing_batch_takes_its_group_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    grouped(&mut w, batch(1, 100)).unwrap();
    grouped(&mut w, batch(101, 100)).unwrap();
    // An outbox entry the store refuses (no channel) fails its batch inside the group.
    let events = batch(201, 100);
    let raws = w.raw_encoder().prepare(&events);
    // Everything since the group began is named lost, this batch included.
    match w.write_prepared(events, raws, &[], None, &refused, Commit::Grouped) {
        Err(
            e @ StoreError::GroupLost {
                batches: 3,
                events: 300,
                ..
            },
        ) => assert!(
            e.to_string().starts_with(
                "the last 3 batch(es) (300 events) were not stored: a batch among them failed:"
            ),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.head().0, 0);
    // The next batches start a group of their own.
    grouped(&mut w, batch(301, 100)).unwrap();
    w.end_group().unwrap();
    assert!(stored(&store, 301) && stored(&store, 400));
    assert!(!stored(&store, 1) && !stored(&store, 200) && !stored(&store, 300));
    assert_eq!(w.head().0, 100);
    w.commit().unwrap();
    assert_eq!(store.count(&req("*")).unwrap(), 100);
    drop(w);
    verified(&store, 100);
}

#[test]
fn a_full_group_commits_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    // 32,768 events at most: the second batch of 20,000 passes it and commits both.
    grouped(&mut w, batch(1, 20_000)).unwrap();
    assert!(!stored(&store, 20_000));
    grouped(&mut w, batch(20_001, 20_000)).unwrap();
    assert!(stored(&store, 1) && stored(&store, 40_000));
    drop(w);
    verified(&store, 40_000);

    // Or as many batches as the indexer's channel holds (nothing else waits for it here).
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    for k in 0..3 {
        grouped(&mut w, batch(1 + k * 10, 10)).unwrap();
    }
    assert!(!stored(&store, 30));
    grouped(&mut w, batch(31, 10)).unwrap();
    assert!(stored(&store, 1) && stored(&store, 40));
    // The next group starts afresh; dropping the writer keeps it (its batches are whole).
    grouped(&mut w, batch(41, 10)).unwrap();
    drop(w);
    assert!(stored(&store, 50));
    verified(&store, 50);
}

/// What a [`privtrail_store::CommitTap`] is shown: each committed batch once, in seq order, its
/// seqs following on from the head the tap was installed at — a group's batches once the group
/// commits, none of a group that failed, `None` for events the writer only borrowed.
#[test]
fn a_tap_is_shown_committed_batches_in_seq_order() {
    type Shown = std::sync::Arc<std::sync::Mutex<Vec<(Option<Vec<i64>>, i64)>>>;
    struct Recorder(Shown);
    impl privtrail_store::CommitTap for Recorder {
        fn committed(&mut self, events: Option<&mut [(i64, Event)]>, last_seq: i64) {
            let seqs = events.map(|e| {
                assert!(e.iter().all(|(_, e)| e.raw.is_empty()), "raw is emptied");
                e.iter().map(|(s, _)| *s).collect()
            });
            self.0.lock().unwrap().push((seqs, last_seq));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    // Before the tap: an open group, committed when the tap is installed, and not shown.
    grouped(&mut w, batch(1, 10)).unwrap();
    let shown: Shown = Default::default();
    let mut installed_at = None;
    w.tap(|head| {
        installed_at = Some(head);
        Box::new(Recorder(std::sync::Arc::clone(&shown)))
    });
    assert_eq!(installed_at, Some(10));
    assert!(stored(&store, 10));
    grouped(&mut w, batch(11, 5)).unwrap();
    grouped(&mut w, batch(16, 5)).unwrap();
    // Two batches that say nothing new: duplicates are not stored, so not shown.
    grouped(&mut w, batch(11, 3)).unwrap();
    w.end_group().unwrap();
    w.write_batch(&batch(21, 2), &[]).unwrap();
    // A failed group is never shown.
    grouped(&mut w, batch(23, 4)).unwrap();
    let events = batch(27, 4);
    let raws = w.raw_encoder().prepare(&events);
    assert!(
        w.write_prepared(events, raws, &[], None, &refused, Commit::Grouped)
            .is_err()
    );
    grouped(&mut w, batch(31, 3)).unwrap();
    w.end_group().unwrap();
    w.commit().unwrap();
    let seqs = |from: i64, to: i64| Some((from..=to).collect::<Vec<_>>());
    assert_eq!(
        *shown.lock().unwrap(),
        vec![
            (seqs(11, 15), 15),
            (seqs(16, 20), 20),
            (None, 22),
            (seqs(23, 25), 25),
        ]
    );
    drop(w);
    verified(&store, 25);
}
