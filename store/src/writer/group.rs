//! Batches that share one transaction ([`Writer::write_prepared`] with [`super::Commit::Grouped`]).
//!
//! Why: a batch whose events land all over a large index — a backfill, events older than the
//! newest stored, which the time indexes take at random places — dirties about one page per
//! event in each such index, and every commit writes each dirty page whole to the WAL (and the
//! checkpoint writes it again). Into 10M stored events overlapping the new ones that was
//! 5.3–6.1 KB written per event at 8,192 events per transaction, and on some machines the disk's
//! write rate was the limit. Batches that share a transaction share those pages (3.9 KB), and
//! fewer commits cost less CPU too. Larger batches would do the same, but the import keeps a few
//! batches in flight, each holding its events' records; a group holds only what the indexer
//! needs of the batches it stored, until the commit, and counts them against the indexer's
//! channel (ARCHITECTURE.md, performance item 21).
//!
//! How: the group is one transaction begun by hand (`BEGIN IMMEDIATE`); the in-memory chain head
//! moves with each batch and goes back to where the group began if the commit fails. A batch that
//! fails half-way rolls the whole group back and says so ([`Writer::abandon_group`]): batches
//! are not savepoints, because SQLite copies every page a savepoint's batch first touches into a
//! sub-journal (the batches of a backfill touch thousands of index pages each), 4 % of all CPU
//! importing `security.evtx` x443 (performance item 27). A record the store cannot hold (a time
//! out of range) is rejected without failing its batch; what fails a write is the environment (a
//! full disk, an I/O error), which the group's commit would meet as well, or a defect — and the
//! importer stops at its first failure. Stored events reach the indexer only after the commit:
//! the index never holds what SQLite could still lose. Every other write commits the group first
//! ([`Writer::flush_group`]), so its own transaction is what it says it is.

use rusqlite::Connection;

use super::{Indexable, Writer};
use crate::StoreError;
use crate::chain::Hash;
use crate::index::indexer::CHANNEL_BATCHES;

/// The most events a group holds before it commits by itself: four of the import's batches
/// (32,768 events per transaction wrote 3.7 KB per event where 8,192 wrote 5.3–5.7, performance
/// item 20).
pub(super) const GROUP_EVENTS: u64 = 32_768;

/// The open group: where the chain stood before it, and what waits for its commit.
pub(super) struct Group {
    head: (i64, Hash),
    keyed_from: Option<i64>,
    batches: usize,
    events: u64,
    /// Compression dictionaries first written in the group.
    dictionaries: Vec<u32>,
    /// What the group's batches stored, for the indexer, with each batch's last seq.
    index: Vec<(Indexable, i64)>,
}

impl Group {
    pub(super) fn add(
        &mut self,
        stored: u64,
        dictionaries: Vec<u32>,
        work: Option<(Indexable, i64)>,
    ) {
        self.batches += 1;
        self.events += stored;
        self.dictionaries.extend(dictionaries);
        self.index.extend(work);
    }

    /// Full: [`GROUP_EVENTS`] events, or as many batches waiting for the indexer as its channel
    /// holds (`backlog`: the batches it has not indexed yet) — a group never keeps more stored
    /// events in memory than the channel would have.
    pub(super) fn full(&self, backlog: usize) -> bool {
        self.events >= GROUP_EVENTS || self.index.len() + backlog >= CHANNEL_BATCHES
    }
}

impl Writer {
    /// Opens a group (the caller checked that none is open).
    pub(super) fn begin_group(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(StoreError::sqlite("begin a group of batches"))?;
        self.group = Some(Group {
            head: (self.head_seq, self.head_hash),
            keyed_from: self.keyed_from,
            batches: 0,
            events: 0,
            dictionaries: Vec::new(),
            index: Vec::new(),
        });
        Ok(())
    }

