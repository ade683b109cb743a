//! End to end: remediation (SPEC §4) with the real binary against the simulated tenant (which
//! learned `roleAssignmentScheduleRequests`) and a scripted RMM webhook receiver.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use common::http::Scripted;
use common::sim::Sim;
use serde_json::Value;

/// The simulated tenant's overdue activation (dave's Privileged Role Administrator).
const OVERDUE: &str = "dave@contoso.com";

fn config(env: &Env, sim: &Sim, remediation: &str) -> String {
    let text = format!(
        "{}\n[policy]\nbreak_glass = [\"breakglass@contoso.com\"]\n\n[remediation]\n{remediation}\n",
        sim.tenant_toml()
    );
    env.config(&format!("cfg-{}.toml", common::sim::rand_suffix()), &text)
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn run_json(env: &Env, cfg: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--config", cfg, "remediate", "run", "--format", "json"];
    args.extend_from_slice(extra);
    lines(&env.ok(&args))
}

fn list(env: &Env, cfg: &str) -> Vec<Value> {
    lines(&env.ok(&["--config", cfg, "remediate", "list", "--format", "json"]))
}

fn requests(sim: &Sim) -> u64 {
    sim.stats()["schedule_requests"].as_u64().unwrap()
}

fn collect(env: &Env, cfg: &str) {
    env.ok(&["--config", cfg, "collect", "entra"]);
}

fn alert_of<'a>(alerts: &'a [Value], rule: &str, principal: &str) -> &'a Value {
    alerts
        .iter()
        .find(|a| a["rule"] == rule && a["principal"] == principal)
        .unwrap_or_else(|| panic!("no {rule} alert for {principal}: {alerts:?}"))
}

#[test]
fn dry_run_sends_nothing_enforce_revokes_and_the_next_collect_closes_the_elevation() {
    let env = Env::new();
    let sim = Sim::start(&env, serde_json::json!({}));
    let cfg = config(
        &env,
        &sim,
        "mode = \"enforce\"\nrules = { overdue-elevation = \"enforce\", standing-access = \"enforce\" }",
    );
    collect(&env, &cfg);
    let alerts = env.alerts();
    let overdue = alert_of(&alerts, "overdue-elevation", OVERDUE);
    let alert = overdue["id"].as_str().unwrap().to_owned();
    let elevation = overdue["elevation_id"].as_str().unwrap().to_owned();

    // `rules test` replays history and says what remediation would have done.
    let replay = env.ok(&["--config", &cfg, "rules", "test", "--since", "7d"]);
    assert!(
        replay.lines().any(|l| l.contains("enforce")
            && l.contains("end dave@contoso.com's Privileged Role Administrator")),
        "{replay}"
    );
    assert!(replay.contains("only ever proposed"), "{replay}");

    // Dry run: says what it would do, stores and sends nothing.
    let dry = run_json(&env, &cfg, &["--dry-run"]);
    assert!(
        dry.iter()
            .any(|l| l["alert_id"] == alert.as_str() && l["step"] == "would enforce"),
        "{dry:?}"
    );
    assert_eq!(requests(&sim), 0);
    assert!(list(&env, &cfg).is_empty());
    assert_eq!(env.count("action:remediation.*"), 0);

    let done = run_json(&env, &cfg, &[]);
    let steps: Vec<(&str, &str)> = done
        .iter()
        .map(|l| (l["alert_id"].as_str().unwrap(), l["step"].as_str().unwrap()))
        .collect();
    assert!(steps.contains(&(alert.as_str(), "succeeded")), "{done:?}");
    // Only the activation is ended: the standing assignments are only proposed (outside PIM or
    // permanent), and the break-glass account is never touched.
    assert_eq!(requests(&sim), 1);
    let actions = list(&env, &cfg);
    assert!(
        actions
            .iter()
            .all(|a| a["principal"] != "breakglass@contoso.com"),
        "{actions:?}"
    );
    for a in actions.iter().filter(|a| a["alert_id"] != alert.as_str()) {
        assert_eq!(a["state"], "proposed", "{a}");
        assert!(
            a["capped"].as_str().unwrap().contains("only ever proposed"),
            "{a}"
        );
    }
    let ours = actions
        .iter()
        .find(|a| a["alert_id"] == alert.as_str())
        .unwrap();
    assert_eq!(ours["state"], "succeeded");
    assert_eq!(ours["target"]["kind"], "entra");

    // Every step is a chained, searchable event tied to the alert.
    let events = env.search_json(&format!("correlation_id:\"{alert}\""), &[]);
    let mut actions_seen: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    actions_seen.sort_unstable();
    assert_eq!(
        actions_seen,
        [
            "remediation.approved",
            "remediation.proposed",
            "remediation.sent",
            "remediation.succeeded"
        ]
    );
    let succeeded = events
        .iter()
        .find(|e| e["action"] == "remediation.succeeded")
        .unwrap();
    let raw = &succeeded["raw"];
    assert_eq!(
        raw["answer"]["status"], "Revoked",
        "Graph's answer is kept: {raw}"
    );
    assert_eq!(raw["answer"]["action"], "adminRemove");

    // A second run sends nothing more.
    run_json(&env, &cfg, &[]);
    assert_eq!(requests(&sim), 1);

    // The next audit pull sees PIM's removal: the elevation closes, the alert resolves.
    collect(&env, &cfg);
    let alerts = env.alerts();
    let a = alerts.iter().find(|a| a["id"] == alert.as_str()).unwrap();
    assert_eq!(a["status"], "resolved", "{a}");
    let els = lines(&env.ok(&[
        "--config",
        &cfg,
        "elevations",
        "--principal",
        OVERDUE,
        "--format",
        "json",
    ]));
    let closed = els.iter().find(|e| e["id"] == elevation.as_str()).unwrap();
    assert_eq!(closed["end_reason"], "unassigned", "{closed}");
    let shown = env.ok(&["--config", &cfg, "alerts", "show", &alert]);
    assert!(
        shown.contains("remediation ") && shown.contains("succeeded"),
        "{shown}"
    );
    env.ok(&["verify"]);
}

