//! Errors of the store, with enough context (path, table, event id) to act on them.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
///
/// The binary maps [`StoreError::InvalidQuery`] to exit code 2 (a user error); every other variant is
/// an operational error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The search query could not be parsed or names something the index does not have.
    #[error("invalid query {query:?}: {reason}")]
    InvalidQuery { query: String, reason: String },

    /// A file system operation on the data directory failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// SQLite failed; `context` says which operation (and table) it was.
    #[error("sqlite: {context}: {source}")]
    Sqlite {
        context: String,
        #[source]
        source: rusqlite::Error,
    },

    /// The database was written by a newer privtrail (its schema version is unknown to this build).
    #[error(
        "{path}: database schema version {found} is newer than this build supports ({supported})"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// The database was written by an older privtrail and must be upgraded by a writing command
    /// (which migrates it) before a read-only one can use it.
    #[error(
        "{path}: database schema version {found} is older than this build's ({supported}); run a writing command (e.g. `privtrail rules sweep`) once to upgrade it"
    )]
    NeedsUpgrade {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// A stored row cannot be turned back into an event (edited by hand, or a bug).
    #[error("corrupt row in {table} (seq {seq}, id {id:?}): {reason}")]
    Corrupt {
        table: &'static str,
        seq: i64,
        id: String,
        reason: String,
    },

    /// The tantivy index failed. SQLite is the source of truth: data written before this error is
    /// safe, and the index can be rebuilt with `reindex`.
    #[error("search index {path}: {context}: {source}")]
    Index {
        path: PathBuf,
        context: String,
        #[source]
        source: tantivy::TantivyError,
    },

    /// The background indexing thread stopped (its error was logged).
    #[error("search index writer stopped: {0}")]
    IndexerStopped(String),

    /// A read-only store found a search index it cannot use (built by another version of
    /// privtrail, or missing); it leaves it alone for the writer to rebuild.
    #[error(
        "the search index {dir} {reason}; the next writing command rebuilds it from the database \
         (`privtrail reindex`, `privtrail ingest`, or the daemon when it starts)"
    )]
    IndexUnusable { dir: PathBuf, reason: String },

    /// A group of batches sharing one transaction ([`crate::Commit::Grouped`]) was rolled back
    /// (its commit failed, or one of its batches did): the batches reported stored since the
    /// group began were not.
    #[error("the last {batches} batch(es) ({events} events) were not stored: {reason}")]
    GroupLost {
        batches: usize,
        events: u64,
        reason: String,
    },

    /// A second writer was requested while one is alive (one writer per data dir), or `reindex` ran
    /// while a writer is alive.
    #[error("{0}: a writer is already open on this store")]
    WriterBusy(PathBuf),
}

impl StoreError {
    pub(crate) fn sqlite(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StoreError {
        let context = context.into();
        move |source| StoreError::Sqlite { context, source }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }

    pub(crate) fn index(
        path: impl Into<PathBuf>,
        context: impl Into<String>,
    ) -> impl FnOnce(tantivy::TantivyError) -> StoreError {
        let path = path.into();
        let context = context.into();
        move |source| StoreError::Index {
            path,
            context,
            source,
        }
    }
}
