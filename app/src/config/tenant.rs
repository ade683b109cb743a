//! `[[tenants]]`: one Entra ID tenant collected through Microsoft Graph (SPEC §1.1, §7.1), and the
//! cron [`Schedule`] type every schedule of the config uses.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use privtrail_model::{Secret, Span};
use serde::{Deserialize, Deserializer};

use super::invalid;
use crate::error::Result;

/// A cron schedule with seconds (`0 */5 * * * *`); a 5-field expression gets `0 ` in front.
#[derive(Clone)]
pub struct Schedule {
    expr: String,
    parsed: cron::Schedule,
}

impl Schedule {
    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.expr
    }

    /// The first time the schedule fires after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.parsed.after(&t).next()
    }

    /// The usual time between two runs (from the next two firings after `t`); at least 1 s.
    pub fn interval(&self, t: DateTime<Utc>) -> Duration {
        let mut it = self.parsed.after(&t);
        match (it.next(), it.next()) {
            (Some(a), Some(b)) => (b - a).max(Duration::seconds(1)),
            _ => Duration::days(365),
        }
    }
}

impl FromStr for Schedule {
    type Err = String;
    fn from_str(expr: &str) -> std::result::Result<Self, String> {
        let fields = expr.split_whitespace().count();
        let full = if fields == 5 {
            format!("0 {expr}")
        } else {
            expr.to_owned()
        };
        let parsed = full.parse::<cron::Schedule>().map_err(|e| {
            format!("invalid schedule {expr:?}: {e} (cron with seconds, e.g. \"0 */5 * * * *\")")
        })?;
        Ok(Schedule {
            expr: expr.to_owned(),
            parsed,
        })
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.expr)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

pub(crate) fn schedule(expr: &str) -> Schedule {
    // Only for the built-in defaults, which are valid.
    expr.parse()
        .unwrap_or_else(|e| panic!("built-in schedule {expr:?} is invalid: {e}"))
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
    /// Audit pull schedule. Default every 5 minutes.
    #[serde(default = "default_schedule")]
    pub schedule: Schedule,
    /// PIM snapshot schedule. Default every 15 minutes.
    #[serde(default = "default_pim_schedule")]
    pub pim_schedule: Schedule,
    /// How far before the watermark each pull starts again, for late events. Default `15m`.
    #[serde(default = "default_overlap")]
    pub overlap: Span,
    /// How far back the first pull reaches. Default `7d` (Entra keeps 7 d on Free, 30 d on P1/P2).
    #[serde(default = "default_backfill")]
    pub backfill: Span,
    /// Requests allowed per `rate_window` (Graph's identity reports allow about 5 per 10 s).
    #[serde(default = "default_rate_requests")]
    pub rate_requests: u32,
    /// Window of the rate limit. Default `10s`.
    #[serde(default = "default_rate_window")]
    pub rate_window: Span,
    /// Timeout of one HTTP request. Default `60s`.
    #[serde(default = "default_timeout")]
    pub timeout: Span,
    /// First backoff delay after a throttled or transient failure (doubles per attempt, with
    /// jitter; `Retry-After` wins when Graph sends it). Default `2s`.
    #[serde(default = "default_retry_base")]
    pub retry_base: Span,
    /// Attempts per request, the first included. Default 5.
    #[serde(default = "default_retry_attempts")]
    pub retry_attempts: u32,
}

fn span(s: &str) -> Span {
    s.parse()
        .unwrap_or_else(|e| panic!("built-in duration {s:?} is invalid: {e}"))
}
fn default_retry_base() -> Span {
    span("2s")
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
fn default_schedule() -> Schedule {
    schedule("0 */5 * * * *")
}
fn default_pim_schedule() -> Schedule {
    schedule("0 */15 * * * *")
}
fn default_overlap() -> Span {
    span("15m")
}
fn default_backfill() -> Span {
    span("7d")
}
fn default_rate_requests() -> u32 {
    5
}
fn default_rate_window() -> Span {
    span("10s")
}
fn default_timeout() -> Span {
    span("60s")
}

impl TenantConfig {
    pub fn validate(&self) -> Result<()> {
        let who = format!("[[tenants]] {:?}", self.name);
        if self.name.trim().is_empty() {
            invalid!("[[tenants]]: name must not be empty");
        }
        for (key, v) in [
            ("tenant_id", &self.tenant_id),
            ("client_id", &self.client_id),
        ] {
            if v.trim().is_empty() {
                invalid!("{who}: {key} must not be empty");
            }
        }
        match (&self.client_secret, &self.certificate) {
            (Some(_), Some(_)) => invalid!("{who}: set client_secret or certificate, not both"),
            (None, None) => invalid!("{who}: set client_secret or certificate"),
            (Some(s), None) if s.is_empty() => invalid!("{who}: client_secret is empty"),
            _ => {}
        }
        for (key, url) in [
            ("login_url", &self.login_url),
            ("graph_url", &self.graph_url),
        ] {
            let Ok(u) = url.parse::<url::Url>() else {
                invalid!("{who}: {key} {url:?} is not a URL");
            };
            match u.scheme() {
                "https" => {}
                // A client secret over plain HTTP only to this machine (tests, a local proxy).
                "http" if u.host_str().is_some_and(privtrail_model::is_loopback_host) => {}
                "http" => invalid!(
                    "{who}: {key} {url:?}: http:// to a remote host would send the credentials in clear; use https://"
                ),
                _ => invalid!("{who}: {key} {url:?} must be an https:// URL"),
            }
        }
        if self.retry_attempts == 0 {
            invalid!("{who}: retry_attempts must be at least 1");
        }
        if self.rate_requests == 0 {
            invalid!("{who}: rate_requests must be at least 1");
        }
        if self.rate_window.0 <= Duration::zero() || self.timeout.0 <= Duration::zero() {
            invalid!("{who}: rate_window and timeout must be longer than 0s");
        }
        Ok(())
    }

    /// The checkpoint key of this tenant's audit pull.
    pub fn audit_collector_id(&self) -> String {
        format!("entra:{}:audit", self.name)
    }

    /// The checkpoint key of this tenant's PIM snapshots.
    pub fn pim_collector_id(&self) -> String {
        format!("entra:{}:pim", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_cron_gets_seconds() {
        assert!("*/5 * * * *".parse::<Schedule>().is_ok());
        assert!("0 */5 * * * *".parse::<Schedule>().is_ok());
        assert!("every five minutes".parse::<Schedule>().is_err());
        let s: Schedule = "0 */5 * * * *".parse().expect("valid");
        assert_eq!(s.interval(Utc::now()), Duration::minutes(5));
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let base = "name = \"t\"\ntenant_id = \"x\"\nclient_id = \"y\"\nclient_secret = \"z\"\n";
        for (url, ok) in [
            ("http://127.0.0.1:9000", true),
            ("http://localhost:1", true),
            ("https://graph.example.com", true),
            ("http://graph.example.com", false),
            ("ftp://x", false),
        ] {
            let t: TenantConfig =
                toml::from_str(&format!("{base}graph_url = \"{url}\"\n")).expect("toml");
            assert_eq!(t.validate().is_ok(), ok, "{url}");
        }
    }
}
