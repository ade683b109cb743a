//! Events pushed over HTTP (`POST /api/v1/ingest/windows`, the Elasticsearch `_bulk` endpoint):
//! JSON documents of any shape the file importer reads, stored with an outcome per document so that
//! the caller can answer per line or per bulk item.
//!
//! **Group commit**: each request is normalized and compressed on its own thread, then queued
//! ([`PushQueue`]); the writer takes every request waiting when it gets to them and stores them in
//! one transaction (per origin), and each request is answered once that transaction committed. Agents
//! push concurrently, and a commit costs more than the rows it carries (WAL frames of the hot index
//! pages, and SQLite's page cache truncation after index page splits while the store is under
//! 1 GiB): fewer, larger transactions for the same documents.

use std::sync::Mutex;
use std::time::Instant;

use privtrail_model::{Event, EventId, Reject, Source};
use privtrail_store::{EventOutcome, PreparedRaws, WriteStats, Writer};

use crate::App;
use crate::error::{AppError, Result};
use crate::writer::WriteHandle;

/// Events one shared transaction carries at most (requests are never split).
const GROUP_EVENTS: usize = 32_768;

type Reply =
    crossbeam_channel::Sender<std::result::Result<(WriteStats, Vec<EventOutcome>), String>>;

/// One request's batch, waiting for the writer.
struct Pending {
    origin: String,
    source: Source,
    events: Vec<Event>,
    raws: PreparedRaws,
    rejects: Vec<Reject>,
    reply: Reply,
}

/// Pushed batches waiting for the writer thread.
#[derive(Default)]
pub(crate) struct PushQueue {
    pending: Mutex<Vec<Pending>>,
}

impl PushQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Queues a batch and asks the writer to drain the queue. Every request asks (a drain that finds
/// the queue empty, its batch taken by an earlier drain, returns at once), so no batch can wait on a
/// drain that never comes, even after one panicked.
fn store_grouped(
    app: &App,
    origin: &str,
    events: Vec<Event>,
    raws: PreparedRaws,
    rejects: Vec<Reject>,
) -> Result<(WriteStats, Vec<EventOutcome>)> {
    let writer = app.writer()?;
    let (tx, rx) = crossbeam_channel::bounded(1);
    writer.pushes().lock().push(Pending {
        origin: origin.to_owned(),
        source: events.first().map_or(Source::Windows, |e| e.source),
        events,
        raws,
        rejects,
        reply: tx,
    });
    let forward = std::sync::Arc::clone(app.forward());
    let handle = writer.clone();
    writer.submit(move |w| drain(w, &handle, &*forward))?;
    rx.recv()
        .map_err(|_| AppError::WriterStopped("the writer thread ended during a push".into()))?
        .map_err(|e| AppError::failed("storing pushed events", e))
}

/// On the writer thread: stores every queued batch, a group of up to [`GROUP_EVENTS`] events of one
/// origin per transaction, and answers each request.
fn drain(
    w: &mut Writer,
    handle: &WriteHandle,
    forward: &(dyn Fn(&Event) -> Vec<privtrail_store::OutboxEntry> + Send + Sync),
) {
    loop {
        let group: Vec<Pending> = {
            let mut q = handle.pushes().lock();
            let Some(origin) = q.first().map(|p| p.origin.clone()) else {
                return;
            };
            let mut taken = Vec::new();
            let mut n = 0usize;
            let mut i = 0;
            while i < q.len() {
                if q[i].origin == origin
                    && (taken.is_empty() || n + q[i].events.len() <= GROUP_EVENTS)
                {
                    n += q[i].events.len();
                    taken.push(q.remove(i));
                } else {
                    i += 1;
                }
            }
            taken
        };
        let started = Instant::now();
        let mut events = Vec::new();
        let mut raws: Option<PreparedRaws> = None;
        let mut rejects = Vec::new();
        let mut sizes = Vec::with_capacity(group.len());
        let mut replies = Vec::with_capacity(group.len());
        let origin = group[0].origin.clone();
        let source = group[0].source;
        for p in group {
            sizes.push(p.events.len());
            events.extend(p.events);
            match raws.as_mut() {
                Some(r) => r.append(p.raws),
                None => raws = Some(p.raws),
            }
            rejects.extend(p.rejects);
            replies.push(p.reply);
        }
        w.set_origin(&origin);
        let raws = raws.unwrap_or_else(|| handle.raw_encoder().prepare(&[]));
        match w.write_prepared_detailed(events, raws, &rejects, forward) {
            Ok((stats, outcomes)) => {
                handle.telemetry().batch(
                    source,
                    stats.stored,
                    stats.duplicates,
                    stats.rejected,
                    started.elapsed(),
                );
                let mut outcomes = outcomes.into_iter();
                for (size, reply) in sizes.into_iter().zip(replies) {
                    let mine: Vec<EventOutcome> = outcomes.by_ref().take(size).collect();
                    let mut s = WriteStats::default();
                    for o in &mine {
                        match o {
                            EventOutcome::Stored => s.stored += 1,
                            EventOutcome::Duplicate => s.duplicates += 1,
                            EventOutcome::Rejected(_) => s.rejected += 1,
                        }
                    }
                    let _ = reply.send(Ok((s, mine)));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(msg.clone()));
                }
            }
        }
    }
}

