//! The configured channels, built once, with the limits the worker applies to each.

use std::collections::HashMap;
use std::time::Duration;

use privtrail_alerts::{ChannelConfig, Notifier};
use tokio::runtime::Handle;

use crate::config::DeliveryConfig;
use crate::error::{AppError, Result};

/// A channel ready to send.
pub struct Channel {
    pub config: ChannelConfig,
    pub notifier: Box<dyn Notifier>,
    pub(crate) max_attempts: u32,
    pub(crate) max_age: chrono::Duration,
    pub(crate) min_gap: Option<Duration>,
    pub(crate) digest: Option<chrono::Duration>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

/// Builds every configured channel (inside the runtime: some clients need it).
pub fn channels(
    rt: &Handle,
    list: &[ChannelConfig],
    d: &DeliveryConfig,
) -> Result<HashMap<String, Channel>> {
    let _guard = rt.enter();
    let bad = |name: &str, e: &dyn std::fmt::Display| {
        AppError::Config(format!("[[channels]] {name:?}: {e}"))
    };
    let mut out = HashMap::new();
    for c in list {
        let notifier = privtrail_alerts::build(c).map_err(|e| bad(&c.name, &e))?;
        let max_age = match c.max_age().map_err(|e| bad(&c.name, &e))? {
            Some(a) => std_to_chrono(a),
            None => d.max_age.0,
        };
        let digest = c
            .digest_interval()
            .map_err(|e| bad(&c.name, &e))?
            .map(std_to_chrono);
        out.insert(
            c.name.clone(),
            Channel {
                max_attempts: c.max_attempts.unwrap_or(d.max_attempts).max(1),
                max_age,
                min_gap: c.effective_rate().map(|r| Duration::from_secs_f64(1.0 / r)),
                digest,
                config: c.clone(),
                notifier,
            },
        );
    }
    Ok(out)
}

pub(crate) fn std_to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
