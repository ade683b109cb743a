//! `[[tenants]]`: one Entra ID tenant collected through Microsoft Graph (SPEC §1.1, §7.1).

use std::fmt;
use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use serde::Deserialize;

use crate::time::parse_duration;

/// A secret from the config file: never printed by `Debug` or `Display`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One tenant. Exactly one of `client_secret` and `certificate` is required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// Label used in events (`tenant`) and by `collect entra --tenant`.
    pub name: String,
    /// Directory (tenant) id.
    pub tenant_id: String,
    /// Application (client) id of the app registration.
    pub client_id: String,
    /// Client secret; use `${ENV}` rather than writing it into the file.
    pub client_secret: Option<Secret>,
    /// PEM file holding the certificate and its private key (certificate credentials).
    pub certificate: Option<PathBuf>,
    /// Login endpoint (sovereign clouds, tests). Default `https://login.microsoftonline.com`.
    #[serde(default = "default_login_url")]
    pub login_url: String,
    /// Graph endpoint. Default `https://graph.microsoft.com`.
    #[serde(default = "default_graph_url")]
    pub graph_url: String,
    /// Audit pull schedule, cron with seconds (`0 */5 * * * *`); 5 fields get `0 ` in front.
    #[serde(default = "default_schedule")]
    pub schedule: String,
    /// PIM snapshot schedule (same form). Default every 15 minutes.
    #[serde(default = "default_pim_schedule")]
    pub pim_schedule: String,
    /// How far before the watermark each pull starts again, for late events. Default `15m`.
    #[serde(default = "default_overlap")]
    pub overlap: String,
    /// How far back the first pull reaches. Default `7d` (Entra keeps 7 d on Free, 30 d on P1/P2).
    #[serde(default = "default_backfill")]
    pub backfill: String,
    /// Requests allowed per `rate_window` (Graph's identity reports allow about 5 per 10 s).
    #[serde(default = "default_rate_requests")]
    pub rate_requests: u32,
    /// Window of the rate limit. Default `10s`.
    #[serde(default = "default_rate_window")]
    pub rate_window: String,
    /// Timeout of one HTTP request. Default `60s`.
    #[serde(default = "default_timeout")]
    pub timeout: String,
    /// First backoff delay after a throttled or transient failure (doubles per attempt, with
    /// jitter; `Retry-After` wins when Graph sends it). Default `2s`.
    #[serde(default = "default_retry_base")]
    pub retry_base: String,
    /// Attempts per request, the first included. Default 5.
    #[serde(default = "default_retry_attempts")]
    pub retry_attempts: u32,
}

fn default_retry_base() -> String {
    "2s".into()
}
fn default_retry_attempts() -> u32 {
    5
}

fn default_login_url() -> String {
    "https://login.microsoftonline.com".into()
}
fn default_graph_url() -> String {
    "https://graph.microsoft.com".into()
}
fn default_schedule() -> String {
    "0 */5 * * * *".into()
}
fn default_pim_schedule() -> String {
    "0 */15 * * * *".into()
}
fn default_overlap() -> String {
    "15m".into()
}
fn default_backfill() -> String {
    "7d".into()
}
fn default_rate_requests() -> u32 {
    5
}
fn default_rate_window() -> String {
    "10s".into()
}
fn default_timeout() -> String {
    "60s".into()
}

/// A cron expression as privtrail accepts it: 6 or 7 fields, or 5 fields with seconds `0` added.
pub fn parse_schedule(expr: &str) -> Result<cron::Schedule> {
    let fields = expr.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {expr}")
    } else {
        expr.to_owned()
    };
    full.parse::<cron::Schedule>().map_err(|e| {
        anyhow!("invalid schedule {expr:?}: {e} (cron with seconds, e.g. \"0 */5 * * * *\")")
    })
}

impl TenantConfig {
    pub fn validate(&self) -> Result<()> {
        let who = format!("[[tenants]] {:?}", self.name);
        if self.name.trim().is_empty() {
            bail!("[[tenants]]: name must not be empty");
        }
        for (key, v) in [
            ("tenant_id", &self.tenant_id),
            ("client_id", &self.client_id),
        ] {
            if v.trim().is_empty() {
                bail!("{who}: {key} must not be empty");
            }
        }
        match (&self.client_secret, &self.certificate) {
            (Some(_), Some(_)) => bail!("{who}: set client_secret or certificate, not both"),
            (None, None) => bail!("{who}: set client_secret or certificate"),
            (Some(s), None) if s.expose().is_empty() => bail!("{who}: client_secret is empty"),
            _ => {}
        }
        for (key, url) in [
            ("login_url", &self.login_url),
            ("graph_url", &self.graph_url),
        ] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                bail!("{who}: {key} {url:?} must be an http(s) URL");
            }
        }
        parse_schedule(&self.schedule).map_err(|e| anyhow!("{who}: schedule: {e}"))?;
        parse_schedule(&self.pim_schedule).map_err(|e| anyhow!("{who}: pim_schedule: {e}"))?;
        for (key, v) in [
            ("overlap", &self.overlap),
            ("backfill", &self.backfill),
            ("rate_window", &self.rate_window),
            ("timeout", &self.timeout),
            ("retry_base", &self.retry_base),
        ] {
            parse_duration(v).map_err(|e| anyhow!("{who}: {key}: {e}"))?;
        }
        if self.retry_attempts == 0 {
            bail!("{who}: retry_attempts must be at least 1");
        }
        if self.rate_requests == 0 {
            bail!("{who}: rate_requests must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_cron_gets_seconds() {
        assert!(parse_schedule("*/5 * * * *").is_ok());
        assert!(parse_schedule("0 */5 * * * *").is_ok());
        assert!(parse_schedule("every five minutes").is_err());
    }

    #[test]
    fn secrets_are_redacted() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s:?}"), "[redacted]");
    }
}
