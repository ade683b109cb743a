//! `privtrail rules list|check|test|sweep`

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use chrono::Utc;
use privtrail_store::{EventFilter, Store};

use super::table;
use crate::UsageError;
use crate::cli::{OutputFormat, RulesCommand, RulesTestArgs};
use crate::config::Config;
use crate::engine::{Engine, evaluate, joined_policy};

pub fn run(store: &Store, cmd: RulesCommand, config: &Config) -> Result<ExitCode> {
    let engine = Engine::from_config(config).map_err(|e| anyhow!(UsageError(format!("{e:#}"))))?;
    match cmd {
        RulesCommand::List { format } => list(&engine, format),
        RulesCommand::Check => {
            println!("rules ok: {} enabled", engine.rules.len());
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Test(args) => test(store, &engine, &args),
        RulesCommand::Sweep => {
            let mut writer = store.writer()?;
            let ev = evaluate(store, &mut writer, &engine, None, Utc::now())?;
            super::print_evaluation(&ev);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(engine: &Engine, format: OutputFormat) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        OutputFormat::Json => {
            for r in &engine.rules {
                let v = serde_json::json!({
                    "id": r.id(), "severity": r.severity().as_str(), "description": r.description()
                });
                writeln!(out, "{v}")?;
            }
        }
        _ => {
            let rows: Vec<Vec<String>> = engine
                .rules
                .iter()
                .map(|r| {
                    vec![
                        r.id().to_owned(),
                        r.severity().as_str().to_owned(),
                        r.description().to_owned(),
                    ]
                })
                .collect();
            table::write(&mut out, &["rule", "severity", "fires when"], &rows)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Replays stored history through the rules as if live; writes nothing.
fn test(store: &Store, engine: &Engine, args: &RulesTestArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let usage = |what: &str, e: anyhow::Error| anyhow!(UsageError(format!("{what}: {e}")));
    let since = crate::time::parse_time(&args.since, now).map_err(|e| usage("--since", e))?;
    let until = match &args.until {
        Some(u) => crate::time::parse_time(u, now).map_err(|e| usage("--until", e))?,
        None => now,
    };
    let step = crate::time::parse_duration(&args.step).map_err(|e| usage("--step", e))?;
    if until <= since {
        return Err(anyhow!(UsageError("--until must be after --since".into())));
    }
    let (policy, _) = joined_policy(store, engine)?;
    // Elevations need their whole history (an add years ago can be overdue today); the other
    // events only within the window.
    let mut events = store.elevation_events()?;
    let mut seen: std::collections::HashSet<_> = events.iter().map(|e| e.id.clone()).collect();
    for e in store.events_between(since, until, &EventFilter::default(), usize::MAX)? {
        if seen.insert(e.id.clone()) {
            events.push(e);
        }
    }
    events.retain(|e| e.time < until);
    events.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    let alerts = privtrail_rules::backtest(&events, &policy, &engine.rules, since, until, step);
    if args.format == OutputFormat::Table {
        println!(
            "replayed {} events from {} to {} (sweeps every {}): {} alerts would have fired",
            events.len(),
            privtrail_model::format_time(since),
            privtrail_model::format_time(until),
            args.step,
            alerts.len()
        );
    }
    super::alerts::print(&alerts, args.format)
}
