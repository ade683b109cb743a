//! End-to-end tests of `privtrail run` (the daemon), driving the real binary: the data directory's
//! lock, watched JSON lines appended in pieces and an EVTX file replaced by a longer copy across
//! restarts, SIGTERM in the middle of an import, `run --once`, the collector-failure rule fed with
//! real runs, and the rules cursor that judges what a dead process stored.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use common::daemon::{Daemon, toml_path, wait_until};
use common::*;

/// `verify`'s count of stored events (SQLite, not the search index: exact at once).
fn stored(env: &Env) -> u64 {
    let out = env.ok(&["verify"]);
    out.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected verify output: {out}"))
}

fn gunzip(path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn config(env: &Env, body: &str) -> std::path::PathBuf {
    let path = env.dir.path().join("privtrail.toml");
    let text = format!(
        "[daemon]\nwatch_interval = \"100ms\"\nshutdown_timeout = \"10s\"\nsweep_schedule = \"* * * * * *\"\n\
         [http]\nlisten = \"127.0.0.1:0\"\n{body}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
}

/// The count a one-shot `ingest` of the same input stores: the reference.
fn reference_count(path: &str) -> u64 {
    let env = Env::new();
    let (summary, code) = env.ingest(&[path]);
    assert_eq!(code, 0, "{summary}");
    summary["total"]["stored"].as_u64().unwrap()
}

#[test]
fn second_writer_is_refused_with_the_pid_and_readers_work() {
    let env = Env::new();
    let wef = env.dir.path().join("wef");
    std::fs::create_dir_all(&wef).unwrap();
    std::fs::copy(
        data("evtx/ID4732-4733-Quick added-removed user from local group.evtx"),
        wef.join("quick.evtx"),
    )
    .unwrap();
    let cfg = config(&env, &format!("[[windows]]\npath = {}\n", toml_path(&wef)));
    let log = env.dir.path().join("daemon.log");
    let daemon = Daemon::start(&env.data_dir(), &cfg, &log);
    assert!(wait_until(Duration::from_secs(30), || stored(&env) == 5));

    // A second writer is refused, naming the daemon and its pid.
    let out = env.run(&["ingest", &data("evtx/security.evtx")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("pid {}", daemon.pid())), "{err}");
    assert!(err.contains("daemon"), "{err}");
    for cmd in [
        vec!["alerts", "ack", "x"],
        vec!["rules", "sweep"],
        vec!["outbox", "retry", "--dead"],
    ] {
        let out = env.run(&cmd);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("owned by the privtrail daemon"));
    }

    // Readers work beside it.
    assert!(wait_until(Duration::from_secs(30), || env
        .count("action:group.member.added")
        == 3));
    env.ok(&["elevations"]);
    env.ok(&["alerts", "list"]);
    env.ok(&["outbox", "list"]);
    assert!(env.ok(&["verify"]).starts_with("ok: 5 events"));

    let status = daemon.terminate(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    // The lock went with it.
    let (summary, code) = env.ingest(&[&data("evtx/security.evtx")]);
    assert_eq!(code, 0, "{summary}");
}

#[test]
fn appended_json_lines_across_a_restart_are_stored_once() {
    let source = data("winlogbeat6/empire_scm_dll_hijack_ikeext.security.jsonl.gz");
    let expected = reference_count(&source);
    let lines = gunzip(&source);
    assert!(expected > 1000);

    let env = Env::new();
    let wef = env.dir.path().join("wef");
    std::fs::create_dir_all(&wef).unwrap();
    let file = wef.join("winlogbeat.ndjson");
    let cfg = config(&env, &format!("[[windows]]\npath = {}\n", toml_path(&wef)));
    let log = env.dir.path().join("daemon.log");

    // Cut points: the first 300 lines, then a line split in the middle across two writes.
    let nl: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    let a = nl[299];
    let split = a + (nl[300] - a) / 2;
    append(&file, &lines[..a]);
    let daemon = Daemon::start(&env.data_dir(), &cfg, &log);
    assert!(wait_until(Duration::from_secs(30), || stored(&env) == 300));
    append(&file, &lines[a..split]);
    std::thread::sleep(Duration::from_millis(500));
    // Half a line is not a record: nothing more is stored, nothing rejected.
    assert_eq!(stored(&env), 300);
    append(&file, &lines[split..nl[599]]);
    assert!(wait_until(Duration::from_secs(30), || stored(&env) == 600));

    // Restart in the middle: the position survives, nothing is read twice or skipped.
    assert!(daemon.terminate(Duration::from_secs(20)).success());
    append(&file, &lines[nl[599]..nl[899] + 7]);
    let daemon = Daemon::start(&env.data_dir(), &cfg, &log);
    append(&file, &lines[nl[899] + 7..]);
    assert!(
        wait_until(Duration::from_secs(60), || stored(&env) == expected),
        "stored {} of {expected}",
        stored(&env)
    );
    assert!(daemon.terminate(Duration::from_secs(20)).success());
    assert_eq!(stored(&env), expected);
    assert!(
        env.ok(&["verify"])
            .starts_with(&format!("ok: {expected} events"))
    );
    assert_eq!(env.count("*"), expected);
}

/// `security.evtx` cut after its first chunks: what WEF or `wevtutil epl` leave before the file is
/// rewritten longer.
fn evtx_prefix(path: &str, chunks: usize) -> Vec<u8> {
    let all = std::fs::read(path).unwrap();
    all[..(4096 + chunks * 65536).min(all.len())].to_vec()
}

#[test]
fn an_evtx_file_replaced_by_a_longer_copy_is_stored_once_across_a_restart() {
    let full = data("evtx/security.evtx");
    let env = Env::new();
    let wef = env.dir.path().join("wef");
    std::fs::create_dir_all(&wef).unwrap();
    let target = wef.join("Security.evtx");
    std::fs::write(&target, evtx_prefix(&full, 2)).unwrap();
    let cfg = config(&env, &format!("[[windows]]\npath = {}\n", toml_path(&wef)));
    let log = env.dir.path().join("daemon.log");
    let daemon = Daemon::start(&env.data_dir(), &cfg, &log);
    assert!(wait_until(Duration::from_secs(30), || stored(&env) > 0));
    std::thread::sleep(Duration::from_millis(500));
    let first = stored(&env);
    assert!(first > 0 && first < 2261, "{first}");
    assert!(daemon.terminate(Duration::from_secs(20)).success());

    // Replaced (as a rename, the way a collector rotates it) while the daemon is down.
    let tmp = env.dir.path().join("Security.evtx.new");
    std::fs::copy(&full, &tmp).unwrap();
    std::fs::rename(&tmp, &target).unwrap();
    let daemon = Daemon::start(&env.data_dir(), &cfg, &log);
    assert!(
        wait_until(Duration::from_secs(60), || stored(&env) == 2261),
        "stored {}",
        stored(&env)
    );
    // And an unchanged file is not read again after another restart.
    assert!(daemon.terminate(Duration::from_secs(20)).success());
    let daemon = Daemon::start(&env.data_dir(), &cfg, &log);
    std::thread::sleep(Duration::from_millis(800));
    assert!(daemon.terminate(Duration::from_secs(20)).success());
    assert_eq!(stored(&env), 2261);
    assert_eq!(env.count("event_code:4732"), 6);
}

#[test]
fn sigterm_mid_import_leaves_a_verified_store_and_a_restart_completes_it() {
    let env = Env::new();
    let wef = env.dir.path().join("wef");
    std::fs::create_dir_all(&wef).unwrap();
    let file = wef.join("bulk.ndjson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    privtrail_sim::write_bulk_jsonl(40_000, 11, &mut f).unwrap();
    f.flush().unwrap();
    drop(f);
    let expected = reference_count(&file.display().to_string());
    let cfg = config(&env, &format!("[[windows]]\npath = {}\n", toml_path(&wef)));
    let log = env.dir.path().join("daemon.log");
    let daemon = Daemon::start(&env.data_dir(), &cfg, &log);
    assert!(wait_until(Duration::from_secs(60), || stored(&env) > 0));
    let status = daemon.terminate(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    let partial = stored(&env);
    assert!(
        env.ok(&["verify"]).starts_with("ok: "),
        "the store verifies"
    );
    eprintln!("stored {partial} of {expected} before SIGTERM");

    // `run --once` completes the import from the stored position.
    let once = Daemon::spawn(&env.data_dir(), &cfg, &log, &["--once"]);
    assert!(once.wait(Duration::from_secs(120)).success());
    assert_eq!(stored(&env), expected);
    assert_eq!(env.count("*"), expected);
}

#[test]
fn a_process_that_died_after_storing_events_leaves_them_to_the_next_run() {
    // What a process killed between the events' commit and the rules step leaves behind: the
    // events of a cleared Security log stored, the rules never run. Written here with the store
    // library itself, the way that process wrote them.
    let env = Env::new();
    {
        let store = privtrail_store::Store::open(&env.data_dir()).unwrap();
        let mut w = store.writer().unwrap();
        let opts = privtrail_ingest::Options::default();
        privtrail_ingest::read_file(
            Path::new(&data("evtx/ID104-1102-Event log cleared.evtx")),
            &opts,
            &|_| {},
            &mut |b| {
                w.write_batch(&b.events, &b.rejects).unwrap();
                std::ops::ControlFlow::Continue(())
            },
        )
        .unwrap();
        w.commit().unwrap();
    }
    assert!(env.count("action:audit.log_cleared") > 0);
    assert_eq!(env.ok(&["alerts"]).trim(), "no alerts");

    // The next run of any job judges them: here an unrelated import.
    let (summary, code) = env.ingest(&[&data("evtx/Security_short_selected.evtx")]);
    assert_eq!(code, 0);
    assert!(summary["alerts_opened"].as_u64().unwrap() >= 1, "{summary}");
    let tampering = || -> Vec<serde_json::Value> {
        env.ok(&["alerts", "--format", "json"])
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|a| a["rule"] == "audit-tampering")
            .collect()
    };
    let first = tampering();
    assert!(!first.is_empty());
    // Exactly once: more runs judge nothing again.
    env.ok(&["rules", "sweep"]);
    env.ok(&["rules", "sweep"]);
    let (_, code) = env.ingest(&[&data("evtx/Security_short_selected.evtx")]);
    assert_eq!(code, 0);
    let again = tampering();
    assert_eq!(first, again);
    let subjects: std::collections::HashSet<_> = again
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(subjects.len(), again.len());
}

#[test]
fn run_once_runs_every_job_and_exits_by_their_outcome() {
    let env = Env::new();
    let wef = env.dir.path().join("wef");
    std::fs::create_dir_all(&wef).unwrap();
    std::fs::copy(
        data("evtx/ID104-1102-Event log cleared.evtx"),
        wef.join("cleared.evtx"),
    )
    .unwrap();
    let alerts = env.dir.path().join("alerts.jsonl");
    let cfg = config(
        &env,
        &format!(
            "[[windows]]\npath = {}\n[[channels]]\nname = \"f\"\ntype = \"file\"\npath = {}\n[[routes]]\nchannels = [\"f\"]\n",
            toml_path(&wef),
            toml_path(&alerts)
        ),
    );
    let log = env.dir.path().join("once.log");
    let once = Daemon::spawn(&env.data_dir(), &cfg, &log, &["--once"]);
    assert!(once.wait(Duration::from_secs(120)).success());
    assert_eq!(stored(&env), 91);
    let delivered = std::fs::read_to_string(&alerts).unwrap();
    assert!(delivered.contains("audit-tampering"), "{delivered}");

    // A tenant that cannot be reached: the job fails, the others still run, exit status 1.
    let cfg = config(
        &env,
        &format!(
            "[[windows]]\npath = {}\n[[tenants]]\nname = \"down\"\ntenant_id = \"t\"\nclient_id = \"c\"\n\
             client_secret = \"s\"\nlogin_url = \"http://127.0.0.1:9\"\ngraph_url = \"http://127.0.0.1:9\"\n\
             retry_attempts = 1\ntimeout = \"2s\"\n",
            toml_path(&wef)
        ),
    );
    let once = Daemon::spawn(&env.data_dir(), &cfg, &log, &["--once"]);
    let status = once.wait(Duration::from_secs(120));
    assert_eq!(status.code(), Some(1));
    assert!(env.count("action:collector.error") >= 1);
}

#[test]
fn a_tenant_with_no_successful_run_for_three_intervals_alerts() {
    let env = Env::new();
    let cfg = config(
        &env,
        "[[tenants]]\nname = \"down\"\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\n\
         login_url = \"http://127.0.0.1:9\"\ngraph_url = \"http://127.0.0.1:9\"\nretry_attempts = 1\n\
         timeout = \"1s\"\nschedule = \"* * * * * *\"\npim_schedule = \"0 0 0 1 1 *\"\n",
    );
    let log = env.dir.path().join("daemon.log");
    let daemon = Daemon::start(&env.data_dir(), &cfg, &log);
    let stale = || {
        env.ok(&["alerts", "--format", "json"])
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .any(|a| {
                a["rule"] == "collector-failure"
                    && a["summary"]
                        .as_str()
                        .is_some_and(|s| s.contains("never run successfully"))
            })
    };
    assert!(
        wait_until(Duration::from_secs(60), stale),
        "{}",
        env.ok(&["alerts"])
    );
    assert!(daemon.terminate(Duration::from_secs(20)).success());
}

#[test]
fn the_systemd_unit_runs_the_daemon_hardened() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/privtrail.service"),
    )
    .unwrap();
    let has = |line: &str| unit.lines().any(|l| l.trim() == line);
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    assert!(exec.ends_with(" run"), "{exec}");
    for line in [
        "DynamicUser=yes",
        "StateDirectory=privtrail",
        "StateDirectoryMode=0700",
        "Environment=PRIVTRAIL_DATA_DIR=/var/lib/privtrail",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/privtrail",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "KillSignal=SIGTERM",
        "UMask=0077",
    ] {
        assert!(has(line), "missing {line:?}");
    }
    // systemd, where it is installed, accepts the unit (the binary path may not exist here).
    if let Ok(out) = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/privtrail.service"))
        .output()
    {
        let err = String::from_utf8_lossy(&out.stderr);
        // Only what it says about the file itself (e.g. `privtrail.service:47: Failed to parse …`,
        // `Unknown key …`), not about this machine.
        let problems: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("privtrail.service:") && !l.contains("is not executable"))
            .collect();
        assert!(problems.is_empty(), "{err}");
    }
}
