//! One module per command; `run` dispatches. Commands that only read open the store read-only
//! (they work beside a running daemon); commands that write take the data directory's lock.

mod alerts;
mod bench;
mod bench_api;
mod bench_daemon;
mod bench_delivery;
mod collect;
mod demo;
mod elevations;
mod ingest;
mod maintenance;
mod outbox;
mod remediate;
mod rules;
mod run;
mod search;
mod sim;
mod token;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use privtrail_app::{App, Config, DataDirLock};

use crate::cli::{
    AlertsCommand, Cli, Command, ConfigCommand, OutboxCommand, RemediateCommand, RulesCommand,
    SimCommand,
};

pub fn run(cli: Cli) -> Result<ExitCode> {
    // The demo never reads the configured store or config (it would deliver to real channels):
    // it runs before either is looked at.
    if let Command::Demo(args) = &cli.command {
        if cli.config.is_some() {
            eprintln!("note: the demo ignores --config and PRIVTRAIL_CONFIG: it runs with its own");
        }
        let dir = cli.data_dir.clone().filter(|_| cli.data_dir_typed);
        return demo::run(args, dir);
    }
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Config(ConfigCommand::Check) => {
            let what = cli
                .config
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(no config file: defaults)".into());
            println!("config ok: {what}");
            stranded_messages(cli.data_dir, &config)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(b) => bench::run(b, &config),
        Command::Sim(SimCommand::Graph(args)) => sim::graph(&args),
        Command::Rules(RulesCommand::List { format }) => rules::list(&config, format),
        Command::Rules(RulesCommand::Check) => rules::check(&config),
        command => {
            let dir = crate::data_dir(cli.data_dir)?;
            let write = |role: &str| App::open_writer(&dir, config.clone(), role);
            let read = || App::open_reader(&dir, config.clone());
            match command {
                Command::Run(args) => run::run(write("daemon")?, &args),
                Command::Token(c) => token::run(&dir, c),
                Command::Ingest(args) => ingest::run(&write("ingest")?, &args),
                Command::Collect(c) => collect::run(&write("collect")?, c),
                Command::Rules(RulesCommand::Sweep) => rules::sweep(&write("rules sweep")?),
                Command::Rules(RulesCommand::Test(args)) => rules::test(&read()?, &args),
                Command::Elevations(args) => elevations::run(&read()?, &args),
                Command::Alerts(args) => {
                    match args.command.as_ref().unwrap_or(&AlertsCommand::List) {
                        AlertsCommand::List => {
                            alerts::list(&read()?, args.status.as_deref(), args.format)
                        }
                        AlertsCommand::Show { id } => alerts::show(&read()?, id, args.format),
                        AlertsCommand::Ack { id, note } => {
                            alerts::transition(&write("alerts ack")?, id, false, note.as_deref())
                        }
                        AlertsCommand::Resolve { id, note } => {
                            alerts::transition(&write("alerts resolve")?, id, true, note.as_deref())
                        }
                        AlertsCommand::Silence {
                            rule,
                            principal,
                            duration,
                            note,
                        } => alerts::silence(
                            &write("alerts silence")?,
                            rule,
                            principal.as_deref(),
                            duration,
                            note.as_deref(),
                        ),
                        AlertsCommand::Silences => alerts::silences(&read()?, args.format),
                    }
                }
                Command::Outbox(args) => match args.command.as_ref() {
                    None => outbox::list(&read()?, &args, 100),
                    Some(OutboxCommand::List { limit }) => outbox::list(&read()?, &args, *limit),
                    Some(OutboxCommand::Retry { id, dead }) => {
                        outbox::retry(&write("outbox retry")?, *id, *dead)
                    }
                    Some(OutboxCommand::Deliver { wait }) => {
                        outbox::deliver(&write("outbox deliver")?, wait.as_deref())
                    }
                },
                Command::Remediate(args) => match args.command.as_ref() {
                    None | Some(RemediateCommand::List) => remediate::list(&read()?, args.format),
                    Some(RemediateCommand::Show { id }) => {
                        remediate::show(&read()?, id, args.format)
                    }
                    Some(RemediateCommand::Approve { id, note }) => {
                        remediate::review(&write("remediate approve")?, id, true, note.as_deref())
                    }
                    Some(RemediateCommand::Reject { id, note }) => {
                        remediate::review(&write("remediate reject")?, id, false, note.as_deref())
                    }
                    Some(RemediateCommand::Run { dry_run }) => {
                        if *dry_run {
                            remediate::run(&read()?, true, args.format)
                        } else {
                            remediate::run(&write("remediate run")?, false, args.format)
                        }
                    }
                },
                Command::Search(args) => search::run(&read()?, &args),
                Command::Verify(args) => match &args.export {
                    Some(dir) => maintenance::verify_export(&config, dir, args.anchors.as_deref()),
                    None => maintenance::verify(&read()?, args.anchors.as_deref()),
                },
                Command::Export(args) => maintenance::export(&read()?, &args),
                Command::Report(args) => maintenance::report(&read()?, &args),
                Command::Purge { dry_run } => {
                    if dry_run {
                        maintenance::purge(&read()?, true)
                    } else {
                        maintenance::purge(&write("purge")?, false)
                    }
                }
                Command::Reindex => reindex(&dir),
                Command::Config(_)
                | Command::Demo(_)
                | Command::Bench(_)
                | Command::Sim(_)
                | Command::Rules(RulesCommand::List { .. } | RulesCommand::Check) => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

/// `config check` beside a store: warns about outbox messages for channels this config does not
/// have (renamed or removed), which would wait for them and then expire. Read-only; nothing is
/// said when there is no store yet.
fn stranded_messages(data_dir: Option<std::path::PathBuf>, config: &Config) -> Result<()> {
    let Ok(dir) = crate::data_dir(data_dir) else {
        return Ok(());
    };
    if !dir.join(privtrail_store::DB_FILE).exists() {
        return Ok(());
    }
    let app = App::open_reader(&dir, config.clone())?;
    for (channel, status, n, known) in app.outbox_counts()? {
        if known || status == privtrail_store::OutboxStatus::Delivered {
            continue;
        }
        println!(
            "warning: the outbox holds {n} {} messages for channel {} that is not in this config{}",
            status.as_str(),
            crate::output::terminal_safe(&format!("{channel:?}")),
            if status == privtrail_store::OutboxStatus::Pending {
                " (they wait for it to come back, and expire at max_age)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// `reindex` rebuilds the index itself: it takes the data directory's lock but no store writer.
fn reindex(dir: &Path) -> Result<ExitCode> {
    let _lock = DataDirLock::acquire(dir, "reindex")?;
    let store = privtrail_store::Store::open(dir)?;
    maintenance::reindex(&store)
}

/// The runtime of a one-shot command's network calls. Multi-threaded (one worker): the jobs call
/// `Handle::block_on` from this thread, which on a current-thread runtime would not drive I/O.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?)
}

/// The one-paragraph account of a rules evaluation that `ingest`, `collect`, `rules sweep` and
/// `demo` print.
pub fn print_evaluation(ev: &privtrail_app::Evaluation) {
    println!(
        "rules: {} events judged, {} elevations ({} open, {} reconciled with PIM), {} alerts opened, {} resolved",
        ev.judged,
        ev.elevations,
        ev.open_elevations.len(),
        ev.reconciled,
        ev.opened.len(),
        ev.resolved.len()
    );
    for a in &ev.opened {
        println!(
            "  [{}] {}: {}",
            a.severity.as_str().to_uppercase(),
            a.rule,
            crate::output::terminal_safe(&a.summary)
        );
    }
}
