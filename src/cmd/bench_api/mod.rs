//! `privtrail bench api`: the daemon's HTTP side measured from outside, as clients see it.
//!
//! 1. A store of `--events` generated Winlogbeat events (built once; `--work-dir` keeps it for the
//!    next run, e.g. a 10,000,000-event store).
//! 2. `privtrail run` on it (a child process) with the API and the Elasticsearch bulk endpoint.
//! 3. Search latency through `GET /api/v1/search`, p50/p99 over `--searches` requests each, for a
//!    selective query (one principal, one action), a rare term, one event by id and a time-bounded
//!    `*` — idle, then
//!    again while 4 clients push through `/_bulk`.
//! 4. `/_bulk` throughput: 4 concurrent clients sending 1,000-document bulks of new events for
//!    `--bulk-seconds`; events stored per second (from the per-item answers). The events are live
//!    ones by default: in time order and newer than everything stored, each round of the
//!    clients' input dated after the last, as agents ship what happens now. `--backfill` dates
//!    them inside the stored range instead (an agent shipping old history), where every insert
//!    into the time index lands on a different page and each commit rewrites most of them.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use privtrail_app::{App, Config};
use serde::Serialize;

use crate::cli::BenchApiArgs;

mod input;

use input::BulkInput;

#[derive(Debug, Serialize)]
struct Latency {
    query: String,
    while_ingesting: bool,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    hits: usize,
}

#[derive(Debug, Serialize)]
struct Results {
    stored_events: i64,
    bulk_dates: &'static str,
    searches: Vec<Latency>,
    bulk_clients: usize,
    bulk_seconds: f64,
    bulk_events: u64,
    bulk_events_per_sec: f64,
}

