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
    /// CPU time (user + system, all threads) per stored event: comparable across machines.
    cpu_us_per_event: Option<f64>,
    /// CPU time over wall time.
    cores_used: Option<f64>,
    /// Events the store held before the measured import (`--stored`).
    stored_before: u64,
    /// The data directory's size after the import (closed) over every event it holds.
    disk_bytes_per_event: Option<f64>,
    /// Bytes the process wrote to storage during the import, per stored event.
    written_bytes_per_event: Option<f64>,
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
    let fill = if args.stored > 0 {
        let file = work.join("fill.jsonl");
        let lines = args.stored.min(FILL_FILE_LINES);
        write_generated(&file, lines, 7)?;
        Some(Fill {
            file,
            lines,
            total: args.stored,
            older: args.stored_older,
        })
    } else {
        None
    };
    let fill = fill.as_ref();
    let mut generated = None;

    if args.events > 0 {
        let file = work.join("generated.jsonl");
        write_generated(&file, args.events, 42)?;
        let label = format!("generated Winlogbeat JSON lines ({} events)", args.events);
        runs.push(measure(
            &label,
            &work.join("store-generated"),
            std::slice::from_ref(&file),
            &opts,
            config,
            None,
            fill,
        )?);
        generated = Some(file);
    }

    if args.graph > 0 {
        let file = work.join(GRAPH_FILE);
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
            fill,
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
        let salt = |idx: usize, batch: &mut Batch| rehost(batch, |h| format!("{h}#{idx}"));
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
            fill,
        )?);
    }

    let references = if args.reference {
        references(args, generated.as_deref(), &work, &opts)?
    } else {
        Vec::new()
    };

    if args.json {
        for r in &runs {
            println!("{}", serde_json::to_string(r)?);
        }
        for r in &references {
            println!("{}", serde_json::to_string(r)?);
        }
    } else {
        println!(
            "{:<52} {:>10} {:>10} {:>8} {:>7} {:>10} {:>8} {:>6} {:>8} {:>9} {:>9}",
            "workload",
            "stored",
            "before",
            "seconds",
            "rules",
            "events/s",
            "CPU µs/e",
            "cores",
            "disk B/e",
            "written/e",
            "peak RSS"
        );
        let opt = |v: Option<f64>, digits: usize| {
            v.map(|x| format!("{x:.digits$}"))
                .unwrap_or_else(|| "n/a".into())
        };
        for r in &runs {
            println!(
                "{:<52} {:>10} {:>10} {:>8.2} {:>7.2} {:>10.0} {:>8} {:>6} {:>8} {:>9} {:>9}",
                r.workload,
                r.stored,
                r.stored_before,
                r.seconds,
                r.rules_seconds,
                r.events_per_sec,
                opt(r.cpu_us_per_event, 1),
                opt(r.cores_used, 2),
                opt(r.disk_bytes_per_event, 0),
                opt(r.written_bytes_per_event, 0),
                r.peak_rss_mb
                    .map(|m| format!("{m:.0} MB"))
                    .unwrap_or_else(|| "n/a".into())
            );
        }
        if !references.is_empty() {
            println!();
            let title = "reference (components alone)";
            // As wide as the longest label, so that the numbers line up.
            let w = references
                .iter()
                .map(|r| r.reference.chars().count())
                .chain([title.len()])
                .max()
                .unwrap_or_default();
            println!(
                "{title:<w$} {:>10} {:>8} {:>10} {:>8}",
                "events", "seconds", "events/s", "CPU µs/e"
            );
            for r in &references {
                println!(
                    "{:<w$} {:>10} {:>8.2} {:>10.0} {:>8}",
                    r.reference,
                    r.events,
                    r.seconds,
                    r.events_per_sec,
                    opt(r.cpu_us_per_event, 1)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Moves every event of `batch` to another host (`host_of` its host), with the id a real record
/// of that host would have (ordered within its stream): copies of one input are stored, not
/// deduplicated.
fn rehost(batch: &mut Batch, host_of: impl Fn(&str) -> String) {
    for e in &mut batch.events {
        let host = host_of(e.host.as_deref().unwrap_or(""));
        let record = e
            .record_id
            .as_deref()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0);
        e.id = EventId::windows(&host, "Security", record);
        e.host = Some(host);
    }
}

/// Lines of the generated file a `--stored` fill imports again and again.
const FILL_FILE_LINES: u64 = 1_000_000;
/// The generated Graph pages, in the work directory.
const GRAPH_FILE: &str = "graph-pages.jsonl";
/// Events the bare SQLite and tantivy references store.
const REFERENCE_EVENTS: usize = 200_000;

fn write_generated(file: &Path, events: u64, seed: u64) -> Result<()> {
    eprintln!("writing {events} generated events to {} …", file.display());
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(file)?);
    privtrail_sim::write_bulk_jsonl(events, seed, &mut w)?;
    w.flush()?;
    Ok(())
}

/// A component measured alone on the benchmark's inputs.
#[derive(Debug, Serialize)]
struct Reference {
    reference: String,
    events: u64,
    seconds: f64,
    events_per_sec: f64,
    cpu_us_per_event: Option<f64>,
}

fn timed(label: String, f: impl FnOnce() -> Result<u64>) -> Result<Reference> {
    eprintln!("reference: {label} …");
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let events = f()?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    Ok(Reference {
        reference: label,
        events,
        seconds,
        events_per_sec: events as f64 / seconds,
        cpu_us_per_event: cpu.filter(|_| events > 0).map(|c| c * 1e6 / events as f64),
    })
}

/// The components' own speed on the same inputs: the `evtx` crate parsing the EVTX file,
/// privtrail's read + parse + normalize with nothing stored, and SQLite and tantivy alone on
/// generated events: the Winlogbeat ones, and the Graph records when the run had them.
fn references(
    args: &BenchIngestArgs,
    generated: Option<&Path>,
    work: &Path,
    opts: &Options,
) -> Result<Vec<Reference>> {
    let mut out = Vec::new();
    let repeat = args.evtx_repeat.clamp(1, 50);
    if args.evtx.is_file() {
        out.push(timed(
            format!("evtx crate: parse to JSON, x{repeat}"),
            || {
                let mut n = 0;
                for _ in 0..repeat {
                    n += privtrail_ingest::evtx_parse_only(&args.evtx)?;
                }
                Ok(n)
            },
        )?);
        out.push(timed(
            format!("privtrail read + normalize EVTX (no store), x{repeat}"),
            || {
                let mut n = 0;
                for _ in 0..repeat {
                    n += parse_only(&args.evtx, opts, 0)?.1;
                }
                Ok(n)
            },
        )?);
    }
    if let Some(file) = generated {
        out.extend(stored_alone(
            "Winlogbeat JSON",
            file,
            &work.join("reference"),
            opts,
        )?);
    }
    // A Graph import is compared with its own components: another parser, other columns filled.
    let graph = work.join(GRAPH_FILE);
    if args.graph > 0 && graph.is_file() {
        out.extend(stored_alone(
            "Graph JSON",
            &graph,
            &work.join("reference-graph"),
            opts,
        )?);
    }
    Ok(out)
}

/// Reading and normalizing `file` (of the input `what`) with nothing stored, then storing
/// [`REFERENCE_EVENTS`] of its events in a bare SQLite table and a bare tantivy index under `dir`.
fn stored_alone(what: &str, file: &Path, dir: &Path, opts: &Options) -> Result<Vec<Reference>> {
    let mut out = vec![timed(
        format!("privtrail read + normalize {what} (no store)"),
        || Ok(parse_only(file, opts, 0)?.1),
    )?];
    let (evts, _) = parse_only(file, opts, REFERENCE_EVENTS)?;
    let n = evts.len() as u64;
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    out.push(timed(
        format!("bare SQLite insert, {what} (raw as text)"),
        || {
            privtrail_store::reference::bare_sqlite(&dir.join("bare.db"), &evts)?;
            Ok(n)
        },
    )?);
    out.push(timed(
        format!("bare tantivy index, {what} (one commit)"),
        || {
            privtrail_store::reference::bare_tantivy(&dir.join("index"), &evts)?;
            Ok(n)
        },
    )?);
    Ok(out)
}

/// Reads and normalizes `file`, keeping at most `keep` events (the rest are read and dropped);
/// returns them and how many there were.
fn parse_only(
    file: &Path,
    opts: &Options,
    keep: usize,
) -> Result<(Vec<privtrail_model::Event>, u64)> {
    let mut kept = Vec::new();
    let mut count = 0u64;
    privtrail_ingest::read_file(file, opts, &|_| {}, &mut |batch: Batch| {
        count += batch.events.len() as u64;
        let room = keep.saturating_sub(kept.len());
        kept.extend(batch.events.into_iter().take(room));
        std::ops::ControlFlow::Continue(())
    })?;
    Ok((kept, count))
}

/// Events already in the store when a measured import starts (`--stored`): a generated file of
/// `lines` Winlogbeat lines imported again and again, each pass under other host names (so
/// nothing dedupes), until the store holds at least `total`.
struct Fill {
    file: PathBuf,
    lines: u64,
    total: u64,
    /// Each pass dated a year earlier than the last (`--stored-older`), instead of the measured
    /// events' own time range.
    older: bool,
}

fn fill_store(app: &App, fill: &Fill, opts: &Options) -> Result<u64> {
    let passes = fill.total.div_ceil(fill.lines.max(1));
    let spec = [fill.file.display().to_string()];
    let mut stored = 0;
    for pass in 0..passes {
        eprintln!("filling the store: pass {} of {passes} …", pass + 1);
        let older = fill.older;
        let salt = move |_: usize, batch: &mut Batch| {
            rehost(batch, |h| format!("fill{pass}-{h}"));
            if older {
                let back = chrono::Duration::days(365 * (i64::try_from(pass).unwrap_or(0) + 1));
                for e in &mut batch.events {
                    e.time -= back;
                }
            }
        };
        let (summary, searchable) = import::import(
            app.writer()?,
            &spec,
            opts,
            &Progress::none(),
            Some(&salt),
            app.forward(),
        )?;
        searchable.wait()?;
        stored += summary.total.stored;
    }
    // Judged now, so the measured run's rules judge only the measured events (the cursor).
    app.rules(chrono::Utc::now())?;
    Ok(stored)
}

fn measure(
    label: &str,
    store_dir: &Path,
    files: &[PathBuf],
    opts: &Options,
    config: &Config,
    hook: Option<import::BatchHook<'_>>,
    fill: Option<&Fill>,
) -> Result<Run> {
    if store_dir.exists() {
        std::fs::remove_dir_all(store_dir)
            .with_context(|| format!("cannot clear {}", store_dir.display()))?;
    }
    // Filled by its own writer, closed (index committed, merges done), then reopened: the
    // measured import starts on a store at rest, as a store that has held N events would be.
    let stored_before = match fill {
        Some(f) => {
            let app = App::open_writer(store_dir, config.clone(), "bench")?;
            app.feed_rules()?;
            let n = fill_store(&app, f, opts)?;
            app.close();
            n
        }
        None => 0,
    };
    // The bench's own store, with the configuration's rules and forwarding.
    let app = App::open_writer(store_dir, config.clone(), "bench")?;
    // As `privtrail ingest` does.
    app.feed_rules()?;
    reset_peak_rss();
    let cpu_before = cpu_seconds();
    let written_before = written_bytes();
    eprintln!("importing: {label} …");
    let started = Instant::now();
    let specs: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    // As `privtrail ingest` does: the index's last commit runs while the rules do.
    let (summary, searchable) = import::import(
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
    searchable.wait()?;
    app.close();
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    let written = written_bytes()
        .zip(written_before)
        .map(|(a, b)| a.saturating_sub(b));
    if summary.failed_inputs() > 0 {
        bail!(
            "the benchmark input could not be read: {:?}",
            summary.files[0].failed
        );
    }
    let stored = summary.total.stored;
    let per_event = |x: f64| (stored > 0).then(|| x / stored as f64);
    let total_events = stored + stored_before;
    Ok(Run {
        workload: label.to_owned(),
        records: summary.total.records,
        stored,
        rules_seconds: seconds - import_seconds,
        alerts: evaluation.opened.len(),
        seconds,
        events_per_sec: stored as f64 / seconds,
        cpu_us_per_event: cpu.and_then(|c| per_event(c * 1e6)),
        cores_used: cpu.map(|c| c / seconds),
        stored_before,
        disk_bytes_per_event: (total_events > 0)
            .then(|| dir_size(store_dir) as f64 / total_events as f64),
        written_bytes_per_event: written.and_then(|w| per_event(w as f64)),
        peak_rss_mb: peak_rss_mb(),
    })
}

/// User + system CPU seconds of this process, all threads (`/proc/self/stat`, in USER_HZ = 100
/// ticks per second on Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the file are utime and stime; `rest` starts at field 3.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Bytes this process caused to be written to storage (`/proc/self/io`).
fn written_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))?
        .trim()
        .parse()
        .ok()
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
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
