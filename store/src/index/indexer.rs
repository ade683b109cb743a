//! The indexing thread: owns the single tantivy `IndexWriter`.
//!
//! The [`crate::Writer`] commits each batch to SQLite on the caller's thread and then hands the
//! batch's documents to this thread through a bounded channel, so SQLite inserts and tantivy
//! indexing run in parallel (NOTES.md: ~12 µs and ~18 µs per event; neither may wait for the
//! other). tantivy's own worker threads do the tokenizing; this thread feeds them and commits
//! every few seconds (never per batch), with the last seq as the commit payload. A full channel
//! blocks the writer: that is the backpressure that keeps memory bounded when indexing lags.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tantivy::{IndexWriter, TantivyDocument};

use super::IndexState;
use crate::StoreError;

/// Commit at least this often while documents are pending.
pub const COMMIT_INTERVAL: Duration = Duration::from_secs(5);
/// ...or after this many documents, whichever comes first.
pub const COMMIT_DOCS: u64 = 500_000;
/// Batches in flight between the writer and this thread.
pub(crate) const CHANNEL_BATCHES: usize = 4;
/// How often the thread wakes up to check the commit interval when idle.
const TICK: Duration = Duration::from_millis(500);

enum Msg {
    Docs {
        docs: Vec<TantivyDocument>,
        last_seq: i64,
    },
    /// Stored events (their `raw` dropped) whose documents this thread builds, off the writer.
    Events {
        events: Vec<(i64, privtrail_model::Event)>,
        last_seq: i64,
    },
    Commit(SyncSender<Result<(), String>>),
    /// Retention dropped every event up to this seq.
    DeleteThrough(i64),
    /// Shows the batches handed over after this message to the tap.
    Tap(Box<dyn crate::CommitTap>),
}

/// Handle to the indexing thread. Dropping it commits pending documents and joins the thread
/// (which releases the index lock).
pub struct Indexer {
    tx: Option<SyncSender<Msg>>,
    handle: Option<JoinHandle<()>>,
    failure: Arc<Mutex<Option<String>>>,
    /// Batches handed over and not yet indexed ([`Indexer::backlog`]).
    backlog: Arc<AtomicUsize>,
    warned: bool,
}

impl std::fmt::Debug for Indexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Indexer")
            .field("running", &self.handle.is_some())
            .finish_non_exhaustive()
    }
}

impl Indexer {
    /// Starts the thread. `last_seq` is the seq the index is (or, once committed, will be) up to;
    /// `dirty` says whether `writer` already holds uncommitted changes (from a catch-up).
    pub fn spawn(
        writer: IndexWriter,
        state: IndexState,
        last_seq: i64,
        dirty: bool,
    ) -> Result<Indexer, StoreError> {
        let (tx, rx) = mpsc::sync_channel(CHANNEL_BATCHES);
        let failure = Arc::new(Mutex::new(None));
        let thread_failure = Arc::clone(&failure);
        let backlog = Arc::new(AtomicUsize::new(0));
        let thread_backlog = Arc::clone(&backlog);
        let dir = state.dir.clone();
        let handle = std::thread::Builder::new()
            .name("privtrail-indexer".into())
            .spawn(move || {
                let worker = Worker {
                    writer,
                    state,
                    last_seq,
                    dirty,
                    pending: 0,
                    last_commit: Instant::now(),
                    backlog: thread_backlog,
                    tap: None,
                };
                if let Err(e) = worker.run(rx) {
                    tracing::error!(error = %e, "search indexing stopped; run `reindex` or reopen");
                    if let Ok(mut f) = thread_failure.lock() {
                        *f = Some(e.to_string());
                    }
                }
            })
            .map_err(StoreError::io("spawn indexer thread", dir))?;
        Ok(Indexer {
            tx: Some(tx),
            handle: Some(handle),
            failure,
            backlog,
            warned: false,
        })
    }

