//! The single writer: SQLite write connection + the indexing thread.

mod group;
mod tables;

use chrono::{DateTime, Utc};
use privtrail_model::{Event, Reject};
use rusqlite::{Connection, TransactionBehavior};

use crate::chain::{self, Hash};
use crate::index::Fields;
use crate::index::indexer::Indexer;
use crate::sqlite::raw::{Encoded, PreparedRaws, RawEncoder};
use crate::sqlite::{events, meta, names, outbox, state};
use crate::store::FlagGuard;
use crate::{ElevationRow, OutboxEntry, StoreError, WriteStats};

/// How a batch handed to [`Writer::write_prepared`] commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// In its own transaction: stored when the call returns.
    Own,
    /// In a transaction it may share with the batches after it (`writer/group.rs`).
    Grouped,
}

/// What became of one event of a batch ([`Writer::write_prepared_detailed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    Stored,
    /// Its id was stored already.
    Duplicate,
    /// It could not be stored as it is (kept in `rejects`), with why.
    Rejected(String),
}

/// How a rules run updates the stored elevations ([`Writer::save_rules_result`]).
#[derive(Debug, Clone, Copy)]
pub enum ElevationWrite<'a> {
    /// These are all the elevations: the table is replaced.
    All(&'a [ElevationRow]),
    /// Only these rows changed (stored over their ids) and these ids are gone.
    Changed {
        rows: &'a [ElevationRow],
        removed: &'a [String],
    },
}

/// Makes the outbox entries of one newly stored event (see [`Writer::write_batch_with_outbox`]).
type OutboxFn<'a> = &'a dyn Fn(&Event) -> Vec<OutboxEntry>;

