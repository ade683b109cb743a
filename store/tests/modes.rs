//! The data directory is its owner's alone (SPEC §8): created 0700, the database 0600.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use privtrail_store::{DB_FILE, Store};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_fresh_data_dir_is_0700_and_its_database_and_wal_are_0600() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let store = Store::open(&data).unwrap();
    let event = win_event(1, "2016-07-08T18:15:23Z");
    let mut w = store.writer().unwrap();
    w.write_batch(std::slice::from_ref(&event), &[]).unwrap();
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join(DB_FILE)), 0o600);
    let wal = data.join(format!("{DB_FILE}-wal"));
    assert!(wal.exists(), "the writer keeps a WAL");
    assert_eq!(
        mode(&wal),
        0o600,
        "SQLite gives the WAL the database's mode"
    );
    drop(w);
    drop(store);
    // Reopening keeps what is there, content included.
    let store = Store::open(&data).unwrap();
    assert_eq!(store.get_event(&event.id).unwrap(), Some(event));
}

#[test]
fn an_existing_data_dir_keeps_the_mode_its_administrator_chose() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
    Store::open(dir.path()).unwrap();
    assert_eq!(mode(dir.path()), 0o750);
    assert_eq!(mode(&dir.path().join(DB_FILE)), 0o600);
}