    /// Commits the open group, if any. A failure is logged and kept for the importer
    /// ([`Writer::end_group`], or its next grouped batch); the chain head goes back to where the
    /// group began.
    pub fn flush_group(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => {
                self.encoder.committed(&group.dictionaries);
                self.checkpointer.nudge();
                for (work, last_seq) in group.index {
                    self.hand(work, last_seq);
                }
            }
            Err(e) => {
                let lost = self.abandon_group(group, 0, 0, format!("committing them failed: {e}"));
                self.lost = Some(lost);
            }
        }
    }

    /// Rolls `group` (taken out of the writer) back and puts the chain head back where it began:
    /// what was not stored, the group's batches plus `batches` and `events` more (a batch that
    /// failed in it).
    pub(super) fn abandon_group(
        &mut self,
        group: Group,
        batches: usize,
        events: u64,
        reason: String,
    ) -> StoreError {
        if !self.conn.is_autocommit()
            && let Err(r) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %r, "rolling back a group of batches failed");
        }
        (self.head_seq, self.head_hash) = group.head;
        self.keyed_from = group.keyed_from;
        let lost = StoreError::GroupLost {
            batches: batches + group.batches,
            events: events + group.events,
            reason,
        };
        tracing::error!(error = %lost, "a group of batches was rolled back");
        lost
    }

    /// Commits the open group and reports whether every grouped batch so far was stored: the
    /// failure of a commit that lost batches already reported stored, if one was not reported
    /// yet.
    pub fn end_group(&mut self) -> Result<(), StoreError> {
        self.flush_group();
        match self.lost.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The connection for a write of its own: any open group is committed first.
    pub(super) fn conn(&mut self) -> &mut Connection {
        self.flush_group();
        &mut self.conn
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{TimeZone, Utc};
    use privtrail_model::{Action, Event, EventId, Source};

    use crate::{Commit, Store, StoreError, Writer};

    fn batch(from: u64, n: u64) -> Vec<Event> {
        let time = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        (from..from + n)
            .map(|i| {
                let mut e = Event::new(
                    EventId::windows("HOST", "Security", i),
                    Source::Windows,
                    Action::GroupMemberAdded,
                    time,
                    "4732",
                );
                e.raw = format!(r#"{{"EventRecordID":{i}}}"#);
                e
            })
            .collect()
    }

    fn grouped(w: &mut Writer, events: Vec<Event>) -> Result<u64, StoreError> {
        let raws = w.raw_encoder().prepare(&events);
        w.write_prepared(events, raws, &[], None, &|_| Vec::new(), Commit::Grouped)
            .map(|s| s.stored)
    }

    /// A batch that fails half-way (here a trigger refuses one of its events) takes its group
    /// with it: the error counts the group's earlier batch and this one, nothing of either is
    /// stored, and the chain goes on from what is.
    #[test]
    fn a_batch_that_fails_rolls_its_group_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut w = store.writer().unwrap();
        w.write_batch(&batch(1, 10), &[]).unwrap();
        let before = w.head();
        w.conn
            .execute_batch(
                "CREATE TEMP TRIGGER refuse BEFORE INSERT ON events WHEN NEW.seq = 25 \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            )
            .unwrap();

        assert_eq!(grouped(&mut w, batch(11, 10)).unwrap(), 10);
        match grouped(&mut w, batch(21, 10)) {
            Err(StoreError::GroupLost {
                batches: 2,
                events: 20,
                reason,
            }) if reason.contains("refused by the test") => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(w.head(), before);
        assert!(w.conn.is_autocommit(), "the group's transaction is closed");
        // Nothing more to say at the group's end: the failure was reported with the batch.
        w.end_group().unwrap();

        w.conn.execute_batch("DROP TRIGGER refuse").unwrap();
        assert_eq!(grouped(&mut w, batch(31, 10)).unwrap(), 10);
        w.end_group().unwrap();
        assert_eq!(w.head().0, 20);
        drop(w);
        verified_with(
            &store,
            20,
            &[
                (10, true),
                (11, false),
                (21, false),
                (24, false),
                (31, true),
            ],
        );
    }

    /// SQLite may roll a transaction back by itself (after an I/O error or a full disk): the
    /// group's batches are lost, the importer is told, and the chain goes on from what is stored.
    #[test]
    fn a_lost_group_is_reported_and_the_chain_goes_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut w = store.writer().unwrap();
        w.write_batch(&batch(1, 10), &[]).unwrap();
        let before = w.head();

        grouped(&mut w, batch(11, 10)).unwrap();
        w.conn.execute_batch("ROLLBACK").unwrap();
        // The next grouped batch is refused with what was lost; nothing of it is written.
        match grouped(&mut w, batch(21, 10)) {
            Err(StoreError::GroupLost {
                batches: 1,
                events: 10,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(w.head(), before);
        // Told once; the import could go on from here.
        assert_eq!(grouped(&mut w, batch(31, 10)).unwrap(), 10);
        w.end_group().unwrap();

        // Lost while no batch followed: end_group says so.
        grouped(&mut w, batch(41, 10)).unwrap();
        w.conn.execute_batch("ROLLBACK").unwrap();
        assert!(matches!(
            w.end_group(),
            Err(StoreError::GroupLost { events: 10, .. })
        ));
        w.end_group().unwrap();
        w.write_batch(&batch(51, 10), &[]).unwrap();
        assert_eq!(w.head().0, 30);
        drop(w);
        verified_with(
            &store,
            30,
            &[
                (10, true),
                (11, false),
                (21, false),
                (31, true),
                (41, false),
                (51, true),
            ],
        );
    }

    /// The chain verifies over `checked` links, and each numbered event is stored or not.
    fn verified_with(store: &Store, checked: u64, kept: &[(u64, bool)]) {
        let report = store.verify().unwrap();
        assert!(report.first_broken.is_none(), "{report:?}");
        assert_eq!(report.checked, checked);
        for &(n, kept) in kept {
            let id = EventId::windows("HOST", "Security", n);
            assert_eq!(store.get_event(&id).unwrap().is_some(), kept, "{n}");
        }
    }
}
