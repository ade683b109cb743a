//! `privtrail verify` and `privtrail reindex`.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use privtrail_store::Store;

pub fn verify(store: &Store) -> Result<ExitCode> {
    let started = Instant::now();
    let report = store.verify()?;
    match report.first_broken {
        None => {
            println!(
                "ok: {} events, hash chain intact ({:.2} s)",
                report.checked,
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            println!(
                "BROKEN: first broken link at seq {} (event {}): {}",
                b.seq, b.event_id, b.reason
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
