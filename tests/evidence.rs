//! Evidence that holds up: a conflicting record is kept and alerted on, never dropped; a reviewer's
//! acknowledgement is a chained event that `search` finds and `verify` covers.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[test]
fn a_record_reusing_a_stored_id_with_other_content_is_kept_and_alerted() {
    let env = Env::new();
    let (s, code) = env.ingest(&[&data("evtx/security.evtx")]);
    assert_eq!(code, 0, "{s}");
    // The real add of …-1001 to Administrators, then a forged record under its id saying it was
    // a removal of someone else.
    let adds = env.search_json("event_code:4732 AND target:*1001", &[]);
    let real = &adds[0];
    let record: u64 = real["record_id"].as_str().unwrap().parse().unwrap();
    let forged = serde_json::json!({
        "@timestamp": real["time"],
        "event": {"code": "4733"},
        "winlog": {"channel": "Security", "computer_name": real["host"], "event_id": "4733",
                   "provider_name": "Microsoft-Windows-Security-Auditing", "record_id": record,
                   "event_data": {"MemberSid": "S-1-5-21-1-2-3-4444", "MemberName": "-",
                                  "TargetSid": "S-1-5-32-544", "TargetUserName": "Administrators",
                                  "TargetDomainName": "Builtin", "SubjectUserName": "mallory",
                                  "SubjectDomainName": "WORKGROUP"}}
    });
    let file = env.dir.path().join("forged.jsonl");
    std::fs::write(&file, format!("{forged}\n")).unwrap();
    let (s, code) = env.ingest(&[file.to_str().unwrap()]);
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["total"]["conflicts"], 1, "{s}");
    assert_eq!(s["total"]["stored"], 0);
    // The stored event is unchanged; the conflict is in the trail and raised an alert.
    let again = env.search_json("event_code:4732 AND target:*1001", &[]);
    assert_eq!(again[0]["id"], real["id"]);
    let conflict = env.search_json("action:evidence.conflict", &[]);
    assert_eq!(conflict.len(), 1);
    assert_eq!(conflict[0]["target"], real["id"]);
    assert!(
        conflict[0]["message"]
            .as_str()
            .unwrap()
            .contains("forged.jsonl"),
        "{}",
        conflict[0]
    );
    let alerts: Vec<serde_json::Value> = env
        .ok(&["alerts", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|a: &serde_json::Value| a["rule"] == "evidence-conflict")
        .collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["severity"], "high");
    // An identical record (another format of the same event) stays a quiet duplicate.
    let (s, _) = env.ingest(&[&data("evtx/security.evtx")]);
    assert_eq!(s["total"]["conflicts"], 0);
    assert!(env.ok(&["verify"]).starts_with("ok: "));
}

#[test]
fn a_reviewers_acknowledgement_is_chained_evidence() {
    let env = Env::new();
    env.ingest(&[&data("evtx/ID104-1102-Event log cleared.evtx")]);
    let alerts: Vec<serde_json::Value> = env
        .ok(&["alerts", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let id = alerts[0]["id"].as_str().unwrap();
    let out = env.run(&[
        "alerts",
        "ack",
        id,
        "--note",
        "cleared during the rebuild, ticket CHG-1234",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acked: serde_json::Value =
        serde_json::from_str(env.ok(&["alerts", "show", id, "--format", "json"]).trim()).unwrap();
    assert_eq!(acked["status"], "acknowledged");
    assert!(
        acked["history"][0]["by"]
            .as_str()
            .unwrap()
            .starts_with("os:")
    );
    let ev = env.search_json("action:alert.acknowledged", &[]);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["correlation_id"], id);
    assert_eq!(
        ev[0]["justification"],
        "cleared during the rebuild, ticket CHG-1234"
    );
    assert_eq!(env.count("CHG-1234"), 1, "the note is searchable");
    assert!(env.ok(&["verify"]).starts_with("ok: 92 events"));
}

#[test]
fn a_silence_is_chained_evidence_and_holds_back_the_rule() {
    let env = Env::new();
    // Unknown rules and past ends are refused before anything is written.
    let bad = env.run(&["alerts", "silence", "--rule", "no-such-rule", "--for", "1h"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no rule \"no-such-rule\""));
    let out = env.ok(&[
        "alerts",
        "silence",
        "--rule",
        "audit-tampering",
        "--for",
        "7d",
        "--note",
        "log rotation test on the jump host, CHG-5678",
    ]);
    assert!(
        out.starts_with("rule audit-tampering silenced for everyone until "),
        "{out}"
    );
    let listed = env.ok(&["alerts", "silences", "--format", "json"]);
    let s: serde_json::Value = serde_json::from_str(listed.trim()).unwrap();
    assert_eq!(s["rule"], "audit-tampering");
    assert_eq!(s["reason"], "log rotation test on the jump host, CHG-5678");

    // While it holds, a cleared log opens no alert; the silence itself is a chained event.
    env.ingest(&[&data("evtx/ID104-1102-Event log cleared.evtx")]);
    let alerts = env.ok(&["alerts", "--format", "json"]);
    assert!(!alerts.contains("audit-tampering"), "{alerts}");
    let ev = env.search_json("action:alert.silenced", &[]);
    assert_eq!(ev.len(), 1);
    assert!(ev[0]["actor"].as_str().unwrap().starts_with("os:"));
    assert_eq!(
        ev[0]["justification"],
        "log rotation test on the jump host, CHG-5678"
    );
    assert!(ev[0]["expires_at"].is_string());
    let verified = env.ok(&["verify"]);
    assert!(
        verified.starts_with("ok: 92 events"),
        "91 records and the silence: {verified}"
    );
}
