//! The index is derived: it is rebuilt by `reindex` and catches up after crashes.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use privtrail_model::Event;
use privtrail_store::Store;

const QUERIES: [&str; 6] = [
    "*",
    "event_code:4732",
    "host:win*",
    "target:*1003",
    r#"message:"added to administrators""#,
    "NOT source:windows",
];

fn events(n: u64) -> Vec<Event> {
    let mut v: Vec<Event> = (1..=n)
        .map(|i| {
            win_event(
                i,
                &format!("2016-07-08T18:{:02}:{:02}.4292263Z", i / 60 % 60, i % 60),
            )
        })
        .collect();
    v.push(entra_event("X", "2024-05-01T09:00:00Z"));
    v
}

fn snapshot(store: &Store) -> Vec<Vec<String>> {
    QUERIES.iter().map(|q| ids(store, q)).collect()
}

#[test]
fn reindex_after_deleting_the_index_gives_identical_results() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &events(40));
    let before = snapshot(&store);
    assert_eq!(before[0].len(), 41);

    // Deleted while the store is open.
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    assert_eq!(store.reindex().unwrap(), 41);
    assert_eq!(snapshot(&store), before);

    // Deleted while closed: opening alone catches up, reindex is still identical.
    drop(store);
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(snapshot(&store), before);
    assert_eq!(store.reindex().unwrap(), 41);
    assert_eq!(snapshot(&store), before);

    // Writing after a reindex keeps working.
    let mut w = store.writer().unwrap();
    w.write_batch(&[win_event(999, "2030-01-01T00:00:00Z")], &[])
        .unwrap();
    w.commit().unwrap();
    drop(w);
    assert_eq!(store.count(&req("*")).unwrap(), 42);
    assert_eq!(store.verify().unwrap().first_broken, None);
}

#[test]
fn writer_dropped_without_commit_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let evs = events(30);
    {
        let mut w = store.writer().unwrap();
        for chunk in evs.chunks(7) {
            w.write_batch(chunk, &[]).unwrap();
        }
        // No commit.
    }
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.count(&req("*")).unwrap(), 31);
    assert_eq!(ids(&store, "target:*1030").len(), 1);
}

#[test]
fn index_ahead_of_sqlite_is_rebuilt() {
    // As after a power loss that dropped SQLite's last transactions but not tantivy's commit.
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &events(5));
    drop(store);
    let c = rusqlite::Connection::open(dir.path().join("privtrail.db")).unwrap();
    c.execute_batch(
        "DELETE FROM events WHERE seq > 3; \
         UPDATE chain SET head_seq = 3, head_hash = (SELECT hash FROM events WHERE seq = 3)",
    )
    .unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.count(&req("*")).unwrap(), 3);
    assert_eq!(store.verify().unwrap().first_broken, None);
    // New events take the freed seqs and are found once.
    let mut w = store.writer().unwrap();
    let s = w.write_batch(&events(5), &[]).unwrap();
    assert_eq!(s.stored, 3);
    w.commit().unwrap();
    drop(w);
    assert_eq!(store.count(&req("*")).unwrap(), 6);
    assert_eq!(store.verify().unwrap().first_broken, None);
}

/// Child half of `crash_without_commit_is_caught_up`: writes and exits without any cleanup.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("PRIVTRAIL_STORE_CRASH_DIR") else {
        return;
    };
    let store = Store::open(std::path::Path::new(&dir)).unwrap();
    let mut w = store.writer().unwrap();
    for chunk in events(500).chunks(64) {
        w.write_batch(chunk, &[]).unwrap();
    }
    // Like a kill: no commit, no destructors.
    std::process::exit(0);
}

#[test]
fn crash_without_commit_is_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("PRIVTRAIL_STORE_CRASH_DIR", dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    // The index was not committed by the child.
    let index = tantivy::Index::open_in_dir(dir.path().join("index")).unwrap();
    let payload = index.load_metas().unwrap().payload;
    assert!(
        payload.as_deref().is_none_or(|p| !p.ends_with("=501")),
        "{payload:?}"
    );
    drop(index);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.count(&req("*")).unwrap(), 501);
    assert_eq!(ids(&store, "target:*1500").len(), 1);
    assert_eq!(store.verify().unwrap().checked, 501);
}

/// An index of another schema (what an older privtrail built) is rebuilt by a writer; a read-only
/// store (`privtrail search` beside the daemon, or before the first writing command after an
/// upgrade) leaves it as it is and says so, rather than deleting it and answering nothing.
#[test]
fn an_index_of_another_version_is_left_to_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let before = snapshot(&store_with(dir.path(), &events(20)));
    assert_eq!(before[0].len(), 21);
    let index_dir = dir.path().join("index");
    std::fs::remove_dir_all(&index_dir).unwrap();
    std::fs::create_dir(&index_dir).unwrap();
    let mut old = tantivy::schema::Schema::builder();
    old.add_text_field("id", tantivy::schema::STRING | tantivy::schema::STORED);
    tantivy::Index::create_in_dir(&index_dir, old.build()).unwrap();
    let meta = std::fs::read(index_dir.join("meta.json")).unwrap();

    let reader = Store::open_reader(dir.path()).unwrap();
    for err in [
        reader.search(&req("*")).unwrap_err(),
        reader.count(&req("event_code:4732")).unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(
            matches!(err, privtrail_store::StoreError::IndexUnusable { .. }),
            "{msg}"
        );
        assert!(
            msg.contains("another version") && msg.contains("reindex"),
            "{msg}"
        );
    }
    // Listings that do not search still work; the index was not touched.
    assert_eq!(reader.last_seq().unwrap(), 21);
    drop(reader);
    assert_eq!(std::fs::read(index_dir.join("meta.json")).unwrap(), meta);

    // A missing index is reported the same way.
    std::fs::rename(&index_dir, dir.path().join("index-old")).unwrap();
    let err = Store::open_reader(dir.path())
        .unwrap()
        .search(&req("*"))
        .unwrap_err();
    assert!(err.to_string().contains("is missing"), "{err}");
    std::fs::rename(dir.path().join("index-old"), &index_dir).unwrap();

    // The writer rebuilds it; then readers search it.
    drop(Store::open(dir.path()).unwrap());
    assert_eq!(snapshot(&Store::open_reader(dir.path()).unwrap()), before);
}

/// A writer that goes lets the merges its commits started finish and commits them (tantivy's own
/// drop would let them run on unjoined and throw their result away): four commits of one size
/// make one merge (`BoundedMerges`), so the closed index holds one segment.
#[test]
fn a_closed_writer_leaves_its_merges_done() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    {
        let mut w = store.writer().unwrap();
        for k in 0..4u64 {
            let events: Vec<_> = (k * 50 + 1..=k * 50 + 50)
                .map(|i| win_event(i, "2024-05-01T10:00:00Z"))
                .collect();
            w.write_batch(&events, &[]).unwrap();
            w.commit().unwrap();
        }
    }
    let index = tantivy::Index::open_in_dir(dir.path().join("index")).unwrap();
    assert_eq!(index.searchable_segment_ids().unwrap().len(), 1);
    assert_eq!(store.count(&req("*")).unwrap(), 200);
}
