//! The import pipeline shared by `ingest`, the daemon's watcher, `demo` and `bench`: files are read
//! and normalized on the calling thread while the writer thread stores batches, so parsing and
//! storage overlap. At most [`IN_FLIGHT`] batches wait for the writer: a slow store slows the
//! reader instead of filling memory.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use privtrail_ingest::{Batch, Options};
use privtrail_model::Source;
use privtrail_store::{StoreError, WriteStats};
use serde::Serialize;

use crate::engine::ForwardFn;
use crate::error::{AppError, Result};
use crate::link::link_pim_pairs;
use crate::writer::WriteHandle;

/// Batches handed to the writer and not yet stored, per import.
pub const IN_FLIGHT: usize = 2;

/// Events stored by one import after which the writer's page cache is freed at its end (see
/// `Writer::release_cache`): the pages of a large import are not what comes next needs, and the
/// rules run that follows an import has its own peak.
const RELEASE_AFTER: u64 = 100_000;

/// What happened to one input.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileSummary {
    pub path: String,
    pub format: Option<String>,
    pub records: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Records with the id of a stored event but other content (kept, and alerted on).
    pub conflicts: u64,
    pub skipped: u64,
    /// Damage found while reading (EVTX chunk errors, truncated data).
    pub errors: u64,
    /// The first error messages, each naming where.
    pub messages: Vec<String>,
    /// Set when the input could not be read at all.
    pub failed: Option<String>,
}

/// What happened to all inputs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub files: Vec<FileSummary>,
    pub total: FileSummary,
    pub seconds: f64,
}

impl ImportSummary {
    /// Inputs that could not be read at all (the `ingest` exit status depends on it).
    pub fn failed_inputs(&self) -> usize {
        self.files.iter().filter(|f| f.failed.is_some()).count()
    }
}

/// A change applied to every batch before it is stored (the benchmark uses it to make copies of
/// one file distinct), called with the input's index.
pub type BatchHook<'a> = &'a (dyn Fn(usize, &mut Batch) + Sync);

/// How an import reports progress and learns that it should stop.
pub struct Progress<'a> {
    /// The files about to be read (once, before the first).
    pub start: &'a dyn Fn(&[std::path::PathBuf]),
    /// Bytes of the current file consumed (file index, bytes).
    pub bytes: &'a dyn Fn(usize, u64),
    /// Polled between batches: `true` stops the import after the batches already handed over.
    pub stop: &'a dyn Fn() -> bool,
}

impl std::fmt::Debug for Progress<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress").finish_non_exhaustive()
    }
}

impl Progress<'_> {
    /// No progress display, never stops.
    pub fn none() -> Progress<'static> {
        Progress {
            start: &|_| {},
            bytes: &|_, _| {},
            stop: &|| false,
        }
    }
}

/// How a batch's transaction commits ([`store_batch`]): `Grouped` batches may share one (the
/// importer learns of a lost group from `Writer::end_group`, [`Inflight::drain`]). Entra batches
/// may too: linking reads the stored records through the writer's connection, which sees the
/// group's.
pub(crate) use privtrail_store::Commit;

/// Stores one batch: links the PIM/Core Directory pairs of Entra records, then writes events,
/// rejects and (when given) the checkpoint that covers them in one transaction.
pub(crate) fn store_batch(
    writer: &WriteHandle,
    mut batch: Batch,
    checkpoint: Option<(String, String)>,
    origin: &str,
    commit: Commit,
    forward: &ForwardFn,
) -> Result<Pending> {
    let origin = origin.to_owned();
    let forward = Arc::clone(forward);
    let handle = writer.clone();
    // Compressed here, on the producer's thread, while the writer stores earlier batches. An
    // Entra batch is put in time order first, as linking (on the writer) would, so that the
    // compressed records still line up with their events.
    if batch.events.iter().any(|e| e.source == Source::Entra) {
        batch.events.sort_by_key(|e| e.time);
    }
    let raws = writer.raw_encoder().prepare(&batch.events);
    writer.submit(move |w| {
        let started = std::time::Instant::now();
        w.set_origin(&origin);
        // Entra imports: the PIM and Core Directory records of one change count once (linking
        // sets `linked_to`, never `raw`, so the compressed records still match).
        let entra = batch.events.iter().any(|e| e.source == Source::Entra);
        let linked = if entra {
            link_pim_pairs(w, &mut batch.events)?
        } else {
            0
        };
        let cp = checkpoint.as_ref().map(|(k, v)| (k.as_str(), v.as_str()));
        // A batch holds one source (one file or one page).
        let source = batch.events.first().map_or(Source::Windows, |e| e.source);
        let stats = w.write_prepared(batch.events, raws, &batch.rejects, cp, &*forward, commit)?;
        handle.telemetry().batch(
            source,
            stats.stored,
            stats.duplicates,
            stats.rejected,
            started.elapsed(),
        );
        Ok((stats, linked as u64))
    })
}

