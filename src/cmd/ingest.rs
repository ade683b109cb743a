//! `privtrail ingest PATH…`

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use privtrail_store::Store;

use crate::cli::IngestArgs;
use crate::config::Config;
use crate::engine::{Engine, evaluate};
use crate::import;

pub fn run(store: &Store, args: &IngestArgs, config: &Config) -> Result<ExitCode> {
    let mut opts = super::ingest_options(config, &args.channels);
    opts.format = args.format;
    opts.tenant = args.tenant.clone();
    opts.host = args.host.clone();
    let engine = Engine::from_config(config)?;
    let before = store.last_seq()?;
    let forward = |e: &privtrail_model::Event| crate::deliver::event_entries(config, e);
    let summary = import::import(store, &args.paths, &opts, !args.json, None, &forward)?;
    // Rules run after every ingest (SPEC §4): elevations are rebuilt and new events evaluated.
    let evaluation = if summary.total.stored > 0 {
        let mut writer = store.writer()?;
        Some(evaluate(
            store,
            &mut writer,
            &engine,
            Some(before),
            Utc::now(),
        )?)
    } else {
        None
    };
    if args.json {
        let mut v = serde_json::to_value(&summary)?;
        if let Some(ev) = &evaluation {
            v["alerts_opened"] = serde_json::json!(ev.opened.len());
            v["elevations"] = serde_json::json!(ev.elevations.len());
        }
        println!("{v}");
    } else {
        import::print_summary(&summary, &mut std::io::stdout().lock())?;
        if let Some(ev) = &evaluation {
            super::print_evaluation(ev);
        }
    }
    // Damaged inputs that still yielded records are reported, not failed: only an input that
    // could not be read at all makes the run fail.
    Ok(if summary.failed_inputs() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
