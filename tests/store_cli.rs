//! End to end: search forms, output formats, verify and reindex through the binary.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Env, data};

fn loaded() -> Env {
    let env = Env::new();
    let (_, code) = env.ingest(&[&data("evtx/security.evtx")]);
    assert_eq!(code, 0);
    env
}

#[test]
fn search_forms_and_formats() {
    let env = loaded();
    // Wildcard suffix on a keyword field, case-insensitive host.
    // …-1001 was added to Users (4732), None (4728) and Administrators (4732).
    let by_suffix = env.search_json("target:*1001 AND action:group.member.added", &[]);
    assert_eq!(by_suffix.len(), 3);
    assert!(
        by_suffix
            .iter()
            .all(|e| e["target"].as_str().unwrap().ends_with("-1001"))
    );
    assert_eq!(
        env.count("target:*1001 AND privilege_id:\"S-1-5-32-544\""),
        1
    );
    assert_eq!(
        env.count("target:*-100"),
        0,
        "a suffix wildcard anchors at the end"
    );
    assert_eq!(
        env.count("host:win-03dliiofrra"),
        env.count("host:WIN-03DLIIOFRRA")
    );
    assert!(env.count("host:win-03dliiofrra") > 0);
    // Free text finds the subject.
    assert!(env.count("fsir") > 0);

    // Newest first, limit, since/until.
    let newest = env.search_json("*", &["--limit", "5"]);
    assert_eq!(newest.len(), 5);
    let times: Vec<&str> = newest.iter().map(|e| e["time"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
    let window = env.search_json(
        "privilege_id:\"S-1-5-32-544\"",
        &["--since", "2016-07-09T00:00:00Z", "--until", "2016-07-10"],
    );
    assert_eq!(window.len(), 2, "the add and remove of 2016-07-09");
    let count_window = env.ok(&[
        "search",
        "privilege_id:\"S-1-5-32-544\"",
        "--since",
        "2016-07-09",
        "--until",
        "2016-07-10",
        "--count",
    ]);
    assert_eq!(count_window.trim(), "2");

    // CSV has a header and one row per event.
    let csv = env.ok(&["search", "event_code:4732", "--format", "csv"]);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("id,time,ingested_at,source")
    );
    assert_eq!(lines.count(), 6);
    // The table names the events.
    let table = env.ok(&["search", "event_code:4733"]);
    assert!(
        table.contains("group.member.removed") && table.contains("Administrators"),
        "{table}"
    );
}

#[test]
fn malformed_query_is_a_usage_error() {
    let env = loaded();
    for q in [
        "action:(group.member.added",
        "\"unbalanced",
        "nosuchfield:x",
    ] {
        let out = env.run(&["search", q]);
        assert_eq!(out.status.code(), Some(2), "query {q:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("error:") && err.to_lowercase().contains("query"),
            "{q:?}: {err}"
        );
    }
    let out = env.run(&["search", "*", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn verify_catches_an_edited_row() {
    let env = loaded();
    let ok = env.ok(&["verify"]);
    assert!(ok.contains("2261"), "{ok}");
    let db = rusqlite::Connection::open(env.data_dir().join("privtrail.db")).unwrap();
    db.execute(
        "UPDATE events SET target = 'S-1-5-21-0-0-0-500' WHERE seq = 100",
        [],
    )
    .unwrap();
    drop(db);
    let out = env.run(&["verify"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("seq 100"), "{text}");
}

#[test]
fn reindex_restores_identical_results() {
    let env = loaded();
    let queries = [
        "*",
        "event_code:4732",
        "action:logon AND fsir",
        "target:*1001",
    ];
    let before: Vec<String> = queries
        .iter()
        .map(|q| env.ok(&["search", q, "--format", "json", "--limit", "3000"]))
        .collect();
    std::fs::remove_dir_all(env.data_dir().join("index")).unwrap();
    let out = env.ok(&["reindex"]);
    assert!(out.contains("2261"), "{out}");
    let after: Vec<String> = queries
        .iter()
        .map(|q| env.ok(&["search", q, "--format", "json", "--limit", "3000"]))
        .collect();
    assert_eq!(before, after);
}

#[test]
fn demo_runs_end_to_end() {
    let env = Env::new();
    let out = env.ok(&["demo", "--no-serve", "--days", "2", "--machines", "4"]);
    assert!(out.contains("What privtrail found"), "{out}");
    assert!(!out.contains("MISMATCH"), "{out}");
    assert!(out.contains("audit.log_cleared"), "{out}");
}

#[test]
fn config_is_validated() {
    let env = Env::new();
    let cfg = env.dir.path().join("privtrail.toml");
    std::fs::write(&cfg, "[ingest]\nchanels = [\"Security\"]\n").unwrap();
    let out = env.run(&["--config", cfg.to_str().unwrap(), "config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chanels"));
    std::fs::write(
        &cfg,
        "[ingest]\nchannels = [\"Security\"]\n[policy]\nprivileged_groups = [\"DnsAdmins\"]\n",
    )
    .unwrap();
    env.ok(&["--config", cfg.to_str().unwrap(), "config", "check"]);
}
