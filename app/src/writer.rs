//! [`WriteHandle`]: the process's one store writer, shared by every job.
//!
//! A dedicated thread owns the [`Writer`] (SQLite's write connection and the index feeder) and
//! runs write jobs one at a time, in the order they arrive (FIFO: an import cannot starve the rules
//! job or an acknowledgement). Jobs are closures over `&mut Writer`; each of the writer's methods is
//! one transaction, so a job that calls one method is atomic. Callers block on the reply (sync
//! code: the import and collection pipelines, the CLI) or await it (`call_async`, through
//! `spawn_blocking`: the daemon never blocks its executor on SQLite).
//!
//! The handle also tells interested jobs that something was written: [`WriteHandle::stored`]
//! (events were stored: the rules job wakes) and [`WriteHandle::outbox`] (messages may be due: the
//! delivery loop wakes).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use privtrail_store::{Store, Writer};
use tokio::sync::Notify;

use crate::error::{AppError, Result};
use crate::telemetry::Telemetry;

type Job = Box<dyn FnOnce(&mut Writer) + Send>;

enum Msg {
    Job(Job),
    /// Stop after the jobs queued before this one (see [`WriteHandle::close`]).
    Stop,
}

/// Write jobs waiting at most; callers wait for room beyond this (back-pressure).
const QUEUE: usize = 16;

/// Cloneable access to the single writer thread.
#[derive(Clone)]
pub struct WriteHandle {
    tx: crossbeam_channel::Sender<Msg>,
    shared: Arc<Shared>,
}

struct Shared {
    telemetry: Telemetry,
    /// Producers compress their batches with it before handing them over.
    raw: privtrail_store::RawEncoder,
    stored: Notify,
    outbox: Notify,
    /// Bumped each time events are stored (jobs compare it to know whether to run again).
    generation: AtomicU64,
    /// Pushed batches waiting for the writer: concurrent requests share a transaction.
    pushes: crate::push::PushQueue,
}

impl std::fmt::Debug for WriteHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHandle").finish_non_exhaustive()
    }
}

/// The writer thread; [`WriterThread::finish`] drains it and commits the search index.
#[derive(Debug)]
pub struct WriterThread {
    join: Option<std::thread::JoinHandle<()>>,
}

impl WriteHandle {
    /// Opens the store's writer and starts its thread.
    pub fn start(store: &Store) -> Result<(WriteHandle, WriterThread)> {
        let mut writer = store.writer()?;
        let raw = writer.raw_encoder();
        let (tx, rx) = crossbeam_channel::bounded::<Msg>(QUEUE);
        let join = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || {
                for msg in rx.iter() {
                    let Msg::Job(job) = msg else { break };
                    // A panicking job must not take the writer down with it: its transaction rolls
                    // back (the rusqlite transaction is dropped), its caller gets an error, and
                    // the next job runs.
                    let run = std::panic::AssertUnwindSafe(|| job(&mut writer));
                    if std::panic::catch_unwind(run).is_err() {
                        tracing::error!("a write job panicked; its transaction was rolled back");
                    }
                    // Grouped batches share a transaction while more work waits (the writer is
                    // the bottleneck); once nothing does, what they stored commits.
                    if rx.is_empty() {
                        writer.flush_group();
                    }
                }
                // Closed or every handle gone: make everything searchable before the writer drops.
                if let Err(e) = writer.commit() {
                    tracing::error!(error = %e, "committing the search index failed");
                }
            })
            .map_err(|e| AppError::failed("cannot start the store writer thread", e))?;
        let handle = WriteHandle {
            tx,
            shared: Arc::new(Shared {
                telemetry: Telemetry::default(),
                raw,
                stored: Notify::new(),
                outbox: Notify::new(),
                generation: AtomicU64::new(0),
                pushes: crate::push::PushQueue::default(),
            }),
        };
        Ok((handle, WriterThread { join: Some(join) }))
    }

    /// The store's `raw` compressor, for batches handed over with
    /// [`privtrail_store::Writer::write_prepared`]: the calling thread compresses, not the writer.
    pub fn raw_encoder(&self) -> &privtrail_store::RawEncoder {
        &self.shared.raw
    }

    /// The queue of pushed batches ([`crate::push`]).
    pub(crate) fn pushes(&self) -> &crate::push::PushQueue {
        &self.shared.pushes
    }

    /// Runs `f` on the writer thread and returns its result (blocking this thread).
    pub fn call<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Writer) -> R + Send + 'static,
    {
        wait(self.submit(f)?)
    }

    /// Queues `f` and returns at once; the receiver yields its result ([`wait`]). At most [`QUEUE`] jobs
    /// wait: beyond that this blocks until there is room.
    pub fn submit<R, F>(&self, f: F) -> Result<crossbeam_channel::Receiver<R>>
    where
        R: Send + 'static,
        F: FnOnce(&mut Writer) -> R + Send + 'static,
    {
        let (rtx, rrx) = crossbeam_channel::bounded(1);
        let job: Job = Box::new(move |w: &mut Writer| {
            let _ = rtx.send(f(w));
        });
        self.tx
            .send(Msg::Job(job))
            .map_err(|_| AppError::WriterStopped("the writer thread is gone".into()))?;
        Ok(rrx)
    }

    /// [`WriteHandle::call`] for async code: waits on a blocking thread, never on the executor.
    pub async fn call_async<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Writer) -> R + Send + 'static,
    {
        let h = self.clone();
        tokio::task::spawn_blocking(move || h.call(f))
            .await
            .map_err(|e| AppError::WriterStopped(format!("write task failed: {e}")))?
    }

    /// Stops the writer thread after the jobs already queued; later calls fail with
    /// [`AppError::WriterStopped`]. Used at shutdown, when some job may still hold a handle.
    pub fn close(&self) {
        let _ = self.tx.send(Msg::Stop);
    }

    /// Say that events were stored (the rules job wakes) and that the outbox may have grown.
    pub fn notify_stored(&self) {
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        self.shared.stored.notify_one();
        self.shared.outbox.notify_one();
    }

    /// Say that the outbox may hold new messages (the delivery loop wakes).
    pub fn notify_outbox(&self) {
        self.shared.outbox.notify_one();
    }

    /// Woken after events are stored.
    pub fn stored(&self) -> &Notify {
        &self.shared.stored
    }

    /// Woken after outbox messages may have been added.
    pub fn outbox(&self) -> &Notify {
        &self.shared.outbox
    }

    /// The process's counters and histograms (`/metrics`).
    pub fn telemetry(&self) -> &Telemetry {
        &self.shared.telemetry
    }

    /// How many times events were stored so far.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }
}

