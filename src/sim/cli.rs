//! `privtrail sim graph` (hidden): runs the simulated tenant in its own process for end-to-end tests.
//! Prints exactly one line, `listening on http://127.0.0.1:PORT`, then serves until killed or, when
//! standard input is a pipe, until that pipe closes (so a test harness that dies takes it along; a
//! `/dev/null` or terminal stdin is not watched).

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::{Faults, scenario, start};
use crate::UsageError;
use crate::cli::SimGraphArgs;

pub fn run_graph(args: &SimGraphArgs) -> Result<ExitCode> {
    let now = match &args.now {
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map_err(|e| UsageError(format!("--now {t:?} is not RFC 3339: {e}")))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let faults = match &args.faults {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))?;
            Faults::from_json(&text)
                .map_err(|e| UsageError(format!("invalid faults in {}: {e}", path.display())))?
        }
        None => Faults::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let sim = scenario(now, args.seed);
        let running = start(sim, faults, args.listen).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidInput {
                anyhow::Error::new(UsageError(format!("invalid faults: {e}")))
            } else {
                anyhow::Error::new(e).context(format!("cannot listen on {}", args.listen))
            }
        })?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}", running.base_url)?;
            out.flush()?;
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut _unwatched = None;
        if stdin_is_pipe() {
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
                let _ = tx.send(());
            });
        } else {
            _unwatched = Some(tx);
        }
        tokio::select! {
            _ = rx => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        running.stop().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(unix)]
fn stdin_is_pipe() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata("/dev/stdin")
        .is_ok_and(|m| m.file_type().is_fifo() || m.file_type().is_socket())
}

#[cfg(not(unix))]
fn stdin_is_pipe() -> bool {
    false
}
