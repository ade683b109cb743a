//! End to end: `privtrail collect entra` against the simulated tenant (`privtrail sim graph`, a
//! separate process that behaves like Graph and its token endpoint, with injected faults).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Env;

const SECRET: &str = "sim~Q8f.Zx3-privtrail-demo-secret";

/// A running simulator; killed on drop.
struct Sim {
    child: Child,
    url: String,
}

impl Sim {
    fn start(env: &Env, faults: serde_json::Value) -> Sim {
        let path = env
            .dir
            .path()
            .join(format!("faults-{}.json", rand_suffix()));
        std::fs::write(&path, faults.to_string()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_privtrail"))
            .args(["sim", "graph", "--listen", "127.0.0.1:0", "--faults"])
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_owned();
        Sim { child, url }
    }

    /// `GET /_sim/stats`.
    fn stats(&self) -> serde_json::Value {
        let addr = self.url.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET /_sim/stats HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let body = resp.split("\r\n\r\n").nth(1).unwrap();
        serde_json::from_str(body).unwrap()
    }

    fn config(&self, env: &Env) -> String {
        let path = env
            .dir
            .path()
            .join(format!("privtrail-{}.toml", rand_suffix()));
        std::fs::write(
            &path,
            format!(
                "[[tenants]]\nname = \"contoso\"\ntenant_id = \"c0a7b1e2-5f3d-4e8a-9b6c-2d1e0f9a8b7c\"\n\
                 client_id = \"4d2c9e1b-7a3f-4b5e-8c6d-1e0f2a3b4c5d\"\nclient_secret = \"{SECRET}\"\n\
                 login_url = \"{u}\"\ngraph_url = \"{u}\"\nrate_requests = 1000\nrate_window = \"1s\"\n\
                 retry_base = \"100ms\"\ntimeout = \"10s\"\n",
                u = self.url
            ),
        )
        .unwrap();
        path.display().to_string()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn collect(env: &Env, config: &str) -> (serde_json::Value, i32) {
    let out = env.run(&["--config", config, "collect", "entra", "--json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.code().unwrap())
}

#[test]
fn pulls_everything_once_links_pairs_and_resumes() {
    let env = Env::new();
    let sim = Sim::start(&env, serde_json::json!({ "page_size": 20 }));
    let cfg = sim.config(&env);
    let audits = sim.stats()["audits"].as_u64().unwrap();
    assert!(audits > 50);

    let (r, code) = collect(&env, &cfg);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["stored"].as_u64().unwrap(), audits, "{r}");
    assert!(r["pages"].as_u64().unwrap() >= audits / 20);
    assert!(r["linked"].as_u64().unwrap() > 0);
    assert_eq!(r["assignments"], 6);
    assert_eq!(r["eligibilities"], 7);
    assert!(r["users"].as_u64().unwrap() > 0);
    assert_eq!(env.count("source:entra"), audits);
    assert_eq!(env.count("linked_to:*"), r["linked"].as_u64().unwrap());
    assert_eq!(env.count("action:collector.error"), 0);
    assert!(env.count("action:role.activated") > 0);

    // The next pull starts at the watermark minus the overlap: it sees a few records again and
    // stores none of them twice.
    let (r2, code2) = collect(&env, &cfg);
    assert_eq!(code2, 0, "{r2}");
    assert_eq!(r2["stored"], 0, "{r2}");
    assert!(
        r2["records"].as_u64().unwrap() < audits,
        "resumed, not backfilled: {r2}"
    );
    assert_eq!(env.count("source:entra"), audits);
    env.ok(&["verify"]);
}

#[test]
fn throttling_outages_and_token_expiry_are_survived() {
    let env = Env::new();
    let sim = Sim::start(
        &env,
        serde_json::json!({
            "page_size": 10,
            "throttle": [{"endpoint": "directoryAudits", "requests": [2], "retry_after_secs": 1}],
            "unavailable": [{"endpoint": "directoryAudits", "requests": [4]}],
            "revoke_tokens_after_requests": 3
        }),
    );
    let cfg = sim.config(&env);
    let audits = sim.stats()["audits"].as_u64().unwrap();
    let (r, code) = collect(&env, &cfg);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["stored"].as_u64().unwrap(), audits);
    let stats = sim.stats();
    assert!(
        stats["tokens_issued"].as_u64().unwrap() >= 2,
        "token refreshed: {stats}"
    );
    let statuses = stats.to_string();
    assert!(
        statuses.contains("\"429\"")
            && statuses.contains("\"503\"")
            && statuses.contains("\"401\""),
        "{stats}"
    );
}

#[test]
fn a_denied_permission_becomes_a_collector_error_and_keeps_the_watermark() {
    let env = Env::new();
    let denied = Sim::start(&env, serde_json::json!({ "deny": ["directoryAudits"] }));
    let (r, code) = collect(&env, &denied.config(&env));
    assert_eq!(code, 1, "{r}");
    let errors = env.search_json("action:collector.error", &[]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let msg = errors[0]["message"].as_str().unwrap();
    assert!(msg.contains("AuditLog.Read.All"), "{msg}");
    assert_eq!(errors[0]["tenant"], "contoso");
    assert_eq!(errors[0]["outcome"], "failure");
    assert_eq!(env.count("source:entra"), 0);
    drop(denied);

    // Permission granted: the next pull still backfills from the start (the watermark stayed).
    let ok = Sim::start(&env, serde_json::json!({}));
    let audits = ok.stats()["audits"].as_u64().unwrap();
    let (r2, code2) = collect(&env, &ok.config(&env));
    assert_eq!(code2, 0, "{r2}");
    assert_eq!(env.count("source:entra"), audits);
}

#[test]
fn a_late_event_inside_the_overlap_is_stored() {
    let env = Env::new();
    let now = chrono::Utc::now();
    let late_time =
        (now - chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let sim = Sim::start(
        &env,
        serde_json::json!({
            "page_size": 999,
            "late_audits": [{"from_request": 2, "record": {
                "id": "late-1", "category": "UserManagement", "correlationId": "c-late",
                "result": "success", "activityDisplayName": "Update user",
                "activityDateTime": late_time, "loggedByService": "Core Directory",
                "operationType": "Update",
                "initiatedBy": {"user": {"id": "u1", "userPrincipalName": "alice@contoso.com"}},
                "targetResources": [{"id": "u2", "type": "User", "userPrincipalName": "bob@contoso.com"}],
                "additionalDetails": []
            }}]
        }),
    );
    let cfg = sim.config(&env);
    let (r1, _) = collect(&env, &cfg);
    assert_eq!(env.count("record_id:late-1"), 0, "{r1}");
    let (r2, code) = collect(&env, &cfg);
    assert_eq!(code, 0);
    assert_eq!(r2["stored"], 1, "{r2}");
    assert_eq!(env.count("record_id:late-1"), 1);
}

#[test]
fn a_collector_killed_mid_pull_leaves_a_consistent_store_and_the_next_pull_completes() {
    let env = Env::new();
    let sim = Sim::start(&env, serde_json::json!({ "page_size": 4, "delay_ms": 150 }));
    let cfg = sim.config(&env);
    let audits = sim.stats()["audits"].as_u64().unwrap();
    let db = env.data_dir().join("privtrail.db");

    let mut child = Command::new(env!("CARGO_BIN_EXE_privtrail"))
        .arg("--data-dir")
        .arg(env.data_dir())
        .args(["--config", &cfg, "collect", "entra", "--no-pim"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once some pages, but not all, are stored.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stored_before_kill = 0;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        if let Ok(c) = rusqlite::Connection::open(&db)
            && let Ok(n) = c.query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))
            && n >= 8
        {
            stored_before_kill = n as u64;
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        stored_before_kill > 0 && stored_before_kill < audits,
        "killed mid-pull: {stored_before_kill}/{audits}"
    );

    env.ok(&["verify"]);
    let (r, code) = collect(&env, &cfg);
    assert_eq!(code, 0, "{r}");
    assert_eq!(env.count("source:entra"), audits, "no loss, no duplicate");
    env.ok(&["verify"]);
}
