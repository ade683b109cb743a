//! Events pushed over HTTP (`POST /api/v1/ingest/windows`, the Elasticsearch `_bulk` endpoint):
//! JSON documents of any shape the file importer reads, stored in one transaction, with an outcome
//! per document so that the caller can answer per line or per bulk item.

use std::time::Instant;

use privtrail_model::{Event, EventId, Reject, Source};
use privtrail_store::EventOutcome;

use crate::App;
use crate::error::Result;

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
    let forward = std::sync::Arc::clone(app.forward());
    let handle = writer.clone();
    let origin = origin.to_owned();
    // Compressed on this (the request's) thread, not the writer's.
    let raws = writer.raw_encoder().prepare(&events);
    let (stats, stored) = writer.call(move |w| {
        let started = Instant::now();
        w.set_origin(&origin);
        let source = events.first().map_or(Source::Windows, |e| e.source);
        let r = w.write_prepared_detailed(events, raws, &rejects, &*forward);
        if let Ok((s, _)) = &r {
            handle.telemetry().batch(
                source,
                s.stored,
                s.duplicates,
                s.rejected,
                started.elapsed(),
            );
        }
        r
    })??;
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
