//! One module per command; `run` dispatches.

mod alerts;
mod bench;
mod bench_delivery;
mod collect;
mod demo;
mod elevations;
mod ingest;
mod maintenance;
mod outbox;
mod rules;
mod search;
mod table;

use std::process::ExitCode;

use anyhow::{Context, Result};
use privtrail_store::Store;

use crate::cli::{Cli, Command, ConfigCommand, SimCommand};
use crate::config::Config;

pub fn run(cli: Cli) -> Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())
        .map_err(|e| anyhow::Error::new(crate::UsageError(format!("{e:#}"))))?;
    match cli.command {
        Command::Config(ConfigCommand::Check) => {
            let what = cli
                .config
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(no config file: defaults)".into());
            println!("config ok: {what}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => demo::run(&args, &config, cli.data_dir),
        Command::Bench(b) => bench::run(b, &config),
        Command::Sim(SimCommand::Graph(args)) => crate::sim::run_graph(&args),
        command => {
            let dir = crate::data_dir(cli.data_dir)?;
            let store = open_store(&dir)?;
            match command {
                Command::Ingest(args) => ingest::run(&store, &args, &config),
                Command::Collect(c) => collect::run(&store, c, &config),
                Command::Elevations(args) => elevations::run(&store, &args, &config),
                Command::Alerts(args) => alerts::run(&store, &args),
                Command::Rules(c) => rules::run(&store, c, &config),
                Command::Outbox(args) => outbox::run(&store, &args, &config),
                Command::Search(args) => search::run(&store, &args),
                Command::Verify => maintenance::verify(&store),
                Command::Reindex => maintenance::reindex(&store),
                Command::Config(_) | Command::Demo(_) | Command::Bench(_) | Command::Sim(_) => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

pub fn open_store(dir: &std::path::Path) -> Result<Store> {
    Store::open(dir).with_context(|| format!("cannot open the store in {}", dir.display()))
}

/// The importer's options from the config and command line.
pub fn ingest_options(config: &Config, channels: &[String]) -> privtrail_ingest::Options {
    let mut opts = privtrail_ingest::Options::default();
    if !channels.is_empty() {
        opts.channels = channels.to_vec();
    } else if !config.ingest.channels.is_empty() {
        opts.channels = config.ingest.channels.clone();
    }
    if let Some(b) = config.ingest.batch_size {
        opts.batch_size = b;
    }
    opts.extra_privileged_groups = config.policy.privileged_groups.clone();
    opts
}

/// The one-paragraph account of a rules evaluation that `ingest`, `collect` and `demo` print.
pub fn print_evaluation(ev: &crate::engine::Evaluation) {
    let open = ev.elevations.iter().filter(|e| e.is_open()).count();
    println!(
        "rules: {} elevations ({open} open, {} reconciled with PIM), {} alerts opened, {} resolved",
        ev.elevations.len(),
        ev.reconciled,
        ev.opened.len(),
        ev.resolved.len()
    );
    for a in &ev.opened {
        println!(
            "  [{}] {}: {}",
            a.severity.as_str().to_uppercase(),
            a.rule,
            a.summary
        );
    }
}
