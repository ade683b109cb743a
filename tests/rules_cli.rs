//! End to end: elevations, rules and alerts through the binary, on the real Windows data and on
//! Entra fixtures.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Env, data};

const SID_1000: &str = "s-1-5-21-2603537626-3982775912-406486804-1000";
const SID_1001: &str = "s-1-5-21-2603537626-3982775912-406486804-1001";

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn principals(env: &Env, args: &[&str]) -> Vec<String> {
    let mut a = vec!["elevations", "--format", "json"];
    a.extend_from_slice(args);
    let mut p: Vec<String> = json_lines(&env.ok(&a))
        .iter()
        .map(|e| e["principal"].as_str().unwrap().to_lowercase())
        .collect();
    p.sort();
    p
}

#[test]
fn security_evtx_elevations_at_points_in_time_and_backtest() {
    let env = Env::new();
    env.ingest(&[&data("evtx/security.evtx")]);
    assert_eq!(
        principals(&env, &["--at", "2016-07-10T00:00:00Z"]),
        vec![SID_1001.to_owned()],
        "…-1000 was removed 22:29:34"
    );
    assert_eq!(
        principals(&env, &["--at", "2016-07-17T00:00:00Z"]),
        vec![SID_1000.to_owned(), SID_1001.to_owned()]
    );
    let all = json_lines(&env.ok(&["elevations", "--format", "json"]));
    assert_eq!(all.len(), 3);
    let removed = all.iter().find(|e| e["ended_at"].is_string()).unwrap();
    assert_eq!(removed["end_reason"], "removed");
    assert_eq!(removed["ended_at"], "2016-07-09T22:29:34.5485219Z");
    assert_eq!(removed["kind"], "membership");

    let alerts = json_lines(&env.ok(&[
        "rules",
        "test",
        "--since",
        "2016-07-01",
        "--until",
        "2016-08-01",
        "--format",
        "json",
    ]));
    let fired = |rule: &str, sid: &str| {
        alerts.iter().any(|a| {
            a["rule"] == rule && a["summary"].as_str().unwrap().to_lowercase().contains(sid)
        })
    };
    assert!(fired("overdue-elevation", SID_1001), "{alerts:?}");
    assert!(fired("unapproved-local-admin", SID_1001));
    assert!(fired("unapproved-local-admin", SID_1000));
    // The backtest changes nothing: the alerts stored by the ingest are what `alerts` lists.
    let stored_before = env.ok(&["alerts", "--format", "json"]);
    env.ok(&["rules", "test", "--since", "2016-07-01", "--format", "json"]);
    assert_eq!(env.ok(&["alerts", "--format", "json"]), stored_before);
}

#[test]
fn quick_add_remove_closes_after_56_seconds_without_overdue() {
    let env = Env::new();
    env.ingest(&[&data(
        "evtx/ID4732-4733-Quick added-removed user from local group.evtx",
    )]);
    let els = json_lines(&env.ok(&["elevations", "--format", "json"]));
    let admins: Vec<_> = els
        .iter()
        .filter(|e| e["privilege_id"] == "S-1-5-32-544")
        .collect();
    assert_eq!(admins.len(), 1, "{els:?}");
    let start =
        chrono::DateTime::parse_from_rfc3339(admins[0]["started_at"].as_str().unwrap()).unwrap();
    let end =
        chrono::DateTime::parse_from_rfc3339(admins[0]["ended_at"].as_str().unwrap()).unwrap();
    assert_eq!((end - start).num_seconds(), 55, "55.7 s: the README's 56 s");
    let alerts = json_lines(&env.ok(&["alerts", "--format", "json"]));
    assert!(
        alerts.iter().all(|a| a["rule"] != "overdue-elevation"),
        "{alerts:?}"
    );
    let backtest = json_lines(&env.ok(&[
        "rules",
        "test",
        "--since",
        "2020-07-01",
        "--until",
        "2020-08-01",
        "--format",
        "json",
    ]));
    assert!(
        backtest.iter().all(|a| a["rule"] != "overdue-elevation"),
        "{backtest:?}"
    );
}

#[test]
fn log_cleared_and_audit_policy_raise_audit_tampering() {
    for (file, code) in [
        ("evtx/ID104-1102-Event log cleared.evtx", "1102"),
        ("evtx/ID4719-Audit policy deactivation.evtx", "4719"),
    ] {
        let env = Env::new();
        env.ingest(&[&data(file)]);
        let alerts = json_lines(&env.ok(&["alerts", "list", "--format", "json"]));
        let t: Vec<_> = alerts
            .iter()
            .filter(|a| a["rule"] == "audit-tampering")
            .collect();
        assert!(!t.is_empty(), "{file}: {alerts:?}");
        assert!(
            t.iter()
                .all(|a| a["severity"] == "critical" && a["status"] == "open")
        );
        assert!(
            t.iter()
                .any(|a| a["summary"].as_str().unwrap().contains(code)
                    || a["subject"].as_str().unwrap().contains(code)),
            "{t:?}"
        );
    }
}

#[test]
fn alert_lifecycle_through_the_cli() {
    let env = Env::new();
    env.ingest(&[&data("evtx/ID4719-Audit policy deactivation.evtx")]);
    let open = json_lines(&env.ok(&["alerts", "--status", "open", "--format", "json"]));
    let id = open[0]["id"].as_str().unwrap().to_owned();
    assert!(env.ok(&["alerts", "show", &id]).contains("audit-tampering"));
    env.ok(&["alerts", "ack", &id]);
    let a = json_lines(&env.ok(&["alerts", "show", &id, "--format", "json"]));
    assert_eq!(a[0]["status"], "acknowledged");
    env.ok(&["alerts", "resolve", &id]);
    let a = json_lines(&env.ok(&["alerts", "show", &id, "--format", "json"]));
    assert_eq!(a[0]["status"], "resolved");
    assert_eq!(env.run(&["alerts", "show", "nope"]).status.code(), Some(2));
    // A sweep with no new events does not reopen an occurrence.
    env.ok(&["rules", "sweep"]);
    let again = json_lines(&env.ok(&["alerts", "--status", "open", "--format", "json"]));
    assert!(again.iter().all(|a| a["id"] != id.as_str()));
}

