//! Writing: exact round trips, dedupe, rejects, checkpoints, the single-writer rule.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use privtrail_model::{Action, EventId, Reject};
use privtrail_store::{Store, StoreError, WriteStats};

#[test]
fn event_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut win = win_event(7, "2016-07-08T18:15:23.4292263Z");
    win.ingested_at = t("2016-07-08T18:20:00.0000001Z");
    let entra = entra_event("Directory_ABC", "2024-05-01T09:59:58.1234567Z");
    let store = store_with(dir.path(), &[win.clone(), entra.clone()]);

    for e in [&win, &entra] {
        let back = store.get_event(&e.id).unwrap().expect("stored");
        assert_eq!(&back, e);
        assert_eq!(back.raw, e.raw, "raw JSON text kept byte for byte");
    }
    assert_eq!(
        store.get_event(&win.id).unwrap().unwrap().time.to_rfc3339(),
        "2016-07-08T18:15:23.429226300+00:00"
    );
    // And through search.
    let found = store.search(&req(&format!("id:{}", entra.id))).unwrap();
    assert_eq!(found, vec![entra]);

    // Reopened from disk too.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.get_event(&win.id).unwrap(), Some(win));
}

/// The rebuild's read of the elevation inputs returns every stored event as `as_input_read`
/// makes it of the event that was written: what the app's feed hands the tracker instead of
/// reading it back must be the same.
#[test]
fn the_rebuilds_read_is_the_written_event_as_input_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut win = win_event(7, "2016-07-08T18:15:23.4292263Z");
    win.ingested_at = t("2016-07-08T18:20:00.0000001Z");
    win.target_name = Some("WIN-03DLIIOFRRA\\fsir".into());
    win.justification = Some("said".into());
    win.correlation_id = Some("c-1".into());
    let entra = entra_event("Directory_ABC", "2024-05-01T09:59:58.1234567Z");
    let store = store_with(dir.path(), &[win.clone(), entra.clone()]);
    let read = store
        .events_with_actions_after(&["group.member.added", "role.activated"], None, None, 10)
        .unwrap();
    let mut expected = [win, entra];
    for e in &mut expected {
        privtrail_store::as_input_read(e);
    }
    let read: Vec<_> = read.into_iter().map(|(_, e)| e).collect();
    assert_eq!(read, expected);
}

/// What the rules run reads: events past a seq, of some actions, every column decoded as
/// stored, and `raw` only for the actions that ask for it.
#[test]
fn events_after_a_seq_come_with_raw_only_for_the_actions_asked() {
    let dir = tempfile::tempdir().unwrap();
    let win = win_event(7, "2016-07-08T18:15:23.4292263Z");
    let entra = entra_event("Directory_ABC", "2024-05-01T09:59:58.1234567Z");
    let mut no_pim = entra_event("Directory_DEF", "2024-05-01T10:00:00Z");
    no_pim.via_pim = Some(false);
    no_pim.expires_at = None;
    let store = store_with(dir.path(), &[win.clone(), entra.clone(), no_pim.clone()]);
    let without_raw = |e: &privtrail_model::Event| {
        let mut e = e.clone();
        e.raw.clear();
        e
    };
    let got = |actions: Option<&[&str]>, raw_of: &[&str], after: i64, limit: usize| {
        store
            .events_after_seq(after, 3, actions, raw_of, None, limit)
            .unwrap()
    };
    let activated = Action::RoleActivated.as_str();
    let added = Action::GroupMemberAdded.as_str();
    assert_eq!(
        got(None, &[], 0, 10),
        vec![
            (1, without_raw(&win)),
            (2, without_raw(&entra)),
            (3, without_raw(&no_pim))
        ]
    );
    assert_eq!(
        got(None, &[activated], 0, 10),
        vec![
            (1, without_raw(&win)),
            (2, entra.clone()),
            (3, no_pim.clone())
        ]
    );
    assert_eq!(
        got(Some(&[added]), &[added, "some.other"], 0, 10),
        vec![(1, win.clone())]
    );
    assert_eq!(
        got(Some(&[activated]), &[activated], 2, 1),
        vec![(3, no_pim.clone())]
    );
    assert_eq!(got(Some(&[]), &[activated], 0, 10), vec![]);

    // Events of actions outside `whole` come with their identity only.
    let identity = |e: &privtrail_model::Event| {
        let mut thin = privtrail_model::Event::new(e.id.clone(), e.source, e.action, e.time, "");
        thin.ingested_at = e.ingested_at;
        thin.outcome = e.outcome;
        thin
    };
    let whole = |whole: &[&str]| {
        store
            .events_after_seq(0, 3, None, &[activated], Some(whole), 10)
            .unwrap()
    };
    assert_eq!(
        whole(&[activated]),
        vec![(1, identity(&win)), (2, entra.clone()), (3, no_pim.clone())]
    );
    assert_eq!(
        whole(&[added]),
        vec![
            (1, without_raw(&win)),
            (2, identity(&entra)),
            (3, identity(&no_pim))
        ]
    );
    assert_eq!(
        whole(&[]),
        vec![
            (1, identity(&win)),
            (2, identity(&entra)),
            (3, identity(&no_pim))
        ]
    );
    assert_ne!(
        identity(&entra),
        without_raw(&entra),
        "the test tells them apart"
    );
}

