//! `[remediation]` (SPEC §4 "Remediation"): whether privtrail may end what outlived its promise.
//! Off unless configured; every limit errs on the side of doing less.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::invalid;
use crate::error::Result;

/// How far remediation goes. Ordered: `Off < Propose < Enforce`; the effective mode of an action
/// is the lowest of every setting that applies to it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Nothing is planned or sent.
    #[default]
    Off,
    /// Actions are proposed; a reviewer approves (or rejects) each.
    Propose,
    /// Actions are approved by the policy and sent without waiting.
    Enforce,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Propose => "propose",
            Mode::Enforce => "enforce",
        }
    }
}

/// The rules whose alerts name an elevation that ending it answers.
pub const REMEDIABLE_RULES: [&str; 3] = [
    "overdue-elevation",
    "standing-access",
    "duplicate-elevation",
];

/// Actions per hour when `max_per_hour` is not set.
pub const DEFAULT_MAX_PER_HOUR: u32 = 10;

/// `[remediation]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationConfig {
    /// The ceiling for everything below (default `off`).
    #[serde(default)]
    pub mode: Mode,
    /// Per rule, the most its alerts lead to. Default: `overdue-elevation` at `mode`, no other
    /// rule. Only [`REMEDIABLE_RULES`].
    #[serde(default)]
    pub rules: BTreeMap<String, Mode>,
    /// Per privilege (role or group name or id, any case), the most its elevations lead to.
    #[serde(default)]
    pub privileges: BTreeMap<String, Mode>,
    /// When not empty, only these principals (UPN, SID or object id, any case) are remediated.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Never these principals (besides `[policy] break_glass`, which is never touched).
    #[serde(default)]
    pub deny: Vec<String>,
    /// Circuit breaker: at most this many actions sent per rolling hour (default 10); past it
    /// remediation stops and raises `collector-failure` until the hour has room again.
    pub max_per_hour: Option<u32>,
    /// The `[[channels]]` webhook (its URL and HMAC key) that receives Windows local-admin actions
    /// for the RMM; without it, Windows elevations are not remediated.
    pub webhook: Option<String>,
}

impl RemediationConfig {
    pub fn max_per_hour(&self) -> u32 {
        self.max_per_hour.unwrap_or(DEFAULT_MAX_PER_HOUR)
    }

    /// The most `rule`'s alerts lead to (before privilege settings and the kind of elevation).
    pub fn rule_mode(&self, rule: &str) -> Mode {
        let per_rule = if self.rules.is_empty() {
            (rule == "overdue-elevation").then_some(Mode::Enforce)
        } else {
            self.rules.get(rule).copied()
        };
        per_rule.unwrap_or(Mode::Off).min(self.mode)
    }

    /// The most elevations of this privilege lead to.
    pub fn privilege_mode(&self, name: &str, id: Option<&str>) -> Mode {
        self.privileges
            .iter()
            .filter(|(k, _)| {
                k.eq_ignore_ascii_case(name) || id.is_some_and(|i| k.eq_ignore_ascii_case(i))
            })
            .map(|(_, m)| *m)
            .min()
            .unwrap_or(Mode::Enforce)
    }

    /// Checks rule names, principals, the breaker and the webhook against the channels.
    pub fn validate(&self, channels: &[privtrail_alerts::ChannelConfig]) -> Result<()> {
        for r in self.rules.keys() {
            if !REMEDIABLE_RULES.contains(&r.as_str()) {
                invalid!(
                    "[remediation] rules: {r:?} cannot be remediated (only {})",
                    REMEDIABLE_RULES.join(", ")
                );
            }
        }
        for (list, name) in [(&self.allow, "allow"), (&self.deny, "deny")] {
            if list.iter().any(|p| p.trim().is_empty()) {
                invalid!("[remediation] {name}: a principal is empty");
            }
        }
        if self.privileges.keys().any(|p| p.trim().is_empty()) {
            invalid!("[remediation] privileges: a privilege name is empty");
        }
        if self.max_per_hour == Some(0) {
            invalid!("[remediation] max_per_hour must be at least 1 (use mode = \"off\" to stop)");
        }
        if let Some(w) = &self.webhook {
            match channels.iter().find(|c| &c.name == w) {
                None => invalid!("[remediation] webhook: no [[channels]] named {w:?}"),
                Some(c) if !matches!(c.kind, privtrail_alerts::ChannelKind::Webhook(_)) => {
                    invalid!(
                        "[remediation] webhook: channel {w:?} is a {} channel, not a webhook",
                        c.type_name()
                    )
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> RemediationConfig {
        toml::from_str(text).expect("config")
    }

    #[test]
    fn off_by_default_and_the_lowest_setting_wins() {
        let c = RemediationConfig::default();
        assert_eq!(c.rule_mode("overdue-elevation"), Mode::Off);
        let c = parse("mode = \"enforce\"");
        assert_eq!(c.rule_mode("overdue-elevation"), Mode::Enforce);
        assert_eq!(c.rule_mode("standing-access"), Mode::Off);
        let c = parse(
            "mode = \"propose\"\nrules = { overdue-elevation = \"enforce\", standing-access = \"propose\" }",
        );
        assert_eq!(c.rule_mode("overdue-elevation"), Mode::Propose);
        assert_eq!(c.rule_mode("standing-access"), Mode::Propose);
        assert_eq!(c.rule_mode("duplicate-elevation"), Mode::Off);
        let c =
            parse("mode = \"enforce\"\nprivileges = { \"Global Administrator\" = \"propose\" }");
        assert_eq!(
            c.privilege_mode("global administrator", None),
            Mode::Propose
        );
        assert_eq!(c.privilege_mode("Security Reader", None), Mode::Enforce);
    }

    #[test]
    fn validation_names_what_is_wrong() {
        let err = parse("mode = \"enforce\"\nrules = { audit-tampering = \"enforce\" }")
            .validate(&[])
            .expect_err("not remediable");
        assert!(err.to_string().contains("audit-tampering"), "{err}");
        let err = parse("max_per_hour = 0").validate(&[]).expect_err("zero");
        assert!(err.to_string().contains("max_per_hour"), "{err}");
        let err = parse("webhook = \"rmm\"")
            .validate(&[])
            .expect_err("no channel");
        assert!(err.to_string().contains("rmm"), "{err}");
        assert!(toml::from_str::<RemediationConfig>("mode = \"always\"").is_err());
        assert!(toml::from_str::<RemediationConfig>("moed = \"off\"").is_err());
    }
}
