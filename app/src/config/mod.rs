//! The configuration file (SPEC §7.1): TOML, every section optional, unknown keys rejected,
//! `${ENV}` expanded in strings. Parsed once into typed values — durations are [`Span`]s, schedules
//! [`Schedule`]s, severities [`Severity`], secrets [`Secret`] — and validated by [`Config::load`]
//! before anything starts (`privtrail config check` runs just that).
//!
//! One struct per component: `[ingest]`, `[policy]` and `[rules]` (the rules crate's own types),
//! `[[tenants]]` ([`TenantConfig`]), `[[windows]]` ([`WindowsConfig`]), `[daemon]`
//! ([`DaemonConfig`]), `[[channels]]` (the alerts crate's `ChannelConfig`), `[[routes]]`,
//! `[[forward]]` and `[delivery]` (`delivery.rs`).

mod daemon;
mod delivery;
mod http;
mod integrity;
mod retention;
mod tenant;

use std::path::Path;

use serde::Deserialize;

pub use daemon::{DaemonConfig, WindowsConfig};
pub use delivery::{CATEGORIES, DeliveryConfig, ForwardConfig, RouteConfig};
pub use http::{EsConfig, HttpConfig};
pub use integrity::IntegrityConfig;
pub use privtrail_model::{Secret, Span};
pub use privtrail_rules::Severity;
pub use retention::RetentionConfig;
pub use tenant::{Schedule, TenantConfig};

use crate::error::{AppError, Result};

/// `Err(AppError::Config(format!(…)))`.
macro_rules! invalid {
    ($($arg:tt)*) => {
        return Err($crate::error::AppError::Config(format!($($arg)*)))
    };
}
pub(crate) use invalid;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
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
    /// Files, folders and globs the daemon watches for Windows events.
    #[serde(default)]
    pub windows: Vec<WindowsConfig>,
    /// The daemon's schedules and shutdown deadline.
    #[serde(default)]
    pub daemon: DaemonConfig,
    /// The API, the web UI and the Elasticsearch bulk endpoint the daemon serves.
    #[serde(default)]
    pub http: HttpConfig,
    /// The chain key and the anchors (SPEC §6).
    #[serde(default)]
    pub integrity: IntegrityConfig,
    /// How long events are kept.
    #[serde(default)]
    pub retention: RetentionConfig,
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
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Event log channels kept (case-insensitive); others are read and counted as skipped.
    /// Default: Security, System, ForwardedEvents.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Records per storage transaction (default 2048).
    pub batch_size: Option<usize>,
    /// One record (JSON line, `<Event>`, tag or export line) at most this long (default 4 MiB).
    pub max_record_bytes: Option<usize>,
    /// Files read whole (Event XML, UTF-16, Entra documents, tags) at most this long (1 GiB).
    pub max_whole_file_bytes: Option<u64>,
    /// A gzipped input expands to at most this much (16 GiB)…
    pub max_decompressed_bytes: Option<u64>,
    /// …and at most this many times its compressed size past the first MiB (200).
    pub max_compression_ratio: Option<u64>,
    /// Element nesting in Event XML (64).
    pub max_xml_depth: Option<usize>,
    /// Bytes in one batch of events on its way to the store (16 MiB).
    pub max_batch_bytes: Option<usize>,
}

