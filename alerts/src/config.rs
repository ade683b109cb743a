use std::path::{Path, PathBuf};
use std::time::Duration;

use privtrail_model::Span;
use serde::{Deserialize, Deserializer};

use crate::Notifier;
use crate::email::EmailConfig;
use crate::file::FileConfig;
use crate::hec::HecConfig;
use crate::syslog::SyslogConfig;
use crate::teams::TeamsConfig;
use crate::webhook::WebhookConfig;

/// Network time-out when a channel sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What kind of channel, with its own settings (`type = "…"` in the `[[channels]]` table).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelKind {
    Email(EmailConfig),
    Teams(TeamsConfig),
    Syslog(SyslogConfig),
    SplunkHec(HecConfig),
    Webhook(WebhookConfig),
    File(FileConfig),
}

/// One `[[channels]]` table (SPEC §7.1): a name, a `type` with that type's keys, and the keys every
/// channel has. Unknown keys are rejected.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub name: String,
    pub kind: ChannelKind,
    /// Most messages per second (the outbox paces sends); Teams defaults to 4.
    pub rate_per_sec: Option<f64>,
    /// Attempts before a message is dead-lettered.
    pub max_attempts: Option<u32>,
    /// Age (e.g. `2d`) after which an undelivered message is dead-lettered.
    pub max_age: Option<Span>,
    /// Time-out of each network call, e.g. `10s` (the default).
    pub timeout: Option<Span>,
}

/// The shape serde reads: the common keys, the rest handed to [`ChannelKind`] (whose variants
/// reject unknown keys). `#[serde(flatten)]` cannot be combined with `deny_unknown_fields`.
#[derive(Deserialize)]
struct RawChannel {
    name: String,
    rate_per_sec: Option<f64>,
    max_attempts: Option<u32>,
    max_age: Option<Span>,
    timeout: Option<Span>,
    #[serde(flatten)]
    rest: toml::Table,
}

impl<'de> Deserialize<'de> for ChannelConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawChannel::deserialize(d)?;
        let kind = ChannelKind::deserialize(toml::Value::Table(raw.rest))
            .map_err(|e| serde::de::Error::custom(format!("channel {:?}: {e}", raw.name)))?;
        Ok(ChannelConfig {
            name: raw.name,
            kind,
            rate_per_sec: raw.rate_per_sec,
            max_attempts: raw.max_attempts,
            max_age: raw.max_age,
            timeout: raw.timeout,
        })
    }
}

/// A channel's configuration is wrong; names the channel and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("channel {channel:?}: `{field}`: {reason}")]
    Invalid {
        channel: String,
        field: &'static str,
        reason: String,
    },
    #[error("channel {channel:?}: `{field}`: cannot read {}: {source}", path.display())]
    Unreadable {
        channel: String,
        field: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ConfigError {
    pub(crate) fn invalid(channel: &str, field: &'static str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            channel: channel.to_owned(),
            field,
            reason: reason.into(),
        }
    }
}

