//! Collector run records (checkpoints `run:<collector>`): written by the collection job, read by
//! `collector-failure` through the rules job and by the read side.

use chrono::{DateTime, Utc};
use privtrail_rules::CollectorRun;
use privtrail_store::Store;

use super::Engine;
use crate::error::{AppError, Result};
use crate::writer::WriteHandle;

/// Collector run records are checkpoints with this prefix.
pub const RUN_PREFIX: &str = "run:";

/// The collectors `collector-failure` watches, with their recorded runs: each configured tenant's
/// audit pull, once it has been run at least once (the run records are written by the collection
/// job, see [`record_run`]).
pub(super) fn collector_runs(
    store: &Store,
    engine: &Engine,
    now: DateTime<Utc>,
) -> Result<Vec<CollectorRun>> {
    let mut out = Vec::new();
    for (tenant, schedule) in &engine.tenants {
        let key = format!("{RUN_PREFIX}entra:{tenant}:audit");
        let Some(text) = store.checkpoint(&key)? else {
            continue;
        };
        let run: RunRecord = serde_json::from_str(&text)
            .map_err(AppError::json(format!("run record {key:?} is unreadable")))?;
        out.push(CollectorRun {
            collector: format!("entra:{tenant}"),
            last_success: run.last_success,
            watched_since: Some(run.first_attempt),
            interval: schedule.interval(now),
        });
    }
    Ok(out)
}

/// What the collection job records about its runs (a checkpoint `run:<collector>`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    /// The first run ever recorded.
    #[serde(with = "privtrail_model::serde_time")]
    pub first_attempt: DateTime<Utc>,
    #[serde(default, with = "privtrail_model::serde_opt_time")]
    pub last_success: Option<DateTime<Utc>>,
    #[serde(default, with = "privtrail_model::serde_opt_time")]
    pub last_failure: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// Failures since the last success.
    #[serde(default)]
    pub failures: u64,
}

/// Records one run of `collector` (success or failure) through the writer.
pub fn record_run(
    store: &Store,
    writer: &WriteHandle,
    collector: &str,
    at: DateTime<Utc>,
    error: Option<String>,
) -> Result<()> {
    let key = format!("{RUN_PREFIX}{collector}");
    let mut run = match store.checkpoint(&key)? {
        Some(t) => serde_json::from_str(&t)
            .map_err(AppError::json(format!("run record {key:?} is unreadable")))?,
        None => RunRecord {
            first_attempt: at,
            last_success: None,
            last_failure: None,
            last_error: None,
            failures: 0,
        },
    };
    match error {
        None => {
            run.last_success = Some(at);
            run.failures = 0;
        }
        Some(e) => {
            run.last_failure = Some(at);
            run.last_error = Some(e);
            run.failures += 1;
        }
    }
    let value = serde_json::to_string(&run).map_err(AppError::json("run record"))?;
    writer.call(move |w| w.set_checkpoint(&key, &value))??;
    Ok(())
}