/// A batch handed to the writer: its stats and the number of PIM pairs linked, once stored.
pub(crate) type Pending =
    crossbeam_channel::Receiver<std::result::Result<(WriteStats, u64), StoreError>>;

/// Waits for a batch handed to the writer.
pub(crate) fn settle(rx: &Pending) -> Result<(WriteStats, u64)> {
    match rx.recv() {
        Ok(r) => Ok(r?),
        Err(_) => Err(AppError::WriterStopped(
            "the writer thread ended during a write".into(),
        )),
    }
}

/// Everything stored by an import becomes searchable once [`Searchable::wait`] returns: the
/// search index's last commit of an import runs on the indexing thread while the caller does what
/// does not need it (the rules run after `privtrail ingest`: they read SQLite).
#[derive(Debug)]
#[must_use = "the import is only searchable after `wait`"]
pub struct Searchable(Option<privtrail_store::IndexCommit>);

impl Searchable {
    /// Returns once the import's last index commit is done (at once for an import of nothing).
    pub fn wait(self) -> Result<()> {
        match self.0 {
            Some(commit) => Ok(commit.wait()?),
            None => Ok(()),
        }
    }
}

/// Imports every input named by `specs` (files, folders, globs). What it stored is searchable once
/// the returned [`Searchable`] is waited for: the caller may do first what does not need the index.
pub fn import(
    writer: &WriteHandle,
    specs: &[String],
    opts: &Options,
    progress: &Progress<'_>,
    hook: Option<BatchHook<'_>>,
    forward: &ForwardFn,
) -> Result<(ImportSummary, Searchable)> {
    let started = Instant::now();
    let (paths, expand_errors) = privtrail_ingest::expand_inputs(specs);
    let mut files: Vec<FileSummary> = expand_errors
        .iter()
        .map(|e| FileSummary {
            path: String::new(),
            failed: Some(e.to_string()),
            ..FileSummary::default()
        })
        .collect();
    (progress.start)(&paths);
    // One queue of batches in flight across files: the next file is read while the last
    // batches of the previous one are stored (a folder of small EVTX files would otherwise
    // leave one core idle at every file boundary).
    let mut inflight = Inflight::default();
    let first = files.len();
    let mut failure = None;
    for (idx, path) in paths.iter().enumerate() {
        if (progress.stop)() {
            failure = Some(AppError::Cancelled);
            break;
        }
        let slot = files.len();
        let (summary, result) = read_file_into(
            writer,
            path,
            opts,
            progress,
            idx,
            hook,
            forward,
            (slot, &mut inflight),
        );
        files.push(summary);
        if let Err(e) = result {
            failure = Some(e);
            break;
        }
        if inflight.failed() {
            break;
        }
    }
    inflight.drain(writer);
    for (slot, f) in files.iter_mut().enumerate().skip(first) {
        f.add_stored(&inflight.stats(slot));
    }
    if let Some(e) = failure.or_else(|| inflight.take_failure()) {
        return Err(e);
    }
    let mut searchable = Searchable(None);
    if !paths.is_empty() {
        searchable = Searchable(Some(writer.call(|w| w.request_commit())?));
        if files.iter().map(|f| f.stored).sum::<u64>() >= RELEASE_AFTER {
            writer.call(|w| w.release_cache())??;
        }
        writer.notify_stored();
    }
    let mut total = FileSummary {
        path: "total".into(),
        ..FileSummary::default()
    };
    for f in &files {
        total.records += f.records;
        total.stored += f.stored;
        total.duplicates += f.duplicates;
        total.rejected += f.rejected;
        total.conflicts += f.conflicts;
        total.skipped += f.skipped;
        total.errors += f.errors + u64::from(f.failed.is_some());
    }
    Ok((
        ImportSummary {
            files,
            total,
            seconds: started.elapsed().as_secs_f64(),
        },
        searchable,
    ))
}