/// The daemon child, killed if the benchmark fails half-way.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.0.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline && self.0.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub fn run(args: &BenchApiArgs) -> Result<ExitCode> {
    let (work, _tmp) = super::bench::work_dir(args.work_dir.as_deref(), "privtrail-bench-api-")?;
    let data = work.join("data");
    let (stored, newest) = build_store(&data, &work, args.events)?;
    eprintln!("store: {stored} events in {}", data.display());

    let config = work.join("privtrail.toml");
    std::fs::write(
        &config,
        "[http]\nlisten = \"127.0.0.1:0\"\n[http.elasticsearch]\nlisten = \"127.0.0.1:0\"\n",
    )?;
    let log = work.join("daemon.log");
    let exe = std::env::current_exe()?;
    let token = String::from_utf8(
        Command::new(&exe)
            .arg("--data-dir")
            .arg(&data)
            .args(["token", "show"])
            .output()?
            .stdout,
    )?
    .trim()
    .to_owned();
    let daemon = Daemon(
        Command::new(&exe)
            .arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&config)
            .args(["--log-format", "json", "run"])
            .env("PRIVTRAIL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("cannot start the daemon")?,
    );
    let (api, es) = urls(&log, &daemon)?;
    eprintln!("daemon: API {api}, bulk {es}");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(8)
        .build()?;
    let results = rt.block_on(async {
        let queries = pick_queries(&client, &api, &token).await?;
        let mut searches = latencies(&client, &api, &token, &queries, args.searches, false).await?;
        // Now again while 4 clients push.
        let stop = Arc::new(AtomicBool::new(false));
        let created = Arc::new(AtomicU64::new(0));
        let base = Arc::new(BulkInput::new(
            20_000,
            stored,
            (!args.backfill).then_some(newest),
        )?);
        let started = Instant::now();
        let mut pushers = Vec::new();
        for k in 0..args.bulk_clients {
            pushers.push(tokio::spawn(push(
                client.clone(),
                es.clone(),
                token.clone(),
                Arc::clone(&base),
                k,
                Arc::clone(&stop),
                Arc::clone(&created),
            )));
        }
        // Let the pushers get going before measuring.
        tokio::time::sleep(Duration::from_secs(2)).await;
        searches.extend(latencies(&client, &api, &token, &queries, args.searches, true).await?);
        let left = Duration::from_secs_f64(args.bulk_seconds).saturating_sub(started.elapsed());
        tokio::time::sleep(left).await;
        stop.store(true, Ordering::Release);
        for p in pushers {
            p.await??;
        }
        let secs = started.elapsed().as_secs_f64();
        let n = created.load(Ordering::Acquire);
        anyhow::Ok(Results {
            stored_events: stored,
            bulk_dates: if args.backfill { "backfill" } else { "live" },
            searches,
            bulk_clients: args.bulk_clients,
            bulk_seconds: secs,
            bulk_events: n,
            bulk_events_per_sec: n as f64 / secs,
        })
    })?;
    drop(daemon);
    if args.json {
        println!("{}", serde_json::to_string(&results)?);
    } else {
        println!("store: {} events", results.stored_events);
        println!(
            "{:<60} {:>8} {:>9} {:>9} {:>9} {:>7}",
            "search through /api/v1/search", "ingest", "p50 ms", "p99 ms", "max ms", "hits"
        );
        for l in &results.searches {
            println!(
                "{:<60} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>7}",
                l.query,
                if l.while_ingesting { "yes" } else { "idle" },
                l.p50_ms,
                l.p99_ms,
                l.max_ms,
                l.hits
            );
        }
        println!(
            "/_bulk, {} clients, {} events: {} events in {:.1} s = {:.0} events/s",
            results.bulk_clients,
            results.bulk_dates,
            results.bulk_events,
            results.bulk_seconds,
            results.bulk_events_per_sec
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds (or reuses) a store of at least `n` generated events; returns how many it holds and the
/// newest event's time.
fn build_store(data: &Path, work: &Path, n: u64) -> Result<(i64, DateTime<Utc>)> {
    let held = |data: &Path| -> Result<(i64, DateTime<Utc>)> {
        let store = privtrail_store::Store::open_reader(data)?;
        let newest = store.stats()?.newest.unwrap_or_else(Utc::now);
        Ok((store.last_seq()?, newest))
    };
    if data.join("privtrail.db").exists() {
        let (have, newest) = held(data)?;
        if have >= i64::try_from(n)? {
            return Ok((have, newest));
        }
        std::fs::remove_dir_all(data)?;
    }
    let file = work.join("store-input.ndjson");
    eprintln!("generating {n} events …");
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&file)?);
    privtrail_sim::write_bulk_jsonl(n, 42, &mut w)?;
    w.flush()?;
    drop(w);
    eprintln!("importing them …");
    let app = App::open_writer(data, Config::default(), "bench")?;
    app.import(&[file.display().to_string()])?;
    app.rules(Utc::now())?;
    app.close();
    let _ = std::fs::remove_file(&file);
    held(data)
}