/// What pairing PIM records reads of the stored ones: what it compares, nothing else.
#[test]
fn events_near_hold_what_pairing_compares() {
    let dir = tempfile::tempdir().unwrap();
    let entra = entra_event("Directory_ABC", "2024-05-01T09:59:58.1234567Z");
    let store = store_with(dir.path(), std::slice::from_ref(&entra));
    let near = store
        .writer()
        .unwrap()
        .events_near(
            privtrail_model::Source::Entra,
            t("2024-05-01T09:59:00Z"),
            t("2024-05-01T10:01:00Z"),
            10,
        )
        .unwrap();
    let mut want = entra;
    want.raw.clear();
    want.message.clear();
    want.actor = None;
    want.target_name = None;
    want.scope = None;
    want.expires_at = None;
    want.justification = None;
    want.record_id = None;
    assert_eq!(near, vec![want]);
}

/// A damaged row read thin is read as a whole one would be: a damaged id comes back lossy (the
/// rules run goes on), an action privtrail does not know is an error naming the row.
#[test]
fn damaged_rows_read_thin_as_whole() {
    let dir = tempfile::tempdir().unwrap();
    let win = win_event(7, "2016-07-08T18:15:23.4292263Z");
    let entra = entra_event("Directory_ABC", "2024-05-01T09:59:58.1234567Z");
    let store = store_with(dir.path(), &[win, entra]);
    let conn = rusqlite::Connection::open(dir.path().join("privtrail.db")).unwrap();
    conn.execute_batch("UPDATE events SET id = CAST(x'ff6964' AS TEXT) WHERE seq = 1")
        .unwrap();
    drop(conn);
    let read = |whole: Option<&[&str]>| store.events_after_seq(0, 1, None, &[], whole, 10);
    let thin = read(Some(&[])).unwrap();
    let full = read(None).unwrap();
    assert_eq!(thin[0].1.id, full[0].1.id);
    assert_eq!(thin[0].1.id.as_str(), "\u{fffd}id");

    let conn = rusqlite::Connection::open(dir.path().join("privtrail.db")).unwrap();
    conn.execute_batch("UPDATE events SET action = 'bogus' WHERE seq = 2")
        .unwrap();
    drop(conn);
    let err = store
        .events_after_seq(1, 2, None, &[], Some(&[]), 10)
        .unwrap_err()
        .to_string();
    assert!(err.contains("seq 2") && err.contains("\"bogus\""), "{err}");
}

