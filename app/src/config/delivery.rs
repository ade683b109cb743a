//! `[[channels]]`, `[[routes]]`, `[[forward]]` and `[delivery]` (SPEC §5): where alerts and events go.

use privtrail_model::{Action, Event, Span};
use privtrail_rules::Severity;
use serde::Deserialize;

use super::invalid;
use crate::error::{AppError, Result};

/// `[[routes]]`: which alerts go to which channels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Only alerts at least this severe (`info`, `low`, `medium`, `high`, `critical`); default all
    /// (notices of `info` included: `low` keeps them out).
    pub min_severity: Option<Severity>,
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
    pub backoff_base: Span,
    /// Longest retry delay, a receiver's `Retry-After` included (a message's or channel's
    /// `max_age` caps it too). Default `1h`.
    #[serde(default = "d_max")]
    pub backoff_max: Span,
    /// Failed attempts of a message itself (its receiver refused it, or failed on it) before it
    /// is dead-lettered (a channel's `max_attempts` wins). Default 10. While a whole channel
    /// fails (network, `5xx`, throttling, refused credentials) its messages are not charged:
    /// they wait, and only `max_age` ends them.
    #[serde(default = "d_attempts")]
    pub max_attempts: u32,
    /// Age after which an undelivered message is dead-lettered (a channel's wins). Default `7d`.
    #[serde(default = "d_age")]
    pub max_age: Span,
}

fn d_base() -> Span {
    Span(chrono::Duration::seconds(5))
}
fn d_max() -> Span {
    Span(chrono::Duration::hours(1))
}
fn d_attempts() -> u32 {
    10
}
fn d_age() -> Span {
    Span(chrono::Duration::days(7))
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
    /// Whether an alert of `rule` at `severity` takes this route.
    pub fn takes(&self, rule: &str, severity: Severity) -> bool {
        self.min_severity.is_none_or(|m| severity >= m)
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
                invalid!("unknown category {c:?} (one of {})", names.join(", "));
            };
            out.extend_from_slice(actions);
        }
        for a in &self.actions {
            out.push(
                a.parse::<Action>()
                    .map_err(|e| AppError::Config(e.to_string()))?,
            );
        }
        Ok(out)
    }

    fn compile(&self) -> Result<(Vec<Action>, Option<privtrail_rules::custom::EventMatch>)> {
        let actions = self.actions()?;
        let m = if self.matches.is_empty() {
            None
        } else {
            match privtrail_rules::custom::EventMatch::compile(&self.matches) {
                Ok(m) => Some(m),
                Err(e) => invalid!("match: {e}"),
            }
        };
        if actions.is_empty() && m.is_none() {
            invalid!("select events with categories, actions or match");
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

/// Checks channels, routes and forwards against each other.
pub fn validate(
    channels: &[privtrail_alerts::ChannelConfig],
    routes: &[RouteConfig],
    forwards: &[ForwardConfig],
) -> Result<()> {
    let mut names = std::collections::HashSet::new();
    for c in channels {
        if !names.insert(c.name.as_str()) {
            invalid!("[[channels]]: the name {:?} is used twice", c.name);
        }
        if let Err(e) = privtrail_alerts::build(c) {
            invalid!("[[channels]] {:?}: {e}", c.name);
        }
    }
    let known = |list: &[String], what: &str| -> Result<()> {
        for n in list {
            if !names.contains(n.as_str()) {
                invalid!("{what}: no channel named {n:?}");
            }
        }
        Ok(())
    };
    for r in routes {
        known(&r.channels, "[[routes]]")?;
    }
    for f in forwards {
        if let Err(e) = f.compile() {
            invalid!("[[forward]]: {e}");
        }
        known(&f.channels, "[[forward]]")?;
    }
    Ok(())
}
