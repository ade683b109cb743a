//! `privtrail`: the binary. The CLI (clap), output formatting ([`output`]: one table/JSON/CSV
//! writer) and exit codes over `privtrail-app`, which holds the pipeline, the config and the
//! daemon. Only this crate knows about clap and process exit codes.

#[global_allocator]
static ALLOCATOR: privtrail_alloc::Allocator = privtrail_alloc::Allocator {};

mod cli;
mod cmd;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use cli::{Cli, LogFormat};

/// An error caused by how privtrail was called (bad arguments, query or config): exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Parses the command line, noting whether `--data-dir` was typed (rather than taken from
/// `PRIVTRAIL_DATA_DIR`): `demo` honours only a typed one.
fn parse_cli() -> Result<Cli, clap::Error> {
    let matches = Cli::command().try_get_matches()?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    cli.data_dir_typed =
        matches.value_source("data_dir") == Some(clap::parser::ValueSource::CommandLine);
    Ok(cli)
}

fn main() -> ExitCode {
    privtrail_alloc::configure();
    let cli = match parse_cli() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // The daemon reports what it does; one-shot commands only warnings (their output is on stdout).
    let default_level = if matches!(cli.command, cli::Command::Run(_)) {
        // What the daemon does, without the chatter of the crates it uses.
        "info,evtx=warn,tantivy=warn"
    } else {
        "warn"
    };
    init_logging(cli.log_format, default_level);
    match cmd::run(cli) {
        Ok(code) => code,
        // `privtrail search … | head`: the reader went away, which is not our failure.
        Err(err)
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            // Errors quote what they failed on (a record, a file name): escaped like any value.
            eprintln!("error: {}", output::terminal_safe(&err.to_string()));
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {}", output::terminal_safe(&cause.to_string()));
            }
            ExitCode::from(exit_code(&err))
        }
    }
}

/// 2 for bad usage, queries or configuration; 1 for everything else.
fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.is::<UsageError>() {
            return 2;
        }
        if let Some(privtrail_store::StoreError::InvalidQuery { .. }) = cause.downcast_ref() {
            return 2;
        }
        if let Some(e) = cause.downcast_ref::<privtrail_app::AppError>()
            && e.is_usage()
        {
            return 2;
        }
    }
    1
}

fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PRIVTRAIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    // Colours only for a person at a terminal, never into a file or the journal.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// `--data-dir`, else the platform's data directory.
pub fn data_dir(cli_value: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(d) = cli_value {
        return Ok(d);
    }
    directories::ProjectDirs::from("", "", "privtrail")
        .map(|p| p.data_dir().to_path_buf())
        .ok_or_else(|| {
            anyhow::Error::new(UsageError(
                "cannot determine a data directory: pass --data-dir or set PRIVTRAIL_DATA_DIR"
                    .into(),
            ))
        })
}