/// What became of one pushed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    Stored(EventId),
    /// An event with its id is stored already (sent twice, or read from a file too).
    Duplicate(EventId),
    /// A record of an event-log channel that is not kept (`[ingest] channels`).
    Skipped,
    /// Not a record privtrail reads (kept in `rejects` with its origin and position).
    Rejected(String),
}

/// Normalizes and stores `docs` (`(position, JSON text)`, position being the line or bulk item
/// number the caller reports) from `origin` (e.g. `http:ingest/windows from 10.0.0.5`). Every
/// document gets an outcome, in order; the batch is one transaction.
pub fn push_documents(app: &App, docs: &[(u64, &str)], origin: &str) -> Result<Vec<PushOutcome>> {
    let writer = app.writer()?;
    let opts = app.config().ingest_options(&[]);
    let mut outcomes: Vec<Option<PushOutcome>> = Vec::with_capacity(docs.len());
    let mut events: Vec<Event> = Vec::new();
    let mut slots: Vec<usize> = Vec::new();
    let mut rejects: Vec<Reject> = Vec::new();
    for (i, (pos, text)) in docs.iter().enumerate() {
        match privtrail_ingest::normalize_json_line(text, &opts) {
            Ok(Some(e)) => {
                slots.push(i);
                events.push(e);
                outcomes.push(None);
            }
            Ok(None) => outcomes.push(Some(PushOutcome::Skipped)),
            Err(e) => {
                let reason = match e {
                    privtrail_ingest::IngestError::Malformed { reason, .. } => reason,
                    other => other.to_string(),
                };
                rejects.push(Reject {
                    origin: origin.to_owned(),
                    location: format!("item {pos}"),
                    reason: reason.clone(),
                    raw: text.chars().take(64 * 1024).collect(),
                });
                outcomes.push(Some(PushOutcome::Rejected(reason)));
            }
        }
    }
    if events.is_empty() && rejects.is_empty() {
        return Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(PushOutcome::Skipped))
            .collect());
    }
    let ids: Vec<EventId> = events.iter().map(|e| e.id.clone()).collect();
    // Compressed on this (the request's) thread, not the writer's.
    let raws = writer.raw_encoder().prepare(&events);
    let (stats, stored) = store_grouped(app, origin, events, raws, rejects)?;
    for ((slot, id), outcome) in slots.into_iter().zip(ids).zip(stored) {
        outcomes[slot] = Some(match outcome {
            EventOutcome::Stored => PushOutcome::Stored(id),
            EventOutcome::Duplicate => PushOutcome::Duplicate(id),
            EventOutcome::Rejected(why) => PushOutcome::Rejected(why),
        });
    }
    if stats.stored > 0 {
        writer.notify_stored();
    }
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or(PushOutcome::Skipped))
        .collect())
}