#[test]
fn a_break_glass_account_is_never_touched() {
    let env = Env::new();
    let sim = Sim::start(&env, serde_json::json!({}));
    // The overdue activation's holder is the break-glass account here.
    let text = format!(
        "{}\n[policy]\nbreak_glass = [\"{OVERDUE}\"]\n\n[remediation]\nmode = \"enforce\"\n",
        sim.tenant_toml()
    );
    let cfg = env.config("bg.toml", &text);
    collect(&env, &cfg);
    let alerts = env.alerts();
    let alert = alert_of(&alerts, "overdue-elevation", OVERDUE);
    let out = run_json(&env, &cfg, &[]);
    let line = out
        .iter()
        .find(|l| l["alert_id"] == alert["id"])
        .unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!(line["step"], "skipped");
    assert_eq!(line["detail"], "break-glass account: never remediated");
    assert_eq!(requests(&sim), 0);
    assert!(list(&env, &cfg).is_empty());
}

#[test]
fn propose_waits_for_a_reviewer_who_approves_or_rejects() {
    let env = Env::new();
    let sim = Sim::start(&env, serde_json::json!({}));
    let cfg = config(&env, &sim, "mode = \"propose\"");
    collect(&env, &cfg);
    let out = run_json(&env, &cfg, &[]);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["step"], "proposed");
    let id = out[0]["id"].as_str().unwrap().to_owned();
    // Waiting: nothing sent however often it runs.
    run_json(&env, &cfg, &[]);
    assert_eq!(requests(&sim), 0);

    // Rejecting needs a proposed action; approving a rejected one is refused.
    let approved = env.ok(&[
        "--config",
        &cfg,
        "remediate",
        "approve",
        &id[..8],
        "--note",
        "CHG-1234",
    ]);
    assert!(approved.contains("approved"), "{approved}");
    let again = env.run(&["--config", &cfg, "remediate", "reject", &id]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("only a proposed or failed"));

    let sent = run_json(&env, &cfg, &[]);
    assert!(sent.iter().any(|l| l["step"] == "succeeded"), "{sent:?}");
    assert_eq!(requests(&sim), 1);
    let shown: Value = serde_json::from_str(&env.ok(&[
        "--config",
        &cfg,
        "remediate",
        "show",
        &id,
        "--format",
        "json",
    ]))
    .unwrap();
    let approval = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "approved")
        .unwrap();
    assert!(
        approval["by"].as_str().unwrap().starts_with("os:"),
        "{approval}"
    );
    assert_eq!(approval["detail"], "CHG-1234");
    let ev = env.search_json("action:remediation.approved", &[]);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["actor"], approval["by"]);
}

