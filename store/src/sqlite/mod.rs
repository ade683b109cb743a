//! The SQLite side: the source of truth.
//!
//! One file, `privtrail.db`, in WAL mode with `synchronous=NORMAL` (a commit is durable against
//! process crashes; a power loss may drop the last transactions but never corrupts). The schema is
//! versioned ([`schema`]); rows are read and written by [`events`] and [`meta`].
//!
//! Connections: the [`crate::Writer`] owns the only write connection; reads go through a small
//! [`ReadPool`] so that `Store` is `Sync` and readers never wait for the writer (WAL).

pub mod checkpoint;
pub mod directory;
pub mod events;
pub mod meta;
pub mod names;
pub mod outbox;
pub mod raw;
pub mod schema;
pub mod state;
pub mod volume;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::Connection;

use crate::StoreError;

/// How long a connection waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 4;

/// Opens a connection with the pragmas every connection needs and the `raw_text` function.
pub fn open(path: &Path, writer: bool) -> Result<Connection, StoreError> {
    open_with_dictionaries(path, writer).map(|(conn, _)| conn)
}

/// [`open`], also returning the connection's decoding dictionaries (the writer adds the ones it
/// trains, before they are committed).
pub fn open_with_dictionaries(
    path: &Path,
    writer: bool,
) -> Result<(Connection, std::sync::Arc<raw::Dictionaries>), StoreError> {
    let ctx = || format!("open {}", path.display());
    let conn = Connection::open(path).map_err(StoreError::sqlite(ctx()))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(StoreError::sqlite(ctx()))?;
    // WAL is persistent in the file; setting it again is cheap and makes a copied-in database
    // safe too.
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(StoreError::sqlite(ctx()))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), mode, "SQLite refused WAL mode");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(StoreError::sqlite(ctx()))?;
    if writer {
        // A bigger page cache keeps the id and time indexes' hot pages in memory while ingesting.
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(StoreError::sqlite(ctx()))?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(StoreError::sqlite(ctx()))?;
        // Checkpoint every ~64 MB of WAL instead of SQLite's 4 MB: a bulk import rewrites the
        // same index pages many times, and each checkpoint copies and fsyncs them. Measured on
        // `privtrail bench ingest`: checkpoints were 15% of the writer thread at the default.
        conn.pragma_update(None, "wal_autocheckpoint", 16_384)
            .map_err(StoreError::sqlite(ctx()))?;
    }
    conn.set_prepared_statement_cache_capacity(32);
    let dicts = raw::Dictionaries::new(path);
    raw::register(&conn, dicts.clone()).map_err(StoreError::sqlite(ctx()))?;
    Ok((conn, dicts))
}

/// A few reusable read connections.
#[derive(Debug)]
pub struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    pub fn new(path: PathBuf) -> Self {
        ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` with a read connection (reused or newly opened).
    pub fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match conn {
            Some(c) => c,
            None => open(&self.path, false)?,
        };
        let result = f(&conn);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(conn);
        }
        result
    }
}
