//! End to end: `privtrail demo` never touches a real store or real channels (SPEC §8), whatever
//! `PRIVTRAIL_DATA_DIR` and `PRIVTRAIL_CONFIG` say; a typed `--data-dir` must be new, empty or a
//! previous demo's.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::{Env, data};

/// Every file under `dir` with its size and modification time.
fn listing(dir: &Path) -> BTreeMap<String, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.insert(
                    e.path().display().to_string(),
                    (m.len(), m.modified().unwrap()),
                );
            }
        }
    }
    out
}

/// A real store with events in it, and a real config whose file channel takes every alert.
fn real_setup(env: &Env) -> (std::path::PathBuf, std::path::PathBuf) {
    let (summary, code) = env.ingest(&[&data(
        "evtx/ID4732-4733-Quick added-removed user from local group.evtx",
    )]);
    assert_eq!(code, 0, "{summary}");
    let real_alerts = env.dir.path().join("real-alerts.jsonl");
    let config = env.dir.path().join("real.toml");
    std::fs::write(
        &config,
        format!(
            "[[channels]]\nname = \"soc\"\ntype = \"file\"\npath = {:?}\n\n[[routes]]\nchannels = [\"soc\"]\n",
            real_alerts.to_str().unwrap()
        ),
    )
    .unwrap();
    (config, real_alerts)
}

fn demo(env_vars: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_privtrail"));
    c.env_remove("PRIVTRAIL_CONFIG")
        .env_remove("PRIVTRAIL_DATA_DIR");
    for (k, v) in env_vars {
        c.env(k, v);
    }
    c.args(args)
        .args(["demo", "--no-serve", "--days", "1", "--machines", "2"])
        .output()
        .unwrap()
}

#[test]
fn the_demo_ignores_privtrail_data_dir_and_privtrail_config() {
    let env = Env::new();
    let (config, real_alerts) = real_setup(&env);
    let events = env.count("*");
    assert!(events > 0);
    let before = listing(&env.data_dir());

    let out = demo(
        &[
            ("PRIVTRAIL_DATA_DIR", env.data_dir().as_path()),
            ("PRIVTRAIL_CONFIG", config.as_path()),
            ("TMPDIR", env.dir.path()),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Delivered through the outbox"), "{stdout}");
    assert!(
        !stdout.contains(&env.data_dir().display().to_string()),
        "the demo named the real store: {stdout}"
    );
    assert_eq!(
        listing(&env.data_dir()),
        before,
        "the real store was touched"
    );
    assert_eq!(env.count("*"), events);
    assert!(
        !real_alerts.exists(),
        "the demo delivered to a real channel"
    );
}

#[test]
fn a_typed_data_dir_must_be_new_empty_or_a_previous_demos() {
    let env = Env::new();
    real_setup(&env);
    let before = listing(&env.data_dir());
    let out = demo(
        &[("TMPDIR", env.dir.path())],
        &["--data-dir", env.data_dir().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to run the demo"), "{stderr}");
    assert_eq!(listing(&env.data_dir()), before);

    // An empty folder, then the same folder again (now a demo's).
    let mine = env.dir.path().join("demo-data");
    std::fs::create_dir(&mine).unwrap();
    for round in 0..2 {
        let out = demo(
            &[("TMPDIR", env.dir.path())],
            &["--data-dir", mine.to_str().unwrap()],
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "round {round}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout.contains("already held a previous demo's estate"),
            round == 1,
            "{stdout}"
        );
    }
    assert!(mine.join("privtrail.db").exists());
}
