//! The hash chain catches edits and deletions made with plain SQL.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use privtrail_store::Store;

fn five(dir: &std::path::Path) -> Store {
    let events: Vec<_> = (1..=5)
        .map(|n| win_event(n, &format!("2016-07-08T18:15:2{n}.4292263Z")))
        .collect();
    store_with(dir, &events)
}

fn sql(dir: &std::path::Path, stmt: &str) {
    let c = rusqlite::Connection::open(dir.join("privtrail.db")).unwrap();
    c.execute_batch(stmt).unwrap();
}

#[test]
fn fresh_and_intact_stores_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let r = store.verify().unwrap();
    assert_eq!((r.checked, r.first_broken), (0, None));
    drop(store);
    let store = five(dir.path());
    let r = store.verify().unwrap();
    assert_eq!((r.checked, r.first_broken), (5, None));
}

#[test]
fn edited_row_is_the_first_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    let store = five(dir.path());
    sql(
        dir.path(),
        "UPDATE events SET target = 'S-1-5-21-9-9-9-500' WHERE seq = 3",
    );
    let b = store.verify().unwrap().first_broken.expect("broken");
    assert_eq!(b.seq, 3);
    assert_eq!(
        b.event_id,
        win_event(3, "2016-07-08T18:15:23Z").id.to_string()
    );
    assert!(b.reason.contains("modified"), "{}", b.reason);
}

#[test]
fn edited_time_and_undecodable_rows_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let store = five(dir.path());
    sql(
        dir.path(),
        "UPDATE events SET time = time + 100 WHERE seq = 2",
    );
    assert_eq!(store.verify().unwrap().first_broken.unwrap().seq, 2);
    sql(
        dir.path(),
        "UPDATE events SET action = 'bogus' WHERE seq = 1",
    );
    let b = store.verify().unwrap().first_broken.unwrap();
    assert_eq!(b.seq, 1);
    assert!(b.reason.contains("cannot be read"), "{}", b.reason);
}

#[test]
fn deleted_row_is_reported_as_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let store = five(dir.path());
    sql(dir.path(), "DELETE FROM events WHERE seq = 3");
    let b = store.verify().unwrap().first_broken.expect("broken");
    assert_eq!(b.seq, 4);
    assert!(b.reason.contains("seq 3 is missing"), "{}", b.reason);
}

#[test]
fn deleted_last_row_is_caught_by_the_chain_head() {
    let dir = tempfile::tempdir().unwrap();
    let store = five(dir.path());
    sql(dir.path(), "DELETE FROM events WHERE seq = 5");
    let r = store.verify().unwrap();
    let b = r.first_broken.expect("broken");
    assert_eq!(b.seq, 5);
    assert!(b.reason.contains("deleted at the end"), "{}", b.reason);
}

#[test]
fn renumbered_rows_break_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let store = five(dir.path());
    // Delete a row and close the gap: the hashes still expose it.
    sql(
        dir.path(),
        "DELETE FROM events WHERE seq = 3; UPDATE events SET seq = seq - 1 WHERE seq > 3; \
         UPDATE chain SET head_seq = 4",
    );
    assert_eq!(store.verify().unwrap().first_broken.unwrap().seq, 3);
}
