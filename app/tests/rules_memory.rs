//! The rules job's memory between runs (`engine::RulesMemory`): a process that judges its events
//! run after run, keeping its tracker and writing only changed elevation rows, ends with exactly
//! the elevations a fresh process rebuilds from every stored event.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, Utc};
use privtrail_app::import::{Progress, import};
use privtrail_app::{App, Config};
use privtrail_sim::{EstateSpec, generate_estate};
use privtrail_store::ElevationRow;

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
    let data = dir.path().join("data");
    let app = App::open_writer(&data, Config::default(), "test").unwrap();
    let opts = app.config().ingest_options(&[]);
    let mut kept = Vec::new();
    for files in &runs {
        import(
            app.store(),
            app.writer().unwrap(),
            files,
            &opts,
            &Progress::none(),
            None,
            app.forward(),
        )
        .unwrap();
        app.rules(now).unwrap();
        kept.push(rows(&app));
    }
    // A run with nothing new keeps everything as it is.
    app.rules(now).unwrap();
    let remembered = rows(&app);
    app.close();
    drop(app);
    // Some elevation stored by one run was rewritten by a later one (same id, other row).
    let rewritten = kept.windows(2).any(|w| {
        w[0].iter()
            .any(|a| w[1].iter().any(|b| b.id == a.id && b != a))
    });
    assert!(
        rewritten,
        "no run changed an elevation stored by an earlier one"
    );
    assert!(remembered.len() >= 5, "{}", remembered.len());
    assert!(remembered.iter().any(|r| r.ended_at.is_some()));
    assert!(remembered.iter().any(|r| r.ended_at.is_none()));

    let fresh = App::open_writer(&data, Config::default(), "test").unwrap();
    fresh.rules(now).unwrap();
    assert_eq!(rows(&fresh), remembered);
}
