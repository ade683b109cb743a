//! End to end: what privtrail writes is its owner's alone (SPEC §8): a fresh data directory 0700,
//! its database, token file and a file channel's output 0600.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Env, data};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_fresh_data_dir_is_0700_and_its_database_token_file_and_file_channel_output_0600() {
    let env = Env::new();
    let out_file = env.dir.path().join("out/alerts.jsonl");
    let config = env.dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[[channels]]\nname = \"f\"\ntype = \"file\"\npath = {:?}\n\n[[routes]]\nchannels = [\"f\"]\n",
            out_file.to_str().unwrap()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let evtx = data("evtx/ID4732-4733-Quick added-removed user from local group.evtx");
    env.ok(&["--config", config, "ingest", &evtx]);
    env.ok(&["token", "show"]);
    env.ok(&["--config", config, "outbox", "deliver"]);

    let dir = env.data_dir();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("privtrail.db")), 0o600);
    assert_eq!(mode(&dir.join("tokens.json")), 0o600);
    assert!(
        std::fs::read_to_string(&out_file).unwrap().lines().count() > 0,
        "an alert was delivered"
    );
    assert_eq!(mode(&out_file), 0o600);
}
