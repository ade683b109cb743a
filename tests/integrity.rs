//! The tamper matrix: what someone with write access to the data directory can do to the trail,
//! and how `privtrail verify` names it. Each case edits the real SQLite file directly, as an
//! attacker would, then runs the real binary.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use rusqlite::{Connection, params};

/// A store of `security.evtx` and the quick add/remove file, anchored to a file outside it after
/// each import (interval 0: every head is published). Returns the config path and the anchor file.
fn anchored_store(env: &Env, key: Option<&str>) -> (String, PathBuf) {
    let anchors = env.dir.path().join("anchors").join("anchors.log");
    std::fs::create_dir_all(anchors.parent().unwrap()).unwrap();
    let cfg = env.dir.path().join("privtrail.toml");
    let key_line = key.map(|k| format!("key = \"{k}\"\n")).unwrap_or_default();
    std::fs::write(
        &cfg,
        format!(
            "[integrity]\nanchor_file = {:?}\nanchor_interval = \"0s\"\n{key_line}",
            anchors.display().to_string()
        ),
    )
    .unwrap();
    let cfg = cfg.display().to_string();
    for f in [
        "evtx/security.evtx",
        "evtx/ID4732-4733-Quick added-removed user from local group.evtx",
    ] {
        let out = env.run(&["--config", &cfg, "ingest", &data(f)]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (cfg, anchors)
}

fn db(env: &Env) -> Connection {
    Connection::open(env.data_dir().join("privtrail.db")).unwrap()
}

/// `verify`'s stdout and exit code.
fn verify(env: &Env, cfg: &str, extra: &[&str]) -> (String, i32) {
    let mut args = vec!["--config", cfg, "verify"];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap(),
    )
}

/// Recomputes every link of the chain as someone without a key can (plain SHA-256), after
/// whatever edit was made, and moves the head: a chain consistent in itself.
fn recompute_chain(env: &Env) {
    let store = privtrail_store::Store::open(&env.data_dir()).unwrap();
    let mut rows = Vec::new();
    store
        .chain_segment(0, i64::MAX, |seq, e, _| {
            rows.push((seq, e));
            true
        })
        .unwrap();
    drop(store);
    let conn = db(env);
    let mut prev = privtrail_store::chain::ZERO_HASH;
    for (seq, e) in &rows {
        prev = privtrail_store::chain::link_hash(&prev, e);
        conn.execute(
            "UPDATE events SET hash = ?1 WHERE seq = ?2",
            params![&prev[..], seq],
        )
        .unwrap();
    }
    let last = rows.last().unwrap().0;
    conn.execute(
        "UPDATE chain SET head_seq = ?1, head_hash = ?2, keyed_from = NULL WHERE id = 1",
        params![last, &prev[..]],
    )
    .unwrap();
}

#[test]
fn an_intact_anchored_store_verifies() {
    let env = Env::new();
    let (cfg, anchors) = anchored_store(&env, None);
    let lines = std::fs::read_to_string(&anchors).unwrap();
    assert_eq!(lines.lines().count(), 2, "one anchor per import:\n{lines}");
    let (out, code) = verify(&env, &cfg, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("ok: 2266 events"), "{out}");
    assert!(out.contains("anchors: 4 matched (2 anchors in"), "{out}");
}

#[test]
fn editing_one_event_is_named_by_its_seq() {
    let env = Env::new();
    let (cfg, _) = anchored_store(&env, None);
    db(&env)
        .execute(
            "UPDATE events SET target = 'S-1-5-21-1-2-3-4444' WHERE seq = 100",
            [],
        )
        .unwrap();
    let (out, code) = verify(&env, &cfg, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("first broken link at seq 100"), "{out}");
    assert!(out.contains("modified after it was written"), "{out}");
}

#[test]
fn deleting_the_newest_rows_and_moving_the_head_back_is_caught_by_the_anchors() {
    let env = Env::new();
    let (cfg, anchors) = anchored_store(&env, None);
    let conn = db(&env);
    let hash: Vec<u8> = conn
        .query_row("SELECT hash FROM events WHERE seq = 2000", [], |r| r.get(0))
        .unwrap();
    conn.execute("DELETE FROM events WHERE seq > 2000", [])
        .unwrap();
    conn.execute(
        "UPDATE chain SET head_seq = 2000, head_hash = ?1 WHERE id = 1",
        [&hash],
    )
    .unwrap();
    // The attacker also deletes privtrail's own record of the anchors: the file still holds them.
    conn.execute("DELETE FROM anchors", []).unwrap();
    drop(conn);
    let (out, code) = verify(&env, &cfg, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("rows deleted at the end"), "{out}");
    assert!(out.contains("the chain reached seq 2261"), "{out}");
    assert!(out.contains("it now ends at seq 2000"), "{out}");
    assert!(
        out.contains(&anchors.display().to_string()),
        "names the anchor: {out}"
    );
    // Without the anchor file the truncation is consistent in itself: that is what anchors are for.
    let bare = env.dir.path().join("bare.toml");
    std::fs::write(&bare, "").unwrap();
    let (out, code) = verify(&env, bare.to_str().unwrap(), &[]);
    assert_eq!(code, 0, "{out}");
    // …and `--anchors FILE` brings them back.
    let (out, code) = verify(
        &env,
        bare.to_str().unwrap(),
        &["--anchors", anchors.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{out}");
}

#[test]
fn resetting_the_base_metadata_does_not_skip_verification() {
    let env = Env::new();
    let (cfg, _) = anchored_store(&env, None);
    let conn = db(&env);
    conn.execute("UPDATE events SET actor = 'nobody' WHERE seq = 50", [])
        .unwrap();
    // An old verify started at the recorded base: move it past the edit.
    let hash: Vec<u8> = conn
        .query_row("SELECT hash FROM events WHERE seq = 1000", [], |r| r.get(0))
        .unwrap();
    conn.execute(
        "UPDATE chain SET base_seq = 1000, base_hash = ?1 WHERE id = 1",
        [&hash],
    )
    .unwrap();
    drop(conn);
    let (out, code) = verify(&env, &cfg, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("first broken link at seq 50"), "{out}");
}

#[test]
fn a_recomputed_chain_is_caught_by_the_anchors() {
    let env = Env::new();
    let (cfg, _) = anchored_store(&env, None);
    db(&env)
        .execute(
            "UPDATE events SET target = 'S-1-5-21-1-2-3-4444' WHERE seq = 1500",
            [],
        )
        .unwrap();
    recompute_chain(&env);
    let (out, code) = verify(&env, &cfg, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("the chain was rewritten"), "{out}");
    assert!(
        out.contains("seq 2261 had hash"),
        "the first anchor past the edit: {out}"
    );
}

#[test]
fn a_recomputed_keyed_chain_is_caught_by_the_key() {
    let env = Env::new();
    let key = "k3y-kept-outside-the-store-0123456789";
    let (cfg, anchors) = anchored_store(&env, Some(key));
    let (out, code) = verify(&env, &cfg, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every link keyed (HMAC-SHA256)"), "{out}");
    // Without the key the keyed links cannot be checked: said plainly.
    let nokey = env.dir.path().join("nokey.toml");
    std::fs::write(&nokey, "").unwrap();
    let (out, code) = verify(&env, nokey.to_str().unwrap(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("configure [integrity] key"), "{out}");
    // An edit, the chain recomputed without the key, the anchors gone: the key still catches it.
    db(&env)
        .execute("UPDATE events SET actor = 'nobody' WHERE seq = 10", [])
        .unwrap();
    recompute_chain(&env);
    db(&env).execute("DELETE FROM anchors", []).unwrap();
    std::fs::remove_file(&anchors).unwrap();
    std::fs::write(&anchors, "").unwrap();
    let (out, code) = verify(&env, &cfg, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no link of this chain is keyed"), "{out}");
}

#[test]
fn the_anchor_file_must_live_outside_the_data_directory() {
    let env = Env::new();
    let cfg = env.dir.path().join("inside.toml");
    let inside: &Path = &env.data_dir().join("anchors.log");
    std::fs::write(
        &cfg,
        format!(
            "[integrity]\nanchor_file = {:?}\n",
            inside.display().to_string()
        ),
    )
    .unwrap();
    let out = env.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "ingest",
        &data("evtx/Security_short_selected.evtx"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inside the data directory"));
}

#[test]
fn anchors_go_to_channels_through_the_outbox() {
    let env = Env::new();
    let siem = env.dir.path().join("siem.jsonl");
    let cfg = env.dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[channels]]\nname = \"siem\"\ntype = \"file\"\npath = {:?}\n\
             [integrity]\nanchor_channels = [\"siem\"]\nanchor_interval = \"0s\"\n",
            siem.display().to_string()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let out = env.run(&[
        "--config",
        cfg,
        "ingest",
        &data("evtx/Security_short_selected.evtx"),
    ]);
    assert!(out.status.success());
    env.ok(&["--config", cfg, "outbox", "deliver"]);
    let line = std::fs::read_to_string(&siem).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(v["payload"]["kind"], "anchor");
    assert_eq!(v["payload"]["seq"], 7);
    assert_eq!(
        v["idempotency_key"].as_str().unwrap().split(':').nth(1),
        Some("7")
    );
    let (out, code) = verify(&env, cfg, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("anchors: 1 matched"), "{out}");
}

#[test]
fn an_export_round_trips_and_a_changed_line_is_named() {
    let env = Env::new();
    let (cfg, _) = anchored_store(&env, None);
    for format in ["jsonl", "csv"] {
        let out = env.dir.path().join(format!("export-{format}"));
        let o = env.ok(&[
            "--config",
            &cfg,
            "export",
            "--since",
            "2016-07-01",
            "--until",
            "2020-08-01",
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.starts_with("exported 2266 events"), "{o}");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["events"], 2266);
        assert_eq!(manifest["seq_range"], serde_json::json!([1, 2266]));
        assert_eq!(manifest["anchors"].as_array().unwrap().len(), 4);
        // Offline: a store-less config.
        let bare = env.dir.path().join("bare.toml");
        std::fs::write(&bare, "").unwrap();
        let bare = bare.to_str().unwrap();
        let v = env.run(&[
            "--config",
            bare,
            "verify",
            "--export",
            out.to_str().unwrap(),
        ]);
        let text = String::from_utf8_lossy(&v.stdout);
        assert!(v.status.success(), "{format}: {text}");
        assert!(
            text.contains("ok: export of 2266 events (seq 1..=2266) intact; 4 anchors matched"),
            "{text}"
        );
    }
    // A changed event in the JSON lines: named by its line, even with the manifest's digest redone.
    let dir = env.dir.path().join("export-jsonl");
    let file = dir.join("events.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    let changed = text.replacen(
        "\"target\":\"S-1-5-21-2603537626-3982775912-406486804-1001\"",
        "\"target\":\"S-1-5-21-1-2-3-4444\"",
        1,
    );
    assert_ne!(changed, text);
    let line = text
        .lines()
        .position(|l| l.contains("\"target\":\"S-1-5-21-2603537626-3982775912-406486804-1001\""))
        .unwrap()
        + 1;
    std::fs::write(&file, &changed).unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let digest = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(changed.as_bytes()))
    };
    manifest["files"]["events.jsonl"]["sha256"] = serde_json::json!(digest);
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
    let v = env.run(&["verify", "--export", dir.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&v.stdout);
    assert_eq!(v.status.code(), Some(1), "{out}");
    assert!(out.contains(&format!("events.jsonl line {line} ")), "{out}");
    assert!(out.contains("does not match its link hash"), "{out}");
}

#[test]
fn a_purge_drops_the_oldest_part_keeps_open_elevations_and_still_verifies() {
    let env = Env::new();
    let (cfg, anchors) = anchored_store(&env, None);
    let with_retention = env.dir.path().join("retention.toml");
    std::fs::write(
        &with_retention,
        format!(
            "{}\n[retention]\nevents = \"400d\"\n",
            std::fs::read_to_string(&cfg).unwrap()
        ),
    )
    .unwrap();
    let rcfg = with_retention.to_str().unwrap();
    let privileges = |q: &str| -> Vec<String> {
        env.search_json(q, &[])
            .iter()
            .map(|e| e["privilege"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let before_elevations = env.ok(&["elevations", "--format", "json"]);
    let added = "event_code:4732 AND host:WIN-03DLIIOFRRA AND target:*1001";
    let mut added_before = privileges(added);
    added_before.sort();
    assert_eq!(added_before, ["Administrators", "Users"]);
    let dry = env.ok(&["--config", rcfg, "purge", "--dry-run"]);
    assert!(dry.starts_with("would purge "), "{dry}");
    assert!(
        env.ok(&["verify"]).starts_with("ok: 2266 events"),
        "a dry run changes nothing"
    );
    let out = env.ok(&["--config", rcfg, "purge"]);
    assert!(out.starts_with("purged "), "{out}");
    let through: i64 = out
        .split("seq 1..=")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .unwrap();
    // Every event of 2016 is past 400 days, but the elevations still open (…-1001 since
    // 2016-07-09, …-1000 since 2016-07-16) keep the events that opened them, and all after.
    let kept = privileges(added);
    assert_eq!(
        kept,
        ["Administrators"],
        "the opener of the open elevation stays; the older, unprivileged Users add goes: {out}"
    );
    assert!(through > 0 && through < 2266, "{through}");
    // The purge is a chained record and the chain verifies from it (with every anchor).
    let purged = env.search_json("action:store.purged", &[]);
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0]["raw"]["through_seq"], through);
    let (v, code) = verify(&env, &cfg, &["--anchors", anchors.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert!(
        v.starts_with(&format!("ok: {} events", 2266 - through + 1)),
        "{v}"
    );
    // Elevations built from purged events stay readable.
    let after = env.ok(&["elevations", "--format", "json"]);
    assert_eq!(
        before_elevations.lines().count(),
        after.lines().count(),
        "before:\n{before_elevations}\nafter:\n{after}"
    );
    // Nothing left to purge: the rest is held by the open elevations.
    let again = env.ok(&["--config", rcfg, "purge"]);
    assert!(again.starts_with("nothing to purge"), "{again}");
}

#[test]
fn the_daemon_purges_by_retention_too() {
    let env = Env::new();
    let (cfg, anchors) = anchored_store(&env, None);
    let alerts_before = env.ok(&["alerts", "--format", "json"]);
    std::fs::write(
        &cfg,
        format!(
            "{}\n[retention]\nevents = \"3650d\"\n[retention.sources]\nwindows = \"400d\"\n",
            std::fs::read_to_string(&cfg).unwrap()
        ),
    )
    .unwrap();
    let out = env.run(&["--config", &cfg, "run", "--once"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let purged = env.search_json("action:store.purged", &[]);
    assert_eq!(purged.len(), 1, "run --once purged once");
    assert!(
        purged[0]["message"]
            .as_str()
            .unwrap()
            .contains("windows kept 400d"),
        "{:?}",
        purged[0]["message"]
    );
    let (v, code) = verify(&env, &cfg, &["--anchors", anchors.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    // Alerts raised from purged events stay readable.
    let alerts_after = env.ok(&["alerts", "--format", "json"]);
    assert_eq!(
        alerts_before.lines().count(),
        alerts_after.lines().count(),
        "{alerts_after}"
    );
    assert!(alerts_before.lines().count() > 0);
}