/// The API and bulk URLs from the daemon's log (waits up to a minute).
fn urls(log: &Path, daemon: &Daemon) -> Result<(String, String)> {
    let _ = daemon;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let find = |msg: &str| {
            text.lines().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                v["fields"]["message"]
                    .as_str()?
                    .starts_with(msg)
                    .then(|| {
                        v["fields"]["url"]
                            .as_str()
                            .map(|u| u.trim_end_matches('/').to_owned())
                    })
                    .flatten()
            })
        };
        if let (Some(a), Some(e)) = (
            find("web UI and API listening"),
            find("Elasticsearch bulk endpoint listening"),
        ) {
            return Ok((a, e));
        }
        if Instant::now() > deadline {
            bail!("the daemon did not start: {text}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

type Query = (String, String, Option<String>, Option<String>);

/// The four queries, with values taken from the store: one principal's group additions (a
/// selective query), a term that occurs a handful of times (one record id), one event by its id
/// (resolved through SQLite into a range of the `seq` fast field), and one hour of everything.
async fn pick_queries(client: &reqwest::Client, api: &str, token: &str) -> Result<Vec<Query>> {
    let one = |q: &str| {
        let url = format!("{api}/api/v1/search?limit=1&q={}", urlencode(q));
        let c = client.clone();
        let token = token.to_owned();
        async move { anyhow::Ok(get_json(&c, &url, &token).await?["events"][0].clone()) }
    };
    let add = one("action:group.member.added").await?;
    let target = add["target"].as_str().unwrap_or("x").to_owned();
    let record = add["record_id"].as_str().unwrap_or("0").to_owned();
    let id = add["id"].as_str().unwrap_or("0").to_owned();
    let newest = one("*").await?;
    let t = newest["time"]
        .as_str()
        .unwrap_or("2026-01-05T12:00:00Z")
        .to_owned();
    let until = chrono::DateTime::parse_from_rfc3339(&t)?.with_timezone(&chrono::Utc);
    let since = until - chrono::Duration::hours(1);
    Ok(vec![
        (
            "selective: one principal's group additions".into(),
            format!("target:\"{target}\" AND action:group.member.added"),
            None,
            None,
        ),
        (
            "rare term: one record id".into(),
            format!("record_id:\"{record}\""),
            None,
            None,
        ),
        (
            "one event by id (looked up in SQLite, not a term of the index)".into(),
            format!("id:{id}"),
            None,
            None,
        ),
        (
            "time-bounded *: the newest hour".into(),
            "*".into(),
            Some(privtrail_model::format_time(since)),
            Some(privtrail_model::format_time(until)),
        ),
    ])
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A GET of the API with the token, its JSON answer.
async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Result<serde_json::Value> {
    Ok(client
        .get(url)
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// Each query's latency, one after the other.
async fn latencies(
    client: &reqwest::Client,
    api: &str,
    token: &str,
    queries: &[Query],
    n: u64,
    ingesting: bool,
) -> Result<Vec<Latency>> {
    let mut out = Vec::new();
    for (label, q, since, until) in queries {
        out.push(latency(client, api, token, label, q, since, until, n, ingesting).await?);
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn latency(
    client: &reqwest::Client,
    api: &str,
    token: &str,
    label: &str,
    q: &str,
    since: &Option<String>,
    until: &Option<String>,
    n: u64,
    while_ingesting: bool,
) -> Result<Latency> {
    let mut url = format!("{api}/api/v1/search?limit=50&q={}", urlencode(q));
    if let Some(s) = since {
        url.push_str(&format!("&since={}", urlencode(s)));
    }
    if let Some(u) = until {
        url.push_str(&format!("&until={}", urlencode(u)));
    }
    let mut samples = Vec::with_capacity(n as usize);
    let mut hits = 0;
    for _ in 0..n {
        let t0 = Instant::now();
        let v = get_json(client, &url, token).await?;
        samples.push(t0.elapsed().as_secs_f64() * 1000.0);
        hits = v["events"].as_array().map_or(0, Vec::len);
    }
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    Ok(Latency {
        query: label.to_owned(),
        while_ingesting,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: pct(1.0),
        hits,
    })
}

/// Generated Winlogbeat lines to push (their hosts renamed per client and round, so every
/// pushed document is a new event).
async fn push(
    client: reqwest::Client,
    es: String,
    token: String,
    base: Arc<BulkInput>,
    k: usize,
    stop: Arc<AtomicBool>,
    created: Arc<AtomicU64>,
) -> Result<()> {
    let mut round = 0u64;
    while !stop.load(Ordering::Acquire) {
        for chunk in base.lines.chunks(1000) {
            if stop.load(Ordering::Acquire) {
                return Ok(());
            }
            let mut body = String::with_capacity(chunk.len() * 1400);
            for line in chunk {
                body.push_str("{\"create\":{}}\n");
                base.render(line, k, round, &mut body);
                body.push('\n');
            }
            let v: serde_json::Value = client
                .post(format!("{es}/_bulk"))
                .basic_auth("bench", Some(&token))
                .header("content-type", "application/x-ndjson")
                .body(body)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let n = v["items"].as_array().map_or(0, |items| {
                items
                    .iter()
                    .filter(|i| i["create"]["status"] == 201)
                    .count()
            });
            created.fetch_add(n as u64, Ordering::AcqRel);
        }
        round += 1;
    }
    Ok(())
}
