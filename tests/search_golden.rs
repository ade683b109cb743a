//! Search output does not change when the store's layout does (issue 12: compressed `raw`, new
//! indexes): the shared real data is ingested and a fixed set of queries is compared with what
//! the version before those changes printed, recorded in `tests/golden/search.json` (per query:
//! the number of events, a SHA-256 of every event as `search --format json` prints it with
//! `ingested_at` removed, and the first events in full so a difference can be read).
//!
//! Entra events got ids that sort by time later (`EventId::entra`, same issue): the comparison
//! puts each Entra event's id back in the form it had when the answers were recorded (derived
//! from its tenant and Graph record id, exactly as before), in `id` and in `linked_to`.
//!
//! Recording (done once, with the binary of commit 24bde3c, before the store changed):
//! `PRIVTRAIL_GOLDEN_WRITE=1 PRIVTRAIL_GOLDEN_BIN=/path/to/old/privtrail cargo test --test search_golden`.
//!
//! A second test checks every stored record's `raw` against the record as the ingest parser
//! reads it from the file, and `verify` (whose links hash each record's text as received).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::data;
use sha2::{Digest, Sha256};

const GOLDEN: &str = "tests/golden/search.json";

/// Every shared file a reviewer's store would hold (the damaged EVTX file included).
fn inputs() -> Vec<String> {
    vec![
        data("evtx"),
        data("nxlog/empire_wmic_add_user_backdoor.security.jsonl.gz"),
        data("winlogbeat6/empire_scm_dll_hijack_ikeext.security.jsonl.gz"),
        data("entra-loganalytics/AADAuditEvents.json"),
        data("graph/directoryaudit-list.example1.response.json"),
        data("graph/directoryaudit-list.example2.response.json"),
    ]
}

/// The fixed query set: every event, each source, the actions rules read, free text, fields,
/// a time window, wildcards, and a query that matches nothing.
const QUERIES: &[(&str, &[&str])] = &[
    ("*", &[]),
    ("source:windows", &[]),
    ("source:entra", &[]),
    ("action:group.member.added", &[]),
    ("action:group.member.removed", &[]),
    ("action:logon", &[]),
    ("event_code:4672", &[]),
    ("event_code:1102 OR event_code:4719", &[]),
    ("privilege_id:\"S-1-5-32-544\"", &[]),
    ("host:jump01*", &[]),
    ("administrators", &[]),
    (
        "*",
        &[
            "--since",
            "2016-07-09T00:00:00Z",
            "--until",
            "2016-07-10T00:00:00Z",
        ],
    ),
    ("actor:*fsir*", &[]),
    ("nothing-matches-this-term", &[]),
];

fn bin() -> PathBuf {
    std::env::var_os("PRIVTRAIL_GOLDEN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_privtrail")))
}

fn run(data_dir: &Path, args: &[&str]) -> String {
    run_with(&bin(), data_dir, args)
}

/// The binary this test suite built, whatever `PRIVTRAIL_GOLDEN_BIN` says: for what checks the
/// current ingest, not the recorded answers.
fn run_current(data_dir: &Path, args: &[&str]) -> String {
    run_with(Path::new(env!("CARGO_BIN_EXE_privtrail")), data_dir, args)
}

fn run_with(bin: &Path, data_dir: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("PRIVTRAIL_CONFIG")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// Entra event ids as they are now → as they were recorded (see the top of the file).
type OldIds = BTreeMap<String, String>;

fn old_entra_ids(data_dir: &Path) -> OldIds {
    let out = run(
        data_dir,
        &[
            "search",
            "source:entra",
            "--format",
            "json",
            "--limit",
            "100000",
        ],
    );
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let old = privtrail_model::EventId::native(
                privtrail_model::Source::Entra,
                v["tenant"].as_str().unwrap(),
                v["record_id"].as_str().unwrap(),
            );
            (v["id"].as_str().unwrap().to_owned(), old.to_string())
        })
        .collect()
}

