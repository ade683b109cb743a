//! The crash test: `privtrail run` over a watched folder fed by a writer thread (Winlogbeat JSON
//! lines appended in random pieces, cut mid-line, rolled over to new files; EVTX files dropped in),
//! a simulated Entra tenant and a webhook receiver, killed with SIGKILL at random moments and
//! restarted, again and again. At the end every source record is stored exactly once, `verify`
//! passes, every expected alert exists once, and every alert and forwarded-event notification
//! reached the receiver (a duplicate only ever with the same idempotency key).
//!
//! "Expected" comes from a reference: the same inputs through one-shot `ingest`, `collect entra`
//! and `rules sweep` into a fresh store.
//!
//! Kills: `PRIVTRAIL_CRASH_RUNS` (default 25; `scripts/crash-test` runs 100). The random moments
//! come from `PRIVTRAIL_CRASH_SEED` (printed, so a failure can be replayed).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::daemon::{Daemon, toml_path, wait_until};
use common::http::Scripted;
use common::sim::Sim;
use common::*;

/// SplitMix64: the test's only source of randomness, seeded and printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count(env: &Env, query: &str) -> u64 {
    env.count(query)
}

/// One alert, as the crash test compares them.
#[derive(Debug)]
struct Seen {
    subject: String,
    status: String,
    condition: bool,
}

/// Every alert of a store by what it is about: an occurrence by `(rule, subject)` (the event or
/// host that raised it: the same in any store), a condition by `(rule, principal|privilege|scope)`
/// (its subject is an elevation id, which for an elevation opened by a PIM snapshot depends on
/// when the snapshot was taken).
fn alerts_by_what(env: &Env) -> BTreeMap<(String, String), Vec<Seen>> {
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for a in json_lines(&env.ok(&["alerts", "--format", "json"])) {
        let s = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
        let condition = a["condition"].as_bool().unwrap();
        let what = if condition {
            format!("{}|{}|{}", s("principal"), s("privilege"), s("scope"))
        } else {
            s("subject")
        };
        out.entry((s("rule"), what)).or_default().push(Seen {
            subject: s("subject"),
            status: s("status"),
            condition,
        });
    }
    out
}

/// Appends the feed to rolling files in random pieces (cutting lines anywhere), drops EVTX files in
/// along the way, and says when it is done.
fn feeder(
    dir: PathBuf,
    feed: Vec<u8>,
    seed: u64,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut rng = Rng(seed ^ 0xFEED);
        let mut pos = 0usize;
        let mut file_no = 0;
        let mut in_file = 0usize;
        let evtx = [
            "evtx/ID104-1102-Event log cleared.evtx",
            "evtx/ID4732-4733-Quick added-removed user from local group.evtx",
        ];
        while pos < feed.len() {
            let n = (rng.range(200, 30_000) as usize).min(feed.len() - pos);
            let path = dir.join(format!("feed-{file_no:03}.ndjson"));
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap();
            f.write_all(&feed[pos..pos + n]).unwrap();
            drop(f);
            pos += n;
            in_file += n;
            // Roll over at a line boundary, as agents do.
            if in_file > 400_000 && feed[pos - 1] == b'\n' {
                file_no += 1;
                in_file = 0;
                if let Some(src) = evtx.get(file_no - 1) {
                    let tmp = dir.join(format!(".dropped-{file_no}.tmp"));
                    std::fs::copy(data(src), &tmp).unwrap();
                    std::fs::rename(&tmp, dir.join(format!("dropped-{file_no}.evtx"))).unwrap();
                }
            }
            std::thread::sleep(Duration::from_millis(rng.range(5, 40)));
        }
        for (i, src) in evtx.iter().enumerate() {
            let p = dir.join(format!("dropped-{}.evtx", i + 1));
            if !p.exists() {
                std::fs::copy(data(src), &p).unwrap();
            }
        }
        done.store(true, Ordering::Release);
    })
}

