//! Helpers for the end-to-end tests: they drive the built `privtrail` binary against a fresh data
//! directory and read the real data in `../shared/data` in place.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A path under `../shared/data` (relative to the project root).
pub mod daemon;
pub mod http;
pub mod services;
pub mod sim;

pub fn data(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    assert!(p.exists(), "test data missing: {}", p.display());
    p.display().to_string()
}

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs privtrail with `--data-dir` set to this environment's store, and its temporary folder
    /// inside this environment's: what a command keeps there (the demo keeps its simulated events
    /// for the user to look at) goes with the test's folder.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_privtrail"))
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("PRIVTRAIL_CONFIG")
            .env("TMPDIR", self.dir.path())
            .output()
            .unwrap()
    }

    /// Runs and asserts the exit status, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "privtrail {args:?} failed: {:?}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `ingest --json`: the summary as JSON, plus the exit code.
    pub fn ingest(&self, paths: &[&str]) -> (serde_json::Value, i32) {
        let mut args = vec!["ingest", "--json"];
        args.extend_from_slice(paths);
        let out = self.run(&args);
        let text = String::from_utf8_lossy(&out.stdout);
        let summary = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!(
                "ingest summary is not JSON ({e}): {text}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (summary, out.status.code().unwrap_or(-1))
    }

    pub fn count(&self, query: &str) -> u64 {
        self.ok(&["search", query, "--count"])
            .trim()
            .parse()
            .unwrap()
    }

    /// `search --format json`: the events as JSON values.
    pub fn search_json(&self, query: &str, extra: &[&str]) -> Vec<serde_json::Value> {
        let mut args = vec!["search", query, "--format", "json"];
        if !extra.contains(&"--limit") {
            args.extend_from_slice(&["--limit", "100000"]);
        }
        args.extend_from_slice(extra);
        self.ok(&args)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Env {
    /// Writes `text` as the config file `name` in this environment; returns its path.
    pub fn config(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// Ingests `lines` (JSON lines) with the config `cfg`, asserting success.
    pub fn ingest_lines(&self, cfg: &str, lines: &[String]) {
        let file = self.dir.path().join(format!("in-{}.jsonl", lines.len()));
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let out = self.run(&["--config", cfg, "ingest", "--json", file.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `outbox list --format json` under the config `cfg`.
    pub fn outbox(&self, cfg: &str) -> Vec<serde_json::Value> {
        self.ok(&[
            "--config", cfg, "outbox", "list", "--limit", "10000", "--format", "json",
        ])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
    }

    /// `alerts --format json`.
    pub fn alerts(&self) -> Vec<serde_json::Value> {
        self.ok(&["alerts", "--format", "json"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// A Winlogbeat 8 record, a minute old, of `domain\user` adding a member to the local
/// Administrators group (by SID, whatever `group` calls it) on `host`: one
/// `unapproved-local-admin` alert, whose summary quotes the actor. Every name is the
/// attacker's to choose: they come from the host's own log.
pub fn member_added(record: u64, domain: &str, user: &str, group: &str, host: &str) -> String {
    let at = chrono::Utc::now() - chrono::Duration::minutes(1);
    member_added_as(
        at,
        record,
        (domain, user),
        group,
        "S-1-5-21-1-2-3-1104",
        host,
    )
}

/// [`member_added`] at `at`, of `member_sid`, to Administrators (by name and SID), by
/// `(domain, user)`.
pub fn member_added_record(
    at: chrono::DateTime<chrono::Utc>,
    record: u64,
    by: (&str, &str),
    member_sid: &str,
    host: &str,
) -> String {
    member_added_as(at, record, by, "Administrators", member_sid, host)
}

fn member_added_as(
    at: chrono::DateTime<chrono::Utc>,
    record: u64,
    (domain, user): (&str, &str),
    group: &str,
    member_sid: &str,
    host: &str,
) -> String {
    serde_json::json!({
        "@timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "event": {"code": "4732", "provider": "Microsoft-Windows-Security-Auditing", "outcome": "success"},
        "host": {"name": host},
        "winlog": {
            "channel": "Security", "computer_name": host, "event_id": "4732",
            "provider_name": "Microsoft-Windows-Security-Auditing", "record_id": record,
            "event_data": {
                "MemberName": "-", "MemberSid": member_sid,
                "TargetUserName": group, "TargetDomainName": "BUILTIN", "TargetSid": "S-1-5-32-544",
                "SubjectUserSid": "S-1-5-21-1-2-3-500", "SubjectUserName": user,
                "SubjectDomainName": domain, "SubjectLogonId": "0x3e7", "PrivilegeList": "-"
            }
        }
    })
    .to_string()
}

/// The summary row of the file whose path ends with `name`.
pub fn file_row<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap_or("").ends_with(name))
        .unwrap_or_else(|| panic!("no row for {name} in {summary}"))
}
