//! Reference measurements for `privtrail bench ingest --reference`: the same events stored by
//! SQLite alone and indexed by tantivy alone, with none of privtrail's work around them (no
//! dedupe lookups of conflicts, no chain, no compression, no pipeline), so a benchmark can show
//! how far the whole ingest is from its components' ceiling.

use std::path::Path;
use std::time::{Duration, Instant};

use privtrail_model::Event;
use rusqlite::TransactionBehavior;

use crate::StoreError;
use crate::index::{self, IndexState};
use crate::sqlite::{events, raw::Encoded, schema};

/// Rows per transaction, as the import's batches.
const BATCH: usize = 8192;

/// Inserts `evts` into a new database at `path` (privtrail's schema and pragmas, `raw` as text),
/// a transaction per 8,192 rows; returns the time it took.
pub fn bare_sqlite(path: &Path, evts: &[Event]) -> Result<Duration, StoreError> {
    let mut conn = crate::sqlite::open(path, true)?;
    schema::migrate(&mut conn, path)?;
    let started = Instant::now();
    let mut seq = 0i64;
    for chunk in evts.chunks(BATCH) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("begin"))?;
        {
            let mut stmt = tx
                .prepare_cached(events::INSERT)
                .map_err(StoreError::sqlite("prepare"))?;
            for e in chunk {
                let Ok(times) = events::EncodedTimes::new(e) else {
                    continue;
                };
                seq += 1;
                events::insert(&mut stmt, seq, e, &Encoded::Text(&e.raw), &times, &[0; 32])
                    .map_err(StoreError::sqlite("insert"))?;
            }
        }
        tx.commit().map_err(StoreError::sqlite("commit"))?;
    }
    Ok(started.elapsed())
}

/// Indexes `evts` into a new tantivy index in `dir` (privtrail's schema and writer settings),
/// committed once at the end; returns the time it took.
pub fn bare_tantivy(dir: &Path, evts: &[Event]) -> Result<Duration, StoreError> {
    let state = IndexState::open(dir)?;
    let mut writer = state
        .try_writer()?
        .ok_or_else(|| StoreError::WriterBusy(dir.to_owned()))?;
    let started = Instant::now();
    for (i, e) in evts.iter().enumerate() {
        writer
            .add_document(state.fields.document(i as i64 + 1, e))
            .map_err(StoreError::index(dir, "add document"))?;
    }
    index::commit(&mut writer, evts.len() as i64, dir)?;
    Ok(started.elapsed())
}