/// Writes batches of events, rejects and checkpoints; obtained from [`crate::Store::writer`].
///
/// Each batch is one SQLite transaction on the caller's thread: events are deduplicated on their
/// id, each new event extends the hash chain, and an optional collector checkpoint is saved in
/// the same transaction. After the commit the new events go to the indexing thread, which commits
/// tantivy every few seconds (or on [`Writer::commit`]). Dropping the writer commits the index
/// too, best effort; SQLite data never depends on it (every batch is already committed, and the
/// index catches up from SQLite on the next open).
pub struct Writer {
    conn: Connection,
    head_seq: i64,
    head_hash: Hash,
    fields: Fields,
    indexer: Indexer,
    /// Where the records of the next batches come from (named in conflicts).
    origin: String,
    /// Links are HMACs with this key from `keyed_from` on.
    key: Option<crate::chain::ChainKey>,
    keyed_from: Option<i64>,
    /// Entra events up to this seq may have ids of the old form (see [`legacy_duplicate`]).
    legacy_entra_upto: Option<i64>,
    /// Compresses `raw` (dictionaries per record shape); shared with producers that compress
    /// their batches before handing them over ([`Writer::raw_encoder`]).
    encoder: RawEncoder,
    /// Copies the WAL into the database on another thread.
    checkpointer: crate::sqlite::checkpoint::Checkpointer,
    /// Batches stored in a transaction still open ([`Commit::Grouped`]).
    group: Option<group::Group>,
    /// A group whose commit failed, until the importer is told ([`Writer::end_group`]).
    lost: Option<StoreError>,
    /// Dropped after `indexer` is shut down (see `Drop`), which frees the store for a new writer.
    _open_flag: FlagGuard,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("db", &self.conn.path())
            .field("head_seq", &self.head_seq)
            .finish_non_exhaustive()
    }
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        head: (i64, Hash),
        fields: Fields,
        indexer: Indexer,
        open_flag: FlagGuard,
        key: Option<crate::chain::ChainKey>,
        encoder: RawEncoder,
    ) -> Result<Writer, StoreError> {
        let keyed_from = meta::keyed_from(&conn).ok().flatten();
        let legacy_entra_upto = meta::legacy_entra_upto(&conn)?;
        let path = std::path::PathBuf::from(conn.path().unwrap_or_default());
        let checkpointer = crate::sqlite::checkpoint::Checkpointer::spawn(&path)?;
        Ok(Writer {
            conn,
            head_seq: head.0,
            head_hash: head.1,
            fields,
            indexer,
            origin: "unknown".to_owned(),
            key,
            keyed_from,
            legacy_entra_upto,
            encoder,
            checkpointer,
            group: None,
            lost: None,
            _open_flag: open_flag,
        })
    }

    /// Drops every event up to `plan.through_seq` (retention), in one transaction with the chained
    /// `store.purged` record that names the range and the last dropped hash (so the chain still
    /// verifies from there), the elevations built from them archived (they stay readable), and
    /// the chain table's base moved. Their search documents go with the next index commit.
    pub fn purge(
        &mut self,
        plan: &crate::PurgePlan,
        reason: &str,
    ) -> Result<WriteStats, StoreError> {
        self.flush_group();
        if plan.through_seq >= self.head_seq {
            return Err(StoreError::Sqlite {
                context: format!(
                    "purge through seq {}: the chain's newest link must stay (head {})",
                    plan.through_seq, self.head_seq
                ),
                source: rusqlite::Error::InvalidQuery,
            });
        }
        let last_hash =
            events::hash_of(&self.conn, plan.through_seq)?.ok_or_else(|| StoreError::Sqlite {
                context: format!("purge: seq {} is not stored", plan.through_seq),
                source: rusqlite::Error::QueryReturnedNoRows,
            })?;
        let event = crate::purge::purge_event(plan, &last_hash, reason, Utc::now());
        let through = plan.through_seq;
        let newest = plan
            .newest
            .and_then(|t| crate::timefmt::to_nanos(&t))
            .unwrap_or(i64::MAX);
        let stats = self.write_batch_with(
            Input::Borrowed(&[event]),
            &[],
            None,
            None,
            None,
            &move |tx| {
                state::archive_elevations(tx, newest)?;
                tx.execute("DELETE FROM events WHERE seq <= ?1", [through])
                    .map_err(StoreError::sqlite("delete purged events"))?;
                tx.execute(
                    "UPDATE chain SET base_seq = ?1, base_hash = ?2 WHERE id = 1",
                    rusqlite::params![through, &last_hash[..]],
                )
                .map_err(StoreError::sqlite("move the chain base"))?;
                // Every event that could have an old Entra id is gone.
                tx.execute(
                    "UPDATE chain SET legacy_entra_upto = NULL \
                     WHERE id = 1 AND legacy_entra_upto <= ?1",
                    [through],
                )
                .map_err(StoreError::sqlite("clear legacy_entra_upto"))?;
                Ok(())
            },
        )?;
        if self.legacy_entra_upto.is_some_and(|upto| upto <= through) {
            self.legacy_entra_upto = None;
        }
        self.indexer.delete_through(through);
        tracing::info!(through_seq = through, events = plan.events, "events purged");
        Ok(stats)
    }

    /// Records a published anchor (the head `(seq, hash)` at `at`) and enqueues its messages to
    /// the channels that witness the chain, in one transaction.
    pub fn record_anchor(
        &mut self,
        seq: i64,
        hash: &Hash,
        at: DateTime<Utc>,
        outbox: &[OutboxEntry],
    ) -> Result<u64, StoreError> {
        let tx = self
            .conn()
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("begin anchor"))?;
        meta::insert_anchor(&tx, seq, hash, meta::now_nanos(&at))
            .map_err(StoreError::sqlite("insert into anchors"))?;
        let added = outbox::enqueue(&tx, outbox, outbox::nanos(&at))?;
        tx.commit().map_err(StoreError::sqlite("commit anchor"))?;
        Ok(added)
    }

    /// The head of the chain as this writer knows it: `(seq, hash)`.
    pub fn head(&mut self) -> (i64, Hash) {
        // A grouped batch's head is not the chain's until its group commits.
        self.flush_group();
        (self.head_seq, self.head_hash)
    }

    /// Installs the tap `make` returns (see [`crate::CommitTap`]), given the last seq committed
    /// before it: every batch committed from here on is shown to it, the first from that seq + 1.
    /// An open group is committed first (its batches are then not shown).
    pub fn tap(&mut self, make: impl FnOnce(i64) -> Box<dyn crate::CommitTap>) {
        let (head, _) = self.head();
        self.indexer.tap(make(head));
    }

    /// Events of `source` with `from <= time < to`, oldest first, at most `limit`, **with only
    /// what pairing the two records of one PIM change compares** (`raw`, message, actor, target
    /// name, scope, expiry, justification and record id left empty): not for display. Read
    /// through the writer's own connection, so that the batches of a group not yet committed are
    /// among them: linking an Entra batch to the records stored just before it needs them, and
    /// reading them elsewhere would need a commit per batch.
    pub fn events_near(
        &self,
        source: privtrail_model::Source,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        events::near(&self.conn, source, &from, &to, limit)
    }

    /// Names where the records of the next batches come from (a file, a tenant's pull, an HTTP
    /// client): a conflicting duplicate is recorded with it.
    pub fn set_origin(&mut self, origin: &str) {
        origin.clone_into(&mut self.origin);
    }

    /// Stores a batch in one transaction; see [`Writer::write_batch_with_checkpoint`].
    pub fn write_batch(
        &mut self,
        events: &[Event],
        rejects: &[Reject],
    ) -> Result<WriteStats, StoreError> {
        self.write_batch_with_checkpoint(events, rejects, None)
    }

    /// Stores a batch and, in the same transaction, the collector checkpoint
    /// `(collector id, value)` that covers it: either all of it is stored or none of it.
    ///
    /// Events already stored (same id) are counted as duplicates and do not advance the chain.
    /// An event whose `time` or `ingested_at` lies outside 1677..2262 cannot be stored exactly
    /// and is kept as a reject instead (origin `store`), so one bad record never fails its batch.
    pub fn write_batch_with_checkpoint(
        &mut self,
        events: &[Event],
        rejects: &[Reject],
        checkpoint: Option<(&str, &str)>,
    ) -> Result<WriteStats, StoreError> {
        self.write_batch_inner(events, rejects, checkpoint, None)
    }

    /// [`Writer::write_batch_with_checkpoint`] plus event forwarding: `outbox` is called for each
    /// event this batch newly stores (not for duplicates or events kept as rejects), and the
    /// entries it returns are enqueued in the same transaction (an entry whose key is already in
    /// the outbox is skipped). If anything fails, nothing of the batch is stored or enqueued.
    ///
    /// `outbox` runs inside the write transaction: keep it quick and free of I/O.
    pub fn write_batch_with_outbox(
        &mut self,
        events: &[Event],
        rejects: &[Reject],
        checkpoint: Option<(&str, &str)>,
        outbox: &dyn Fn(&Event) -> Vec<OutboxEntry>,
    ) -> Result<WriteStats, StoreError> {
        self.write_batch_inner(events, rejects, checkpoint, Some(outbox))
    }

    fn write_batch_inner(
        &mut self,
        events: &[Event],
        rejects: &[Reject],
        checkpoint: Option<(&str, &str)>,
        forward: Option<OutboxFn<'_>>,
    ) -> Result<WriteStats, StoreError> {
        self.write_batch_with(
            Input::Borrowed(events),
            rejects,
            checkpoint,
            forward,
            None,
            &|_| Ok(()),
        )
    }

    /// The one write path: events (deduplicated, conflicts kept, chained), rejects, a checkpoint,
    /// forwarded events' outbox entries, and `extra` work, all in one transaction.
    ///
    /// A grouped batch that fails half-way takes its group with it (`writer/group.rs` says why
    /// there is no savepoint per batch): the group's transaction is rolled back and the error says
    /// how many batches and events were not stored, this one included.
    fn write_batch_with(
        &mut self,
        input: Input<'_>,
        rejects: &[Reject],
        checkpoint: Option<(&str, &str)>,
        forward: Option<OutboxFn<'_>>,
        outcomes: Option<&mut Vec<EventOutcome>>,
        extra: &dyn Fn(&Connection) -> Result<(), StoreError>,
    ) -> Result<WriteStats, StoreError> {
        let grouped = input.grouped();
        let events = input.events().len() as u64;
        let written = self.write_in_scope(input, rejects, checkpoint, forward, outcomes, extra);
        match written {
            // Still open: the failure came while the batch was being written into the group
            // (a group that failed to commit is already gone).
            Err(e) if grouped => match self.group.take() {
                Some(group) => Err(self.abandon_group(
                    group,
                    1,
                    events,
                    format!("a batch among them failed: {e}"),
                )),
                None => Err(e),
            },
            other => other,
        }
    }

    fn write_in_scope(
        &mut self,
        input: Input<'_>,
        rejects: &[Reject],
        checkpoint: Option<(&str, &str)>,
        forward: Option<OutboxFn<'_>>,
        mut outcomes: Option<&mut Vec<EventOutcome>>,
        extra: &dyn Fn(&Connection) -> Result<(), StoreError>,
    ) -> Result<WriteStats, StoreError> {
        let grouped = input.grouped();
        if grouped {
            if self.group.is_some() && self.conn.is_autocommit() {
                // SQLite rolled the group's transaction back by itself (it may, after an I/O
                // error or a full disk): the group is lost, and the chain head must go back.
                self.flush_group();
            }
            if let Some(lost) = self.lost.take() {
                return Err(lost);
            }
            if self.group.is_none() {
                self.begin_group()?;
            }
        } else {
            self.flush_group();
        }
        let now = meta::now_nanos(&Utc::now());
        let mut enqueued = 0u64;
        let mut stats = WriteStats::default();
        let mut seq = self.head_seq;
        let mut prev = self.head_hash;
        let events = input.events();
        // Compressed before the transaction (by the caller for a prepared batch), so the lock
        // on the encoder is never held while SQLite works. A prepared record that no longer
        // matches its event (the batch was reordered) is compressed again here.
        let own_raws: Vec<Option<Vec<u8>>>;
        let raws: Vec<Option<&[u8]>> = match &input {
            Input::Owned { raws, .. } => {
                let stale: Vec<usize> = (0..events.len())
                    .filter(|&i| !raws.get(i).is_some_and(|p| p.is_for(&events[i])))
                    .collect();
                let redo: Vec<Event> = stale.iter().map(|&i| events[i].clone()).collect();
                own_raws = self.encoder.encode_all(&redo);
                let mut redone = stale.iter().copied().zip(&own_raws).peekable();
                (0..events.len())
                    .map(|i| match redone.next_if(|(j, _)| *j == i) {
                        Some((_, b)) => b.as_deref(),
                        None => raws[i].blob.as_deref(),
                    })
                    .collect()
            }
            Input::Borrowed(_) => {
                own_raws = self.encoder.encode_all(events);
                own_raws.iter().map(|b| b.as_deref()).collect()
            }
        };
        let mut to_index: Vec<ToIndex> = Vec::with_capacity(events.len());
        let mut learned = names::Learned::default();
        let (key, keyed_from) = (self.key.clone(), self.keyed_from);
        let tx = if grouped {
            Scope::Group(&self.conn)
        } else {
            Scope::Transaction(
                self.conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(StoreError::sqlite("begin batch"))?,
            )
        };
        {
            let mut insert = tx
                .prepare_cached(events::INSERT)
                .map_err(StoreError::sqlite("prepare insert into events"))?;
            for (i, e) in events.iter().enumerate() {
                let times = match events::EncodedTimes::new(e) {
                    Ok(t) => t,
                    Err(reason) => {
                        let r = Reject {
                            origin: "store".to_owned(),
                            location: format!("event {}", e.id),
                            reason,
                            raw: e.raw.clone(),
                        };
                        meta::insert_reject(&tx, now, &r)
                            .map_err(StoreError::sqlite("insert into rejects"))?;
                        stats.rejected += 1;
                        if let Some(o) = outcomes.as_deref_mut() {
                            o.push(EventOutcome::Rejected(r.reason));
                        }
                        continue;
                    }
                };
                let hash = chain::link_hash_with(link_key(&key, keyed_from, seq + 1), &prev, e);
                let raw = match raws[i] {
                    Some(blob) => Encoded::Blob(blob),
                    None => Encoded::Text(&e.raw),
                };
                let legacy = match self.legacy_entra_upto {
                    Some(_) => legacy_duplicate(&tx, e)?,
                    None => None,
                };
                let stored = legacy.is_none()
                    && events::insert(&mut insert, seq + 1, e, &raw, &times, &hash).map_err(
                        StoreError::sqlite(format!("insert into events (id {})", e.id)),
                    )?;
                if !stored {
                    let e = legacy.as_ref().unwrap_or(e);
                    stats.duplicates += 1;
                    if let Some(o) = outcomes.as_deref_mut() {
                        o.push(EventOutcome::Duplicate);
                    }
                    // Same id: the same record (quiet), or one that says something else (kept).
                    if let Some(c) = conflict_of(&tx, e, &self.origin, now)? {
                        stats.conflicts += 1;
                        let times = events::EncodedTimes::new(&c.event).map_err(|reason| {
                            StoreError::Sqlite {
                                context: format!("conflict event: {reason}"),
                                source: rusqlite::Error::InvalidQuery,
                            }
                        })?;
                        let hash = chain::link_hash_with(
                            link_key(&key, keyed_from, seq + 1),
                            &prev,
                            &c.event,
                        );
                        let blob = self.encoder.encode_all(std::slice::from_ref(&c.event));
                        let raw = match blob.first() {
                            Some(Some(b)) => Encoded::Blob(b),
                            _ => Encoded::Text(&c.event.raw),
                        };
                        if events::insert(&mut insert, seq + 1, &c.event, &raw, &times, &hash)
                            .map_err(StoreError::sqlite("insert the conflict's event"))?
                        {
                            seq += 1;
                            prev = hash;
                            to_index.push(ToIndex::Made(seq, Box::new(c.event)));
                        }
                    }
                    continue;
                }
                if let Some(o) = outcomes.as_deref_mut() {
                    o.push(EventOutcome::Stored);
                }
                seq += 1;
                prev = hash;
                stats.stored += 1;
                learned.note(e, times.time);
                to_index.push(ToIndex::Input(seq, i));
                if let Some(forward) = forward {
                    enqueued += outbox::enqueue(&tx, &forward(e), now)?;
                }
            }
        }
        learned.save(&tx)?;
        let dictionaries = self.encoder.save_new(&tx, now)?;
        for r in rejects {
            meta::insert_reject(&tx, now, r).map_err(StoreError::sqlite(format!(
                "insert into rejects ({})",
                r.origin
            )))?;
            stats.rejected += 1;
        }
        if let Some((collector, value)) = checkpoint {
            meta::set_checkpoint(&tx, collector, value, now).map_err(StoreError::sqlite(
                format!("save checkpoint of collector {collector:?}"),
            ))?;
        }
        extra(&tx)?;
        // The first keyed link: from here on the chain cannot be recomputed without the key.
        let newly_keyed = self.key.is_some() && self.keyed_from.is_none() && seq != self.head_seq;
        if newly_keyed {
            meta::set_keyed_from(&tx, self.head_seq + 1)
                .map_err(StoreError::sqlite("record where the keyed chain starts"))?;
        }
        if seq != self.head_seq {
            meta::set_head(&tx, seq, &prev).map_err(StoreError::sqlite("update chain head"))?;
        }
        tx.commit().map_err(StoreError::sqlite("commit batch"))?;
        if enqueued > 0 {
            tracing::debug!(enqueued, "events forwarded to the outbox");
        }
        // Only now is the batch durable (or, grouped, part of its group): advance the in-memory
        // chain and index it (grouped: once the group commits).
        if newly_keyed {
            self.keyed_from = Some(self.head_seq + 1);
        }
        self.head_seq = seq;
        self.head_hash = prev;
        let work = (!to_index.is_empty()).then(|| (self.indexable(input, to_index), seq));
        match self.group.as_mut() {
            Some(group) if grouped => {
                group.add(stats.stored, dictionaries, work);
                if group.full(self.indexer.backlog()) {
                    self.end_group()?;
                }
            }
            _ => {
                self.encoder.committed(&dictionaries);
                self.checkpointer.nudge();
                if let Some((work, last_seq)) = work {
                    self.hand(work, last_seq);
                }
            }
        }
        Ok(stats)
    }

    /// The handle producers compress batches with before handing them to
    /// [`Writer::write_prepared`] (on their own thread, beside the writer's).
    pub fn raw_encoder(&self) -> RawEncoder {
        self.encoder.clone()
    }

    /// [`Writer::write_batch_with_outbox`] for a batch the writer may keep: `raws` from
    /// [`RawEncoder::prepare`] on these events (compressed on the caller's thread), and the
    /// stored events move on to the indexing thread, which builds their search documents there.
    /// Either way the work leaves the writer's thread, which every event waits for.
    ///
    /// With [`Commit::Grouped`] the batch joins a group of batches that share one transaction
    /// (`writer/group.rs` says why): the group commits once it holds 32,768 events or as many
    /// batches as the indexer's channel, at [`Writer::flush_group`] or [`Writer::end_group`] (the
    /// caller's, when no more batches wait), or before any other write. The stats returned
    /// count the batch as stored; should the group's commit fail, every batch since it began is
    /// lost, and [`Writer::end_group`] (or the next grouped batch) says so. The batch's
    /// checkpoint commits with its events either way. Only for callers that can tell their
    /// source the outcome later (an import), never for a write acknowledged as durable.
    pub fn write_prepared(
        &mut self,
        events: Vec<Event>,
        raws: PreparedRaws,
        rejects: &[Reject],
        checkpoint: Option<(&str, &str)>,
        forward: &dyn Fn(&Event) -> Vec<OutboxEntry>,
        commit: Commit,
    ) -> Result<WriteStats, StoreError> {
        let input = Input::Owned {
            events,
            raws: raws.0,
            commit,
        };
        let none = &|_: &Connection| Ok(());
        self.write_batch_with(input, rejects, checkpoint, Some(forward), None, none)
    }

    /// [`Writer::write_prepared`] that also says what became of each event, in order (the bulk
    /// endpoint answers per document).
    pub fn write_prepared_detailed(
        &mut self,
        events: Vec<Event>,
        raws: PreparedRaws,
        rejects: &[Reject],
        forward: &dyn Fn(&Event) -> Vec<OutboxEntry>,
    ) -> Result<(WriteStats, Vec<EventOutcome>), StoreError> {
        let mut outcomes = Vec::with_capacity(events.len());
        let stats = self.write_batch_with(
            Input::Owned {
                events,
                raws: raws.0,
                commit: Commit::Own,
            },
            rejects,
            None,
            Some(forward),
            Some(&mut outcomes),
            &|_| Ok(()),
        )?;
        Ok((stats, outcomes))
    }

    /// What a batch stored, for the indexing thread: documents built here for borrowed events,
    /// the events themselves (without `raw`) for owned ones.
    fn indexable(&self, input: Input<'_>, to_index: Vec<ToIndex>) -> Indexable {
        match input {
            Input::Borrowed(events) => Indexable::Documents(
                to_index
                    .iter()
                    .map(|t| match t {
                        ToIndex::Input(seq, i) => self.fields.document(*seq, &events[*i]),
                        ToIndex::Made(seq, e) => self.fields.document(*seq, e),
                    })
                    .collect(),
            ),
            Input::Owned { events, .. } => {
                // `to_index` names the batch's events in increasing order: each is moved once
                // (an event is ~1 KB to copy; wrapping all of them in `Option`s first was a tenth
                // of the writer thread).
                let mut events = events.into_iter().enumerate();
                let mut out = Vec::with_capacity(to_index.len());
                for t in to_index {
                    match t {
                        ToIndex::Input(seq, i) => {
                            if let Some((_, mut e)) = events.by_ref().find(|(j, _)| *j == i) {
                                // The index never reads `raw`: free it here, not in the queue.
                                e.raw = String::new();
                                out.push((seq, e));
                            }
                        }
                        ToIndex::Made(seq, e) => out.push((seq, *e)),
                    }
                }
                Indexable::Events(out)
            }
        }
    }

    /// Hands what committed batches stored to the indexing thread.
    fn hand(&mut self, work: Indexable, last_seq: i64) {
        match work {
            Indexable::Documents(docs) => self.indexer.send(docs, last_seq),
            Indexable::Events(events) => self.indexer.send_events(events, last_seq),
        }
    }

    /// Commits the search index: everything written so far becomes searchable (an open group
    /// of batches is committed first).
    pub fn commit(&mut self) -> Result<(), StoreError> {
        self.request_commit().wait()
    }

    /// [`Writer::commit`] without waiting: the caller waits on the returned handle, from any
    /// thread, once it has done what does not need the index.
    pub fn request_commit(&mut self) -> crate::IndexCommit {
        self.flush_group();
        self.indexer.request_commit()
    }

    /// Frees the page cache. After a large import it holds the pages that import wrote (up to
    /// 64 MiB), which what follows (the rules run) does not need; they are read again if it does.
    pub fn release_cache(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA shrink_memory")
            .map_err(StoreError::sqlite("release the writer's page cache"))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // The group's batches are whole (a batch that failed took the group with it): they
        // are kept.
        self.flush_group();
        // Join the indexing thread first: it releases the index lock, so a new writer (or a
        // reindex) can start as soon as this one is gone.
        self.indexer.shutdown();
    }
}

