//! The rules job's memory between runs (`engine::RulesMemory`): a process that judges its events
//! run after run, keeping its tracker, the active alerts and writing only changed elevation rows,
//! ends with exactly the elevations and alerts of processes that rebuild everything every run.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, Utc};
use privtrail_app::{App, Config};
use privtrail_sim::{EstateSpec, generate_estate};
use privtrail_store::{AlertRow, ElevationRow};

fn rows(app: &App) -> Vec<ElevationRow> {
    let mut r = app.store().elevations().unwrap();
    r.sort_by(|a, b| a.id.cmp(&b.id));
    r
}

#[test]
fn runs_that_remember_end_where_a_rebuild_ends() {
    let dir = tempfile::tempdir().unwrap();
    let estate = dir.path().join("estate");
    std::fs::create_dir(&estate).unwrap();
    let now = Utc::now();
    let generated = generate_estate(
        &EstateSpec {
            seed: 11,
            machines: 8,
            days: 6,
            end: now - Duration::hours(1),
        },
        &estate,
    )
    .unwrap();
    // Each plain JSON lines file dealt into three parts (line i to part i % 3), imported in three
    // runs, the other files in a fourth: elevations opened by one run are closed or reshaped by a
    // later one, and events arrive after newer ones of their host were judged.
    let mut runs: Vec<Vec<String>> = vec![Vec::new(); 4];
    let mut dealt = 0;
    for file in &generated.files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".jsonl") {
            runs[3].push(file.display().to_string());
            continue;
        }
        dealt += 1;
        let text = std::fs::read_to_string(file).unwrap();
        let mut parts = vec![String::new(); 3];
        for (i, line) in text.lines().enumerate() {
            parts[i % 3].push_str(line);
            parts[i % 3].push('\n');
        }
        for (k, part) in parts.iter().enumerate() {
            let path = dir.path().join(format!("part{k}-{name}"));
            std::fs::write(&path, part).unwrap();
            runs[k].push(path.display().to_string());
        }
    }
    assert!(dealt >= 2, "{:?}", generated.files);
    assert!(dealt >= 2, "{:?}", generated.files);

    // The same runs twice: in one process that remembers, and with a new process per run (which
    // rebuilds everything, as every run did before the memory existed). Between runs an alert is
    // acknowledged, and later one resolved, through the services (the lock's other holders).
    let remembering = App::open_writer(&dir.path().join("a"), Config::default(), "test").unwrap();
    let mut kept = Vec::new();
    for (i, files) in runs.iter().enumerate() {
        run(&remembering, files, now + Duration::minutes(i as i64), i);
        kept.push(rows(&remembering));
    }
    // A run with nothing new keeps everything as it is.
    let later = now + Duration::minutes(10);
    remembering.rules(later).unwrap();
    let remembered = (rows(&remembering), alerts(&remembering));
    remembering.close();
    drop(remembering);

    let mut rebuilt = None;
    for (i, files) in runs.iter().enumerate() {
        let fresh = App::open_writer(&dir.path().join("b"), Config::default(), "test").unwrap();
        run(&fresh, files, now + Duration::minutes(i as i64), i);
        if i + 1 == runs.len() {
            fresh.rules(later).unwrap();
            rebuilt = Some((rows(&fresh), alerts(&fresh)));
        }
        fresh.close();
    }
    let rebuilt = rebuilt.unwrap();

    // Some elevation stored by one run was rewritten by a later one (same id, other row).
    let rewritten = kept.windows(2).any(|w| {
        w[0].iter()
            .any(|a| w[1].iter().any(|b| b.id == a.id && b != a))
    });
    assert!(
        rewritten,
        "no run changed an elevation stored by an earlier one"
    );
    assert!(remembered.0.len() >= 5, "{}", remembered.0.len());
    assert!(remembered.0.iter().any(|r| r.ended_at.is_some()));
    assert!(remembered.0.iter().any(|r| r.ended_at.is_none()));
    assert!(
        remembered.1.iter().any(|a| a.status == "acknowledged"),
        "{:?}",
        remembered.1.iter().map(|a| &a.status).collect::<Vec<_>>()
    );
    assert!(remembered.1.iter().any(|a| a.status == "resolved"));
    assert!(remembered.1.iter().any(|a| a.status == "open"));
    assert_eq!(remembered.0, rebuilt.0, "elevations");
    assert_eq!(remembered.1, rebuilt.1, "alerts");

    // A process started on the remembering store rebuilds and finds the same elevations.
    let fresh = App::open_writer(&dir.path().join("a"), Config::default(), "test").unwrap();
    fresh.rules(later).unwrap();
    assert_eq!(rows(&fresh), remembered.0);
}

fn alerts(app: &App) -> Vec<AlertRow> {
    let mut r = app.store().alerts(None).unwrap();
    r.sort_by(|a, b| a.id.cmp(&b.id));
    r
}

/// Imports `files`, runs the rules at `now` (each run a minute later: alerts opened by a run
/// that the next one did not know of would open again under a new id); after the second run
/// acknowledges the first open occurrence alert, after the third resolves the first open one.
fn run(app: &App, files: &[String], now: chrono::DateTime<Utc>, i: usize) {
    app.import(files).unwrap();
    app.rules(now).unwrap();
    let first = |status: &str| {
        alerts(app)
            .into_iter()
            .find(|a| a.status == status)
            .map(|a| a.id)
    };
    if i == 1 {
        // An occurrence: a condition alert may resolve itself in a later run, and then no
        // acknowledged alert would be left to compare (which alert sorts first depends on the
        // clock, as the estate's times do).
        let id = alerts(app)
            .into_iter()
            .find(|a| {
                a.status == "open"
                    && serde_json::from_str::<serde_json::Value>(&a.body).unwrap()["condition"]
                        == serde_json::Value::Bool(false)
            })
            .map(|a| a.id)
            .expect("an open occurrence alert after the second run");
        app.ack_alert(&id, now, "tester", Some("looking")).unwrap();
    }
    if i == 2 {
        let id = first("open").expect("an open alert after the third run");
        app.resolve_alert(&id, now, "tester", Some("done")).unwrap();
    }
}
