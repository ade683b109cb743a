//! `privtrail collect entra`

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use chrono::Utc;
use privtrail_store::Store;

use crate::UsageError;
use crate::cli::{CollectCommand, CollectEntraArgs};
use crate::collect::{CollectOptions, CollectReport, collect_tenant};
use crate::config::Config;

pub fn run(store: &Store, cmd: CollectCommand, config: &Config) -> Result<ExitCode> {
    match cmd {
        CollectCommand::Entra(args) => entra(store, &args, config),
    }
}

fn entra(store: &Store, args: &CollectEntraArgs, config: &Config) -> Result<ExitCode> {
    let tenants: Vec<_> = config
        .tenants
        .iter()
        .filter(|t| {
            args.tenant
                .as_deref()
                .is_none_or(|n| t.name.eq_ignore_ascii_case(n))
        })
        .collect();
    if tenants.is_empty() {
        return Err(anyhow!(UsageError(match &args.tenant {
            Some(n) => format!("no tenant named {n:?} in the config ([[tenants]] name)"),
            None => "no tenants configured: add a [[tenants]] section to the config file".into(),
        })));
    }
    let since = args
        .since
        .as_deref()
        .map(|s| crate::time::parse_time(s, Utc::now()))
        .transpose()
        .map_err(|e| anyhow!(UsageError(format!("--since: {e}"))))?;
    let opts = CollectOptions {
        since,
        no_pim: args.no_pim,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let engine = crate::engine::Engine::from_config(config)?;
    let before = store.last_seq()?;
    let mut writer = store.writer()?;
    let mut failed = false;
    for t in tenants {
        let forward = |e: &privtrail_model::Event| crate::deliver::event_entries(config, e);
        let report = collect_tenant(&rt, store, &mut writer, t, &opts, &forward)?;
        failed |= !report.errors.is_empty();
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            print_report(&report);
        }
    }
    // Rules run after every collection (SPEC §4).
    let ev = crate::engine::evaluate(store, &mut writer, &engine, Some(before), Utc::now())?;
    if !args.json {
        super::print_evaluation(&ev);
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_report(r: &CollectReport) {
    println!(
        "tenant {}: {} pages, {} records, {} stored, {} duplicates, {} rejected, {} PIM pairs linked",
        r.tenant, r.pages, r.records, r.stored, r.duplicates, r.rejected, r.linked
    );
    if let Some(w) = r.watermark {
        println!("  watermark {}", privtrail_model::format_time(w));
    }
    if let (Some(a), Some(e)) = (r.assignments, r.eligibilities) {
        println!(
            "  PIM snapshot: {a} active assignments, {e} eligibilities, {} users looked up",
            r.users.unwrap_or(0)
        );
    }
    for e in &r.errors {
        println!("  error: {e}");
    }
}
