//! `privtrail run`: the daemon (see `privtrail_app::daemon`). This module only builds the runtime,
//! installs the signal handlers and turns the outcome into an exit status.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use privtrail_app::App;
use privtrail_app::daemon::{self, RunOptions, Shutdown};

use crate::cli::RunArgs;

pub fn run(app: App, args: &RunArgs) -> Result<ExitCode> {
    let app = Arc::new(app);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("privtrail-rt")
        .enable_all()
        .build()?;
    let shutdown = Arc::new(Shutdown::new());
    let stats = rt.block_on(async {
        let s = Arc::clone(&shutdown);
        tokio::spawn(async move {
            wait_for_signal().await;
            s.trigger();
        });
        tracing::info!(
            data_dir = %app.data_dir().display(),
            pid = std::process::id(),
            once = args.once,
            "privtrail daemon"
        );
        daemon::run(
            Arc::clone(&app),
            Arc::clone(&shutdown),
            RunOptions { once: args.once },
        )
        .await
    });
    // Whatever happened, drain the writer (the batch in flight commits) and release the lock.
    app.close();
    rt.shutdown_timeout(Duration::from_secs(1));
    let stats = stats?;
    if args.once {
        for (job, s) in stats.snapshot() {
            match &s.last_error {
                Some(e) if s.failing => {
                    println!("{job}: FAILED: {}", crate::output::terminal_safe(e))
                }
                _ => println!("{job}: ok"),
            }
        }
        if stats.any_failed() {
            return Ok(ExitCode::from(1));
        }
    } else {
        tracing::info!("daemon stopped");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM"),
                _ = int.recv() => tracing::info!("SIGINT"),
            }
        }
        _ => {
            tracing::error!("cannot install the signal handlers; stop the daemon with SIGKILL");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