/// One query's answer as recorded.
fn digest(lines: &str, old_ids: &OldIds) -> serde_json::Value {
    let mut hash = Sha256::new();
    let mut first = Vec::new();
    let mut count = 0u64;
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(o) = v.as_object_mut() {
            o.remove("ingested_at");
            for field in ["id", "linked_to"] {
                if let Some(old) = o
                    .get(field)
                    .and_then(|i| i.as_str())
                    .and_then(|i| old_ids.get(i))
                {
                    o.insert(field.to_owned(), serde_json::Value::String(old.clone()));
                }
            }
        }
        let text = serde_json::to_string(&v).unwrap();
        hash.update(text.as_bytes());
        hash.update(b"\n");
        if first.len() < 3 {
            first.push(v);
        }
        count += 1;
    }
    serde_json::json!({
        "count": count,
        "sha256": hex::encode(hash.finalize()),
        "first": first,
    })
}

fn answers(data_dir: &Path) -> BTreeMap<String, serde_json::Value> {
    let mut args = vec!["ingest"];
    let files = inputs();
    args.extend(files.iter().map(String::as_str));
    run(data_dir, &args);
    // Recording with the old binary: its ids are the old ones already.
    let old_ids = if std::env::var_os("PRIVTRAIL_GOLDEN_BIN").is_some() {
        OldIds::new()
    } else {
        old_entra_ids(data_dir)
    };
    QUERIES
        .iter()
        .map(|(q, extra)| {
            let mut a = vec!["search", q, "--format", "json", "--limit", "100000"];
            a.extend_from_slice(extra);
            let key = format!("{q} {}", extra.join(" ")).trim().to_owned();
            (key, digest(&run(data_dir, &a), &old_ids))
        })
        .collect()
}

#[test]
fn search_output_on_the_shared_data_is_what_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let got = answers(&dir.path().join("data"));
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    if std::env::var_os("PRIVTRAIL_GOLDEN_WRITE").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, serde_json::to_string_pretty(&got).unwrap()).unwrap();
        return;
    }
    let want: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&golden).unwrap()).unwrap();
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    // The set is not trivial: every query but the one meant to match nothing finds events.
    let non_empty = want.values().filter(|v| v["count"] != 0).count();
    assert_eq!(non_empty, QUERIES.len() - 1, "{want:?}");
    for (q, w) in &want {
        let g = &got[q];
        assert_eq!(g["count"], w["count"], "query {q:?}: number of events");
        assert_eq!(g["first"], w["first"], "query {q:?}: first events");
        assert_eq!(g["sha256"], w["sha256"], "query {q:?}: the events' content");
    }
}

#[test]
fn every_stored_raw_is_the_record_as_read_from_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let files = inputs();
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(String::as_str));
    run_current(&data_dir, &args);
    let out = run_current(
        &data_dir,
        &["search", "*", "--format", "json", "--limit", "100000"],
    );
    // `--format json` prints a JSON record as JSON, any other record as a string.
    let stored: BTreeMap<String, serde_json::Value> = out
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["id"].as_str().unwrap().to_owned(), v["raw"].take())
        })
        .collect();
    // What the parser reads from the same files (expanded as the CLI expands them).
    let opts = privtrail_ingest::Options::default();
    let mut read = BTreeMap::new();
    for spec in &files {
        for path in privtrail_ingest::expand_inputs(std::slice::from_ref(spec)).0 {
            let _ = privtrail_ingest::read_file(&path, &opts, &|_| {}, &mut |b| {
                for e in b.events {
                    let raw =
                        serde_json::from_str(&e.raw).unwrap_or(serde_json::Value::String(e.raw));
                    read.entry(e.id.to_string()).or_insert(raw);
                }
                std::ops::ControlFlow::Continue(())
            });
        }
    }
    assert!(stored.len() > 9_000, "{} events stored", stored.len());
    let mut compared = 0;
    for (id, raw) in &stored {
        if let Some(expected) = read.get(id) {
            assert_eq!(
                raw, expected,
                "event {id}: raw differs from the file's record"
            );
            compared += 1;
        }
    }
    // Every file record is stored; only events privtrail itself writes have no file record.
    assert_eq!(compared, read.len());
    // Byte for byte: each link of the chain hashes the record's text as it was received, and
    // verify recomputes it from what the store gives back.
    let verify = run_current(&data_dir, &["verify"]);
    assert!(
        verify.starts_with(&format!("ok: {} events, hash chain intact", stored.len())),
        "{verify}"
    );
}
