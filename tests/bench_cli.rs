//! `privtrail bench ingest` reports what issue 12 asks of it: throughput at a given store size
//! (`--stored`), CPU per event, cores, bytes on disk and written per event, peak RSS, and the
//! components alone (`--reference`). Only the shape and the sanity of the figures are checked
//! here; the figures themselves are measured on a quiet machine, never asserted.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

#[test]
fn bench_ingest_reports_each_workload_at_a_store_size_and_the_references() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_privtrail"))
        .args([
            "bench",
            "ingest",
            "--events",
            "3000",
            "--graph",
            "400",
            "--evtx",
            &common::data("evtx/security.evtx"),
            "--evtx-repeat",
            "1",
            "--stored",
            "2500",
            "--reference",
            "--json",
            "--work-dir",
        ])
        .arg(dir.path())
        .env_remove("PRIVTRAIL_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let runs: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["workload"].is_string()).collect();
    let refs: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["reference"].is_string())
        .collect();
    assert_eq!(runs.len(), 3, "{lines:?}");
    // The evtx crate and privtrail on the EVTX file; read + normalize, bare SQLite and bare
    // tantivy for the Winlogbeat events, then for the Graph records (their own components).
    assert_eq!(refs.len(), 8, "{lines:?}");
    let graph: Vec<_> = refs
        .iter()
        .filter(|r| r["reference"].as_str().unwrap().contains("Graph JSON"))
        .collect();
    assert_eq!(graph.len(), 3, "{refs:?}");
    for r in graph {
        assert_eq!(r["events"], 400, "{r}");
    }
    let expected = [3000, 400, 2261];
    for (r, want) in runs.iter().zip(expected) {
        assert_eq!(r["stored"], want, "{r}");
        // The fill imports whole passes of its file: at least what was asked.
        assert!(r["stored_before"].as_u64().unwrap() >= 2500, "{r}");
        let disk = r["disk_bytes_per_event"].as_f64().unwrap();
        assert!(disk > 50.0 && disk < 20_000.0, "{r}");
        assert!(r["cpu_us_per_event"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["cores_used"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["written_bytes_per_event"].is_number(), "{r}");
        assert!(r["peak_rss_mb"].as_f64().unwrap() > 1.0, "{r}");
    }
    for r in &refs {
        assert!(r["events"].as_u64().unwrap() > 0, "{r}");
        assert!(r["events_per_sec"].as_f64().unwrap() > 0.0, "{r}");
    }
}

/// `privtrail bench api` against its own daemon: live pushes land after the stored events, a
/// backfill starts inside their range, every pushed event is counted from the per-item answers, and the
/// searches find what the store holds.
#[test]
fn bench_api_pushes_live_or_backfilled_events_and_measures_searches() {
    for backfill in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_privtrail"));
        cmd.args([
            "bench",
            "api",
            "--events",
            "3000",
            "--searches",
            "3",
            "--bulk-seconds",
            "4",
            "--json",
            "--work-dir",
        ])
        .arg(dir.path())
        .env_remove("PRIVTRAIL_CONFIG");
        if backfill {
            cmd.arg("--backfill");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["stored_events"], 3000, "{r}");
        assert_eq!(r["bulk_dates"], if backfill { "backfill" } else { "live" });
        let pushed = r["bulk_events"].as_u64().unwrap();
        assert!(pushed >= 1000, "{r}");
        assert_eq!(r["searches"].as_array().unwrap().len(), 8, "{r}");
        // What the clients counted as created is in the store, dated where the mode says.
        let store = dir.path().join("data");
        let q = |sql: &str| -> i64 {
            let db = rusqlite::Connection::open_with_flags(
                store.join("privtrail.db"),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            db.query_row(sql, [], |row| row.get(0)).unwrap()
        };
        assert_eq!(q("SELECT count(*) FROM events"), 3000 + pushed as i64);
        let newest_stored = q("SELECT max(time) FROM events WHERE seq <= 3000");
        let after = q(&format!(
            "SELECT count(*) FROM events WHERE seq > 3000 AND time > {newest_stored}"
        ));
        if backfill {
            assert!(
                after < pushed as i64,
                "backfilled events start inside the stored range"
            );
        } else {
            assert_eq!(
                after, pushed as i64,
                "live events are newer than the stored ones"
            );
        }
    }
}