/// Imports one file; the summary is returned even when storing failed (with what was stored).
#[allow(clippy::too_many_arguments)]
pub(crate) fn import_file(
    writer: &WriteHandle,
    path: &Path,
    opts: &Options,
    progress: &Progress<'_>,
    idx: usize,
    hook: Option<BatchHook<'_>>,
    forward: &ForwardFn,
) -> (FileSummary, Result<()>) {
    let mut inflight = Inflight::default();
    let (mut summary, result) = read_file_into(
        writer,
        path,
        opts,
        progress,
        idx,
        hook,
        forward,
        (0, &mut inflight),
    );
    inflight.drain(writer);
    summary.add_stored(&inflight.stats(0));
    let failure = result.err().or_else(|| inflight.take_failure());
    (summary, failure.map_or(Ok(()), Err))
}

impl FileSummary {
    /// What the writer did with the file's batches.
    fn add_stored(&mut self, s: &WriteStats) {
        self.stored += s.stored;
        self.duplicates += s.duplicates;
        self.rejected += s.rejected;
        self.conflicts += s.conflicts;
    }
}

/// Batches handed to the writer and not yet settled, with the file (slot) each belongs to, and
/// what the settled ones stored per file.
#[derive(Default)]
struct Inflight {
    pending: VecDeque<(usize, Pending)>,
    stats: Vec<WriteStats>,
    failure: Option<AppError>,
}

impl Inflight {
    fn settle_one(&mut self) {
        let Some((slot, rx)) = self.pending.pop_front() else {
            return;
        };
        match settle(&rx) {
            Ok((s, _)) => {
                if self.stats.len() <= slot {
                    self.stats.resize_with(slot + 1, WriteStats::default);
                }
                self.stats[slot].add(s);
            }
            Err(e) => {
                self.failure.get_or_insert(e);
            }
        }
    }

    fn push(&mut self, slot: usize, rx: Pending) {
        while self.pending.len() >= IN_FLIGHT {
            self.settle_one();
        }
        self.pending.push_back((slot, rx));
    }

    /// Settles every batch, then commits the ones still grouped ([`Commit::Grouped`]): a group
    /// that could not be committed is this import's failure.
    fn drain(&mut self, writer: &WriteHandle) {
        while !self.pending.is_empty() {
            self.settle_one();
        }
        match writer.call(|w| w.end_group()) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.failure.get_or_insert(e.into());
            }
            Err(e) => {
                self.failure.get_or_insert(e);
            }
        }
    }

    fn stats(&self, slot: usize) -> WriteStats {
        self.stats.get(slot).copied().unwrap_or_default()
    }

    fn failed(&self) -> bool {
        self.failure.is_some()
    }

    fn take_failure(&mut self) -> Option<AppError> {
        self.failure.take()
    }
}

/// Reads one file and hands its batches to the writer through `inflight` (not waiting for the
/// last ones); the summary's stored counts come from `inflight` once settled.
#[allow(clippy::too_many_arguments)]
fn read_file_into(
    writer: &WriteHandle,
    path: &Path,
    opts: &Options,
    progress: &Progress<'_>,
    idx: usize,
    hook: Option<BatchHook<'_>>,
    forward: &ForwardFn,
    (slot, inflight): (usize, &mut Inflight),
) -> (FileSummary, Result<()>) {
    let mut summary = FileSummary {
        path: path.display().to_string(),
        ..FileSummary::default()
    };
    let origin = format!("file {}", path.display());
    let mut failure: Option<AppError> = None;
    let read = {
        let mut sink = |mut batch: Batch| {
            if failure.is_some() || inflight.failed() || (progress.stop)() {
                return ControlFlow::Break(());
            }
            if let Some(h) = hook {
                h(idx, &mut batch);
            }
            match store_batch(writer, batch, None, &origin, Commit::Grouped, forward) {
                Ok(rx) => inflight.push(slot, rx),
                Err(e) => {
                    failure.get_or_insert(e);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        };
        privtrail_ingest::read_file(path, opts, &|n| (progress.bytes)(idx, n), &mut sink)
    };
    match read {
        Ok(report) => {
            summary.format = report.format.map(|f| f.to_string());
            summary.records = report.records;
            summary.skipped = report.skipped;
            summary.errors = report.error_count;
            summary.messages = report.errors;
            tracing::info!(file = %path.display(), records = report.records, errors = report.error_count, "file read");
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "input could not be read");
            summary.failed = Some(e.to_string());
        }
    }
    if failure.is_none() && (progress.stop)() {
        failure = Some(AppError::Cancelled);
    }
    (summary, failure.map_or(Ok(()), Err))
}
