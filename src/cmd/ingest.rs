//! `privtrail ingest PATH…`

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use privtrail_app::App;
use privtrail_app::import::{self, ImportSummary, Progress};

use crate::cli::IngestArgs;

pub fn run(app: &App, args: &IngestArgs) -> Result<ExitCode> {
    // The rules run after the import then reads back only what this process did not store.
    app.feed_rules()?;
    let mut opts = app.config().ingest_options(&args.channels);
    opts.format = args.format;
    opts.tenant = args.tenant.clone();
    opts.host = args.host.clone();
    let bar = Bar::new(!args.json && std::io::stderr().is_terminal());
    let start = |paths: &[PathBuf]| bar.start(paths);
    let bytes = |idx: usize, n: u64| bar.at(idx, n);
    let progress = Progress {
        start: &start,
        bytes: &bytes,
        stop: &|| false,
    };
    let (summary, searchable) = import::import(
        app.writer()?,
        &args.paths,
        &opts,
        &progress,
        None,
        app.forward(),
    )?;
    bar.done();
    // Rules run after every ingest (SPEC §4), from the stored cursor: whatever an earlier process
    // stored and did not judge is judged now too. They read SQLite, not the index, so the index's
    // last commit runs meanwhile.
    let evaluation = app.rules(Utc::now())?;
    searchable.wait()?;
    if args.json {
        let mut v = serde_json::to_value(&summary)?;
        v["alerts_opened"] = serde_json::json!(evaluation.opened.len());
        v["elevations"] = serde_json::json!(evaluation.elevations);
        println!("{v}");
    } else {
        print_summary(&summary, &mut std::io::stdout().lock())?;
        super::print_evaluation(&evaluation);
    }
    // Damaged inputs that still yielded records are reported, not failed: only an input that
    // could not be read at all makes the run fail.
    Ok(if summary.failed_inputs() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The progress bar of a long import (hidden when stderr is not a terminal).
pub struct Bar {
    bar: ProgressBar,
    offsets: std::sync::Mutex<Vec<u64>>,
}

impl Bar {
    pub fn new(visible: bool) -> Bar {
        let bar = if visible {
            let b = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            ) {
                b.set_style(style);
            }
            b.enable_steady_tick(Duration::from_millis(120));
            b
        } else {
            ProgressBar::hidden()
        };
        Bar {
            bar,
            offsets: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn start(&self, paths: &[PathBuf]) {
        let mut offsets = Vec::with_capacity(paths.len());
        let mut total = 0;
        for p in paths {
            offsets.push(total);
            total += std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        }
        self.bar.set_length(total);
        if let Ok(mut o) = self.offsets.lock() {
            *o = offsets;
        }
    }

    pub fn at(&self, idx: usize, n: u64) {
        let base = self
            .offsets
            .lock()
            .ok()
            .and_then(|o| o.get(idx).copied())
            .unwrap_or(0);
        self.bar.set_position(base + n);
    }

    pub fn done(&self) {
        self.bar.finish_and_clear();
    }
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
        "{:<name_w$}  {:<10} {:>9} {:>9} {:>10} {:>9} {:>8} {:>8} {:>7}",
        "input",
        "format",
        "read",
        "stored",
        "duplicates",
        "conflicts",
        "rejected",
        "skipped",
        "errors"
    )?;
    for f in s.files.iter().chain(std::iter::once(&s.total)) {
        let errors = f.errors + u64::from(f.failed.is_some());
        writeln!(
            out,
            "{:<name_w$}  {:<10} {:>9} {:>9} {:>10} {:>9} {:>8} {:>8} {:>7}",
            truncate(&display_name(f), name_w),
            f.format
                .as_deref()
                .unwrap_or(if f.failed.is_some() { "-" } else { "" }),
            f.records,
            f.stored,
            f.duplicates,
            f.conflicts,
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
    if s.total.conflicts > 0 {
        writeln!(
            out,
            "warning: {} records carried the id of a stored event but said something else: both are kept (`privtrail search action:evidence.conflict`)",
            s.total.conflicts
        )?;
    }
    for f in &s.files {
        if let Some(why) = &f.failed {
            writeln!(out, "error: {}", crate::output::terminal_safe(why))?;
        }
        for m in &f.messages {
            writeln!(out, "warning: {}", crate::output::terminal_safe(m))?;
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

fn display_name(f: &import::FileSummary) -> String {
    if f.path.is_empty() {
        "(unmatched input)".into()
    } else {
        crate::output::terminal_safe(&f.path)
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
