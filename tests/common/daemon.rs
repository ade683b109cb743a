//! `privtrail run` as a child process: started on a data directory with a config, logs (JSON lines)
//! to a file, stopped by SIGTERM or killed by SIGKILL. Every wait is bounded.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Daemon {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts the daemon and waits until it says it started (at most 60 s).
    pub fn start(data_dir: &Path, config: &Path, log: &Path) -> Daemon {
        let mut d = Daemon::spawn(data_dir, config, log, &[]);
        d.wait_log("daemon started", Duration::from_secs(60));
        d
    }

    /// Starts the daemon without waiting.
    pub fn spawn(data_dir: &Path, config: &Path, log: &Path, extra: &[&str]) -> Daemon {
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_privtrail"))
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--config")
            .arg(config)
            .args(["--log-format", "json", "run"])
            .args(extra)
            .env("PRIVTRAIL_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap();
        Daemon {
            child: Some(child),
            log: log.to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `needle`; panics with the log after `limit`, or at once when the
    /// process has exited.
    pub fn wait_log(&mut self, needle: &str, limit: Duration) {
        let mut exited = None;
        let ok = wait_until(limit, || {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                exited = Some(status);
                return true;
            }
            self.log_text().contains(needle)
        }) && (exited.is_none() || self.log_text().contains(needle));
        if let Some(status) = exited.filter(|_| !ok) {
            panic!(
                "the daemon exited ({status}) before logging {needle:?}:\n{}",
                self.log_text()
            );
        }
        assert!(
            ok,
            "no {needle:?} in the daemon's log within {limit:?}:\n{}",
            self.log_text()
        );
    }

    /// SIGTERM, then waits for the exit (at most `limit`).
    pub fn terminate(self, limit: Duration) -> ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        self.wait_exit(limit, "stop after SIGTERM")
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for the process to end by itself (`run --once`).
    pub fn wait(self, limit: Duration) -> ExitStatus {
        self.wait_exit(limit, "end")
    }

    fn wait_exit(mut self, limit: Duration, what: &str) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the daemon did not {what} within {limit:?}:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Polls `cond` every 50 ms until it holds or `limit` passes; whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A TOML string literal for a path.
pub fn toml_path(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}
