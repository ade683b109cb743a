//! The configuration file (SPEC §7.1): TOML, every section optional, unknown keys rejected,
//! `${ENV}` expanded in strings. One struct per component; `validate` runs before anything starts.
//!
//! Only the sections that this version acts on are accepted; later components add theirs.

mod delivery;
mod tenant;

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

pub use delivery::{DeliveryConfig, ForwardConfig, RouteConfig};
pub use tenant::TenantConfig;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub ingest: IngestConfig,
    /// What counts as privileged, how long elevations may last, who may grant them.
    #[serde(default)]
    pub policy: privtrail_rules::PolicyConfig,
    /// Built-in rule settings and custom rules.
    #[serde(default)]
    pub rules: privtrail_rules::RulesConfig,
    /// Entra ID tenants collected through Microsoft Graph.
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
    /// Delivery channels (email, Teams, syslog, Splunk HEC, webhook, file).
    #[serde(default)]
    pub channels: Vec<privtrail_alerts::ChannelConfig>,
    /// Which alerts go to which channels.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Which events stream to which channels.
    #[serde(default)]
    pub forward: Vec<ForwardConfig>,
    #[serde(default)]
    pub delivery: DeliveryConfig,
}

/// `[ingest]`: how Windows event files are read.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Event log channels kept (case-insensitive); others are read and counted as skipped.
    /// Default: Security, System, ForwardedEvents.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Records per storage transaction (default 2048).
    pub batch_size: Option<usize>,
}

impl Config {
    /// Reads, expands and validates the file; `None` gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let expanded = expand_env(&text, |name| std::env::var(name).ok())
            .with_context(|| format!("in config file {}", path.display()))?;
        let config: Config = toml::from_str(&expanded)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        config
            .validate()
            .with_context(|| format!("invalid config file {}", path.display()))?;
        if secret_written_in(&text) && world_readable(path) {
            tracing::warn!(
                file = %path.display(),
                "the config file holds secrets and is readable by every user: chmod 600 it or use ${{ENV}}"
            );
        }
        Ok(config)
    }

    pub fn validate(&self) -> Result<()> {
        if self.ingest.batch_size == Some(0) {
            bail!("[ingest] batch_size must be at least 1");
        }
        if self.ingest.channels.iter().any(|c| c.trim().is_empty()) {
            bail!("[ingest] channels: a channel name is empty");
        }
        if self
            .policy
            .privileged_groups
            .iter()
            .any(|c| c.trim().is_empty())
        {
            bail!("[policy] privileged_groups: a group name is empty");
        }
        self.rules
            .validate()
            .map_err(|e| anyhow::anyhow!("[rules]: {e}"))?;
        delivery::validate(&self.channels, &self.routes, &self.forward, &self.delivery)?;
        let mut names = std::collections::HashSet::new();
        for t in &self.tenants {
            t.validate()?;
            if !names.insert(t.name.to_lowercase()) {
                bail!("[[tenants]]: the name {:?} is used twice", t.name);
            }
        }
        Ok(())
    }
}

/// Whether a tenant's `client_secret` is written in the file itself rather than taken from the
/// environment with `${NAME}`.
fn secret_written_in(text: &str) -> bool {
    let Ok(v) = text.parse::<toml::Table>() else {
        return false;
    };
    v.get("tenants")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("client_secret").and_then(|s| s.as_str()))
        .any(|s| !s.trim_start().starts_with("${"))
}

#[cfg(unix)]
fn world_readable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o004 != 0)
}

#[cfg(not(unix))]
fn world_readable(_: &Path) -> bool {
    false
}

/// Replaces `${NAME}` with the variable's value; `$${` is a literal `${`. A missing variable is an
/// error naming it (a silently empty secret is worse than a clear failure).
fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("${") {
        if rest[..pos].ends_with('$') {
            out.push_str(&rest[..pos - 1]);
            out.push_str("${");
            rest = &rest[pos + 2..];
            continue;
        }
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let Some(end) = after.find('}') else {
            bail!("unterminated ${{ at byte {}", text.len() - rest.len() + pos);
        };
        let name = &after[..end];
        match lookup(name) {
            Some(v) => out.push_str(&v),
            None => bail!("environment variable {name} is not set"),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_expansion() {
        let look = |n: &str| (n == "A").then(|| "x".to_owned());
        assert_eq!(expand_env("a=${A} b", look).unwrap(), "a=x b");
        assert_eq!(expand_env("lit $${A}", look).unwrap(), "lit ${A}");
        assert!(
            expand_env("${B}", look)
                .unwrap_err()
                .to_string()
                .contains("B is not set")
        );
        assert!(expand_env("${A", look).is_err());
    }

    #[test]
    fn secrets_from_the_environment_are_not_written_in_the_file() {
        assert!(!secret_written_in(
            "[[tenants]]\nclient_secret = \"${X}\"\n"
        ));
        assert!(secret_written_in("[[tenants]]\nclient_secret = \"abc\"\n"));
        assert!(!secret_written_in("[[tenants]]\ncertificate = \"a.pem\"\n"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = toml::from_str::<Config>("[ingest]\nchanel = []\n").unwrap_err();
        assert!(err.to_string().contains("chanel"), "{err}");
        let ok: Config = toml::from_str("[policy]\nprivileged_groups = [\"DnsAdmins\"]\n").unwrap();
        assert_eq!(ok.policy.privileged_groups, ["DnsAdmins"]);
    }
}
