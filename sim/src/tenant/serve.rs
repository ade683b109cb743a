//! The simulated tenant as a process of its own (`privtrail sim graph`, hidden, for end-to-end tests).
//! Prints exactly one line, `listening on http://127.0.0.1:PORT`, then serves until killed or, when
//! standard input is a pipe, until that pipe closes (so a test harness that dies takes it along; a
//! `/dev/null` or terminal stdin is not watched).

use std::io::Write;
use std::net::SocketAddr;

use chrono::{DateTime, Utc};

use super::{Faults, scenario, start};
use crate::SimError;

/// Serves [`scenario`]`(now, seed)` with `faults` on `listen` from a runtime of its own, printing
/// `listening on {base_url}` to standard output once it accepts connections. Returns when standard
/// input (a pipe) closes or on Ctrl-C, after in-flight requests finish.
pub fn serve_scenario(
    listen: SocketAddr,
    faults: Faults,
    seed: u64,
    now: DateTime<Utc>,
) -> Result<(), SimError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(SimError::Runtime)?;
    runtime.block_on(async {
        let sim = scenario(now, seed);
        let running = start(sim, faults, listen).await?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}", running.base_url).map_err(SimError::Stdout)?;
            out.flush().map_err(SimError::Stdout)?;
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
        Ok(())
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
