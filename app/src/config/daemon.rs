//! `[[windows]]` (folders the daemon watches) and `[daemon]` (its schedules and deadlines).

use privtrail_model::Span;
use serde::Deserialize;

use super::invalid;
use super::tenant::{Schedule, schedule};
use crate::error::Result;

/// `[[windows]]`: a file, folder (read recursively) or glob the daemon follows: new files, JSON
/// lines appended to, EVTX and other files rewritten.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowsConfig {
    /// `/var/log/wef`, `/var/log/wef/*.evtx`, `/var/log/winlogbeat/events.ndjson`.
    pub path: String,
    /// Event log channels kept; default `[ingest] channels` (Security, System, ForwardedEvents).
    #[serde(default)]
    pub channels: Vec<String>,
    /// Input format; default detected per file from its content.
    #[serde(default)]
    pub format: Option<String>,
}

impl WindowsConfig {
    pub fn validate(&self) -> Result<()> {
        if self.path.trim().is_empty() {
            invalid!("[[windows]]: path must not be empty");
        }
        if self.channels.iter().any(|c| c.trim().is_empty()) {
            invalid!("[[windows]] {:?}: a channel name is empty", self.path);
        }
        self.format()?;
        Ok(())
    }

    /// The forced format, if any.
    pub fn format(&self) -> Result<privtrail_ingest::Format> {
        match &self.format {
            None => Ok(privtrail_ingest::Format::Auto),
            Some(f) => match f.parse() {
                Ok(f) => Ok(f),
                Err(e) => invalid!("[[windows]] {:?}: format: {e}", self.path),
            },
        }
    }
}

/// `[daemon]`: how `privtrail run` schedules its jobs and stops.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonConfig {
    /// How long SIGTERM/SIGINT waits for the in-flight batch and deliveries. Default `10s`.
    #[serde(default = "d_shutdown")]
    pub shutdown_timeout: Span,
    /// When the rules sweep runs (overdue elevations fire without new events). Default every
    /// minute.
    #[serde(default = "d_sweep")]
    pub sweep_schedule: Schedule,
    /// How often watched paths are checked for new and grown files. Default `1s`.
    #[serde(default = "d_watch")]
    pub watch_interval: Span,
}

fn d_shutdown() -> Span {
    Span(chrono::Duration::seconds(10))
}
fn d_sweep() -> Schedule {
    schedule("0 * * * * *")
}
fn d_watch() -> Span {
    Span(chrono::Duration::seconds(1))
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            shutdown_timeout: d_shutdown(),
            sweep_schedule: d_sweep(),
            watch_interval: d_watch(),
        }
    }
}

impl DaemonConfig {
    pub fn validate(&self) -> Result<()> {
        if self.watch_interval.0 < chrono::Duration::milliseconds(50) {
            invalid!("[daemon] watch_interval must be at least 50ms");
        }
        if self.shutdown_timeout.0 < chrono::Duration::zero() {
            invalid!("[daemon] shutdown_timeout must not be negative");
        }
        Ok(())
    }
}
