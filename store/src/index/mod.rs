//! The tantivy side: a derived, rebuildable index over the SQLite events.
//!
//! Consistency with SQLite rests on one number, the last `seq` indexed, saved as the payload of
//! every tantivy commit ([`PAYLOAD_PREFIX`]`<seq>`). Documents are only handed to tantivy after
//! their SQLite transaction committed, in seq order, so after any crash the index holds exactly
//! the events up to that seq, and [`catch_up`] indexes the rest from SQLite. An index that is
//! ahead of SQLite (a power loss dropped SQLite's last WAL transactions), that has no payload, or
//! that was written by another index format is rebuilt from scratch.

pub mod indexer;
pub mod merge;
pub mod schema;
pub mod search;

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy};

use crate::StoreError;
use crate::sqlite::events;
pub use schema::Fields;

/// Commit payload prefix; bump the version when the schema or tokenization changes so that old
/// indexes are rebuilt.
pub const PAYLOAD_PREFIX: &str = "privtrail-index-v2 seq=";

/// Memory budget of the single IndexWriter (split across its indexing threads). 64 MiB: the
/// documents are small (keyword fields, a short message; `raw` is not indexed); a bulk import
/// fills the budget and flushes a segment, so the budget is part of its peak RSS (a 1M-event
/// import: 304–309 MB at 64 MiB, 380–400 MB at 128 MiB, the same events/s and bytes on disk).
pub const WRITER_HEAP_BYTES: usize = 64 * 1024 * 1024;

/// An opened index with its reader.
#[derive(Clone)]
pub struct IndexState {
    pub dir: PathBuf,
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
    /// Why searches cannot use this index ([`IndexState::open_read_only`] found none it may
    /// use): `index` is then an empty one in memory.
    pub unusable: Option<String>,
}

impl std::fmt::Debug for IndexState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexState")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl IndexState {
    /// Opens the index in `dir`, creating it if missing; an index that cannot be opened or has
    /// another schema is deleted and recreated empty (it is derived data).
    pub fn open(dir: &Path) -> Result<IndexState, StoreError> {
        std::fs::create_dir_all(dir).map_err(StoreError::io("create directory", dir))?;
        let schema = schema::build_schema();
        let index = match open_existing(dir) {
            Ok(Some(index)) if index.schema() == schema => index,
            Ok(None) => create(dir, &schema)?,
            Ok(Some(_)) => {
                tracing::warn!(dir = %dir.display(), "index schema changed; rebuilding the index");
                wipe(dir)?;
                create(dir, &schema)?
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "index unreadable; rebuilding it");
                wipe(dir)?;
                create(dir, &schema)?
            }
        };
        IndexState::with_reader(dir, index, None)
    }

    /// Opens the index in `dir` for searching beside a writer that may run in another process:
    /// unlike [`IndexState::open`] it never deletes or creates anything. An index it cannot use
    /// (another schema: built by another version of privtrail; missing; unreadable) is left to
    /// the writer, and searches fail with [`StoreError::IndexUnusable`] instead of answering from
    /// an empty index.
    pub fn open_read_only(dir: &Path) -> Result<IndexState, StoreError> {
        let schema = schema::build_schema();
        let found = if dir.exists() {
            open_existing(dir)
        } else {
            Ok(None)
        };
        let (index, unusable) = match found {
            Ok(Some(index)) if index.schema() == schema => (index, None),
            Ok(Some(_)) => (
                Index::create_in_ram(schema),
                Some("was built by another version of privtrail".to_owned()),
            ),
            Ok(None) => (Index::create_in_ram(schema), Some("is missing".to_owned())),
            Err(e) => (
                Index::create_in_ram(schema),
                Some(format!("is unreadable ({e})")),
            ),
        };
        IndexState::with_reader(dir, index, unusable)
    }

    fn with_reader(
        dir: &Path,
        index: Index,
        unusable: Option<String>,
    ) -> Result<IndexState, StoreError> {
        schema::register_tokenizers(&index);
        let reader = index
            .reader_builder()
            // Picks up commits made by another process (a daemon) while this one searches;
            // the writer in this process also reloads explicitly after each commit.
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .map_err(StoreError::index(dir, "open reader"))?;
        let fields = Fields::new(&index.schema()).map_err(StoreError::index(dir, "read schema"))?;
        Ok(IndexState {
            dir: dir.to_owned(),
            index,
            reader,
            fields,
            unusable,
        })
    }

    /// [`StoreError::IndexUnusable`] when searches cannot use this index.
    pub fn usable(&self) -> Result<(), StoreError> {
        match &self.unusable {
            None => Ok(()),
            Some(reason) => Err(StoreError::IndexUnusable {
                dir: self.dir.clone(),
                reason: reason.clone(),
            }),
        }
    }

    /// The seq recorded by the last commit, or `None` if there is no usable payload.
    pub fn committed_seq(&self) -> Result<Option<i64>, StoreError> {
        let metas = self
            .index
            .load_metas()
            .map_err(StoreError::index(&self.dir, "load meta.json"))?;
        Ok(metas
            .payload
            .as_deref()
            .and_then(|p| p.strip_prefix(PAYLOAD_PREFIX))
            .and_then(|s| s.parse().ok()))
    }

    /// Number of documents visible to the reader.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Creates the single IndexWriter, or `Ok(None)` if another one (maybe in another process)
    /// holds the index lock.
    pub fn try_writer(&self) -> Result<Option<IndexWriter>, StoreError> {
        // Leave one core to the SQLite writer thread; tantivy runs merges on its own threads.
        let threads = std::thread::available_parallelism()
            .map(|n| n.get().saturating_sub(1))
            .unwrap_or(1)
            .clamp(1, 4);
        match self
            .index
            .writer_with_num_threads(threads, WRITER_HEAP_BYTES)
        {
            Ok(w) => {
                w.set_merge_policy(Box::new(merge::BoundedMerges::default()));
                Ok(Some(w))
            }
            Err(tantivy::TantivyError::LockFailure(
                tantivy::directory::error::LockError::LockBusy,
                _,
            )) => Ok(None),
            Err(e) => Err(StoreError::index(&self.dir, "create index writer")(e)),
        }
    }
}