/// The key of the link at `seq`: the chain key once keyed (from now on, for a key just set).
fn link_key(
    key: &Option<crate::chain::ChainKey>,
    keyed_from: Option<i64>,
    seq: i64,
) -> Option<&crate::chain::ChainKey> {
    match (key, keyed_from) {
        (Some(k), None) => Some(k),
        (Some(k), Some(from)) if seq >= from => Some(k),
        _ => None,
    }
}

/// `e` as stored under its id of the old form, when `e` is an Entra record stored before
/// migration 11 gave Entra events ids that sort by time ([`privtrail_model::EventId::entra`]):
/// the incoming record with that id, so that it is a duplicate (or a conflict) of the stored one
/// exactly as a record with an unchanged id would be.
fn legacy_duplicate(tx: &Connection, e: &Event) -> Result<Option<Event>, StoreError> {
    if e.source != privtrail_model::Source::Entra {
        return Ok(None);
    }
    let (Some(tenant), Some(native)) = (e.tenant.as_deref(), e.record_id.as_deref()) else {
        return Ok(None);
    };
    let old = privtrail_model::EventId::native(privtrail_model::Source::Entra, tenant, native);
    if old == e.id || !events::contains(tx, old.as_str())? {
        return Ok(None);
    }
    Ok(Some(Event {
        id: old,
        ..e.clone()
    }))
}