/// The result of a job [`WriteHandle::submit`] queued (blocking this thread until it is done).
pub fn wait<R>(rx: crossbeam_channel::Receiver<R>) -> Result<R> {
    rx.recv()
        .map_err(|_| AppError::WriterStopped("the writer thread ended during a write".into()))
}

impl WriterThread {
    /// Waits for the thread to end: after [`WriteHandle::close`] or once every handle is dropped
    /// (the queue then drains, the index is committed and the writer released).
    pub fn finish(mut self) {
        if let Some(j) = self.join.take()
            && j.join().is_err()
        {
            tracing::error!("the store writer thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_in_order_and_a_panicking_job_does_not_stop_the_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let (w, thread) = WriteHandle::start(&store).expect("writer");
        // A second writer on the same store is refused while this one lives.
        assert!(store.writer().is_err());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let pending: Vec<_> = (0..20)
            .map(|i| {
                let o = Arc::clone(&order);
                w.submit(move |_| o.lock().map(|mut v| v.push(i)).is_ok())
                    .expect("queued")
            })
            .collect();
        for p in pending {
            assert_eq!(p.recv().ok(), Some(true));
        }
        assert_eq!(
            *order.lock().expect("lock"),
            (0..20).collect::<Vec<_>>(),
            "FIFO"
        );
        let err = w
            .call(|_| -> u32 { panic!("a bug in a job") })
            .expect_err("the panicking job reports an error");
        assert!(matches!(err, AppError::WriterStopped(_)), "{err}");
        let cp = w
            .call(|w| {
                w.set_checkpoint("k", "v")?;
                w.checkpoint("k")
            })
            .expect("the writer still runs");
        assert_eq!(cp.ok().flatten().as_deref(), Some("v"));
        w.close();
        thread.finish();
        assert!(w.call(|_| ()).is_err(), "closed");
        assert!(store.writer().is_ok(), "released");
    }

    /// Grouped batches wait for the batches queued behind them, never for more than that: once
    /// the queue is empty the thread commits them, whoever queued them.
    #[test]
    fn grouped_batches_commit_when_nothing_more_waits() {
        use privtrail_model::{Action, Event, EventId, Source};
        use privtrail_store::Commit;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let (w, thread) = WriteHandle::start(&store).expect("writer");
        let time = chrono::DateTime::from_timestamp(1_714_557_600, 0).expect("time");
        let event = |n: u64| {
            let mut e = Event::new(
                EventId::windows("HOST", "Security", n),
                Source::Windows,
                Action::GroupMemberAdded,
                time,
                "4732",
            );
            e.raw = format!(r#"{{"EventRecordID":{n}}}"#);
            e
        };
        let events: Vec<Event> = (1..=50).map(event).collect();
        let raws = w.raw_encoder().prepare(&events);
        let stored = w
            .call(move |w| {
                w.write_prepared(events, raws, &[], None, &|_| Vec::new(), Commit::Grouped)
            })
            .expect("call")
            .expect("stored");
        assert_eq!(stored.stored, 50);
        // No other job follows: the commit is the thread's own, soon after the batch.
        let id = EventId::windows("HOST", "Security", 50);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while store.get_event(&id).expect("read").is_none() {
            assert!(std::time::Instant::now() < deadline, "never committed");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        w.close();
        thread.finish();
        assert_eq!(store.verify().expect("verify").checked, 50);
    }
}
