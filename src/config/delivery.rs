//! `[[channels]]`, `[[routes]]`, `[[forward]]` and `[delivery]` (SPEC §5): where alerts and events go.

use anyhow::{Result, anyhow, bail};
use privtrail_model::{Action, Event};
use privtrail_rules::Severity;
use serde::Deserialize;

/// `[[routes]]`: which alerts go to which channels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Only alerts at least this severe (`low`, `medium`, `high`, `critical`); default all.
    pub min_severity: Option<String>,
    /// Only alerts of these rules; default all.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Channel names (`[[channels]] name`).
    pub channels: Vec<String>,
}

/// `[[forward]]`: which events stream to which (SIEM) channels. An event is forwarded when its
/// action is in one of the `categories` or `actions`, or when it satisfies every condition of
/// `match` (the field conditions of custom rules: events are forwarded in the transaction that
/// stores them, before they are indexed, so this "query" is evaluated on the event itself).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardConfig {
    /// `privilege_use`, `logon`, `group_management`, `audit_integrity`.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Further actions by name (e.g. `account.created`).
    #[serde(default)]
    pub actions: Vec<String>,
    /// Field conditions, e.g. `[{ field = "host", op = "glob", value = "DC*" }]`.
    #[serde(default, rename = "match")]
    pub matches: Vec<privtrail_rules::custom::MatchConfig>,
    pub channels: Vec<String>,
    /// Compiled selection, built on first use (validation has compiled it once already).
    #[serde(skip)]
    compiled:
        std::sync::OnceLock<Option<(Vec<Action>, Option<privtrail_rules::custom::EventMatch>)>>,
}

/// `[delivery]`: retry policy and the link put into notifications.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Base URL of the web UI, for links in alerts (e.g. `https://privtrail.example.com`).
    pub ui_url: Option<String>,
    /// First retry delay; doubles per attempt with jitter; `Retry-After` wins. Default `5s`.
    #[serde(default = "d_base")]
    pub backoff_base: String,
    /// Longest retry delay. Default `1h`.
    #[serde(default = "d_max")]
    pub backoff_max: String,
    /// Attempts before a message is dead-lettered (a channel's `max_attempts` wins). Default 10.
    #[serde(default = "d_attempts")]
    pub max_attempts: u32,
    /// Age after which an undelivered message is dead-lettered (a channel's wins). Default `7d`.
    #[serde(default = "d_age")]
    pub max_age: String,
}

fn d_base() -> String {
    "5s".into()
}
fn d_max() -> String {
    "1h".into()
}
fn d_attempts() -> u32 {
    10
}
fn d_age() -> String {
    "7d".into()
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            ui_url: None,
            backoff_base: d_base(),
            backoff_max: d_max(),
            max_attempts: d_attempts(),
            max_age: d_age(),
        }
    }
}

/// The event categories of SPEC §5 and the actions in each.
pub const CATEGORIES: [(&str, &[Action]); 4] = [
    (
        "privilege_use",
        &[
            Action::LogonSpecialPrivileges,
            Action::LogonExplicitCredentials,
            Action::RoleActivated,
            Action::RoleDeactivated,
            Action::RoleActivationExpired,
            Action::RoleActivationRequested,
            Action::RoleActivationDenied,
        ],
    ),
    ("logon", &[Action::Logon, Action::Logoff]),
    (
        "group_management",
        &[
            Action::GroupMemberAdded,
            Action::GroupMemberRemoved,
            Action::AccountCreated,
            Action::RoleAssigned,
            Action::RoleUnassigned,
            Action::RoleEligibilityAssigned,
            Action::RoleEligibilityRemoved,
            Action::EndpointAdminTag,
        ],
    ),
    (
        "audit_integrity",
        &[
            Action::AuditLogCleared,
            Action::AuditPolicyChanged,
            Action::CollectorError,
        ],
    ),
];

impl RouteConfig {
    pub fn min(&self) -> Result<Option<Severity>> {
        self.min_severity
            .as_deref()
            .map(|s| {
                s.parse::<Severity>()
                    .map_err(|e| anyhow!("min_severity {s:?}: {e}"))
            })
            .transpose()
    }

    /// Whether an alert of `rule` at `severity` takes this route.
    pub fn takes(&self, rule: &str, severity: Severity) -> bool {
        self.min().ok().flatten().is_none_or(|m| severity >= m)
            && (self.rules.is_empty() || self.rules.iter().any(|r| r == rule))
    }
}

impl ForwardConfig {
    /// The actions this forward selects.
    pub fn actions(&self) -> Result<Vec<Action>> {
        let mut out = Vec::new();
        for c in &self.categories {
            let Some((_, actions)) = CATEGORIES.iter().find(|(n, _)| n == c) else {
                let names: Vec<&str> = CATEGORIES.iter().map(|(n, _)| *n).collect();
                bail!("unknown category {c:?} (one of {})", names.join(", "));
            };
            out.extend_from_slice(actions);
        }
        for a in &self.actions {
            out.push(a.parse::<Action>().map_err(|e| anyhow!("{e}"))?);
        }
        Ok(out)
    }

    fn compile(&self) -> Result<(Vec<Action>, Option<privtrail_rules::custom::EventMatch>)> {
        let actions = self.actions()?;
        let m = if self.matches.is_empty() {
            None
        } else {
            Some(
                privtrail_rules::custom::EventMatch::compile(&self.matches)
                    .map_err(|e| anyhow!("match: {e}"))?,
            )
        };
        if actions.is_empty() && m.is_none() {
            bail!("select events with categories, actions or match");
        }
        Ok((actions, m))
    }

    pub fn takes(&self, e: &Event) -> bool {
        let Some((actions, m)) = self.compiled.get_or_init(|| self.compile().ok()) else {
            return false;
        };
        actions.contains(&e.action) || m.as_ref().is_some_and(|m| m.matches(e))
    }
}

/// Checks routes and forwards against the channel names.
pub fn validate(
    channels: &[privtrail_alerts::ChannelConfig],
    routes: &[RouteConfig],
    forwards: &[ForwardConfig],
    delivery: &DeliveryConfig,
) -> Result<()> {
    let mut names = std::collections::HashSet::new();
    for c in channels {
        if !names.insert(c.name.as_str()) {
            bail!("[[channels]]: the name {:?} is used twice", c.name);
        }
        privtrail_alerts::build(c).map_err(|e| anyhow!("[[channels]] {:?}: {e}", c.name))?;
    }
    let known = |list: &[String], what: &str| -> Result<()> {
        for n in list {
            if !names.contains(n.as_str()) {
                bail!("{what}: no channel named {n:?}");
            }
        }
        Ok(())
    };
    for r in routes {
        r.min().map_err(|e| anyhow!("[[routes]]: {e}"))?;
        known(&r.channels, "[[routes]]")?;
    }
    for f in forwards {
        f.compile().map_err(|e| anyhow!("[[forward]]: {e}"))?;
        known(&f.channels, "[[forward]]")?;
    }
    for (k, v) in [
        ("backoff_base", &delivery.backoff_base),
        ("backoff_max", &delivery.backoff_max),
        ("max_age", &delivery.max_age),
    ] {
        crate::time::parse_duration(v).map_err(|e| anyhow!("[delivery] {k}: {e}"))?;
    }
    Ok(())
}