    /// Hands documents (already committed to SQLite, in seq order) to the thread. Never fails:
    /// if indexing stopped, the events are safe in SQLite and the next open catches up.
    pub fn send(&mut self, docs: Vec<TantivyDocument>, last_seq: i64) {
        self.hand_over(Msg::Docs { docs, last_seq });
    }

    /// Hands stored events (committed to SQLite, in seq order, with their seqs) to the thread,
    /// which builds their documents: that work leaves the writer's thread. Never fails, as
    /// [`Indexer::send`].
    pub fn send_events(&mut self, events: Vec<(i64, privtrail_model::Event)>, last_seq: i64) {
        self.hand_over(Msg::Events { events, last_seq });
    }

    /// Batches handed over and not yet indexed (queued, or being indexed): what a writer that
    /// holds batches back ([`crate::Commit::Grouped`]) counts against
    /// [`CHANNEL_BATCHES`], so that it never holds more in memory than the channel would.
    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Acquire)
    }

    fn hand_over(&mut self, msg: Msg) {
        self.backlog.fetch_add(1, Ordering::AcqRel);
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(msg).is_ok());
        if !sent {
            self.backlog.fetch_sub(1, Ordering::AcqRel);
            if !self.warned {
                self.warned = true;
                tracing::warn!(
                    "search indexing is not running; events are stored but not yet searchable"
                );
            }
        }
    }

    /// Shows every batch handed over from now on to `tap` (see [`crate::CommitTap`]); replaces
    /// one installed before. Not shown anything when the thread has stopped.
    pub fn tap(&mut self, tap: Box<dyn crate::CommitTap>) {
        if let Some(tx) = self.tx.as_ref() {
            let _ = tx.send(Msg::Tap(tap));
        }
    }

    /// Drops the documents of events up to `seq` (purged by retention); committed with the next
    /// commit.
    pub fn delete_through(&mut self, seq: i64) {
        if let Some(tx) = self.tx.as_ref() {
            let _ = tx.send(Msg::DeleteThrough(seq));
        }
    }

    /// Asks the thread to commit everything sent so far (making it visible to searches) and
    /// returns at once: the caller does other work (the rules run after an import) while tantivy
    /// writes the segment, then waits on the handle.
    pub fn request_commit(&self) -> IndexCommit {
        let (reply_tx, reply_rx) = mpsc::sync_channel(1);
        let sent = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send(Msg::Commit(reply_tx)).is_ok());
        IndexCommit {
            reply: sent.then_some(reply_rx),
            failure: Arc::clone(&self.failure),
        }
    }

    /// Closes the channel (the thread commits what is pending) and waits for the thread.
    pub fn shutdown(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take()
            && h.join().is_err()
        {
            tracing::error!("search indexing thread panicked");
        }
    }
}

/// A commit asked of the indexing thread ([`Indexer::request_commit`]); [`IndexCommit::wait`]
/// returns once it is done. Dropped without waiting, the commit still happens.
#[derive(Debug)]
#[must_use = "a requested commit is only known done after `wait`"]
pub struct IndexCommit {
    reply: Option<Receiver<Result<(), String>>>,
    failure: Arc<Mutex<Option<String>>>,
}

impl IndexCommit {
    /// Waits for the commit: everything sent before it was requested is searchable.
    pub fn wait(self) -> Result<(), StoreError> {
        match self.reply.and_then(|r| r.recv().ok()) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(StoreError::IndexerStopped(e)),
            None => Err(StoreError::IndexerStopped(failure_message(&self.failure))),
        }
    }
}