impl Config {
    /// Reads, expands and validates the file; `None` gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            AppError::Config(format!("cannot read config file {}: {e}", path.display()))
        })?;
        let config = Config::parse(&text, |name| std::env::var(name).ok()).map_err(|e| {
            AppError::Config(format!("invalid config file {}: {e}", path.display()))
        })?;
        if secret_written_in(&text) && world_readable(path) {
            tracing::warn!(
                file = %path.display(),
                "the config file holds secrets and is readable by every user: chmod 600 it or use ${{ENV}}"
            );
        }
        Ok(config)
    }

    /// Parses and validates a config text, with `${NAME}` looked up by `env`.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let expanded = expand_env(text, env)?;
        let config: Config =
            toml::from_str(&expanded).map_err(|e| AppError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: cross-references, non-empty names, rules that compile.
    pub fn validate(&self) -> Result<()> {
        if self.ingest.batch_size == Some(0) {
            invalid!("[ingest] batch_size must be at least 1");
        }
        let i = &self.ingest;
        for (key, v) in [
            ("max_record_bytes", i.max_record_bytes.map(|v| v as u64)),
            ("max_whole_file_bytes", i.max_whole_file_bytes),
            ("max_decompressed_bytes", i.max_decompressed_bytes),
            ("max_compression_ratio", i.max_compression_ratio),
            ("max_xml_depth", i.max_xml_depth.map(|v| v as u64)),
            ("max_batch_bytes", i.max_batch_bytes.map(|v| v as u64)),
        ] {
            if v == Some(0) {
                invalid!("[ingest] {key} must be at least 1");
            }
        }
        if self.ingest.channels.iter().any(|c| c.trim().is_empty()) {
            invalid!("[ingest] channels: a channel name is empty");
        }
        if self
            .policy
            .privileged_groups
            .iter()
            .any(|c| c.trim().is_empty())
        {
            invalid!("[policy] privileged_groups: a group name is empty");
        }
        if let Err(e) = self.rules.validate() {
            invalid!("[rules]: {e}");
        }
        delivery::validate(&self.channels, &self.routes, &self.forward)?;
        let mut names = std::collections::HashSet::new();
        for t in &self.tenants {
            t.validate()?;
            if !names.insert(t.name.to_lowercase()) {
                invalid!("[[tenants]]: the name {:?} is used twice", t.name);
            }
        }
        for w in &self.windows {
            w.validate()?;
        }
        self.daemon.validate()?;
        self.http.validate()?;
        self.integrity.validate(&self.channels)?;
        self.retention.validate()?;
        Ok(())
    }

    /// The importer's options from this config, with `channels` from the command line winning.
    pub fn ingest_options(&self, channels: &[String]) -> privtrail_ingest::Options {
        let mut opts = privtrail_ingest::Options::default();
        if !channels.is_empty() {
            opts.channels = channels.to_vec();
        } else if !self.ingest.channels.is_empty() {
            opts.channels = self.ingest.channels.clone();
        }
        if let Some(b) = self.ingest.batch_size {
            opts.batch_size = b;
        }
        let i = &self.ingest;
        let l = &mut opts.limits;
        l.max_record_bytes = i.max_record_bytes.unwrap_or(l.max_record_bytes);
        l.max_whole_file_bytes = i.max_whole_file_bytes.unwrap_or(l.max_whole_file_bytes);
        l.max_decompressed_bytes = i.max_decompressed_bytes.unwrap_or(l.max_decompressed_bytes);
        l.max_compression_ratio = i.max_compression_ratio.unwrap_or(l.max_compression_ratio);
        l.max_xml_depth = i.max_xml_depth.unwrap_or(l.max_xml_depth);
        l.max_batch_bytes = i.max_batch_bytes.unwrap_or(l.max_batch_bytes);
        opts.extra_privileged_groups = self.policy.privileged_groups.clone();
        opts
    }

    /// The tenant named `name` (case-insensitive).
    pub fn tenant(&self, name: &str) -> Option<&TenantConfig> {
        self.tenants
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

/// Whether a secret (a tenant's `client_secret`, a channel's `password`, `token` or `secret`) is
/// written in the file itself rather than taken from the environment with `${NAME}`.
fn secret_written_in(text: &str) -> bool {
    let Ok(v) = text.parse::<toml::Table>() else {
        return false;
    };
    let literal = |t: &toml::Value, key: &str| {
        t.get(key)
            .and_then(|s| s.as_str())
            .is_some_and(|s| !s.trim_start().starts_with("${"))
    };
    let tables = |name: &str| {
        v.get(name)
            .and_then(|t| t.as_array())
            .cloned()
            .unwrap_or_default()
    };
    tables("tenants")
        .iter()
        .any(|t| literal(t, "client_secret"))
        || tables("channels").iter().any(|c| {
            ["password", "token", "secret"]
                .iter()
                .any(|k| literal(c, k))
        })
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
            invalid!("unterminated ${{ at byte {}", text.len() - rest.len() + pos);
        };
        let name = &after[..end];
        match lookup(name) {
            Some(v) => out.push_str(&v),
            None => invalid!("environment variable {name} is not set"),
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
        assert_eq!(expand_env("a=${A} b", look).ok(), Some("a=x b".into()));
        assert_eq!(expand_env("lit $${A}", look).ok(), Some("lit ${A}".into()));
        let err = expand_env("${B}", look).expect_err("missing variable");
        assert!(err.to_string().contains("B is not set"), "{err}");
        assert!(expand_env("${A", look).is_err());
    }

    #[test]
    fn secrets_from_the_environment_are_not_written_in_the_file() {
        assert!(!secret_written_in(
            "[[tenants]]\nclient_secret = \"${X}\"\n"
        ));
        assert!(secret_written_in("[[tenants]]\nclient_secret = \"abc\"\n"));
        assert!(!secret_written_in("[[tenants]]\ncertificate = \"a.pem\"\n"));
        assert!(secret_written_in(
            "[[channels]]\nname = \"h\"\ntype = \"splunk_hec\"\ntoken = \"t\"\n"
        ));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::parse("[ingest]\nchanel = []\n", |_| None).expect_err("unknown key");
        assert!(err.to_string().contains("chanel"), "{err}");
        assert!(err.is_usage());
        let ok = Config::parse("[policy]\nprivileged_groups = [\"DnsAdmins\"]\n", |_| None)
            .expect("valid");
        assert_eq!(ok.policy.privileged_groups, ["DnsAdmins"]);
    }

    #[test]
    fn durations_and_schedules_are_typed_once() {
        let c = Config::parse(
            "[daemon]\nshutdown_timeout = \"30s\"\nsweep_schedule = \"*/2 * * * *\"\n\
             [[windows]]\npath = \"/var/log/wef\"\n",
            |_| None,
        )
        .expect("valid");
        assert_eq!(c.daemon.shutdown_timeout.0, chrono::Duration::seconds(30));
        assert_eq!(c.daemon.sweep_schedule.expression(), "*/2 * * * *");
        assert_eq!(c.windows[0].path, "/var/log/wef");
        let bad = Config::parse("[daemon]\nshutdown_timeout = \"soon\"\n", |_| None)
            .expect_err("bad duration");
        assert!(bad.to_string().contains("soon"), "{bad}");
        let bad = Config::parse("[daemon]\nsweep_schedule = \"often\"\n", |_| None)
            .expect_err("bad schedule");
        assert!(bad.to_string().contains("often"), "{bad}");
    }
}