/// Linking an Entra batch reads the records stored before it through the writer, which sees the
/// batches of its open group: they are stored for it, though not yet for other connections.
#[test]
fn the_writer_reads_near_what_its_open_group_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    let entra = entra_event("Directory_ABC", "2024-05-01T09:59:58.1234567Z");
    let raws = w.raw_encoder().prepare(std::slice::from_ref(&entra));
    w.write_prepared(
        vec![entra.clone()],
        raws,
        &[],
        None,
        &|_| Vec::new(),
        privtrail_store::Commit::Grouped,
    )
    .unwrap();
    let near = || {
        w.events_near(
            privtrail_model::Source::Entra,
            t("2024-05-01T09:59:00Z"),
            t("2024-05-01T10:01:00Z"),
            10,
        )
        .unwrap()
    };
    assert_eq!(near().len(), 1, "the open group's record");
    assert_eq!(near()[0].id, entra.id);
    assert!(!store.contains(&entra.id).unwrap(), "not committed yet");
    w.end_group().unwrap();
    assert!(store.contains(&entra.id).unwrap());
}

#[test]
fn rewriting_a_batch_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let batch: Vec<_> = (1..=5)
        .map(|n| win_event(n, "2016-07-08T18:15:23Z"))
        .collect();
    let mut w = store.writer().unwrap();
    let first = w.write_batch(&batch, &[]).unwrap();
    assert_eq!(
        first,
        WriteStats {
            stored: 5,
            duplicates: 0,
            rejected: 0,
            conflicts: 0
        }
    );
    let again = w.write_batch(&batch, &[]).unwrap();
    assert_eq!(
        again,
        WriteStats {
            stored: 0,
            duplicates: 5,
            rejected: 0,
            conflicts: 0
        }
    );
    // A duplicate inside one batch.
    let mixed = vec![
        win_event(6, "2016-07-08T18:15:24Z"),
        win_event(6, "2016-07-08T18:15:24Z"),
    ];
    let s = w.write_batch(&mixed, &[]).unwrap();
    assert_eq!((s.stored, s.duplicates), (1, 1));
    w.commit().unwrap();
    drop(w);
    assert_eq!(store.stats().unwrap().events, 6);
    assert_eq!(store.count(&req("*")).unwrap(), 6);
    let v = store.verify().unwrap();
    assert_eq!((v.checked, v.first_broken), (6, None));
}

#[test]
fn rejects_are_stored_with_their_origin() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    let rejects = vec![
        Reject {
            origin: "/var/log/a.evtx".into(),
            location: "record 77".into(),
            reason: "missing EventID".into(),
            raw: "<Event>…".into(),
        },
        Reject {
            origin: "https://graph.microsoft.com/v1.0/auditLogs/directoryAudits".into(),
            location: "page 3 item 4".into(),
            reason: "bad activityDateTime".into(),
            raw: "{\"x\":1}".into(),
        },
    ];
    // An event outside the storable time range becomes a reject instead of failing the batch.
    let too_late = win_event(1, "2300-01-01T00:00:00Z");
    let ok = win_event(2, "2016-07-08T18:15:23Z");
    let s = w.write_batch(&[too_late, ok], &rejects).unwrap();
    assert_eq!((s.stored, s.rejected), (1, 3));
    drop(w);

    let stored = store.rejects(10).unwrap();
    assert_eq!(stored.len(), 3);
    // Newest first.
    assert_eq!(stored[0].origin, rejects[1].origin);
    assert_eq!(stored[0].location, "page 3 item 4");
    assert_eq!(stored[1].origin, "/var/log/a.evtx");
    assert_eq!(stored[1].raw, "<Event>…");
    assert_eq!(stored[2].origin, "store");
    assert!(stored[2].reason.contains("outside the storable range"));
    assert_eq!(store.rejects(1).unwrap().len(), 1);
    assert_eq!(store.stats().unwrap().rejects, 3);
}

