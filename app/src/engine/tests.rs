//! A run judged in many chunks ends where a run judged in one ends.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, Utc};
use privtrail_sim::{EstateSpec, generate_estate};
use privtrail_store::{AlertRow, ElevationRow};

use super::{RulesMemory, evaluate_in_chunks};
use crate::import::{Progress, import};
use crate::{App, Config};

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
    let estate = dir.path().join("estate");
    std::fs::create_dir(&estate).unwrap();
    let now = Utc::now();
    let generated = generate_estate(
        &EstateSpec {
            seed: 5,
            machines: 6,
            days: 5,
            end: now - Duration::hours(1),
        },
        &estate,
    )
    .unwrap();
    let files: Vec<String> = generated
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let mut outcomes = Vec::new();
    for (name, chunk) in [("one", usize::MAX / 2), ("many", 3)] {
        let app = App::open_writer(&dir.path().join(name), Config::default(), "test").unwrap();
        let writer = app.writer().unwrap();
        import(
            app.store(),
            writer,
            &files,
            &app.config().ingest_options(&[]),
            &Progress::none(),
            None,
            app.forward(),
        )
        .unwrap();
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