fn failure_message(failure: &Mutex<Option<String>>) -> String {
    failure
        .lock()
        .ok()
        .and_then(|f| f.clone())
        .unwrap_or_else(|| "the indexing thread exited".to_owned())
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Worker {
    writer: IndexWriter,
    state: IndexState,
    last_seq: i64,
    dirty: bool,
    pending: u64,
    last_commit: Instant,
    backlog: Arc<AtomicUsize>,
    tap: Option<Box<dyn crate::CommitTap>>,
}

impl Worker {
    fn run(mut self, rx: Receiver<Msg>) -> Result<(), StoreError> {
        loop {
            match rx.recv_timeout(TICK) {
                Ok(Msg::Docs { docs, last_seq }) => {
                    self.add_handed(docs, last_seq)?;
                    if let Some(tap) = self.tap.as_mut() {
                        tap.committed(None, last_seq);
                    }
                }
                Ok(Msg::Events {
                    mut events,
                    last_seq,
                }) => {
                    let fields = &self.state.fields;
                    let docs = events
                        .iter()
                        .map(|(seq, e)| fields.document(*seq, e))
                        .collect();
                    self.add_handed(docs, last_seq)?;
                    // Shown once tantivy has the documents: its indexing thread works on them
                    // meanwhile (shown before, the tap's time was the import's: tantivy's queue
                    // ran dry while the tap ran).
                    if let Some(tap) = self.tap.as_mut() {
                        tap.committed(Some(&mut events), last_seq);
                    }
                }
                Ok(Msg::Tap(tap)) => self.tap = Some(tap),
                Ok(Msg::DeleteThrough(seq)) => {
                    let q = tantivy::query::RangeQuery::new(
                        std::ops::Bound::Unbounded,
                        std::ops::Bound::Included(tantivy::Term::from_field_u64(
                            self.state.fields.seq,
                            seq.max(0) as u64,
                        )),
                    );
                    self.writer
                        .delete_query(Box::new(q))
                        .map_err(StoreError::index(
                            &self.state.dir,
                            "delete purged documents",
                        ))?;
                    self.dirty = true;
                    self.commit()?;
                }
                Ok(Msg::Commit(reply)) => {
                    let result = self.commit();
                    let _ = reply.send(result.as_ref().map_err(|e| e.to_string()).copied());
                    result?;
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.dirty && self.last_commit.elapsed() >= COMMIT_INTERVAL {
                        self.commit()?;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.commit()?;
                    // The merges that commits started finish and are committed before the
                    // writer goes (dropped, tantivy would let them run on, unjoined, into a
                    // folder that may be gone, and throw their work away). `BoundedMerges`
                    // keeps that wait short: no merge holds more than ~4M documents.
                    return self
                        .writer
                        .wait_merging_threads()
                        .map_err(StoreError::index(&self.state.dir, "finish merges"));
                }
            }
        }
    }

    /// [`Worker::add`] for a batch the writer handed over: it leaves the backlog either way.
    fn add_handed(&mut self, docs: Vec<TantivyDocument>, last_seq: i64) -> Result<(), StoreError> {
        let added = self.add(docs, last_seq);
        self.backlog.fetch_sub(1, Ordering::AcqRel);
        added
    }

    fn add(&mut self, docs: Vec<TantivyDocument>, last_seq: i64) -> Result<(), StoreError> {
        self.pending += docs.len() as u64;
        self.dirty = true;
        for doc in docs {
            self.writer
                .add_document(doc)
                .map_err(StoreError::index(&self.state.dir, "add document"))?;
        }
        self.last_seq = last_seq;
        if self.pending >= COMMIT_DOCS || self.last_commit.elapsed() >= COMMIT_INTERVAL {
            self.commit()?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        self.last_commit = Instant::now();
        if !self.dirty {
            return Ok(());
        }
        let started = Instant::now();
        super::commit(&mut self.writer, self.last_seq, &self.state.dir)?;
        tracing::debug!(
            docs = self.pending,
            seq = self.last_seq,
            took_ms = started.elapsed().as_millis() as u64,
            "index committed"
        );
        self.dirty = false;
        self.pending = 0;
        if let Err(e) = self.state.reader.reload() {
            tracing::warn!(error = %e, "index reader reload failed");
        }
        Ok(())
    }
}
