//! A run judged in many chunks ends where a run judged in one ends, and stops at a failed save.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, Utc};
use privtrail_sim::{EstateSpec, generate_estate};
use privtrail_store::{AlertRow, ElevationRow};

use super::{RulesMemory, evaluate_in_chunks};
use crate::{App, Config};

fn estate(dir: &std::path::Path) -> Vec<String> {
    let estate = dir.join("estate");
    std::fs::create_dir(&estate).unwrap();
    let generated = generate_estate(
        &EstateSpec {
            seed: 5,
            machines: 6,
            days: 5,
            end: Utc::now() - Duration::hours(1),
        },
        &estate,
    )
    .unwrap();
    generated
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect()
}

fn imported(dir: &std::path::Path, files: &[String]) -> App {
    let app = App::open_writer(dir, Config::default(), "test").unwrap();
    app.feed_rules().unwrap();
    app.import(files).unwrap();
    app
}

/// One run over every stored event, its tracker rebuilt from the store (no kept memory, no feed).
fn judged_at_once(app: &App, now: chrono::DateTime<Utc>) -> super::Evaluation {
    evaluate_in_chunks(
        app.store(),
        app.writer().unwrap(),
        app.engine(),
        now,
        &mut RulesMemory::default(),
        usize::MAX / 2,
    )
    .unwrap()
}

fn state(app: &App) -> (Vec<ElevationRow>, Vec<AlertRow>, i64) {
    let mut els = app.store().elevations().unwrap();
    els.sort_by(|a, b| a.id.cmp(&b.id));
    let mut alerts = app.store().alerts(None).unwrap();
    alerts.sort_by(|a, b| a.id.cmp(&b.id));
    (els, alerts, app.store().rules_cursor().unwrap())
}

/// Small chunks make the run go through every path of a large one: the state-only rules judge
/// the first chunk alone, saves are in flight while later chunks are judged, the first save
/// carries every elevation. The stored outcome must be the one of a single chunk.
#[test]
fn many_chunks_end_where_one_ends() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let files = estate(dir.path());
    let mut outcomes = Vec::new();
    for (name, chunk) in [("one", usize::MAX / 2), ("many", 3)] {
        let app = imported(&dir.path().join(name), &files);
        let writer = app.writer().unwrap();
        let stored = app.store().last_seq().unwrap();
        let mut memory = RulesMemory::default();
        let run =
            evaluate_in_chunks(app.store(), writer, app.engine(), now, &mut memory, chunk).unwrap();
        assert_eq!(
            run.cursor, stored,
            "{name}: the cursor reaches the last event"
        );
        assert!(run.judged > 12, "{name}: {} judged", run.judged);
        outcomes.push((state(&app), run.opened.len(), run.enqueued));
        app.close();
    }
    let (one, many) = (&outcomes[0], &outcomes[1]);
    assert!(!one.0.0.is_empty(), "the estate has elevations");
    assert!(
        one.0.1.len() >= 3,
        "the estate raises alerts: {}",
        one.0.1.len()
    );
    let rules: Vec<&str> = one.0.1.iter().map(|a| a.rule.as_str()).collect();
    // A rule that looks only at state (judged by the first chunk alone) and one that looks at
    // new events (judged by every chunk) both raised alerts.
    assert!(
        rules
            .iter()
            .any(|r| ["overdue-elevation", "standing-access"].contains(r)),
        "{rules:?}"
    );
    assert!(
        rules
            .iter()
            .any(|r| !["overdue-elevation", "standing-access"].contains(r)),
        "{rules:?}"
    );
    // Alert ids hash the rule, subject and `now`: equal across the two stores.
    assert_eq!(one, many);
}

/// The first save of a large run carries every elevation; when it fails, the saves queued behind
/// it (alerts only, which would succeed) must not move the cursor past the events whose results
/// were lost. The next run judges them all.
#[test]
fn a_failed_save_stops_the_run_where_it_failed() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let files = estate(dir.path());
    let reference = imported(&dir.path().join("ref"), &files);
    judged_at_once(&reference, now);
    let expected = state(&reference);
    reference.close();

    let data = dir.path().join("failing");
    let app = imported(&data, &files);
    let writer = app.writer().unwrap();
    let sql = rusqlite::Connection::open(data.join(privtrail_store::DB_FILE)).unwrap();
    sql.execute_batch(
        "CREATE TRIGGER no_elevations BEFORE INSERT ON elevations \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .unwrap();
    let failed = evaluate_in_chunks(
        app.store(),
        writer,
        app.engine(),
        now,
        &mut RulesMemory::default(),
        3,
    );
    let err = failed.expect_err("the first save fails").to_string();
    assert!(err.contains("injected failure"), "{err}");
    assert_eq!(
        app.store().rules_cursor().unwrap(),
        0,
        "no chunk counts as judged"
    );
    assert!(app.store().alerts(None).unwrap().is_empty());

    sql.execute_batch("DROP TRIGGER no_elevations").unwrap();
    let mut memory = RulesMemory::default();
    evaluate_in_chunks(app.store(), writer, app.engine(), now, &mut memory, 3).unwrap();
    assert_eq!(state(&app), expected);
    app.close();
}