impl ChannelConfig {
    /// The `type` key's value.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ChannelKind::Email(_) => "email",
            ChannelKind::Teams(_) => "teams",
            ChannelKind::Syslog(_) => "syslog",
            ChannelKind::SplunkHec(_) => "splunk_hec",
            ChannelKind::Webhook(_) => "webhook",
            ChannelKind::File(_) => "file",
        }
    }

    /// The network time-out (`timeout`, default 10 s).
    pub fn timeout(&self) -> Result<Duration, ConfigError> {
        self.std_duration("timeout", self.timeout)
            .map(|d| d.unwrap_or(DEFAULT_TIMEOUT))
    }

    /// `max_age` as a duration, when set.
    pub fn max_age(&self) -> Result<Option<Duration>, ConfigError> {
        self.std_duration("max_age", self.max_age)
    }

    /// The pace the outbox should keep: `rate_per_sec`, or 4/s for Teams (its webhook's limit).
    pub fn effective_rate(&self) -> Option<f64> {
        match (self.rate_per_sec, &self.kind) {
            (Some(r), _) => Some(r),
            (None, ChannelKind::Teams(_)) => Some(4.0),
            _ => None,
        }
    }

    /// For an email channel in digest mode, how long the outbox collects a batch (`digest`).
    pub fn digest_interval(&self) -> Result<Option<Duration>, ConfigError> {
        match &self.kind {
            ChannelKind::Email(e) => self.std_duration("digest", e.digest),
            _ => Ok(None),
        }
    }

    /// A config duration as a `std` one (a negative duration cannot be written, but is refused).
    fn std_duration(
        &self,
        field: &'static str,
        value: Option<Span>,
    ) -> Result<Option<Duration>, ConfigError> {
        value
            .map(|v| {
                v.0.to_std()
                    .map_err(|_| self.err(field, format!("{v} must not be negative")))
            })
            .transpose()
    }

    pub(crate) fn err(&self, field: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError::invalid(&self.name, field, reason)
    }

    fn validate_common(&self) -> Result<(), ConfigError> {
        if self.name.trim().is_empty() {
            return Err(self.err("name", "must not be empty"));
        }
        if let Some(r) = self.rate_per_sec
            && !(r.is_finite() && r > 0.0)
        {
            return Err(self.err("rate_per_sec", "must be a positive number"));
        }
        if self.max_attempts == Some(0) {
            return Err(self.err("max_attempts", "must be at least 1"));
        }
        self.max_age()?;
        if self.timeout()?.is_zero() {
            return Err(self.err("timeout", "must be more than 0s"));
        }
        Ok(())
    }
}

/// Validates `config` and builds its notifier. Does no network I/O; reads `ca_file`s.
pub fn build(config: &ChannelConfig) -> Result<Box<dyn Notifier>, ConfigError> {
    config.validate_common()?;
    Ok(match &config.kind {
        ChannelKind::Email(c) => Box::new(crate::email::EmailNotifier::new(config, c)?),
        ChannelKind::Teams(c) => Box::new(crate::teams::TeamsNotifier::new(config, c)?),
        ChannelKind::Syslog(c) => Box::new(crate::syslog::SyslogNotifier::new(config, c)?),
        ChannelKind::SplunkHec(c) => Box::new(crate::hec::HecNotifier::new(config, c)?),
        ChannelKind::Webhook(c) => Box::new(crate::webhook::WebhookNotifier::new(config, c)?),
        ChannelKind::File(c) => Box::new(crate::file::FileNotifier::new(config, c)?),
    })
}

/// Reads a PEM file named by `field`, mapping failure to a config error.
pub(crate) fn read_file(
    config: &ChannelConfig,
    field: &'static str,
    path: &Path,
) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Unreadable {
        channel: config.name.clone(),
        field,
        path: path.to_owned(),
        source,
    })
}

/// Whether `host` names this machine's loopback interface.
pub(crate) fn is_loopback(host: &str) -> bool {
    privtrail_model::is_loopback_host(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_typed_when_the_file_is_read() {
        let c: ChannelConfig = toml::from_str(
            "name = \"f\"\ntype = \"file\"\npath = \"/tmp/x\"\nmax_age = \"2d\"\ntimeout = \"250ms\"\n",
        )
        .expect("valid");
        assert_eq!(
            c.max_age().ok().flatten(),
            Some(Duration::from_secs(172_800))
        );
        assert_eq!(c.timeout().ok(), Some(Duration::from_millis(250)));
        let err = toml::from_str::<ChannelConfig>(
            "name = \"f\"\ntype = \"file\"\npath = \"/tmp/x\"\ntimeout = \"soon\"\n",
        )
        .expect_err("not a duration");
        assert!(err.to_string().contains("soon"), "{err}");
    }

    #[test]
    fn loopback() {
        assert!(is_loopback("localhost"));
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("[::1]"));
        assert!(!is_loopback("mail.example.com"));
    }
}
