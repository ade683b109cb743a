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

    /// Runs privtrail with `--data-dir` set to this environment's store.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_privtrail"))
            .arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .env_remove("PRIVTRAIL_CONFIG")
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

/// The summary row of the file whose path ends with `name`.
pub fn file_row<'a>(summary: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap_or("").ends_with(name))
        .unwrap_or_else(|| panic!("no row for {name} in {summary}"))
}
