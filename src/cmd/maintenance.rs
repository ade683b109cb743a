//! `privtrail verify` and `privtrail reindex`.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use privtrail_store::Store;

/// `privtrail verify [--anchors FILE]`: the chain from its genesis, its keyed links, and every
/// anchor (the configured anchor file, `--anchors`, and those recorded in the store).
pub fn verify(
    app: &privtrail_app::App,
    anchors_file: Option<&std::path::Path>,
) -> Result<ExitCode> {
    let started = Instant::now();
    let mut anchors = Vec::new();
    let mut sources = Vec::new();
    let configured = app.config().integrity.anchor_file.clone();
    for f in configured.iter().map(|p| p.as_path()).chain(anchors_file) {
        let list = privtrail_app::anchor::read_file(f, Some(app.data_dir()))?;
        sources.push(format!("{} anchors in {}", list.len(), f.display()));
        anchors.extend(list);
    }
    let recorded = app.store().recorded_anchors()?.len();
    sources.push(format!("{recorded} recorded in the store"));
    let report = app.store().verify_with(&anchors)?;
    let keyed = match report.keyed_from {
        Some(1) => ", every link keyed (HMAC-SHA256)".to_owned(),
        Some(k) => format!(", links keyed (HMAC-SHA256) from seq {k}"),
        None => String::new(),
    };
    match report.first_broken {
        None => {
            println!(
                "ok: {} events, hash chain intact from its start{keyed} ({:.2} s)",
                report.checked,
                started.elapsed().as_secs_f64()
            );
            println!(
                "anchors: {} matched ({})",
                report.anchors_matched,
                sources.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            let id = if b.event_id.is_empty() {
                String::new()
            } else {
                format!(" (event {})", b.event_id)
            };
            println!(
                "BROKEN: first broken link at seq {}{id}: {}",
                b.seq, b.reason
            );
            println!("{} events checked before it", report.checked);
            Ok(ExitCode::from(1))
        }
    }
}

pub fn reindex(store: &Store) -> Result<ExitCode> {
    let started = Instant::now();
    let n = store.reindex()?;
    println!(
        "reindexed {n} events in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