#[test]
fn a_missing_permission_fails_the_action_and_raises_collector_failure() {
    let env = Env::new();
    let sim = Sim::start(
        &env,
        serde_json::json!({ "deny": ["roleAssignmentScheduleRequests"] }),
    );
    let cfg = config(&env, &sim, "mode = \"enforce\"");
    collect(&env, &cfg);
    let out = run_json(&env, &cfg, &[]);
    let failed = out.iter().find(|l| l["step"] == "failed").expect("failed");
    assert!(
        failed["detail"]
            .as_str()
            .unwrap()
            .contains("RoleManagement.ReadWrite.Directory"),
        "{failed}"
    );
    let alerts = env.alerts();
    let cf = alerts
        .iter()
        .find(|a| a["rule"] == "collector-failure")
        .unwrap_or_else(|| panic!("{alerts:?}"));
    assert!(
        cf["summary"]
            .as_str()
            .unwrap()
            .contains("RoleManagement.ReadWrite.Directory"),
        "{cf}"
    );
    // Failed is final until a reviewer approves again.
    run_json(&env, &cfg, &[]);
    let a = &list(&env, &cfg)[0];
    assert_eq!(a["state"], "failed");
    assert_eq!(a["attempts"], 1);
}

#[test]
fn the_circuit_breaker_stops_at_the_hourly_limit_and_alerts() {
    let env = Env::new();
    let sim = Sim::start(&env, serde_json::json!({}));
    let cfg = config(
        &env,
        &sim,
        "mode = \"propose\"\nmax_per_hour = 1\nrules = { overdue-elevation = \"propose\", standing-access = \"propose\" }",
    );
    collect(&env, &cfg);
    run_json(&env, &cfg, &[]);
    let proposed = list(&env, &cfg);
    assert!(proposed.len() >= 3, "{proposed:?}");
    for a in &proposed {
        env.ok(&[
            "--config",
            &cfg,
            "remediate",
            "approve",
            a["id"].as_str().unwrap(),
        ]);
    }
    let out = env.run(&["--config", &cfg, "remediate", "run", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "the breaker makes the run fail");
    assert!(String::from_utf8_lossy(&out.stderr).contains("circuit breaker"));
    assert_eq!(requests(&sim), 1, "one action per hour");
    let states: Vec<String> = list(&env, &cfg)
        .iter()
        .map(|a| a["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        states.iter().filter(|s| *s == "succeeded").count(),
        1,
        "{states:?}"
    );
    assert_eq!(
        states.iter().filter(|s| *s == "approved").count(),
        proposed.len() - 1,
        "{states:?}"
    );
    let alerts = env.alerts();
    assert!(
        alerts.iter().any(|a| a["rule"] == "collector-failure"
            && a["summary"].as_str().unwrap().contains("circuit breaker")),
        "{alerts:?}"
    );
}

#[test]
fn a_crash_between_sending_and_recording_does_not_send_twice() {
    let env = Env::new();
    let sim = Sim::start(&env, serde_json::json!({ "remove_answer_delay_ms": 30000 }));
    let cfg = config(&env, &sim, "mode = \"enforce\"");
    collect(&env, &cfg);
    let mut child = Command::new(env!("CARGO_BIN_EXE_privtrail"))
        .arg("--data-dir")
        .arg(env.data_dir())
        .args(["--config", &cfg, "remediate", "run"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while requests(&sim) == 0 {
        assert!(start.elapsed() < Duration::from_secs(30), "never sent");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Graph ended the activation; privtrail dies before it hears so.
    child.kill().unwrap();
    child.wait().unwrap();
    let a = &list(&env, &cfg)[0];
    assert_eq!(a["state"], "sending", "{a}");

    let out = run_json(&env, &cfg, &[]);
    let l = out
        .iter()
        .find(|l| l["step"] == "succeeded")
        .expect("recovered");
    assert!(
        l["detail"]
            .as_str()
            .unwrap()
            .starts_with("found after an interruption"),
        "{l}"
    );
    assert_eq!(requests(&sim), 1, "not sent again");
    assert_eq!(env.count("action:remediation.sent"), 1);
    assert_eq!(env.count("action:remediation.succeeded"), 1);
}

/// HMAC-SHA256 written out (RFC 2104), independent of privtrail's signer.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let ih = Sha256::new()
        .chain_update(&inner)
        .chain_update(msg)
        .finalize();
    hex::encode(
        Sha256::new()
            .chain_update(&outer)
            .chain_update(ih)
            .finalize(),
    )
}

#[test]
fn a_windows_membership_goes_to_the_rmm_signed_with_the_exact_powershell() {
    let env = Env::new();
    let rmm = Scripted::start(vec![(202, "", "{\"status\":\"queued\"}")]);
    let secret = "rmm-hmac-key";
    let cfg = env.config(
        "win.toml",
        &format!(
            "[[channels]]\nname = \"rmm\"\ntype = \"webhook\"\nurl = \"{}/privtrail\"\nsecret = \"{secret}\"\n\n\
             [remediation]\nmode = \"enforce\"\nwebhook = \"rmm\"\n",
            rmm.url
        ),
    );
    // Added ten hours ago, never removed: past the default 8 h maximum.
    let at = chrono::Utc::now() - chrono::Duration::hours(10);
    let record = common::member_added_record(
        at,
        9001,
        ("CONTOSO", "helpdesk"),
        "S-1-5-21-1004336348-1177238915-682003330-1105",
        "WS-042",
    );
    env.ingest_lines(&cfg, &[record]);
    let alert = alert_of(
        &env.alerts(),
        "overdue-elevation",
        "S-1-5-21-1004336348-1177238915-682003330-1105",
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let out = run_json(&env, &cfg, &[]);
    assert!(out.iter().any(|l| l["step"] == "succeeded"), "{out:?}");
    let reqs = rmm.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.path, "/privtrail");
    let ts = r.header("X-Privtrail-Timestamp").unwrap();
    assert_eq!(
        r.header("X-Privtrail-Signature").unwrap(),
        format!(
            "sha256={}",
            hmac_sha256(secret.as_bytes(), format!("{ts}.{}", r.body).as_bytes())
        )
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    let id = body["action_id"].as_str().unwrap();
    assert_eq!(
        r.header("X-Privtrail-Idempotency-Key").unwrap(),
        format!("privtrail-remediation-{id}")
    );
    assert_eq!(body["alert_id"], alert.as_str());
    assert_eq!(body["host"], "WS-042");
    assert_eq!(body["group_sid"], "S-1-5-32-544");
    assert_eq!(body["group_name"], "Administrators");
    assert_eq!(
        body["member_sid"],
        "S-1-5-21-1004336348-1177238915-682003330-1105"
    );
    assert_eq!(
        body["powershell"],
        "Remove-LocalGroupMember -Group (Get-LocalGroup -SID S-1-5-32-544) -Member S-1-5-21-1004336348-1177238915-682003330-1105\n\
         if ((Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Org\\AdminAccessAudit' -ErrorAction SilentlyContinue).GrantedToSid -eq 'S-1-5-21-1004336348-1177238915-682003330-1105') {\n\
         \x20   Remove-ItemProperty -Path 'HKLM:\\SOFTWARE\\Org\\AdminAccessAudit' -Name 'LastAdminGranted','ExpiresAt','GrantedTo','GrantedToSid','GrantedBy','Ticket','Reason','Host' -ErrorAction SilentlyContinue\n\
         }"
    );
    let done = env.search_json("action:remediation.succeeded", &[]);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["host"], "WS-042");
    let raw = &done[0]["raw"];
    assert_eq!(raw["answer"], "202 {\"status\":\"queued\"}");
}

/// `POST url` with a bearer token and a JSON body (127.0.0.1, 10 s timeout): status and body.
fn post(url: &str, token: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (addr, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, resp.split_once("\r\n\r\n").unwrap().1.to_owned())
}

#[test]
fn the_daemon_proposes_a_reviewer_approves_through_the_api_and_it_is_sent() {
    use common::daemon::{Daemon, wait_until};
    use common::http::get;
    let env = Env::new();
    let sim = Sim::start(&env, serde_json::json!({}));
    let text = format!(
        "{}\n[http]\nlisten = \"127.0.0.1:0\"\n\n[remediation]\nmode = \"propose\"\n",
        sim.tenant_toml()
    );
    let cfg = env.config("daemon.toml", &text);
    let log = env.dir.path().join("daemon.log");
    let mut d = Daemon::start(&env.data_dir(), std::path::Path::new(&cfg), &log);
    d.wait_log("\"step\":\"proposed\"", Duration::from_secs(60));
    let api = d
        .log_text()
        .lines()
        .find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            v["fields"]["message"]
                .as_str()?
                .starts_with("web UI and API listening")
                .then(|| {
                    v["fields"]["url"]
                        .as_str()
                        .unwrap()
                        .trim_end_matches('/')
                        .to_owned()
                })
        })
        .unwrap();
    let token = env.ok(&["token", "show"]).trim().to_owned();
    let (s, body) = get(&format!("{api}/api/v1/remediations"), &token);
    assert_eq!(s, 200, "{body}");
    let all: Value = serde_json::from_str(&body).unwrap();
    let r = &all["remediations"][0];
    assert_eq!(r["state"], "proposed", "{all}");
    let id = r["id"].as_str().unwrap().to_owned();
    let alert = r["alert_id"].as_str().unwrap().to_owned();
    assert_eq!(requests(&sim), 0, "proposed: nothing sent");

    // A reader may look but not decide.
    let reader = env
        .ok(&["token", "add", "auditor", "--role", "reader"])
        .trim()
        .to_owned();
    let (s, _) = post(
        &format!("{api}/api/v1/remediations/{id}/approve"),
        &reader,
        "{}",
    );
    assert_eq!(s, 403);

    let (s, body) = post(
        &format!("{api}/api/v1/remediations/{id}/approve"),
        &token,
        "{\"note\": \"CHG-42\"}",
    );
    assert_eq!(s, 200, "{body}");
    assert!(
        wait_until(Duration::from_secs(30), || requests(&sim) == 1),
        "the daemon sends the approved action: {}",
        d.log_text()
    );
    let done = wait_until(Duration::from_secs(30), || {
        let (_, body) = get(&format!("{api}/api/v1/alerts/{alert}"), &token);
        serde_json::from_str::<Value>(&body).is_ok_and(|v| v["remediation"]["state"] == "succeeded")
    });
    assert!(done, "{}", d.log_text());
    let (_, body) = get(&format!("{api}/api/v1/alerts/{alert}"), &token);
    let v: Value = serde_json::from_str(&body).unwrap();
    let steps: Vec<&str> = v["remediation"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["proposed", "approved", "sent", "succeeded"]);
    assert_eq!(v["remediation"]["history"][1]["by"], "admin");
    d.terminate(Duration::from_secs(30));
}