/// A conflict found for a duplicate: the chained event that records it (the `conflicts` row is
/// written by [`conflict_of`] itself).
struct Conflict {
    event: Event,
}

/// When `incoming`'s id is stored with other content: records the conflict (both bodies, origin,
/// the differing fields) and returns the event that chains it. `None` for a true duplicate, or a
/// conflicting record already recorded.
fn conflict_of(
    tx: &Connection,
    incoming: &Event,
    origin: &str,
    now: i64,
) -> Result<Option<Conflict>, StoreError> {
    let Some(stored) = events::by_id(tx, incoming.id.as_str())? else {
        return Ok(None);
    };
    let fields = crate::conflict::differing_fields(&stored, incoming);
    if fields.is_empty() {
        return Ok(None);
    }
    let event = crate::conflict::conflict_event(
        &stored,
        incoming,
        origin,
        &fields,
        crate::timefmt::from_nanos(now),
    );
    if events::by_id(tx, event.id.as_str())?.is_some() {
        return Ok(None);
    }
    let body = |e: &Event| serde_json::to_string(e).unwrap_or_default();
    meta::insert_conflict(
        tx,
        now,
        incoming.id.as_str(),
        origin,
        &fields.join(","),
        &body(&stored),
        &body(incoming),
    )
    .map_err(StoreError::sqlite("insert into conflicts"))?;
    tracing::warn!(event = %incoming.id, origin, fields = %fields.join(","), "conflicting record kept");
    Ok(Some(Conflict { event }))
}