fn open_existing(dir: &Path) -> tantivy::Result<Option<Index>> {
    let mmap = MmapDirectory::open(dir)?;
    if Index::exists(&mmap)? {
        Ok(Some(Index::open(mmap)?))
    } else {
        Ok(None)
    }
}

fn create(dir: &Path, schema: &tantivy::schema::Schema) -> Result<Index, StoreError> {
    Index::create_in_dir(dir, schema.clone()).map_err(StoreError::index(dir, "create index"))
}

/// Removes the directory's content (the directory itself stays).
pub fn wipe(dir: &Path) -> Result<(), StoreError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(StoreError::io("remove index", dir))?;
    }
    std::fs::create_dir_all(dir).map_err(StoreError::io("create directory", dir))
}

/// Commits `writer` with `seq` as the payload.
pub fn commit(writer: &mut IndexWriter, seq: i64, dir: &Path) -> Result<(), StoreError> {
    let mut prepared = writer
        .prepare_commit()
        .map_err(StoreError::index(dir, "prepare commit"))?;
    prepared.set_payload(&format!("{PAYLOAD_PREFIX}{seq}"));
    prepared
        .commit()
        .map_err(StoreError::index(dir, "commit"))?;
    Ok(())
}

/// Brings `writer`'s index up to SQLite's last seq: indexes the missing events (or everything,
/// after clearing, when the index cannot be trusted). Returns `(last seq indexed, documents
/// added, whether the index was cleared)`. Does not commit.
pub fn catch_up(
    state: &IndexState,
    writer: &IndexWriter,
    conn: &Connection,
) -> Result<(i64, u64, bool), StoreError> {
    let sqlite_max = events::max_seq(conn)?;
    let committed = state.committed_seq()?;
    let mut cleared = false;
    let from = match committed {
        Some(seq) if seq == sqlite_max => return Ok((seq, 0, false)),
        Some(seq) if seq < sqlite_max => seq,
        other => {
            if other.is_some() || state.num_docs() > 0 {
                tracing::warn!(
                    dir = %state.dir.display(), committed = ?other, sqlite_max,
                    "index does not match SQLite; rebuilding it"
                );
                writer
                    .delete_all_documents()
                    .map_err(StoreError::index(&state.dir, "clear index"))?;
                cleared = true;
            }
            0
        }
    };
    let added = feed(state, writer, conn, from, sqlite_max)?;
    if added > 0 {
        tracing::info!(dir = %state.dir.display(), from, to = sqlite_max, added, "index caught up");
    }
    Ok((sqlite_max.max(from), added, cleared))
}

/// Adds every event with `after < seq <= upto` to `writer`, reading only the indexed columns.
/// (The upper bound keeps the recorded seq exact even if rows are appended meanwhile.)
pub fn feed(
    state: &IndexState,
    writer: &IndexWriter,
    conn: &Connection,
    after: i64,
    upto: i64,
) -> Result<u64, StoreError> {
    let mut added = 0u64;
    events::for_each_after(conn, after, upto, events::COLUMNS_NO_RAW, |row| {
        match row {
            Ok((seq, event, _)) => {
                writer
                    .add_document(state.fields.document(seq, &event))
                    .map_err(StoreError::index(&state.dir, "add document"))?;
                added += 1;
            }
            // A row edited into something undecodable stays out of the index; `verify`
            // reports it.
            Err(e) => tracing::warn!(error = %e, "row skipped while indexing"),
        }
        Ok(true)
    })?;
    Ok(added)
}