/// The chunks wait for the tracker's inputs to be read (`recall`'s `read_done`): when that read
/// fails, the run must end with the error, not wait for a signal that never comes.
#[test]
fn a_tracker_that_cannot_be_rebuilt_ends_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let files = estate(dir.path());
    let app = imported(&dir.path().join("store"), &files);
    // An elevation input no decoder accepts, as a damaged database would hold it.
    let conn = rusqlite::Connection::open(dir.path().join("store").join("privtrail.db")).unwrap();
    let changed = conn
        .execute(
            "UPDATE events SET source = 'bogus' WHERE seq = \
             (SELECT max(seq) FROM events WHERE action = 'group.member.added')",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    // On a thread of its own: a run that hangs fails the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut memory = RulesMemory::default();
        let run = evaluate_in_chunks(
            app.store(),
            app.writer().unwrap(),
            app.engine(),
            Utc::now(),
            &mut memory,
            3,
        )
        .map(|r| r.judged)
        .map_err(|e| e.to_string());
        let _ = tx.send((run, app));
    });
    let (run, app) = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the run ends");
    let err = run.expect_err("an unreadable input fails the run");
    assert!(err.contains("bogus"), "{err}");
    assert_eq!(app.store().rules_cursor().unwrap(), 0, "nothing judged");
    app.close();
}

/// The first run of a process takes the elevation inputs the process stored from the feed
/// (`engine::feed`) and reads back only the others: it must end where a run that reads every
/// input back ends — with inputs stored by an earlier process, and with a write the feed is not
/// shown the events of (it stops there; what follows is read back).
#[test]
fn a_fed_run_ends_where_a_rebuild_ends() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let files = estate(dir.path());
    let (before, during) = files.split_at(files.len() / 2);
    let (during_a, during_b) = during.split_at(during.len() / 2);
    let names: Vec<&str> = privtrail_rules::ELEVATION_INPUTS
        .iter()
        .map(|a| a.as_str())
        .collect();

    // An input written through the writer's borrowing path, as reconciliation writes.
    let reference = imported(&dir.path().join("ref"), &files);
    let mut extra = reference
        .store()
        .events_with_actions(&["group.member.added"])
        .unwrap()
        .remove(0);
    extra.id = privtrail_model::EventId::windows("extra-host", "Security", 7);
    extra.host = Some("extra-host".into());
    extra.raw = "{}".into();
    let write_extra = |app: &App| {
        let e = extra.clone();
        let stats = app
            .writer()
            .unwrap()
            .call(move |w| w.write_batch(std::slice::from_ref(&e), &[]))
            .unwrap()
            .unwrap();
        assert_eq!(stats.stored, 1);
    };
    write_extra(&reference);
    let all_inputs = reference.store().events_with_actions(&names).unwrap().len() as u64;
    let run = judged_at_once(&reference, now);
    assert_eq!(run.inputs_read, all_inputs, "a rebuild reads every input");
    let expected = state(&reference);
    reference.close();

    // Fed from its start.
    let whole = imported(&dir.path().join("whole"), &files);
    write_extra(&whole);
    let run = whole.rules(now).unwrap();
    assert_eq!(run.inputs_read, 1, "only the input the feed was not shown");
    assert_eq!(state(&whole), expected);
    whole.close();

    // Half the inputs stored by an earlier process; the feed stops at the borrowed write.
    let data = dir.path().join("fed");
    let earlier = imported(&data, before);
    let stored_before = earlier.store().events_with_actions(&names).unwrap().len() as u64;
    drop(earlier);
    let app = imported(&data, during_a);
    write_extra(&app);
    let fed = app.store().events_with_actions(&names).unwrap().len() as u64 - stored_before - 1;
    app.import(during_b).unwrap();
    let run = app.rules(now).unwrap();
    assert!(stored_before > 0 && fed > 0, "{stored_before} {fed}");
    assert_eq!(
        run.inputs_read,
        all_inputs - fed,
        "the earlier process's inputs and those from the borrowed write on are read back"
    );
    assert_eq!(state(&app), expected);
    // Later runs of the process keep their tracker: nothing is fed or read back again.
    let again = app.rules(now).unwrap();
    assert_eq!((again.judged, again.inputs_read), (0, 0));
    app.close();

    // A writer that did not ask for the feed reads every input back.
    let plain = App::open_writer(&dir.path().join("plain"), Config::default(), "test").unwrap();
    plain.import(&files).unwrap();
    write_extra(&plain);
    let run = plain.rules(now).unwrap();
    assert_eq!(run.inputs_read, all_inputs);
    assert_eq!(state(&plain), expected);
    plain.close();
}
