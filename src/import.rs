//! The import pipeline shared by `ingest`, `demo` and `bench`: files are read and normalized on
//! the calling thread while one writer thread stores batches, so parsing and storage overlap
//! (the channel between them is bounded: a slow store slows the reader instead of filling memory).

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use privtrail_ingest::{Batch, Options};
use privtrail_model::Source;
use privtrail_store::{Store, WriteStats};

use crate::link::link_pim_pairs;
use serde::Serialize;

/// What happened to one input.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileSummary {
    pub path: String,
    pub format: Option<String>,
    pub records: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub rejected: u64,
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
/// one file distinct).
pub type BatchHook<'a> = &'a (dyn Fn(usize, &mut Batch) + Sync);

/// Outbox entries for a stored event (event forwarding), written in the event's transaction.
pub type Forward<'a> =
    &'a (dyn Fn(&privtrail_model::Event) -> Vec<privtrail_store::OutboxEntry> + Sync);

/// Imports every input named by `specs` (files, folders, globs) into `store`.
pub fn import(
    store: &Store,
    specs: &[String],
    opts: &Options,
    progress: bool,
    hook: Option<BatchHook<'_>>,
    forward: Forward<'_>,
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
    let first = files.len();
    files.extend(paths.iter().map(|p| FileSummary {
        path: p.display().to_string(),
        ..FileSummary::default()
    }));

    let sizes: Vec<u64> = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .collect();
    let bar = progress_bar(
        progress && std::io::stderr().is_terminal(),
        sizes.iter().sum(),
    );

    let mut writer = store
        .writer()
        .context("cannot open the store for writing")?;
    let (tx, rx) = crossbeam_channel::bounded::<(usize, Batch)>(4);
    let n_paths = paths.len();
    let (stats, write_result) = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn_scoped(scope, move || -> (Vec<WriteStats>, Result<()>) {
                let mut stats = vec![WriteStats::default(); n_paths];
                for (idx, mut batch) in rx {
                    // Entra imports: the PIM and Core Directory records of one change count once.
                    if batch.events.iter().any(|e| e.source == Source::Entra)
                        && let Err(e) = link_pim_pairs(store, &mut batch.events)
                    {
                        let e = anyhow!(e).context("linking PIM records failed");
                        return (stats, Err(e));
                    }
                    match writer.write_batch_with_outbox(
                        &batch.events,
                        &batch.rejects,
                        None,
                        forward,
                    ) {
                        Ok(s) => {
                            let t = &mut stats[idx];
                            t.stored += s.stored;
                            t.duplicates += s.duplicates;
                            t.rejected += s.rejected;
                        }
                        // Dropping the receiver stops the reader at its next batch.
                        Err(e) => return (stats, Err(anyhow!(e).context("storing events failed"))),
                    }
                }
                let commit = writer
                    .commit()
                    .context("committing the search index failed");
                (stats, commit)
            });
        let writer_thread = match spawned {
            Ok(t) => t,
            Err(e) => {
                let e = anyhow!(e).context("cannot start the store writer thread");
                return (Vec::new(), Err(e));
            }
        };

        let mut done_bytes = 0u64;
        for (idx, path) in paths.iter().enumerate() {
            let summary = &mut files[first + idx];
            bar.set_message(short_name(path));
            let base = done_bytes;
            let progress = |n: u64| bar.set_position(base + n);
            let mut sink = |mut batch: Batch| {
                if let Some(h) = hook {
                    h(idx, &mut batch);
                }
                match tx.send((idx, batch)) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                }
            };
            match privtrail_ingest::read_file(path, opts, &progress, &mut sink) {
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
            done_bytes += sizes[idx];
            bar.set_position(done_bytes);
        }
        drop(tx);
        match writer_thread.join() {
            Ok(r) => r,
            Err(_) => (Vec::new(), Err(anyhow!("the store writer thread panicked"))),
        }
    });
    bar.finish_and_clear();

    for (i, s) in stats.iter().enumerate() {
        let f = &mut files[first + i];
        f.stored = s.stored;
        f.duplicates = s.duplicates;
        f.rejected = s.rejected;
    }
    write_result?;

    let mut total = FileSummary {
        path: "total".into(),
        ..FileSummary::default()
    };
    for f in &files {
        total.records += f.records;
        total.stored += f.stored;
        total.duplicates += f.duplicates;
        total.rejected += f.rejected;
        total.skipped += f.skipped;
        total.errors += f.errors + u64::from(f.failed.is_some());
    }
    Ok(ImportSummary {
        files,
        total,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn short_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn progress_bar(visible: bool, total: u64) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Prints the per-file and total summary as a table.
pub fn print_summary(s: &ImportSummary, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let name_w = s
        .files
        .iter()
        .map(|f| display_name(f).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(5, 60);
    writeln!(
        out,
        "{:<name_w$}  {:<10} {:>9} {:>9} {:>10} {:>8} {:>8} {:>7}",
        "input", "format", "read", "stored", "duplicates", "rejected", "skipped", "errors"
    )?;
    for f in s.files.iter().chain(std::iter::once(&s.total)) {
        let errors = f.errors + u64::from(f.failed.is_some());
        writeln!(
            out,
            "{:<name_w$}  {:<10} {:>9} {:>9} {:>10} {:>8} {:>8} {:>7}",
            truncate(&display_name(f), name_w),
            f.format
                .as_deref()
                .unwrap_or(if f.failed.is_some() { "-" } else { "" }),
            f.records,
            f.stored,
            f.duplicates,
            f.rejected,
            f.skipped,
            errors
        )?;
    }
    let secs = s.seconds.max(1e-9);
    writeln!(
        out,
        "{} events stored in {:.2} s ({:.0} records/s)",
        s.total.stored,
        s.seconds,
        s.total.records as f64 / secs
    )?;
    for f in &s.files {
        if let Some(why) = &f.failed {
            writeln!(out, "error: {why}")?;
        }
        for m in &f.messages {
            writeln!(out, "warning: {m}")?;
        }
        if f.errors as usize > f.messages.len() {
            writeln!(
                out,
                "warning: {}: {} more errors not shown",
                display_name(f),
                f.errors as usize - f.messages.len()
            )?;
        }
    }
    Ok(())
}

fn display_name(f: &FileSummary) -> String {
    if f.path.is_empty() {
        "(unmatched input)".into()
    } else {
        f.path.clone()
    }
}

fn truncate(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_owned();
    }
    let tail: String = s.chars().skip(n - (w - 1)).collect();
    format!("…{tail}")
}