#[test]
fn daemon_killed_at_random_moments_loses_nothing_and_doubles_nothing() {
    let runs: u64 = std::env::var("PRIVTRAIL_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let seed: u64 = std::env::var("PRIVTRAIL_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test: {runs} kills, PRIVTRAIL_CRASH_SEED={seed}");
    let mut env = Env::new();
    // `PRIVTRAIL_CRASH_KEEP=1` keeps both stores for a look after a failure.
    let keep = std::env::var_os("PRIVTRAIL_CRASH_KEEP").is_some();
    env.dir.disable_cleanup(keep);
    let sim = Sim::start(&env, serde_json::json!({ "page_size": 25 }));
    // A receiver that answers 30 ms after it recorded a request: a kill in between is a message
    // that arrived but was not marked delivered, which must come again with the same key.
    let receiver = Scripted::start_with_delay(Vec::new(), Duration::from_millis(30));
    let wef = env.dir.path().join("wef");
    std::fs::create_dir_all(&wef).unwrap();

    let cfg = env.dir.path().join("privtrail.toml");
    let config_text = |windows: &Path| {
        format!(
            "{}schedule = \"* * * * * *\"\npim_schedule = \"*/3 * * * * *\"\n\
             [[windows]]\npath = {}\n\
             [http]\nlisten = \"127.0.0.1:0\"\n\
             [daemon]\nwatch_interval = \"50ms\"\nsweep_schedule = \"* * * * * *\"\nshutdown_timeout = \"10s\"\n\
             [rules.collector-failure]\nmissed_runs = 100000\n\
             [[channels]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}/hook\"\nsecret = \"s3cret\"\n\
             [[routes]]\nchannels = [\"hook\"]\n\
             [[forward]]\ncategories = [\"group_management\", \"audit_integrity\"]\nchannels = [\"hook\"]\n\
             [delivery]\nbackoff_base = \"100ms\"\nbackoff_max = \"1s\"\n",
            sim.tenant_toml(),
            toml_path(windows),
            receiver.url
        )
    };
    std::fs::write(&cfg, config_text(&wef)).unwrap();

    let mut feed = Vec::new();
    privtrail_sim::write_bulk_jsonl(30_000, seed % 1000, &mut feed).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let feeding = feeder(wef.clone(), feed, seed, Arc::clone(&done));

    let log = env.dir.path().join("daemon.log");
    let mut rng = Rng(seed);
    let started = Instant::now();
    for i in 0..runs {
        let d = Daemon::spawn(&env.data_dir(), &cfg, &log, &[]);
        let ms = rng.range(100, 1500);
        std::thread::sleep(Duration::from_millis(ms));
        d.kill();
        if i % 5 == 4 {
            eprintln!(
                "  {} kills, {:.0} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    feeding.join().unwrap();
    assert!(done.load(Ordering::Acquire));

    // The reference: the same inputs, one-shot, into a fresh store.
    let mut reference = Env::new();
    reference.dir.disable_cleanup(keep);
    if keep {
        eprintln!(
            "stores kept: {} and {}",
            env.dir.path().display(),
            reference.dir.path().display()
        );
    }
    let rcfg = reference.dir.path().join("privtrail.toml");
    std::fs::write(&rcfg, config_text(&wef)).unwrap();
    let rcfg = rcfg.display().to_string();
    let out = reference.run(&["--config", &rcfg, "ingest", &wef.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    reference.ok(&["--config", &rcfg, "collect", "entra"]);
    reference.ok(&["--config", &rcfg, "rules", "sweep"]);
    let expect_windows = count(&reference, "source:windows");
    let expect_entra = count(&reference, "source:entra");
    assert!(expect_windows > 30_000 && expect_entra > 0);

    // The daemon, once more, left to catch up: everything stored, judged and delivered.
    let d = Daemon::start(&env.data_dir(), &cfg, &log);
    let caught_up = wait_until(Duration::from_secs(240), || {
        count(&env, "source:windows") == expect_windows
            && count(&env, "source:entra") == expect_entra
            && !env.ok(&["outbox", "list"]).contains(" pending")
    });
    let status = d.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
    assert!(
        caught_up,
        "windows {} of {expect_windows}, entra {} of {expect_entra}\n{}",
        count(&env, "source:windows"),
        count(&env, "source:entra"),
        env.ok(&["outbox", "list"])
    );

    // Every source record exactly once (the counts match, ids are unique), the chain intact.
    assert_eq!(count(&env, "source:windows"), expect_windows);
    assert_eq!(count(&env, "source:entra"), expect_entra);
    let verify = env.ok(&["verify"]);
    assert!(verify.starts_with("ok: "), "{verify}");

    // Every expected alert exists, once. An occurrence (an event that raises an alert) is judged
    // once: exactly one alert, and the reference has it too. A condition may have come and gone
    // while the inputs arrived piece by piece (an add seen before its removal): such alerts are
    // resolved; at most one per subject is active.
    let got = alerts_by_what(&env);
    let want = alerts_by_what(&reference);
    for key in want.keys() {
        assert!(got.contains_key(key), "expected alert {key:?} missing");
    }
    for (key, list) in &got {
        let mut active: BTreeMap<&str, usize> = BTreeMap::new();
        for a in list.iter().filter(|a| a.status != "resolved") {
            *active.entry(&a.subject).or_insert(0) += 1;
        }
        assert!(active.values().all(|n| *n == 1), "{key:?}: {list:?}");
        if list.iter().any(|a| !a.condition) {
            assert_eq!(
                list.len(),
                1,
                "occurrence {key:?} raised more than once: {list:?}"
            );
            assert!(
                want.contains_key(key),
                "occurrence {key:?} not in the reference"
            );
        } else if !want.contains_key(key) {
            assert!(
                list.iter().all(|a| a.status == "resolved"),
                "active condition {key:?} the reference does not have: {list:?}"
            );
        }
    }
    assert!(got.keys().any(|(r, _)| r == "audit-tampering"));
    assert!(got.keys().any(|(r, _)| r == "unapproved-local-admin"));

    // Every notification reached the receiver; duplicates only with the same key.
    let outbox =
        json_lines(&env.ok(&["outbox", "list", "--format", "json", "--limit", "10000000"]));
    assert!(outbox.iter().all(|m| m["status"] == "delivered"));
    let keys: BTreeSet<String> = outbox
        .iter()
        .map(|m| m["idempotency_key"].as_str().unwrap().to_owned())
        .collect();
    let requests = receiver.requests();
    let mut received: HashMap<String, usize> = HashMap::new();
    for r in &requests {
        let k = r.header("X-Privtrail-Idempotency-Key").unwrap().to_owned();
        *received.entry(k).or_insert(0) += 1;
    }
    let missing: Vec<_> = keys.iter().filter(|k| !received.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} notifications never arrived: {missing:?}",
        missing.len()
    );
    let unknown: Vec<_> = received.keys().filter(|k| !keys.contains(*k)).collect();
    assert!(
        unknown.is_empty(),
        "received keys the outbox never held: {unknown:?}"
    );
    let duplicates: usize = received.values().map(|n| n - 1).sum();
    let alert_keys = keys.iter().filter(|k| k.starts_with("alert:")).count();
    eprintln!(
        "crash test: {runs} kills; {} windows + {} entra events stored once; {} alerts; \
         {} notifications ({alert_keys} alert, {} event) delivered, {duplicates} resent with the same key",
        expect_windows,
        expect_entra,
        got.values().map(Vec::len).sum::<usize>(),
        keys.len(),
        keys.len() - alert_keys
    );
}
