//! [`App`]: an open data directory with its configuration — what every job and service works on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use privtrail_store::Store;

use crate::config::Config;
use crate::deliver::forward_fn;
use crate::engine::{ELEVATION_INDEX, Engine, Evaluation, ForwardFn};
use crate::error::{AppError, Result};
use crate::lock::DataDirLock;
use crate::writer::{WriteHandle, WriterThread};

/// An open store plus the typed configuration, the rules engine and — for a writing process —
/// the data directory's lock and the single writer.
///
/// Open it read-only ([`App::open_reader`]: searches and listings, beside a running daemon) or
/// for writing ([`App::open_writer`]: takes the data directory's lock, then the writer). Share it
/// between threads in an `Arc`; every job takes `&App`.
pub struct App {
    dir: PathBuf,
    store: Arc<Store>,
    config: Arc<Config>,
    engine: Engine,
    forward: ForwardFn,
    writer: Option<WriteHandle>,
    writer_thread: Mutex<Option<WriterThread>>,
    /// One rules evaluation (or alert transition) at a time: they read, decide and write alerts;
    /// and what the rules job keeps between runs.
    rules_lock: Mutex<crate::engine::RulesMemory>,
    _lock: Option<DataDirLock>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("dir", &self.dir)
            .field("writer", &self.writer.is_some())
            .finish_non_exhaustive()
    }
}

impl App {
    /// Opens `dir` for reading only: no lock, no writer. Works while another process (the
    /// daemon) writes.
    pub fn open_reader(dir: &Path, config: Config) -> Result<App> {
        if !dir.join(privtrail_store::DB_FILE).exists() {
            return Err(AppError::Usage(format!(
                "no privtrail store in {} (import something first, or pass --data-dir)",
                dir.display()
            )));
        }
        let store = Store::open_reader(dir)?.with_chain_key(chain_key(&config));
        App::assemble(dir, store, config, None, None, None)
    }

    /// Opens `dir` for writing as `role` (`daemon`, `ingest`, …): takes the data directory's lock
    /// (refused, naming the holder, when another process has it), opens the store and starts the
    /// writer thread.
    pub fn open_writer(dir: &Path, config: Config, role: &str) -> Result<App> {
        let lock = DataDirLock::acquire(dir, role)?;
        if let Some(f) = &config.integrity.anchor_file {
            let abs = std::path::absolute(f).unwrap_or_else(|_| f.clone());
            let data = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
            if abs.starts_with(&data) {
                return Err(AppError::Config(format!(
                    "[integrity] anchor_file {} is inside the data directory: whoever can rewrite the store could rewrite it too; put it elsewhere",
                    f.display()
                )));
            }
        }
        let store = Store::open(dir)?.with_chain_key(chain_key(&config));
        let (writer, thread) = WriteHandle::start(&store)?;
        // The partial index over the events elevations are built from, on the actions the rules
        // declare (recreated when that list changes).
        let names: Vec<&'static str> = privtrail_rules::ELEVATION_INPUTS
            .iter()
            .map(|a| a.as_str())
            .collect();
        writer.call(move |w| w.ensure_action_index(ELEVATION_INDEX, &names))??;
        App::assemble(dir, store, config, Some(lock), Some(writer), Some(thread))
    }

    /// Hands the elevation inputs this process stores from now on to its first rules run as they
    /// commit (see [`crate::engine::Feed`]), so that the run need not read them back: for a
    /// process that imports and then judges (`ingest`, the daemon, the benchmark). Not done for
    /// every writer: it reads the policy joined with the directory (with 100,000 synced users
    /// 0.14 s and 37 MB, which `alerts ack` has no use for).
    pub fn feed_rules(&self) -> Result<()> {
        let (policy, _) = crate::engine::joined_policy(&self.store, &self.engine)?;
        let feed = crate::engine::Feed::new(policy, self.store.first_seq()?);
        let tap = feed.clone();
        self.writer()?.call(move |w| w.tap(|head| tap.tap(head)))?;
        self.rules_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .feed_from(feed);
        Ok(())
    }

