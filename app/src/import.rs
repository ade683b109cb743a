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
use privtrail_store::{Store, StoreError, WriteStats};
use serde::Serialize;

use crate::engine::ForwardFn;
use crate::error::{AppError, Result};
use crate::link::link_pim_pairs;
use crate::writer::WriteHandle;

/// Batches handed to the writer and not yet stored, per import.
pub const IN_FLIGHT: usize = 2;

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

/// Stores one batch: links the PIM/Core Directory pairs of Entra records, then writes events,
/// rejects and (when given) the checkpoint that covers them in one transaction.
pub(crate) fn store_batch(
    store: &Arc<Store>,
    writer: &WriteHandle,
    mut batch: Batch,
    checkpoint: Option<(String, String)>,
    origin: &str,
    forward: &ForwardFn,
) -> Result<Pending> {
    let origin = origin.to_owned();
    let store = Arc::clone(store);
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
        let linked = if batch.events.iter().any(|e| e.source == Source::Entra) {
            link_pim_pairs(&store, &mut batch.events)?
        } else {
            0
        };
        let cp = checkpoint.as_ref().map(|(k, v)| (k.as_str(), v.as_str()));
        // A batch holds one source (one file or one page).
        let source = batch.events.first().map_or(Source::Windows, |e| e.source);
        let stats = w.write_prepared(batch.events, raws, &batch.rejects, cp, &*forward)?;
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

/// Imports every input named by `specs` (files, folders, globs).
pub fn import(
    store: &Arc<Store>,
    writer: &WriteHandle,
    specs: &[String],
    opts: &Options,
    progress: &Progress<'_>,
    hook: Option<BatchHook<'_>>,
    forward: &ForwardFn,
) -> Result<ImportSummary> {
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
    for (idx, path) in paths.iter().enumerate() {
        if (progress.stop)() {
            return Err(AppError::Cancelled);
        }
        let (summary, result) =
            import_file(store, writer, path, opts, progress, idx, hook, forward);
        files.push(summary);
        result?;
    }
    if !paths.is_empty() {
        // Everything imported is searchable when this returns.
        writer.call(|w| w.commit())??;
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
    Ok(ImportSummary {
        files,
        total,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Imports one file; the summary is returned even when storing failed (with what was stored).
#[allow(clippy::too_many_arguments)]
pub(crate) fn import_file(
    store: &Arc<Store>,
    writer: &WriteHandle,
    path: &Path,
    opts: &Options,
    progress: &Progress<'_>,
    idx: usize,
    hook: Option<BatchHook<'_>>,
    forward: &ForwardFn,
) -> (FileSummary, Result<()>) {
    let mut summary = FileSummary {
        path: path.display().to_string(),
        ..FileSummary::default()
    };
    let origin = format!("file {}", path.display());
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut failure: Option<AppError> = None;
    let mut stats = WriteStats::default();
    let take =
        |rx: Pending, stats: &mut WriteStats, failure: &mut Option<AppError>| match settle(&rx) {
            Ok((s, _)) => stats.add(s),
            Err(e) => {
                failure.get_or_insert(e);
            }
        };
    let read = {
        let mut sink = |mut batch: Batch| {
            if failure.is_some() || (progress.stop)() {
                return ControlFlow::Break(());
            }
            if let Some(h) = hook {
                h(idx, &mut batch);
            }
            while pending.len() >= IN_FLIGHT {
                if let Some(rx) = pending.pop_front() {
                    take(rx, &mut stats, &mut failure);
                }
            }
            match store_batch(store, writer, batch, None, &origin, forward) {
                Ok(rx) => pending.push_back(rx),
                Err(e) => {
                    failure.get_or_insert(e);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        };
        privtrail_ingest::read_file(path, opts, &|n| (progress.bytes)(idx, n), &mut sink)
    };
    for rx in pending.drain(..) {
        take(rx, &mut stats, &mut failure);
    }
    summary.stored = stats.stored;
    summary.duplicates = stats.duplicates;
    summary.rejected = stats.rejected;
    summary.conflicts = stats.conflicts;
    match read {
        Ok(report) => {
            summary.format = report.format.map(|f| f.to_string());
            summary.records = report.records;
            summary.skipped = report.skipped;
            summary.errors = report.error_count;
            summary.messages = report.errors;
            tracing::info!(file = %path.display(), records = report.records, stored = stats.stored, errors = report.error_count, "file read");
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