/// Reads where the chain ends, preferring the last row over the chain table if they disagree
/// (the table could only be wrong after tampering; `verify` reports it, writing goes on).
pub(crate) fn chain_head(conn: &Connection) -> Result<(i64, Hash), StoreError> {
    let ((base_seq, base_hash), (head_seq, head_hash)) = meta::chain_ends(conn)?;
    let max_seq = events::max_seq(conn)?;
    if max_seq == head_seq {
        return Ok((head_seq, head_hash));
    }
    tracing::error!(
        head_seq,
        max_seq,
        "chain head does not match the last event row; continuing from the last row"
    );
    if max_seq <= base_seq {
        return Ok((base_seq, base_hash));
    }
    let hash: Vec<u8> = conn
        .query_row("SELECT hash FROM events WHERE seq = ?1", [max_seq], |r| {
            r.get(0)
        })
        .map_err(StoreError::sqlite("read last event hash"))?;
    let hash: Hash = hash.as_slice().try_into().unwrap_or(chain::ZERO_HASH);
    Ok((max_seq, hash))
}

/// The events of one write.
enum Input<'a> {
    /// The caller keeps them: compressed and made into documents on the writer's thread.
    Borrowed(&'a [Event]),
    /// Handed over with their compressed `raw` ([`Writer::write_prepared`]), committed as said.
    Owned {
        events: Vec<Event>,
        raws: Vec<crate::sqlite::raw::Prepared>,
        commit: Commit,
    },
}

