//! `privtrail bench ingest`: end-to-end ingest throughput (read, parse, normalize, SQLite, tantivy
//! committed) and peak resident memory, on generated events and on a real EVTX file repeated.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use privtrail_app::import::{self, Progress};
use privtrail_app::{App, Config};
use privtrail_ingest::{Batch, Options};
use privtrail_model::EventId;
use serde::Serialize;

use crate::cli::{BenchCommand, BenchIngestArgs};

#[derive(Debug, Serialize)]
struct Run {
    workload: String,
    records: u64,
    stored: u64,
    /// Of `seconds`: rebuilding elevations and running the rules after the import.
    rules_seconds: f64,
    alerts: usize,
    seconds: f64,
    events_per_sec: f64,
    peak_rss_mb: Option<f64>,
}

pub fn run(cmd: BenchCommand, config: &Config) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Ingest(args) => ingest(&args, config),
        BenchCommand::Delivery(args) => super::bench_delivery::run(&args, config),
        BenchCommand::Daemon(args) => super::bench_daemon::run(&args),
        BenchCommand::Api(args) => super::bench_api::run(&args),
    }
}

fn ingest(args: &BenchIngestArgs, config: &Config) -> Result<ExitCode> {
    let (work, _tmp) = work_dir(args.work_dir.as_deref(), "privtrail-bench-")?;
    let opts = config.ingest_options(&[]);
    let mut runs = Vec::new();

    if args.events > 0 {
        let file = work.join("generated.jsonl");
        eprintln!(
            "writing {} generated events to {} …",
            args.events,
            file.display()
        );
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&file)?);
        privtrail_sim::write_bulk_jsonl(args.events, 42, &mut w)?;
        w.flush()?;
        drop(w);
        let label = format!("generated Winlogbeat JSON lines ({} events)", args.events);
        runs.push(measure(
            &label,
            &work.join("store-generated"),
            &[file],
            &opts,
            config,
            None,
        )?);
    }

    if args.graph > 0 {
        let file = work.join("graph-pages.jsonl");
        eprintln!(
            "writing {} generated Graph audit records to {} …",
            args.graph,
            file.display()
        );
        write_graph_pages(args.graph, &file)?;
        let label = format!("generated Graph JSON pages ({} records)", args.graph);
        runs.push(measure(
            &label,
            &work.join("store-graph"),
            &[file],
            &opts,
            config,
            None,
        )?);
    }

    if args.evtx_repeat > 0 {
        if !args.evtx.is_file() {
            bail!("EVTX file {} not found (pass --evtx)", args.evtx.display());
        }
        // Copies under distinct names (hard links where possible): the importer reads each named
        // file once.
        let copies = work.join("evtx-copies");
        std::fs::create_dir_all(&copies)?;
        let mut files = Vec::with_capacity(args.evtx_repeat as usize);
        for i in 0..args.evtx_repeat {
            let dst = copies.join(format!("copy-{i:04}.evtx"));
            if !dst.exists() && std::fs::hard_link(&args.evtx, &dst).is_err() {
                std::fs::copy(&args.evtx, &dst).with_context(|| {
                    format!("cannot copy {} to {}", args.evtx.display(), dst.display())
                })?;
            }
            files.push(dst);
        }
        // Each copy gets its own stream id, so copies are stored instead of deduplicated.
        let salt = |idx: usize, batch: &mut Batch| {
            for e in &mut batch.events {
                let host = format!("{}#{idx}", e.host.as_deref().unwrap_or(""));
                // Same id scheme as a real record (ordered within its stream), under another host.
                let record = e
                    .record_id
                    .as_deref()
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0);
                e.id = EventId::windows(&host, "Security", record);
                e.host = Some(host);
            }
        };
        let label = format!(
            "{} x{}",
            args.evtx
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            args.evtx_repeat
        );
        runs.push(measure(
            &label,
            &work.join("store-evtx"),
            &files,
            &opts,
            config,
            Some(&salt),
        )?);
    }

    if args.json {
        for r in &runs {
            println!("{}", serde_json::to_string(r)?);
        }
    } else {
        println!(
            "{:<52} {:>10} {:>10} {:>8} {:>7} {:>10} {:>9}",
            "workload", "records", "stored", "seconds", "rules", "events/s", "peak RSS"
        );
        for r in &runs {
            println!(
                "{:<52} {:>10} {:>10} {:>8.2} {:>7.2} {:>10.0} {:>9}",
                r.workload,
                r.records,
                r.stored,
                r.seconds,
                r.rules_seconds,
                r.events_per_sec,
                r.peak_rss_mb
                    .map(|m| format!("{m:.0} MB"))
                    .unwrap_or_else(|| "n/a".into())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn measure(
    label: &str,
    store_dir: &Path,
    files: &[PathBuf],
    opts: &Options,
    config: &Config,
    hook: Option<import::BatchHook<'_>>,
) -> Result<Run> {
    if store_dir.exists() {
        std::fs::remove_dir_all(store_dir)
            .with_context(|| format!("cannot clear {}", store_dir.display()))?;
    }
    // The bench's own store, with the configuration's rules and forwarding.
    let app = App::open_writer(store_dir, config.clone(), "bench")?;
    reset_peak_rss();
    eprintln!("importing: {label} …");
    let started = Instant::now();
    let specs: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let summary = import::import(
        app.store(),
        app.writer()?,
        &specs,
        opts,
        &Progress::none(),
        hook,
        app.forward(),
    )?;
    let import_seconds = started.elapsed().as_secs_f64();
    // The rules run after every ingest, so their cost is part of ingest throughput.
    let evaluation = app.rules(chrono::Utc::now())?;
    // The index committed: every stored event is searchable when the clock stops.
    app.close();
    let seconds = started.elapsed().as_secs_f64();
    if summary.failed_inputs() > 0 {
        bail!(
            "the benchmark input could not be read: {:?}",
            summary.files[0].failed
        );
    }
    Ok(Run {
        workload: label.to_owned(),
        records: summary.total.records,
        stored: summary.total.stored,
        rules_seconds: seconds - import_seconds,
        alerts: evaluation.opened.len(),
        seconds,
        events_per_sec: summary.total.stored as f64 / seconds,
        peak_rss_mb: peak_rss_mb(),
    })
}

/// The benchmark's working folder: `given`, or a new temporary one (removed when the guard drops).
pub(super) fn work_dir(
    given: Option<&Path>,
    prefix: &str,
) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    match given {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            Ok((d.to_owned(), None))
        }
        None => {
            let t = tempfile::Builder::new().prefix(prefix).tempdir()?;
            Ok((t.path().to_path_buf(), Some(t)))
        }
    }
}

/// Linux: writing 5 to clear_refs resets the peak (VmHWM), so each workload reports its own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Graph `directoryAudits` pages (999 records each, one page per line), made from the simulated
/// tenant's records with fresh ids, correlation ids and times, so nothing dedupes.
fn write_graph_pages(n: u64, path: &Path) -> Result<()> {
    let now = chrono::Utc::now();
    let templates = privtrail_sim::scenario(now, 1).audits;
    if templates.is_empty() {
        bail!("the simulated tenant has no audit records");
    }
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut page = Vec::with_capacity(999);
    for i in 0..n {
        let mut r = templates[(i as usize) % templates.len()].clone();
        let t = now - chrono::Duration::milliseconds(i as i64 * 250);
        r["id"] = serde_json::Value::String(format!("bench-{i:012}"));
        r["correlationId"] = serde_json::Value::String(format!("00000000-0000-4000-8000-{i:012}"));
        r["activityDateTime"] = serde_json::Value::String(privtrail_model::format_time(t));
        page.push(r);
        if page.len() == 999 || i + 1 == n {
            serde_json::to_writer(&mut w, &serde_json::json!({ "value": page }))?;
            w.write_all(b"\n")?;
            page.clear();
        }
    }
    w.flush()?;
    Ok(())
}
