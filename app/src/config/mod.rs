//! The configuration file (SPEC §7.1): TOML, every section optional, unknown keys rejected,
//! `${ENV}` expanded in parsed string values (`env.rs`; never in the TOML text, and never shown in
//! an error). Parsed once into typed values — durations are [`Span`]s, schedules
//! [`Schedule`]s, severities [`Severity`], secrets [`Secret`] — and validated by [`Config::load`]
//! before anything starts (`privtrail config check` runs just that).
//!
//! One struct per component: `[ingest]`, `[policy]` and `[rules]` (the rules crate's own types),
//! `[[tenants]]` ([`TenantConfig`]), `[[windows]]` ([`WindowsConfig`]), `[daemon]`
//! ([`DaemonConfig`]), `[[channels]]` (the alerts crate's `ChannelConfig`), `[[routes]]`,
//! `[[forward]]` and `[delivery]` (`delivery.rs`), `[remediation]` ([`RemediationConfig`]).

mod daemon;
mod delivery;
mod env;
mod http;
mod integrity;
mod remediation;
mod retention;
mod secrets;
mod tenant;

use std::path::Path;

use serde::Deserialize;

pub use daemon::{DaemonConfig, WindowsConfig};
pub use delivery::{CATEGORIES, DeliveryConfig, ForwardConfig, RouteConfig};
pub use http::{EsConfig, HttpConfig};
pub use integrity::IntegrityConfig;
pub use privtrail_model::{Secret, Span};
pub use privtrail_rules::Severity;
pub use remediation::{DEFAULT_MAX_PER_HOUR, Mode, REMEDIABLE_RULES, RemediationConfig};
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
    /// Whether privtrail may end elevations that outlived their promise (off by default).
    #[serde(default)]
    pub remediation: RemediationConfig,
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
    /// Records per storage transaction (default 8192).
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
    /// Reads, expands and validates the file; `None` gives the defaults. Logs a warning for each
    /// of [`Config::load_with_warnings`]'s findings.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let (config, warnings) = Config::load_with_warnings(path, |name| std::env::var(name).ok())?;
        for w in warnings {
            tracing::warn!(file = %path.display(), "{w}");
        }
        Ok(config)
    }

    /// Reads, expands (with `env`) and validates the file at `path`, and says what in it is
    /// unsafe: secrets written in a file every user can read, private keys every user can read.
    pub fn load_with_warnings(
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Config, Vec<String>)> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            AppError::Config(format!("cannot read config file {}: {e}", path.display()))
        })?;
        let (config, expansion) = Config::parse_expanded(&text, &env).map_err(|e| {
            AppError::Config(format!("invalid config file {}: {e}", path.display()))
        })?;
        let warnings = secrets::warnings(&config, &expansion, path);
        Ok((config, warnings))
    }

    /// Parses and validates a config text, with `${NAME}` in its string values looked up by `env`.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        Config::parse_expanded(text, &env).map(|(c, _)| c)
    }

    fn parse_expanded(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(Config, env::Expansion)> {
        // A syntax error is about the text as written: no variable has been expanded yet.
        let mut root =
            toml::de::DeTable::parse(text).map_err(|e| AppError::Config(e.to_string()))?;
        let expansion = env::expand(&mut root, text, env)?;
        let config = Config::deserialize(toml::de::Deserializer::from(root)).map_err(|e| {
            // The location is shown in the text as written (`${NAME}`, not its value). A message
            // about an expanded value is withheld (a parser may quote any part of it); any other
            // message has the values it quotes put back to their `${NAME}`s.
            let message = match e.span().and_then(|s| expansion.names_at(&s)) {
                Some(names) => format!(
                    "the value of {names} is not valid here (not shown: it may be a secret)"
                ),
                None => expansion.redact(e.message()),
            };
            let mut located = e.clone();
            located.set_input(Some(text));
            let shown = located.to_string();
            let shown = match shown.strip_suffix(&format!("{}\n", e.message())) {
                Some(head) if e.span().is_some() => format!("{head}{message}"),
                _ => expansion.redact(shown.trim_end()),
            };
            AppError::Config(shown)
        })?;
        config.validate().map_err(|e| expansion.redact_error(e))?;
        Ok((config, expansion))
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
        for g in &self.policy.privileged_groups {
            let off = g.trim().strip_prefix('!');
            if off.unwrap_or(g).trim().is_empty() {
                invalid!("[policy] privileged_groups: a group name is empty");
            }
            // A `!` entry that switches nothing off would leave the reader believing it did.
            if let Some(off) = off
                && !privtrail_model::privilege::can_switch_off(off)
            {
                invalid!(
                    "[policy] privileged_groups: {g:?}: only the optional default groups can be switched off (Domain Controllers, Read-only Domain Controllers, Replicator, Cert Publishers, DnsAdmins, Organization Management, Exchange Trusted Subsystem, Exchange Windows Permissions)"
                );
            }
        }
        if let Err(e) = self.rules.validate() {
            invalid!("[rules]: {e}");
        }
        delivery::validate(&self.channels, &self.routes, &self.forward)?;
        self.remediation.validate(&self.channels)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn only_optional_privileged_groups_can_be_switched_off() {
        let ok = Config::parse(
            "[policy]\nprivileged_groups = [\"!Cert Publishers\", \"Helpdesk Admins\"]\n",
            |_| None,
        );
        assert!(ok.is_ok(), "{ok:?}");
        for bad in ["!Domain Admins", "!Helpdesk", "!", " "] {
            let err = Config::parse(
                &format!("[policy]\nprivileged_groups = [{bad:?}]\n"),
                |_| None,
            )
            .expect_err(bad);
            assert!(err.to_string().contains("privileged_groups"), "{err}");
        }
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
