//! [`Store`]: opening a data directory, reads, and maintenance.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use privtrail_model::{Event, EventId};

use crate::chain::ChainWalker;
use crate::index::indexer::Indexer;
use crate::index::{self, IndexState, search};
use crate::sqlite::{self, ReadPool, events, meta, schema};
use crate::{
    SearchRequest, StoreError, StoreStats, StoredReject, VerifyReport, Writer, query, writer,
};

mod derived;

/// The database file in a data directory.
pub const DB_FILE: &str = "privtrail.db";
const INDEX_DIR: &str = "index";
/// Where `reindex` builds the new index before swapping it in.
const REBUILD_DIR: &str = "index.rebuild";
const OLD_DIR: &str = "index.old";

/// A data directory: the SQLite database (source of truth) and the derived tantivy index.
///
/// `Store` is `Send + Sync`: share it (e.g. in an `Arc`) between the searching and the writing
/// parts of the program. At most one [`Writer`] exists at a time.
pub struct Store {
    dir: PathBuf,
    db_path: PathBuf,
    readers: ReadPool,
    /// Behind a lock only so that `reindex` can swap in the rebuilt index.
    index: RwLock<IndexState>,
    /// Set while a `Writer` (or a `reindex`) is running.
    writer_open: Arc<AtomicBool>,
    /// The key of a keyed chain (`[integrity] key`), for the writer's links and for `verify`.
    chain_key: Option<crate::chain::ChainKey>,
    /// The configured identity map's (alias, canonical) pairs, lower-cased: `principal:` terms
    /// and [`Store::identities`] follow them.
    aliases: RwLock<Vec<(String, String)>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Clears the writer flag when dropped: on every exit path of `reindex()`, and owned by the
/// [`Writer`] for its lifetime.
#[derive(Debug)]
pub(crate) struct FlagGuard(Arc<AtomicBool>);

impl Drop for FlagGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`: migrates the database and brings the
    /// index up to date with SQLite (unless another process holds the index writer).
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        crate::private::create_private_dir(data_dir)
            .map_err(StoreError::io("create directory", data_dir))?;
        let db_path = data_dir.join(DB_FILE);
        crate::private::create_private_file(&db_path)
            .map_err(StoreError::io("create database", &db_path))?;
        let mut conn = sqlite::open(&db_path, true)?;
        schema::migrate(&mut conn, &db_path)?;
        // Leftovers of an interrupted reindex; the live index is always INDEX_DIR.
        for leftover in [REBUILD_DIR, OLD_DIR] {
            let p = data_dir.join(leftover);
            if p.exists()
                && let Err(e) = std::fs::remove_dir_all(&p)
            {
                tracing::warn!(path = %p.display(), error = %e, "cannot remove leftover index");
            }
        }
        let state = IndexState::open(&data_dir.join(INDEX_DIR))?;
        if let Some(mut iw) = state.try_writer()? {
            let (seq, added, cleared) = index::catch_up(&state, &iw, &conn)?;
            if added > 0 || cleared {
                index::commit(&mut iw, seq, &state.dir)?;
                state
                    .reader
                    .reload()
                    .map_err(StoreError::index(&state.dir, "reload reader"))?;
            }
        }
        Ok(Store {
            dir: data_dir.to_owned(),
            readers: ReadPool::new(db_path.clone()),
            db_path,
            index: RwLock::new(state),
            writer_open: Arc::new(AtomicBool::new(false)),
            chain_key: None,
            aliases: RwLock::default(),
        })
    }

    /// Opens the store in `data_dir` for reading only, beside a writer that may be running in
    /// another process: no migration (an outdated database is an error asking for a writing
    /// command first) and no index catch-up (the writer keeps the index current).
    pub fn open_reader(data_dir: &Path) -> Result<Store, StoreError> {
        let db_path = data_dir.join(DB_FILE);
        let conn = sqlite::open(&db_path, false)?;
        let version = schema::version(&conn)?;
        let supported = schema::MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StoreError::SchemaTooNew {
                path: db_path,
                found: version,
                supported,
            });
        }
        if version < supported {
            return Err(StoreError::NeedsUpgrade {
                path: db_path,
                found: version,
                supported,
            });
        }
        drop(conn);
        let state = IndexState::open_read_only(&data_dir.join(INDEX_DIR))?;
        Ok(Store {
            dir: data_dir.to_owned(),
            readers: ReadPool::new(db_path.clone()),
            db_path,
            index: RwLock::new(state),
            writer_open: Arc::new(AtomicBool::new(false)),
            chain_key: None,
            aliases: RwLock::default(),
        })
    }

    /// Links written from now on are HMACs with `key`, and `verify` checks keyed links with it.
    pub fn with_chain_key(mut self, key: Option<crate::chain::ChainKey>) -> Store {
        self.chain_key = key;
        self
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    fn state(&self) -> IndexState {
        self.index
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn claim_writer(&self) -> Result<FlagGuard, StoreError> {
        self.writer_open
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map_err(|_| StoreError::WriterBusy(self.dir.clone()))?;
        Ok(FlagGuard(Arc::clone(&self.writer_open)))
    }

    /// The single writer. Fails with [`StoreError::WriterBusy`] if one is already open (here or
    /// in another process).
    pub fn writer(&self) -> Result<Writer, StoreError> {
        let guard = self.claim_writer()?;
        let (conn, dicts) = sqlite::open_with_dictionaries(&self.db_path, true)?;
        let encoder = sqlite::raw::RawEncoder::new(sqlite::raw::Encoder::load(&conn, dicts)?);
        let head = writer::chain_head(&conn)?;
        let state = self.state();
        let iw = state
            .try_writer()?
            .ok_or_else(|| StoreError::WriterBusy(self.dir.clone()))?;
        let (seq, added, cleared) = index::catch_up(&state, &iw, &conn)?;
        let fields = state.fields.clone();
        let indexer = Indexer::spawn(iw, state, seq, added > 0 || cleared)?;
        Writer::new(
            conn,
            head,
            fields,
            indexer,
            guard,
            self.chain_key.clone(),
            encoder,
        )
    }

    /// The newest `req.limit` matching events (after `req.after`), newest first, loaded in full
    /// from SQLite.
    pub fn search(&self, req: &SearchRequest) -> Result<Vec<Event>, StoreError> {
        Ok(self.search_page(req)?.into_iter().map(|(_, e)| e).collect())
    }

    /// [`Store::search`] with each event's seq: the last one's `(time, seq)` is the cursor of the
    /// next page.
    pub fn search_page(&self, req: &SearchRequest) -> Result<Vec<(i64, Event)>, StoreError> {
        let state = self.state();
        state.usable()?;
        let q = query::build(&state.index, &state.fields, req, &Lookups(self))?;
        let seqs = search::top_seqs(&state, q.as_ref(), req.limit)?;
        self.readers.with(|conn| {
            let mut out = Vec::with_capacity(seqs.len());
            for seq in seqs {
                match events::by_seq(conn, seq)? {
                    Some(e) => out.push((seq, e)),
                    // Only if a row was deleted behind the index's back.
                    None => tracing::warn!(seq, "indexed event missing from SQLite"),
                }
            }
            Ok(out)
        })
    }

    /// The number of matching events (`req.limit` is ignored).
    pub fn count(&self, req: &SearchRequest) -> Result<u64, StoreError> {
        let state = self.state();
        state.usable()?;
        let q = query::build(&state.index, &state.fields, req, &Lookups(self))?;
        search::count(&state, q.as_ref())
    }

    /// Walks the hash chain in seq order and reports the first broken link, trusting nothing the
    /// store says about itself: the walk starts at the genesis (or at the base named by the last
    /// `store.purged` record, itself a link of the chain), keyed links are checked with the
    /// store's chain key, every anchor in `anchors` (plus those recorded in the store) must match,
    /// and the chain table's head is compared with the walk's.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        self.verify_with(&[])
    }

    /// [`Store::verify`] against these anchors too (read from an anchor file, a SIEM export).
    pub fn verify_with(
        &self,
        anchors: &[crate::chain::Anchor],
    ) -> Result<VerifyReport, StoreError> {
        self.readers.with(|conn| {
            // One read transaction: a consistent snapshot even while a writer appends.
            let tx = conn
                .unchecked_transaction()
                .map_err(StoreError::sqlite("begin verify"))?;
            let (_, (head_seq, head_hash)) = meta::chain_ends(&tx)?;
            let (base_seq, base_hash) =
                meta::purge_base(&tx)?.unwrap_or((0, crate::chain::ZERO_HASH));
            let mut all = meta::anchors(&tx)?;
            all.extend(anchors.iter().cloned());
            let mut walker = ChainWalker::new(base_seq, base_hash)
                .keyed(self.chain_key.clone(), meta::keyed_from(&tx)?)
                .anchored(all);
            events::for_each_after(&tx, base_seq, i64::MAX, events::COLUMNS, |row| match row {
                Ok((seq, event, hash)) => Ok(walker.check(seq, &event, &hash)),
                Err(StoreError::Corrupt {
                    seq, id, reason, ..
                }) => {
                    walker.undecodable(seq, id, reason);
                    Ok(false)
                }
                Err(e) => Err(e),
            })?;
            let mut report = walker.finish(head_seq, &head_hash);
            // A key configured for a store whose chain never used it: written without the key, or
            // recomputed by someone who did not have it.
            if report.first_broken.is_none()
                && self.chain_key.is_some()
                && report.keyed_from.is_none()
                && report.checked > 0
            {
                report.first_broken = Some(crate::BrokenLink {
                    seq: report.head.0,
                    event_id: String::new(),
                    reason:
                        "[integrity] key is configured but no link of this chain is keyed: the \
                             store was written without the key, or its chain was recomputed"
                            .to_owned(),
                });
            }
            Ok(report)
        })
    }

    /// Every event with `after < seq <= upto` in chain order, with `raw` and its stored link hash,
    /// in one consistent read: `f` returns `false` to stop. (Exports, and recomputing a chain.)
    pub fn chain_segment(
        &self,
        after: i64,
        upto: i64,
        mut f: impl FnMut(i64, Event, Vec<u8>) -> bool,
    ) -> Result<(), StoreError> {
        self.readers.with(|conn| {
            let tx = conn
                .unchecked_transaction()
                .map_err(StoreError::sqlite("begin chain read"))?;
            events::for_each_after(&tx, after, upto, events::COLUMNS, |row| {
                let (seq, e, hash) = row?;
                Ok(f(seq, e, hash))
            })
        })
    }

    /// What retention may drop now: the longest run of the oldest events (in chain order) that
    /// are all past `expired` (given an event's time and source), stopping before any event in
    /// `keep` (e.g. the openers of elevations still open). `None` when nothing can go.
    pub fn purge_plan(
        &self,
        expired: &dyn Fn(DateTime<Utc>, privtrail_model::Source) -> bool,
        keep: &[EventId],
    ) -> Result<Option<crate::PurgePlan>, StoreError> {
        self.readers.with(|conn| {
            let tx = conn
                .unchecked_transaction()
                .map_err(StoreError::sqlite("begin retention plan"))?;
            let mut max_seq = i64::MAX;
            for id in keep {
                if let Some(s) = events::seq_of(&tx, id.as_str())? {
                    max_seq = max_seq.min(s - 1);
                }
            }
            let check = |ns: i64, source: &str| {
                privtrail_model::Source::parse(source)
                    .is_some_and(|s| expired(crate::timefmt::from_nanos(ns), s))
            };
            let (through, n, oldest, newest) = events::expired_prefix(&tx, max_seq, &check)?;
            Ok((through > 0).then(|| crate::PurgePlan {
                through_seq: through,
                events: n,
                oldest: Some(crate::timefmt::from_nanos(oldest)),
                newest: Some(crate::timefmt::from_nanos(newest)),
            }))
        })
    }

    /// From which seq the chain's links are keyed, if any (as the store records it).
    pub fn verify_keyed_from(&self) -> Result<Option<i64>, StoreError> {
        self.readers.with(meta::keyed_from)
    }

    /// The anchors recorded in the store, oldest first.
    pub fn recorded_anchors(&self) -> Result<Vec<crate::chain::Anchor>, StoreError> {
        self.readers.with(meta::anchors)
    }

    /// The chain's head as the chain table records it: `(seq, hash)`.
    pub fn head(&self) -> Result<(i64, crate::chain::Hash), StoreError> {
        self.readers.with(|c| Ok(meta::chain_ends(c)?.1))
    }

    /// Drops the index and rebuilds it from SQLite; returns the number of events indexed.
    ///
    /// The new index is built beside the old one and swapped in when complete, so searches keep
    /// working meanwhile and an interruption leaves the old index in place. Fails with
    /// [`StoreError::WriterBusy`] while a writer is open.
    pub fn reindex(&self) -> Result<u64, StoreError> {
        let _guard = self.claim_writer()?;
        let old = self.state();
        // Hold the live index's lock (if it is healthy) so that another process cannot write to
        // it while it is being replaced.
        let old_lock = match old.try_writer() {
            Ok(Some(w)) => Some(w),
            Ok(None) => return Err(StoreError::WriterBusy(self.dir.clone())),
            Err(e) => {
                tracing::warn!(error = %e, "current index unusable; rebuilding anyway");
                None
            }
        };
        let rebuild_dir = self.dir.join(REBUILD_DIR);
        index::wipe(&rebuild_dir)?;
        let added = {
            let fresh = IndexState::open(&rebuild_dir)?;
            let mut iw = fresh
                .try_writer()?
                .ok_or_else(|| StoreError::WriterBusy(rebuild_dir.clone()))?;
            let (upto, added) = self.readers.with(|conn| {
                let upto = events::max_seq(conn)?;
                Ok((upto, index::feed(&fresh, &iw, conn, 0, upto)?))
            })?;
            index::commit(&mut iw, upto, &rebuild_dir)?;
            iw.wait_merging_threads()
                .map_err(StoreError::index(&rebuild_dir, "finish merges"))?;
            added
        };
        drop(old_lock);
        let live = self.dir.join(INDEX_DIR);
        let old_dir = self.dir.join(OLD_DIR);
        let mut slot = self
            .index
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if live.exists() {
            std::fs::rename(&live, &old_dir).map_err(StoreError::io("move aside", &live))?;
        }
        std::fs::rename(&rebuild_dir, &live).map_err(StoreError::io("move into place", &live))?;
        *slot = IndexState::open(&live)?;
        drop(slot);
        drop(old);
        if let Err(e) = std::fs::remove_dir_all(&old_dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %old_dir.display(), error = %e, "cannot remove old index");
        }
        tracing::info!(events = added, "index rebuilt");
        Ok(added)
    }

    /// Counts and time range.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        self.readers.with(meta::stats)
    }

    /// The newest `limit` rejects, newest first.
    pub fn rejects(&self, limit: usize) -> Result<Vec<StoredReject>, StoreError> {
        self.readers.with(|c| meta::rejects(c, limit))
    }

    /// The newest `limit` conflicting duplicates, newest first.
    pub fn conflicts(&self, limit: usize) -> Result<Vec<crate::StoredConflict>, StoreError> {
        self.readers.with(|c| meta::conflicts(c, limit))
    }

    /// One event by id.
    pub fn get_event(&self, id: &EventId) -> Result<Option<Event>, StoreError> {
        self.readers.with(|c| events::by_id(c, id.as_str()))
    }

    /// The last checkpoint saved for `collector` (also available on the [`Writer`]).
    pub fn checkpoint(&self, collector: &str) -> Result<Option<String>, StoreError> {
        self.readers.with(|c| meta::checkpoint(c, collector))
    }
}

/// What a search asks of SQLite: a principal's identities, an event id's seq.
struct Lookups<'a>(&'a Store);

impl query::Lookup for Lookups<'_> {
    fn identities(&self, who: &str) -> Vec<String> {
        self.0.identities_or_self(who)
    }

    fn seq_of(&self, id: &str) -> Result<Option<i64>, StoreError> {
        self.0.readers.with(|c| events::seq_of(c, id))
    }
}
