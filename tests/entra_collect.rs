//! End to end: `privtrail collect entra` against the simulated tenant (`privtrail sim graph`, a
//! separate process that behaves like Graph and its token endpoint, with injected faults).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use common::sim::Sim;

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
