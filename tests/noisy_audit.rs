//! End to end: `noisy-audit-policy` through the binary — live, on generated Winlogbeat 8 lines of
//! the day the rules job judges, and in a backtest of the real noisy NXLog stream.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{Duration, NaiveDate, Utc};
use common::{Env, data};

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A Winlogbeat 8 record of `code` on `host` (Windows Filtering Platform events carry no data
/// privtrail needs).
fn line(host: &str, record: u64, time: &str, code: u32, failure: bool) -> String {
    let (outcome, keyword) = if failure {
        ("failure", "Audit Failure")
    } else {
        ("success", "Audit Success")
    };
    serde_json::json!({
        "@timestamp": time,
        "event": {"code": code.to_string(), "outcome": outcome,
                  "provider": "Microsoft-Windows-Security-Auditing"},
        "host": {"name": host.to_lowercase()},
        "winlog": {
            "channel": "Security", "computer_name": host, "event_id": code.to_string(),
            "provider_name": "Microsoft-Windows-Security-Auditing", "record_id": record,
            "keywords": [keyword],
            "event_data": {"SubjectUserSid": "S-1-5-18", "TargetUserName": "alice", "LogonType": "3"}
        }
    })
    .to_string()
}

/// `n` records from 06:00 of `day`, 20 s apart.
fn day_of(host: &str, first: u64, day: NaiveDate, code: u32, failure: bool, n: u64) -> Vec<String> {
    let start = day.and_hms_opt(6, 0, 0).unwrap().and_utc();
    (0..n)
        .map(|i| {
            let t = start + Duration::seconds(i as i64 * 20);
            let time = t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            line(host, first + i, &time, code, failure)
        })
        .collect()
}

fn noisy(env: &Env) -> Vec<serde_json::Value> {
    json_lines(&env.ok(&["alerts", "list", "--format", "json"]))
        .into_iter()
        .filter(|a| a["rule"] == "noisy-audit-policy")
        .collect()
}

#[test]
fn a_noisy_host_of_the_last_day_raises_one_alert_with_its_auditpol_advice() {
    let env = Env::new();
    let cfg = env.config("privtrail.toml", "");
    // The rules judge the last UTC day that ended an hour ago; both candidate days get the same
    // traffic so that a run at any time of day (even across 01:00 UTC) sees one of them.
    let judged = (Utc::now() - Duration::hours(1)).date_naive() - Duration::days(1);
    let mut lines = Vec::new();
    for (i, day) in [judged - Duration::days(1), judged].into_iter().enumerate() {
        let base = i as u64 * 100_000;
        lines.extend(day_of(
            "FW01.contoso.local",
            base + 1,
            day,
            5156,
            false,
            1_800,
        ));
        lines.extend(day_of(
            "FW01.contoso.local",
            base + 10_000,
            day,
            5157,
            true,
            300,
        ));
        lines.extend(day_of(
            "FW01.contoso.local",
            base + 20_000,
            day,
            4624,
            false,
            200,
        ));
        lines.extend(day_of(
            "WS7.contoso.local",
            base + 1,
            day,
            4624,
            false,
            1_500,
        ));
        lines.extend(day_of(
            "WS7.contoso.local",
            base + 10_000,
            day,
            5156,
            false,
            300,
        ));
    }
    env.ingest_lines(&cfg, &lines);
    env.ok(&["--config", &cfg, "rules", "sweep"]);
    // A second sweep the same day judges nothing again and changes nothing.
    env.ok(&["--config", &cfg, "rules", "sweep"]);

    let alerts = noisy(&env);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["severity"], "low");
    assert_eq!(a["status"], "open");
    assert_eq!(a["scope"], "FW01.contoso.local");
    let summary = a["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("FW01.contoso.local: 91.3% of its 2300 Windows events on "),
        "{summary}"
    );
    assert!(
        summary.contains(
            "5156 ×1800 (auditpol /set /subcategory:\"Filtering Platform Connection\" /success:disable)"
        ),
        "{summary}"
    );
    assert!(
        summary.contains(
            "5157 ×300 (auditpol /set /subcategory:\"Filtering Platform Connection\" /failure:disable)"
        ),
        "{summary}"
    );
    assert!(!summary.contains("WS7"), "{summary}");

    let list = env.ok(&["--config", &cfg, "rules", "list"]);
    assert!(list.contains("noisy-audit-policy"), "{list}");
}

/// The real NXLog capture: WORKSTATION5 wrote 5,715 events on 2020-09-14, mostly Windows Filtering
/// Platform events; the other two hosts wrote too few to judge. The backtest judges the day once
/// it has settled.
#[test]
fn the_backtest_finds_the_noisy_workstation_in_real_data() {
    let env = Env::new();
    let (summary, code) = env.ingest(&[&data(
        "nxlog/empire_wmic_add_user_backdoor.security.jsonl.gz",
    )]);
    assert_eq!(code, 0, "{summary}");
    let alerts: Vec<serde_json::Value> = json_lines(&env.ok(&[
        "rules",
        "test",
        "--since",
        "2020-09-14",
        "--until",
        "2020-09-16",
        "--format",
        "json",
    ]))
    .into_iter()
    .filter(|a| a["rule"] == "noisy-audit-policy")
    .collect();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a["scope"], "WORKSTATION5.theshire.local");
    assert_eq!(a["opened_at"], "2020-09-15T01:00:00Z");
    let s = a["summary"].as_str().unwrap();
    assert!(s.contains("on 2020-09-14"), "{s}");
    for advice in [
        "5447 ×",
        "\"Filtering Platform Policy Change\"",
        "5158 ×",
        "5154 ×",
        "\"Filtering Platform Connection\" /success:disable",
    ] {
        assert!(s.contains(advice), "{advice} missing: {s}");
    }
    // Nothing of the live store changed.
    assert!(noisy(&env).is_empty());
}
