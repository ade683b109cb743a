//! Anchors: the chain's head (seq, hash, time) published outside the store — an append-only file
//! and channels (a SIEM) — so that `verify` catches a truncated or recomputed chain that is
//! consistent in itself. Coalesced: at most one anchor per `[integrity] anchor_interval`, and none
//! when the head did not move.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use privtrail_alerts::{AnchorNotice, Payload};
use privtrail_store::{Anchor, Hash, OutboxEntry};

use crate::App;
use crate::error::{AppError, Result};

/// One line of an anchor file.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Line {
    store: String,
    seq: i64,
    hash: String,
    #[serde(with = "privtrail_model::serde_time")]
    at: DateTime<Utc>,
}

/// Publishes the head when it moved since the last anchor and the interval has passed (`force`:
/// whatever the interval). Returns the anchor published, if any.
pub fn publish(app: &App, now: DateTime<Utc>, force: bool) -> Result<Option<Anchor>> {
    let integrity = &app.config().integrity;
    if !integrity.anchoring() {
        return Ok(None);
    }
    let writer = app.writer()?;
    let (seq, hash) = writer.call(|w| w.head())?;
    if seq == 0 {
        return Ok(None);
    }
    let last = app.store().recorded_anchors()?.pop();
    if last.as_ref().is_some_and(|a| a.seq == seq) {
        return Ok(None);
    }
    if !force && last.is_some_and(|a| now - a.at < integrity.anchor_interval.0) {
        return Ok(None);
    }
    let store = app.data_dir().display().to_string();
    let hex_hash = hex::encode(hash);
    if let Some(path) = &integrity.anchor_file {
        append(
            path,
            &Line {
                store: store.clone(),
                seq,
                hash: hex_hash.clone(),
                at: now,
            },
        )?;
    }
    let payload = serde_json::to_string(&Payload::Anchor(AnchorNotice {
        store,
        seq,
        hash: hex_hash.clone(),
        at: now,
    }))
    .map_err(AppError::json("anchor"))?;
    let entries: Vec<OutboxEntry> = integrity
        .anchor_channels
        .iter()
        .map(|ch| OutboxEntry {
            channel: ch.clone(),
            idempotency_key: format!("anchor:{seq}:{hex_hash}"),
            payload: payload.clone(),
        })
        .collect();
    let enqueued = writer.call(move |w| w.record_anchor(seq, &hash, now, &entries))??;
    if enqueued > 0 {
        writer.notify_outbox();
    }
    tracing::info!(seq, hash = %hex_hash, "chain anchored");
    Ok(Some(Anchor {
        seq,
        hash,
        at: now,
        source: "published".into(),
    }))
}

/// Appends one line and makes it durable before returning.
fn append(path: &Path, line: &Line) -> Result<()> {
    let mut text = serde_json::to_string(line).map_err(AppError::json("anchor"))?;
    text.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(AppError::io("open the anchor file", path))?;
    f.write_all(text.as_bytes())
        .map_err(AppError::io("append to the anchor file", path))?;
    f.sync_data()
        .map_err(AppError::io("sync the anchor file", path))?;
    Ok(())
}

/// The anchors of `store` in an anchor file (lines of other stores are skipped; a line that is
/// not an anchor is an error naming its number: an anchor file is evidence, not best effort).
pub fn read_file(path: &Path, store: Option<&Path>) -> Result<Vec<Anchor>> {
    let text = std::fs::read_to_string(path).map_err(AppError::io("read the anchor file", path))?;
    let mut out = Vec::new();
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line: Line = serde_json::from_str(l).map_err(|e| {
            AppError::Usage(format!(
                "{} line {}: not an anchor: {e}",
                path.display(),
                i + 1
            ))
        })?;
        if store.is_some_and(|s| Path::new(&line.store) != s) {
            continue;
        }
        let mut hash: Hash = [0; 32];
        hex::decode_to_slice(&line.hash, &mut hash).map_err(|e| {
            AppError::Usage(format!("{} line {}: bad hash: {e}", path.display(), i + 1))
        })?;
        out.push(Anchor {
            seq: line.seq,
            hash,
            at: line.at,
            source: format!("{} line {}", path.display(), i + 1),
        });
    }
    Ok(out)
}