    fn assemble(
        dir: &Path,
        store: Store,
        config: Config,
        lock: Option<DataDirLock>,
        writer: Option<WriteHandle>,
        thread: Option<WriterThread>,
    ) -> Result<App> {
        let engine = Engine::from_config(&config)?;
        store.set_identity_map(&engine.policy.identity_map.pairs());
        let config = Arc::new(config);
        Ok(App {
            dir: dir.to_owned(),
            store: Arc::new(store),
            forward: forward_fn(&config),
            config,
            engine,
            writer,
            writer_thread: Mutex::new(thread),
            rules_lock: Mutex::new(crate::engine::RulesMemory::default()),
            _lock: lock,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The event-forwarding function of the configuration (`[[forward]]`).
    pub fn forward(&self) -> &ForwardFn {
        &self.forward
    }

    /// The single writer; an error for an app opened read-only.
    pub fn writer(&self) -> Result<&WriteHandle> {
        self.writer.as_ref().ok_or_else(|| {
            AppError::Usage("this command opened the store read-only and cannot write".into())
        })
    }

    /// Imports `specs` (files, folders, globs) with the configuration's ingest options, no progress
    /// report and no batch hook (see [`crate::import::import`] for those); what it stored is
    /// searchable when it returns.
    pub fn import(&self, specs: &[String]) -> Result<crate::import::ImportSummary> {
        let (summary, searchable) = crate::import::import(
            self.writer()?,
            specs,
            &self.config.ingest_options(&[]),
            &crate::import::Progress::none(),
            None,
            &self.forward,
        )?;
        searchable.wait()?;
        Ok(summary)
    }

    /// Runs the rules job (see [`crate::engine::evaluate`]) until every stored event is judged:
    /// a run that stores reconciliation events runs once more so that those are judged too.
    pub fn rules(&self, now: DateTime<Utc>) -> Result<Evaluation> {
        let writer = self.writer()?;
        let mut memory = self
            .rules_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut total =
            crate::engine::evaluate(&self.store, writer, &self.engine, now, &mut memory)?;
        for _ in 0..2 {
            if total.reconciled == 0 || self.store.last_seq()? <= total.cursor {
                break;
            }
            let more =
                crate::engine::evaluate(&self.store, writer, &self.engine, now, &mut memory)?;
            total.judged += more.judged;
            total.enqueued += more.enqueued;
            total.cursor = more.cursor;
            total.opened.extend(more.opened);
            total.resolved.extend(more.resolved);
            total.elevations = more.elevations;
            total.open_elevations = more.open_elevations;
            total.reconciled = more.reconciled;
            total.inputs_read += more.inputs_read;
        }
        // Publish the head the rules' writes left (at most once per anchor_interval).
        if let Err(e) = crate::anchor::publish(self, now, false) {
            tracing::error!(error = %e, "publishing the chain anchor failed");
        }
        Ok(total)
    }

    /// Holds the rules job off while the holder reads alerts and acts on them without changing
    /// any (remediation's proposals): what the rules job keeps stays valid.
    pub(crate) fn alerts_read_lock(&self) -> std::sync::MutexGuard<'_, crate::engine::RulesMemory> {
        self.rules_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Serializes an alert state change with the rules job (see [`crate::services`]); the rules
    /// job's kept alerts are forgotten, since the holder is about to change some.
    pub(crate) fn alerts_lock(&self) -> std::sync::MutexGuard<'_, crate::engine::RulesMemory> {
        let mut memory = self
            .rules_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        memory.forget_alerts();
        memory
    }

    /// Stops the writer (after the jobs already queued), commits the search index and releases
    /// the data directory. Dropping the app does the same; this waits for it.
    pub fn close(&self) {
        if let Some(w) = &self.writer {
            w.close();
        }
        let thread = self
            .writer_thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(t) = thread {
            t.finish();
        }
    }
}

/// The store's chain key from `[integrity] key`.
fn chain_key(config: &Config) -> Option<privtrail_store::ChainKey> {
    config
        .integrity
        .key
        .as_ref()
        .map(|k| privtrail_store::ChainKey::new(k.expose().as_bytes()))
}

impl Drop for App {
    fn drop(&mut self) {
        self.close();
    }
}