#[test]
fn checkpoint_is_saved_with_its_batch_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    assert_eq!(w.checkpoint("entra:contoso").unwrap(), None);
    let a = entra_event("A", "2024-05-01T09:00:00Z");
    w.write_batch_with_checkpoint(&[a], &[], Some(("entra:contoso", "delta-1")))
        .unwrap();
    assert_eq!(
        w.checkpoint("entra:contoso").unwrap().as_deref(),
        Some("delta-1")
    );
    assert_eq!(
        store.checkpoint("entra:contoso").unwrap().as_deref(),
        Some("delta-1")
    );

    // Make the next insert fail inside the transaction.
    let sql = rusqlite::Connection::open(dir.path().join("privtrail.db")).unwrap();
    sql.execute_batch(
        "CREATE TRIGGER boom BEFORE INSERT ON events WHEN NEW.actor = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .unwrap();
    let b = entra_event("B", "2024-05-01T09:01:00Z");
    let mut bad = entra_event("C", "2024-05-01T09:02:00Z");
    bad.actor = Some("boom".into());
    let err = w
        .write_batch_with_checkpoint(&[b.clone(), bad], &[], Some(("entra:contoso", "delta-2")))
        .unwrap_err();
    assert!(matches!(err, StoreError::Sqlite { .. }), "{err}");
    assert_eq!(
        w.checkpoint("entra:contoso").unwrap().as_deref(),
        Some("delta-1")
    );
    assert_eq!(
        store.get_event(&b.id).unwrap(),
        None,
        "the whole batch rolled back"
    );

    // The writer is still usable and the chain is intact.
    sql.execute_batch("DROP TRIGGER boom").unwrap();
    let s = w
        .write_batch_with_checkpoint(
            std::slice::from_ref(&b),
            &[],
            Some(("entra:contoso", "delta-2")),
        )
        .unwrap();
    assert_eq!(s.stored, 1);
    assert_eq!(
        w.checkpoint("entra:contoso").unwrap().as_deref(),
        Some("delta-2")
    );
    w.commit().unwrap();
    drop(w);
    assert_eq!(store.verify().unwrap().first_broken, None);
    assert_eq!(store.count(&req("*")).unwrap(), 2);
}

#[test]
fn one_writer_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let w = store.writer().unwrap();
    assert!(matches!(store.writer(), Err(StoreError::WriterBusy(_))));
    assert!(matches!(store.reindex(), Err(StoreError::WriterBusy(_))));
    // A second Store on the same directory (another process, in effect) cannot write either,
    // but it can open and read.
    let other = Store::open(dir.path()).unwrap();
    assert!(matches!(other.writer(), Err(StoreError::WriterBusy(_))));
    assert_eq!(other.count(&req("*")).unwrap(), 0);
    drop(w);
    let w2 = store.writer().unwrap();
    drop(w2);
    assert_eq!(store.reindex().unwrap(), 0);
}

#[test]
fn stats_report_time_range() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(
        dir.path(),
        &[
            win_event(1, "2016-07-08T18:15:23.4292263Z"),
            win_event(2, "2015-01-01T00:00:00Z"),
            win_event(3, "2017-01-01T00:00:00.0000001Z"),
        ],
    );
    let s = store.stats().unwrap();
    assert_eq!(s.events, 3);
    assert_eq!(s.oldest, Some(t("2015-01-01T00:00:00Z")));
    assert_eq!(s.newest, Some(t("2017-01-01T00:00:00.0000001Z")));
}