#[test]
fn entra_fixture_elevations_and_alerts() {
    let env = Env::new();
    let fixture = format!(
        "{}/ingest/tests/fixtures/entra/pim_flows.json",
        env!("CARGO_MANIFEST_DIR")
    );
    env.ingest(&[&fixture]);
    let els = json_lines(&env.ok(&["elevations", "--format", "json"]));
    // The expired activation (dave) is closed by role.activation.expired.
    let dave = els
        .iter()
        .find(|e| e["principal"] == "dave@contoso.com")
        .unwrap();
    assert_eq!(dave["end_reason"], "expired");
    assert_eq!(dave["kind"], "activation");
    // alice's activation is one elevation although PIM and Core Directory both logged it.
    let alice: Vec<_> = els
        .iter()
        .filter(|e| e["principal"] == "alice@contoso.com" && e["kind"] == "activation")
        .collect();
    assert_eq!(alice.len(), 1, "{alice:?}");
    let alerts = json_lines(&env.ok(&["alerts", "--format", "json"]));
    assert!(
        alerts.iter().all(|a| a["rule"] != "duplicate-elevation"),
        "{alerts:?}"
    );
    // Outside PIM and permanent assignments are standing access.
    let standing: Vec<_> = alerts
        .iter()
        .filter(|a| a["rule"] == "standing-access")
        .collect();
    assert!(
        standing
            .iter()
            .any(|a| a["principal"] == "henry@contoso.com"),
        "{standing:?}"
    );
    let rules = env.ok(&["rules", "list"]);
    for id in [
        "overdue-elevation",
        "standing-access",
        "duplicate-elevation",
        "frequent-activation",
        "unapproved-local-admin",
        "audit-tampering",
        "too-many-global-admins",
        "collector-failure",
    ] {
        assert!(rules.contains(id), "{id} missing from {rules}");
    }
}

#[test]
fn break_glass_is_exempt_and_custom_rules_are_validated() {
    let env = Env::new();
    let cfg = env.dir.path().join("p.toml");
    std::fs::write(&cfg, "[policy]\nbreak_glass = [\"henry@contoso.com\"]\n").unwrap();
    let fixture = format!(
        "{}/ingest/tests/fixtures/entra/pim_flows.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = env.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "ingest",
        "--json",
        &fixture,
    ]);
    assert!(out.status.success());
    let alerts = json_lines(&env.ok(&["alerts", "--format", "json"]));
    assert!(
        alerts
            .iter()
            .all(|a| !(a["rule"] == "standing-access" && a["principal"] == "henry@contoso.com")),
        "{alerts:?}"
    );

    std::fs::write(&cfg, "[[rules.custom]]\nid = \"x\"\nseverity = \"high\"\nsummary = \"s\"\nmatch = [{ field = \"actor\", op = \"regex\", value = \"([\" }]\n").unwrap();
    let out = env.run(&["--config", cfg.to_str().unwrap(), "rules", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("x"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_endpoint_tag_sets_the_promised_expiry_and_overdue_fires_earlier() {
    let env = Env::new();
    let tag = env.dir.path().join("tag.txt");
    std::fs::write(
        &tag,
        "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Org\\AdminAccessAudit\r\n    LastAdminGranted    REG_SZ    2016-07-09T22:25:47Z\r\n    ExpiresAt    REG_SZ    2016-07-09T23:25:47Z\r\n    GrantedToSid    REG_SZ    S-1-5-21-2603537626-3982775912-406486804-1001\r\n    GrantedBy    REG_SZ    WIN-03DLIIOFRRA\\fsir\r\n    Ticket    REG_SZ    CHG-1001\r\n",
    )
    .unwrap();
    let out = env.run(&[
        "ingest",
        "--json",
        "--host",
        "WIN-03DLIIOFRRA",
        tag.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["files"][0]["format"], "regtag", "{s}");
    assert_eq!(env.count("action:endpoint.admin_tag"), 1);
    env.ingest(&[&data("evtx/security.evtx")]);

    let els = json_lines(&env.ok(&["elevations", "--format", "json", "--principal", "1001"]));
    assert_eq!(els.len(), 1, "{els:?}");
    assert_eq!(
        els[0]["expected_end"], "2016-07-09T23:25:47Z",
        "the tag's ExpiresAt, not 8 h"
    );
    let alerts = json_lines(&env.ok(&[
        "rules",
        "test",
        "--since",
        "2016-07-09",
        "--until",
        "2016-07-11",
        "--step",
        "15m",
        "--format",
        "json",
    ]));
    let overdue = alerts
        .iter()
        .find(|a| {
            a["rule"] == "overdue-elevation" && a["summary"].as_str().unwrap().contains("1001")
        })
        .unwrap();
    let opened = overdue["opened_at"].as_str().unwrap();
    assert!(
        opened < "2016-07-10T01:00:00Z",
        "fired at {opened}, before the policy maximum (06:25) would"
    );
    // The tag also covers the grant: no unapproved-local-admin for …-1001.
    assert!(
        alerts
            .iter()
            .all(|a| !(a["rule"] == "unapproved-local-admin"
                && a["summary"].as_str().unwrap().contains("1001"))),
        "{alerts:?}"
    );
}
