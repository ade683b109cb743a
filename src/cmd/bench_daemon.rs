//! `privtrail bench daemon`: the daemon as users run it — `privtrail run` in a process of its own
//! over a watched folder — measured from outside:
//!
//! 1. sustained ingest: generated Winlogbeat lines appended to the watched folder in pieces, as an
//!    agent writes them, until all are stored; events/s and the daemon's peak resident memory
//!    (`VmHWM` of its process);
//! 2. latency: one line at a time (a Security log cleared on a new host: `audit-tampering`)
//!    appended to a watched file at a random moment (an agent does not wait for the daemon's next
//!    scan), timed until its alert is in the outbox (read by this process beside the daemon,
//!    every 5 ms); p50 and p99.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use privtrail_store::Store;
use serde::Serialize;

use crate::cli::BenchDaemonArgs;

#[derive(Debug, Serialize)]
struct Results {
    events: u64,
    ingest_seconds: f64,
    events_per_sec: f64,
    peak_rss_mb: Option<f64>,
    latency_runs: u64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    latency_max_ms: f64,
    watch_interval: String,
}

pub fn run(args: &BenchDaemonArgs) -> Result<ExitCode> {
    let (work, _tmp) = super::bench::work_dir(args.work_dir.as_deref(), "privtrail-bench-daemon-")?;
    let data = work.join("data");
    let wef = work.join("wef");
    if data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    if wef.exists() {
        std::fs::remove_dir_all(&wef)?;
    }
    std::fs::create_dir_all(&wef)?;
    let config = work.join("privtrail.toml");
    std::fs::write(
        &config,
        format!(
            "[[windows]]\npath = {:?}\n[daemon]\nwatch_interval = {:?}\n[http]\nlisten = \"127.0.0.1:0\"\n\
             [[channels]]\nname = \"file\"\ntype = \"file\"\npath = {:?}\n[[routes]]\nchannels = [\"file\"]\n",
            wef.display().to_string(),
            args.watch_interval,
            work.join("alerts.jsonl").display().to_string()
        ),
    )?;
    eprintln!("generating {} events …", args.events);
    let mut feed = Vec::new();
    privtrail_sim::write_bulk_jsonl(args.events, 42, &mut feed)?;

    let mut daemon = Spawned(
        Command::new(std::env::current_exe()?)
            .arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&config)
            .arg("run")
            .env("PRIVTRAIL_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start the daemon")?,
    );
    let pid = daemon.0.id();
    wait_for(Duration::from_secs(60), || {
        Ok(data.join("privtrail.db").exists())
    })?;
    let store = open_store(&data)?;

    // 1. Sustained ingest: pieces of ~256 KiB, rolled over to a new file every 64 MiB.
    eprintln!("appending them to {} …", wef.display());
    let started = Instant::now();
    let mut file_no = 0;
    let mut in_file = 0usize;
    for piece in feed.chunks(256 * 1024) {
        let path = wef.join(format!("events-{file_no:03}.ndjson"));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        f.write_all(piece)?;
        in_file += piece.len();
        if in_file >= 64 << 20 && piece.last() == Some(&b'\n') {
            file_no += 1;
            in_file = 0;
        }
    }
    let total_bytes = feed.len() as u64;
    drop(feed);
    // Done when the daemon's stored positions cover every byte written.
    wait_for(Duration::from_secs(3600), || {
        if daemon.0.try_wait()?.is_some() {
            bail!("the daemon exited");
        }
        let covered: u64 = store
            .checkpoints_with_prefix("watch:")?
            .iter()
            .filter_map(|(_, v)| serde_json::from_str::<serde_json::Value>(v).ok())
            .filter_map(|v| v["offset"].as_u64())
            .sum();
        Ok(covered >= total_bytes)
    })?;
    let stored = store.last_seq()?;
    let ingest_seconds = started.elapsed().as_secs_f64();
    let peak_rss_mb = vm_hwm_mb(pid);
    eprintln!(
        "{stored} events stored in {ingest_seconds:.1} s; daemon peak RSS {}",
        peak_rss_mb.map_or("n/a".into(), |m| format!("{m:.0} MB"))
    );

    // 2. Latency: a line appended → its alert in the outbox.
    let live = wef.join("live.ndjson");
    let mut samples = Vec::with_capacity(args.latency_runs as usize);
    let interval = privtrail_app::time::parse_duration(&args.watch_interval)?
        .to_std()
        .unwrap_or_default();
    let mut phase: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..args.latency_runs {
        // Arrive at a random point of the watcher's cycle.
        phase ^= phase << 13;
        phase ^= phase >> 7;
        phase ^= phase << 17;
        std::thread::sleep(interval.mul_f64((phase % 1000) as f64 / 1000.0));
        let host = format!("LAT-{i:05}");
        let line = serde_json::json!({
            "@timestamp": privtrail_model::format_time(Utc::now()),
            "event": {"code": "1102", "provider": "Microsoft-Windows-Eventlog"},
            "winlog": {"channel": "Security", "computer_name": host, "event_id": "1102",
                       "provider_name": "Microsoft-Windows-Eventlog", "record_id": i + 1,
                       "user_data": {"SubjectUserName": "adm-frank", "SubjectDomainName": "CONTOSO",
                                     "SubjectUserSid": "S-1-5-21-1-2-3-1105", "SubjectLogonId": "0x3e7"}}
        });
        let t0 = Instant::now();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&live)?;
        writeln!(f, "{line}")?;
        drop(f);
        wait_for(Duration::from_secs(60), || {
            Ok(store
                .outbox_list(None, 5)?
                .iter()
                .any(|m| m.payload.contains(&host)))
        })
        .with_context(|| format!("run {i}: no alert for {host} in the outbox"))?;
        samples.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = daemon.0.wait();

    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let r = Results {
        events: u64::try_from(stored)?,
        ingest_seconds,
        events_per_sec: stored as f64 / ingest_seconds,
        peak_rss_mb,
        latency_runs: args.latency_runs,
        latency_p50_ms: pct(0.5),
        latency_p99_ms: pct(0.99),
        latency_max_ms: pct(1.0),
        watch_interval: args.watch_interval.clone(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "sustained ingest from a watched folder: {} events in {:.1} s ({:.0} events/s), daemon peak RSS {}",
            r.events,
            r.ingest_seconds,
            r.events_per_sec,
            r.peak_rss_mb.map_or("n/a".into(), |m| format!("{m:.0} MB"))
        );
        println!(
            "line appended → alert in the outbox ({} runs, watch_interval {}): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            r.latency_runs, r.watch_interval, r.latency_p50_ms, r.latency_p99_ms, r.latency_max_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Kills the daemon if the benchmark fails half-way.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn open_store(dir: &Path) -> Result<Store> {
    let mut last = None;
    for _ in 0..200 {
        match Store::open_reader(dir) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(last.map_or_else(
        || anyhow::anyhow!("cannot open the store"),
        anyhow::Error::new,
    ))
}

fn wait_for(limit: Duration, mut cond: impl FnMut() -> Result<bool>) -> Result<()> {
    let deadline = Instant::now() + limit;
    while !cond()? {
        if Instant::now() > deadline {
            bail!("timed out after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Peak resident memory of another process (Linux `VmHWM`).
fn vm_hwm_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
