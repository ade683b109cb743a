//! What the delivery worker remembers about each channel (a checkpoint `deliver:<channel>`): since
//! when it fails, whether the receiver refused its credentials, and how many rounds in a row
//! failed (its backoff step). The rules job reads it for `delivery-failure`.
//!
//! Written only when the state changes (a failure, or the first success after failures), so a
//! healthy channel costs no write per round.

use chrono::{DateTime, Utc};
use privtrail_alerts::DeliveryError;
use privtrail_rules::ChannelHealth;
use privtrail_store::Store;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};
use crate::writer::WriteHandle;

/// Channel states are checkpoints with this prefix.
pub const CHANNEL_PREFIX: &str = "deliver:";

/// One channel's recorded state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelState {
    #[serde(default, with = "privtrail_model::serde_opt_time")]
    pub last_success: Option<DateTime<Utc>>,
    /// The first failure since the last success; `None` while the channel works.
    #[serde(default, with = "privtrail_model::serde_opt_time")]
    pub failing_since: Option<DateTime<Utc>>,
    #[serde(default, with = "privtrail_model::serde_opt_time")]
    pub last_failure: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// The last failure was an authentication failure ([`DeliveryError::auth`]).
    #[serde(default)]
    pub auth_failure: bool,
    /// Rounds in a row that failed: the step of the channel's backoff.
    #[serde(default)]
    pub failures: u32,
}

fn key(channel: &str) -> String {
    format!("{CHANNEL_PREFIX}{channel}")
}

impl ChannelState {
    /// The recorded state of `channel` (the default when none is recorded).
    pub fn load(store: &Store, channel: &str) -> Result<ChannelState> {
        let key = key(channel);
        match store.checkpoint(&key)? {
            None => Ok(ChannelState::default()),
            Some(text) => serde_json::from_str(&text).map_err(AppError::json(format!(
                "channel state {key:?} is unreadable"
            ))),
        }
    }

    /// The state after a round in which the channel failed with `e` at `now`; `true` in the
    /// second place when the rule's view changed (it started failing, or the kind of failure
    /// changed).
    pub fn failed(&self, e: &DeliveryError, now: DateTime<Utc>) -> (ChannelState, bool) {
        let next = ChannelState {
            failing_since: Some(self.failing_since.unwrap_or(now)),
            last_failure: Some(now),
            last_error: Some(e.message.clone()),
            auth_failure: e.auth,
            failures: self.failures.saturating_add(1),
            ..self.clone()
        };
        let changed = self.failing_since.is_none() || self.auth_failure != e.auth;
        (next, changed)
    }

    /// The state after a round in which the receiver answered; `None` when nothing changed (a
    /// healthy channel is not written every round).
    pub fn reached(&self, now: DateTime<Utc>) -> Option<ChannelState> {
        (self.failing_since.is_some() || self.failures > 0).then(|| ChannelState {
            last_success: Some(now),
            failing_since: None,
            auth_failure: false,
            failures: 0,
            ..self.clone()
        })
    }

    /// Records `self` as the state of `channel`.
    pub fn save(&self, writer: &WriteHandle, channel: &str) -> Result<()> {
        let key = key(channel);
        let value = serde_json::to_string(self).map_err(AppError::json("channel state"))?;
        writer.call(move |w| w.set_checkpoint(&key, &value))??;
        Ok(())
    }
}

/// The health of the channels named (the configured ones) for `delivery-failure`.
pub fn channel_health(store: &Store, channels: &[String]) -> Result<Vec<ChannelHealth>> {
    channels
        .iter()
        .map(|name| {
            let s = ChannelState::load(store, name)?;
            Ok(ChannelHealth {
                channel: name.clone(),
                failing_since: s.failing_since,
                auth_failure: s.auth_failure,
                last_error: s.last_error,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_since_is_the_first_failure_and_success_clears_it() {
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let t1 = t0 + chrono::Duration::minutes(5);
        let (s, changed) = ChannelState::default().failed(&DeliveryError::auth("401"), t0);
        assert!(changed);
        assert_eq!(
            (s.failing_since, s.failures, s.auth_failure),
            (Some(t0), 1, true)
        );
        let (s, changed) = s.failed(&DeliveryError::auth("401"), t1);
        assert!(!changed, "still the same failure");
        assert_eq!((s.failing_since, s.failures), (Some(t0), 2));
        let (s, changed) = s.failed(&DeliveryError::retriable("503"), t1);
        assert!(changed, "no longer an authentication failure");
        let ok = s.reached(t1).expect("a change");
        assert_eq!(
            (ok.failing_since, ok.failures, ok.last_success),
            (None, 0, Some(t1))
        );
        assert_eq!(
            ok.reached(t1),
            None,
            "a healthy channel is not written again"
        );
    }
}
