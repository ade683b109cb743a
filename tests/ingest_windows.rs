//! End to end: `privtrail ingest` on the real Windows files, then `search` for the facts the data's
//! README lists.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Env, data, file_row};

const ADMINS: &str = "S-1-5-32-544";
const SID_1000: &str = "S-1-5-21-2603537626-3982775912-406486804-1000";
const SID_1001: &str = "S-1-5-21-2603537626-3982775912-406486804-1001";

#[test]
fn security_evtx_gives_the_documented_facts() {
    let env = Env::new();
    let (summary, code) = env.ingest(&[&data("evtx/security.evtx")]);
    assert_eq!(code, 0, "{summary}");
    let row = file_row(&summary, "security.evtx");
    assert_eq!(row["format"], "evtx");
    assert_eq!(row["records"], 2261);
    assert_eq!(row["stored"], 2261);
    assert_eq!(row["errors"], 0);

    assert_eq!(env.count("event_code:4732"), 6);
    assert_eq!(
        env.count(&format!(
            "action:group.member.added AND privilege_id:\"{ADMINS}\""
        )),
        3
    );
    assert_eq!(
        env.count(&format!(
            "action:group.member.removed AND privilege_id:\"{ADMINS}\""
        )),
        1
    );
    assert_eq!(env.count("action:logon.special_privileges"), 459);
    for (code, n) in [
        ("4624", 583),
        ("4634", 11),
        ("4647", 36),
        ("4648", 45),
        ("4720", 2),
        ("4728", 2),
        ("4733", 1),
        ("4735", 36),
        ("4738", 10),
    ] {
        assert_eq!(env.count(&format!("event_code:{code}")), n, "event {code}");
    }
    assert_eq!(env.count("*"), 2261);

    // The Administrators timeline of the data README, oldest first.
    let mut changes = env.search_json(&format!("privilege_id:\"{ADMINS}\""), &[]);
    changes.reverse();
    let timeline: Vec<(String, String, String, String)> = changes
        .iter()
        .map(|e| {
            (
                e["time"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["target"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = [
        (
            "2016-07-08T18:15:23.4292263Z",
            "group.member.added",
            SID_1000,
            "WIN-03DLIIOFRRA$",
        ),
        (
            "2016-07-09T22:25:47.6209057Z",
            "group.member.added",
            SID_1001,
            "fsir",
        ),
        (
            "2016-07-09T22:29:34.5485219Z",
            "group.member.removed",
            SID_1000,
            "fsir",
        ),
        (
            "2016-07-16T00:18:31.3954906Z",
            "group.member.added",
            SID_1000,
            "archir",
        ),
    ];
    assert_eq!(timeline.len(), expect.len(), "{timeline:?}");
    for (got, want) in timeline.iter().zip(expect) {
        assert_eq!(got.0, want.0);
        assert_eq!(got.1, want.1);
        assert_eq!(got.2, want.2);
        assert!(
            got.3.ends_with(want.3),
            "actor {} should be {}",
            got.3,
            want.3
        );
    }
    for e in &changes {
        assert_eq!(e["source"], "windows");
        assert_eq!(e["privilege"], "Administrators");
        assert_eq!(e["event_code"].as_str().unwrap().len(), 4);
        assert!(e["raw"].is_object(), "raw is embedded JSON");
    }
}

#[test]
fn quick_add_remove_is_56_seconds_apart() {
    let env = Env::new();
    let (summary, code) = env.ingest(&[&data(
        "evtx/ID4732-4733-Quick added-removed user from local group.evtx",
    )]);
    assert_eq!(code, 0, "{summary}");
    let mut ev = env.search_json(&format!("privilege_id:\"{ADMINS}\""), &[]);
    ev.reverse();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[0]["action"], "group.member.added");
    assert_eq!(ev[1]["action"], "group.member.removed");
    for e in &ev {
        assert_eq!(
            e["target"],
            "S-1-5-21-1470532092-3758209836-3742276719-1001"
        );
        assert_eq!(e["host"], "jump01.offsec.lan");
    }
    assert_eq!(ev[0]["time"], "2020-07-12T05:14:30.9766127Z");
    assert_eq!(ev[1]["time"], "2020-07-12T05:15:26.6793305Z");
    let t = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v["time"].as_str().unwrap()).unwrap()
    };
    // 55.70 s: "56 s apart" in the data README, rounded.
    assert_eq!((t(&ev[1]) - t(&ev[0])).num_milliseconds(), 55_702);
    assert_eq!(
        env.count("privilege_id:\"S-1-5-32-551\""),
        2,
        "Backup Operators add and remove"
    );
}

#[test]
fn damaged_evtx_keeps_readable_records_and_does_not_stop_others() {
    let env = Env::new();
    let (summary, code) = env.ingest(&[
        &data("evtx/sample_with_a_bad_chunk_magic.evtx"),
        &data("evtx/security.evtx"),
    ]);
    assert_eq!(
        code, 0,
        "damage inside a readable file is reported, not fatal: {summary}"
    );
    let bad = file_row(&summary, "sample_with_a_bad_chunk_magic.evtx");
    assert_eq!(bad["records"], 301);
    assert_eq!(
        bad["skipped"], 301,
        "AppXDeployment channel is not selected by default"
    );
    assert!(bad["errors"].as_u64().unwrap() > 0, "{bad}");
    assert!(!bad["messages"].as_array().unwrap().is_empty());
    let good = file_row(&summary, "security.evtx");
    assert_eq!(good["stored"], 2261);
    assert_eq!(env.count("*"), 2261);

    // With its channel selected, the readable records are stored.
    let env2 = Env::new();
    let out = env2.run(&[
        "ingest",
        "--json",
        "--channel",
        "Microsoft-Windows-AppXDeployment/Operational",
        &data("evtx/sample_with_a_bad_chunk_magic.evtx"),
    ]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // One of the 301 readable records is an empty shell (event id 0, no time, no channel): it is
    // not of the selected channel. The evtx crate reads it; there is nothing in it to store.
    assert_eq!(s["total"]["records"], 301, "{s}");
    assert_eq!(s["total"]["stored"], 300, "{s}");
    assert_eq!(s["total"]["skipped"], 1, "{s}");
}

#[test]
fn reimport_stores_nothing_new() {
    let env = Env::new();
    let f = data("evtx/security.evtx");
    env.ingest(&[&f]);
    let (again, code) = env.ingest(&[&f]);
    assert_eq!(code, 0);
    assert_eq!(again["total"]["stored"], 0, "{again}");
    assert_eq!(again["total"]["duplicates"], 2261);
    assert_eq!(env.count("*"), 2261);
    env.ok(&["verify"]);
}

#[test]
fn garbage_and_truncated_inputs_are_reported_while_others_import() {
    let env = Env::new();
    let garbage = env.dir.path().join("garbage.bin");
    std::fs::write(&garbage, b"\x00\x01this is not an event log at all\xff\xfe").unwrap();
    let full = std::fs::read(data("evtx/security.evtx")).unwrap();
    let truncated = env.dir.path().join("truncated.evtx");
    std::fs::write(&truncated, &full[..200_000]).unwrap();
    let missing = env.dir.path().join("nope/*.evtx");

    let (summary, code) = env.ingest(&[
        garbage.to_str().unwrap(),
        truncated.to_str().unwrap(),
        missing.to_str().unwrap(),
        &data("evtx/ID4719-Audit policy deactivation.evtx"),
    ]);
    assert_eq!(
        code, 1,
        "an input that could not be read at all fails the run: {summary}"
    );
    let g = file_row(&summary, "garbage.bin");
    assert!(g["failed"].as_str().unwrap().contains("garbage.bin"), "{g}");
    let t = file_row(&summary, "truncated.evtx");
    assert!(
        t["failed"].is_null(),
        "a truncated file yields what it can: {t}"
    );
    assert!(t["stored"].as_u64().unwrap() > 0, "{t}");
    assert!(t["errors"].as_u64().unwrap() > 0, "{t}");
    assert_eq!(
        file_row(&summary, "ID4719-Audit policy deactivation.evtx")["stored"],
        30
    );
    assert_eq!(env.count("action:audit.policy_changed"), 30);

    // The text summary names the failures.
    let out = env.run(&["ingest", garbage.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error:") && text.contains("garbage.bin"),
        "{text}"
    );
}

#[test]
fn agent_json_files_are_normalized() {
    let env = Env::new();
    let (summary, code) = env.ingest(&[
        &data("nxlog/empire_wmic_add_user_backdoor.security.jsonl.gz"),
        &data("winlogbeat6/empire_scm_dll_hijack_ikeext.security.jsonl.gz"),
    ]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(
        file_row(&summary, "backdoor.security.jsonl.gz")["format"],
        "nxlog"
    );
    assert_eq!(
        file_row(&summary, "ikeext.security.jsonl.gz")["format"],
        "winlogbeat"
    );
    assert_eq!(
        file_row(&summary, "backdoor.security.jsonl.gz")["records"],
        6138
    );
    assert_eq!(
        file_row(&summary, "ikeext.security.jsonl.gz")["records"],
        1212
    );
    for (code, action) in [
        ("4720", "account.created"),
        ("4728", "group.member.added"),
        ("4729", "group.member.removed"),
        ("4732", "group.member.added"),
    ] {
        let ev = env.search_json(&format!("event_code:{code}"), &[]);
        assert!(!ev.is_empty(), "no {code} event");
        for e in &ev {
            assert_eq!(e["action"], action, "{e}");
            assert!(
                e["target"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("S-1-5-")),
                "{e}"
            );
            if action.starts_with("group.") {
                assert!(
                    e["privilege_id"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("S-1-5-")),
                    "{e}"
                );
                assert!(e["privilege"].is_string(), "{e}");
            }
        }
    }
}

#[test]
fn log_cleared_and_audit_policy_files() {
    let env = Env::new();
    env.ingest(&[&data("evtx/ID104-1102-Event log cleared.evtx")]);
    assert_eq!(env.count("action:audit.log_cleared AND event_code:1102"), 1);
    assert_eq!(env.count("action:audit.log_cleared AND event_code:104"), 90);
    let e = &env.search_json("event_code:1102", &[])[0];
    assert!(
        e["actor"].as_str().is_some_and(|a| !a.is_empty()),
        "1102 actor from UserData: {e}"
    );
}