impl Input<'_> {
    fn events(&self) -> &[Event] {
        match self {
            Input::Borrowed(e) => e,
            Input::Owned { events, .. } => events,
        }
    }

    /// Written into a group's transaction ([`Commit::Grouped`]).
    fn grouped(&self) -> bool {
        matches!(
            self,
            Input::Owned {
                commit: Commit::Grouped,
                ..
            }
        )
    }
}

/// An event a batch stored, to be indexed: one of the input's (by position) or one the writer
/// made (the record of a conflict).
enum ToIndex {
    Input(i64, usize),
    Made(i64, Box<Event>),
}

/// The transaction a batch is written in: its own, or its group's (committed with the group).
enum Scope<'c> {
    Transaction(rusqlite::Transaction<'c>),
    Group(&'c Connection),
}

impl Scope<'_> {
    /// Commits the batch's own transaction; a grouped batch waits for its group's commit.
    fn commit(self) -> rusqlite::Result<()> {
        match self {
            Scope::Transaction(t) => t.commit(),
            Scope::Group(_) => Ok(()),
        }
    }
}

impl std::ops::Deref for Scope<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            Scope::Transaction(t) => t,
            Scope::Group(c) => c,
        }
    }
}

/// What a batch stored, for the indexing thread ([`Writer::indexable`]).
enum Indexable {
    Documents(Vec<tantivy::TantivyDocument>),
    Events(Vec<(i64, Event)>),
}