#[test]
fn a_conflicting_duplicate_is_kept_chained_and_counted_an_identical_one_is_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    let original = win_event(7, "2016-07-08T18:15:23.4292263Z");
    w.write_batch(std::slice::from_ref(&original), &[]).unwrap();
    // The same record again (another format: other raw, same content): a quiet duplicate.
    let mut same = original.clone();
    same.raw = "{\"another\":\"format\"}".into();
    let s = w.write_batch(&[same], &[]).unwrap();
    assert_eq!((s.stored, s.duplicates, s.conflicts), (0, 1, 0));
    // A record under the same id saying someone else was added: kept, chained, counted.
    let mut forged = original.clone();
    forged.target = Some("S-1-5-21-1-2-3-666".into());
    w.set_origin("file forged.jsonl");
    let s = w.write_batch(&[forged.clone()], &[]).unwrap();
    assert_eq!((s.stored, s.duplicates, s.conflicts), (0, 1, 1));
    // Twice the same forgery: one conflict.
    let s = w.write_batch(&[forged], &[]).unwrap();
    assert_eq!(s.conflicts, 0);
    w.commit().unwrap();
    let c = store.conflicts(10).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].event_id, original.id.to_string());
    assert_eq!(c[0].origin, "file forged.jsonl");
    assert_eq!(c[0].fields, "target");
    assert!(c[0].stored.contains("S-1-5-21-1-2-3-1007"));
    assert!(c[0].incoming.contains("S-1-5-21-1-2-3-666"));
    assert_eq!(
        ids(&store, "action:evidence.conflict").len(),
        1,
        "the conflict is in the trail"
    );
    let v = store.verify().unwrap();
    assert_eq!(v.first_broken, None);
    assert_eq!(v.checked, 2);
}

#[test]
fn an_entra_record_stored_under_its_old_id_is_still_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    // As versions before migration 11 stored it: the id hashes the Graph record id alone.
    let mut old = entra_event("Directory_XYZ", "2024-05-01T09:59:58.1234567Z");
    old.tenant = Some("contoso".into());
    drop(store_with(dir.path(), std::slice::from_ref(&old)));
    // What migration 11 records for a store that held events.
    let db = rusqlite::Connection::open(dir.path().join("privtrail.db")).unwrap();
    db.execute(
        "UPDATE chain SET legacy_entra_upto = (SELECT max(seq) FROM events) WHERE id = 1",
        [],
    )
    .unwrap();
    drop(db);
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    // The same record read again: the new id, and a quiet duplicate of the stored one.
    let mut again = old.clone();
    again.id = EventId::entra("contoso", "Directory_XYZ", again.time);
    assert_ne!(again.id, old.id);
    let s = w.write_batch(std::slice::from_ref(&again), &[]).unwrap();
    assert_eq!((s.stored, s.duplicates, s.conflicts), (0, 1, 0));
    // The same Graph record id saying someone else was elevated: a conflict with the stored one.
    let mut forged = again.clone();
    forged.target = Some("mallory@contoso.com".into());
    w.set_origin("file forged.json");
    let s = w.write_batch(&[forged], &[]).unwrap();
    assert_eq!((s.stored, s.duplicates, s.conflicts), (0, 1, 1));
    // Another record: stored under its new id.
    let mut other = again.clone();
    other.record_id = Some("Directory_NEW".into());
    other.id = EventId::entra("contoso", "Directory_NEW", other.time);
    let s = w.write_batch(std::slice::from_ref(&other), &[]).unwrap();
    assert_eq!(s.stored, 1);
    w.commit().unwrap();
    drop(w);
    let c = store.conflicts(10).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].event_id, old.id.to_string());
    assert!(store.get_event(&other.id).unwrap().is_some());
    assert_eq!(
        store.stats().unwrap().events,
        3,
        "old, the conflict's record, other"
    );
    assert_eq!(store.verify().unwrap().first_broken, None);
}

#[test]
fn a_new_store_does_not_look_for_old_entra_ids() {
    // Nothing stored before migration 11: a record whose old-form id is taken by another event
    // (which only a forged event could do) is stored under its new id all the same.
    let dir = tempfile::tempdir().unwrap();
    let mut decoy = win_event(1, "2024-05-01T09:00:00Z");
    decoy.id = EventId::native(privtrail_model::Source::Entra, "contoso", "Directory_XYZ");
    let store = store_with(dir.path(), &[decoy]);
    let mut e = entra_event("Directory_XYZ", "2024-05-01T09:59:58Z");
    e.tenant = Some("contoso".into());
    e.id = EventId::entra("contoso", "Directory_XYZ", e.time);
    let mut w = store.writer().unwrap();
    let s = w.write_batch(&[e], &[]).unwrap();
    assert_eq!((s.stored, s.duplicates), (1, 0));
}
