//! End to end: `privtrail collect entra` against a simulated tenant that misbehaves on purpose (a
//! record dated 2099, `@odata.nextLink` cycles, `expires_in` of 2^63) and a config with absurd
//! durations and budgets. Collection must go on, or fail with a `collector.error`, never hang or
//! crash.
#![allow(clippy::unwrap_used)]

mod common;

use common::Env;
use common::sim::Sim;

fn collect(env: &Env, config: &str, extra: &[&str]) -> (serde_json::Value, i32) {
    let mut args = vec!["--config", config, "collect", "entra", "--json"];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    let text = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.code().unwrap())
}

/// A config holding `sim`'s tenant with `replace` applied to its TOML, and `extra` appended.
fn config_with(env: &Env, sim: &Sim, replace: &[(&str, &str)], extra: &str) -> String {
    let mut text = sim.tenant_toml();
    for (from, to) in replace {
        assert!(text.contains(from), "{from} not in {text}");
        text = text.replace(from, to);
    }
    text.push_str(extra);
    let path = env.dir.path().join("hostile.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn a_record_dated_2099_is_stored_and_collection_goes_on() {
    let env = Env::new();
    let now = chrono::Utc::now();
    let late_time =
        (now - chrono::Duration::minutes(2)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let sim = Sim::start(
        &env,
        serde_json::json!({
            "page_size": 999,
            "dated_audits": ["2099-06-01T00:00:00Z"],
            // Arrives after the first pull, dated before now: the second pull must see it.
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
    let audits = sim.stats()["audits"].as_u64().unwrap();
    let (r1, code1) = collect(&env, &cfg, &["--no-pim"]);
    assert_eq!(code1, 0, "{r1}");
    assert_eq!(
        r1["stored"].as_u64().unwrap(),
        audits - 1,
        "the 2099 record is stored: {r1}"
    );
    let watermark: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(r1["watermark"].clone()).unwrap();
    assert!(
        watermark <= chrono::Utc::now() + chrono::Duration::minutes(5),
        "the watermark stays near now: {watermark}"
    );
    assert_eq!(env.count("record_id:dated-0-*"), 1);

    let (r2, code2) = collect(&env, &cfg, &["--no-pim"]);
    assert_eq!(code2, 0, "{r2}");
    assert_eq!(
        r2["stored"], 1,
        "the late record is collected after the 2099 one: {r2}"
    );
    assert_eq!(env.count("record_id:late-1"), 1);
    assert_eq!(env.count("action:collector.error"), 0);
}

#[test]
fn next_link_cycles_become_collector_errors_not_endless_pulls() {
    let env = Env::new();
    let sim = Sim::start(
        &env,
        serde_json::json!({"page_size": 20, "next_link_cycle": ["directoryAudits", "roleDefinitions"]}),
    );
    let cfg = sim.config(&env);
    let audits = sim.stats()["audits"].as_u64().unwrap();
    let (r, code) = collect(&env, &cfg, &[]);
    assert_eq!(code, 1, "{r}");
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "audit and PIM: {r}");
    assert!(
        errors.iter().all(|e| e.as_str().unwrap().contains("cycle")),
        "{r}"
    );
    let requests = sim.stats()["requests"]["directoryAudits"].as_u64().unwrap();
    let pages = audits.div_ceil(20);
    assert!(
        requests <= 2 * pages + 1,
        "{requests} requests for {pages} pages"
    );
    assert_eq!(env.count("action:collector.error"), 2);
    // What was read before the cycle is stored, and counted once.
    assert_eq!(
        env.count("source:entra AND NOT action:collector.error"),
        audits
    );
}

#[test]
fn a_token_lifetime_of_2_pow_63_neither_crashes_nor_stops_collection() {
    let env = Env::new();
    let sim = Sim::start(&env, serde_json::json!({"token_lifetime_secs": 1u64 << 63}));
    let cfg = sim.config(&env);
    let audits = sim.stats()["audits"].as_u64().unwrap();
    let (r, code) = collect(&env, &cfg, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["stored"].as_u64().unwrap(), audits);
    assert_eq!(
        sim.stats()["tokens_issued"],
        1,
        "cached, not fetched per request"
    );
}

#[test]
fn a_backfill_and_overlap_of_100000000d_and_the_largest_rate_requests_collect_everything() {
    let env = Env::new();
    let sim = Sim::start(&env, serde_json::json!({"page_size": 50}));
    let cfg = config_with(
        &env,
        &sim,
        &[
            ("rate_requests = 1000", "rate_requests = 4294967295"),
            ("retry_base = \"100ms\"", "retry_base = \"100000000d\""),
        ],
        "backfill = \"100000000d\"\noverlap = \"100000000d\"\n",
    );
    let audits = sim.stats()["audits"].as_u64().unwrap();
    let (r, code) = collect(&env, &cfg, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["stored"].as_u64().unwrap(), audits);
    // Resumed with the same overlap: everything again, stored once.
    let (r2, code2) = collect(&env, &cfg, &["--no-pim"]);
    assert_eq!(code2, 0, "{r2}");
    assert_eq!(r2["stored"], 0);
    assert_eq!(r2["records"].as_u64().unwrap(), audits);
}
