//! The `[rules]` section of the config file: settings of the built-in rules and custom rules.
//!
//! ```toml
//! [rules]
//! renotify = "24h"
//! [rules.overdue-elevation]
//! grace = "30m"                  # default: [policy] grace (15m)
//! [rules.frequent-activation]
//! count = 3
//! within = "24h"
//! [rules.audit-tampering]
//! severity = "high"              # override
//! [rules.collector-failure]
//! enabled = false
//! [rules.delivery-failure]
//! after = "15m"                  # default; a refused login fires at once
//! [rules.group-burst]
//! count = 5                      # distinct groups within `within` (0: no burst detection)
//! within = "1m"
//! new_granters = true            # the first privileged grant of each granter
//! baseline = "14d"               # history of grants learned before a first grant is reported
//! [rules.permanent-eligibility]
//! break_glass = ["bg1@contoso.com"]  # in addition to [policy] break_glass
//! [rules.activation-notice]
//! enabled = true                 # off by default
//! roles = ["Global Administrator", "Privileged Role Administrator", "Security Administrator"]
//! [rules.noisy-audit-policy]
//! threshold = 0.8                # share of a host's day outside the categories that matter
//! min_events = 1000              # hosts with fewer events that day are not judged
//! top = 5                        # event ids listed, each with its auditpol advice
//! expected = ["4663"]            # ids audited on purpose: counted as signal
//! ```
//! Every section and key is optional; unknown keys are rejected.

use std::collections::HashSet;

use chrono::Duration;
use serde::Deserialize;

use crate::builtin::{
    ActivationNotice, ActivationWithoutMfa, AuditTampering, BUILTIN_IDS, CollectorFailure,
    DELIVERY_FAILURE, DeliveryFailure, DuplicateElevation, EvidenceConflict, FrequentActivation,
    GroupBurst, NoisySettings, OverdueElevation, PermanentEligibility, PimSettingWeakened,
    StandingAccess, TooManyGlobalAdmins, UnapprovedLocalAdmin, default_notice_roles,
};
use crate::custom::{CustomRule, CustomRuleConfig};
use crate::rule::{Rule, Severity};
use crate::time::Span;

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("rule {rule:?}: {message}")]
    Rule { rule: String, message: String },
}

fn yes() -> bool {
    true
}

macro_rules! settings {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// `false` turns the rule off (default `true`).
            #[serde(default = "yes")]
            pub enabled: bool,
            /// Overrides the rule's default severity.
            pub severity: Option<Severity>,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name { enabled: true, severity: None, $($field: Default::default(),)* }
            }
        }
    };
}

settings!(
    /// `[rules.overdue-elevation]` (high).
    OverdueSettings {
        /// Grace after the expected end; default the policy's `grace` (15m).
        grace: Option<Span>,
    }
);
settings!(
    /// `[rules.standing-access]` (high).
    StandingSettings {
        /// Exempt principals, in addition to the policy's `break_glass`.
        #[serde(default)]
        break_glass: Vec<String>,
        /// Treat every Entra role as privileged, not only the built-in list and the policy's
        /// `privileged_roles` (default false).
        #[serde(default)]
        any_role: bool,
    }
);
settings!(
    /// `[rules.pim-setting-weakened]` (high). The maximum activation it compares with is the
    /// policy's (`[policy] max_duration`, `[policy.privileges."<role>"] max_duration`).
    SettingWeakenedSettings {}
);
settings!(
    /// `[rules.activation-without-mfa]` (high).
    WithoutMfaSettings {}
);
settings!(
    /// `[rules.duplicate-elevation]` (medium).
    DuplicateSettings {}
);
settings!(
    /// `[rules.frequent-activation]` (low).
    FrequentSettings {
        /// Activations that make a series (default 3).
        count: Option<usize>,
        /// Window of a series (default 24h).
        within: Option<Span>,
    }
);
settings!(
    /// `[rules.unapproved-local-admin]` (high).
    LocalAdminSettings {
        /// Approved granters, in addition to the policy's `approved_local_admin_granters`.
        #[serde(default)]
        approved_local_admin_granters: Vec<String>,
        /// How close an endpoint tag must be to the add; default the policy's `tag_window` (1h).
        window: Option<Span>,
    }
);
settings!(
    /// `[rules.audit-tampering]` (critical).
    TamperingSettings {}
);
settings!(
    /// `[rules.evidence-conflict]` (high).
    ConflictSettings {}
);
settings!(
    /// `[rules.too-many-global-admins]` (low).
    GlobalAdminsSettings {
        /// Most principals allowed to hold Global Administrator at once (default 5).
        max: Option<usize>,
    }
);
settings!(
    /// `[rules.collector-failure]` (high).
    CollectorSettings {
        /// Missed intervals before a silent collector fires (default 3).
        missed_runs: Option<u32>,
    }
);
settings!(
    /// `[rules.delivery-failure]` (high).
    DeliverySettings {
        /// How long a channel may fail (other than by refused credentials, which fire at once)
        /// before the rule fires; default 15m.
        after: Option<Span>,
    }
);

settings!(
    /// `[rules.group-burst]` (high).
    GroupBurstSettings {
        /// Distinct groups one principal must be added to within `within` (default 5; 0 turns
        /// burst detection off).
        count: Option<usize>,
        /// Window of a burst (default 1m).
        within: Option<Span>,
        /// Report the first privileged grant of each granter (default true).
        new_granters: Option<bool>,
        /// How long the history of grants must be before a first grant counts as new (default
        /// 14d: the granters of the first two weeks on record are learned, so that installing
        /// privtrail or importing old logs does not report every admin who ever granted once;
        /// `"0s"` judges from the first grant on record).
        baseline: Option<Span>,
    }
);
settings!(
    /// `[rules.permanent-eligibility]` (medium).
    EligibilitySettings {
        /// Exempt principals, in addition to the policy's `break_glass`.
        #[serde(default)]
        break_glass: Vec<String>,
        /// Treat every Entra role as privileged (default false).
        #[serde(default)]
        any_role: bool,
    }
);

/// `[rules.activation-notice]` (info), **off by default**.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeSettings {
    /// `true` turns the notices on (default `false`).
    #[serde(default)]
    pub enabled: bool,
    /// Overrides the rule's default severity (`info`).
    pub severity: Option<Severity>,
    /// Roles whose activations are reported, by name or template id (default Global
    /// Administrator, Privileged Role Administrator, Security Administrator).
    pub roles: Option<Vec<String>>,
}

/// The `[rules]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    /// Re-notify interval for open alerts (default 24h).
    pub renotify: Option<Span>,
    #[serde(default, rename = "overdue-elevation")]
    pub overdue_elevation: OverdueSettings,
    #[serde(default, rename = "standing-access")]
    pub standing_access: StandingSettings,
    #[serde(default, rename = "duplicate-elevation")]
    pub duplicate_elevation: DuplicateSettings,
    #[serde(default, rename = "frequent-activation")]
    pub frequent_activation: FrequentSettings,
    #[serde(default, rename = "unapproved-local-admin")]
    pub unapproved_local_admin: LocalAdminSettings,
    #[serde(default, rename = "audit-tampering")]
    pub audit_tampering: TamperingSettings,
    #[serde(default, rename = "too-many-global-admins")]
    pub too_many_global_admins: GlobalAdminsSettings,
    #[serde(default, rename = "collector-failure")]
    pub collector_failure: CollectorSettings,
    #[serde(default, rename = "evidence-conflict")]
    pub evidence_conflict: ConflictSettings,
    #[serde(default, rename = "delivery-failure")]
    pub delivery_failure: DeliverySettings,
    #[serde(default, rename = "group-burst")]
    pub group_burst: GroupBurstSettings,
    #[serde(default, rename = "permanent-eligibility")]
    pub permanent_eligibility: EligibilitySettings,
    #[serde(default, rename = "activation-notice")]
    pub activation_notice: NoticeSettings,
    #[serde(default, rename = "pim-setting-weakened")]
    pub pim_setting_weakened: SettingWeakenedSettings,
    #[serde(default, rename = "activation-without-mfa")]
    pub activation_without_mfa: WithoutMfaSettings,
    #[serde(default, rename = "noisy-audit-policy")]
    pub noisy_audit_policy: NoisySettings,
    /// `[[rules.custom]]`.
    #[serde(default)]
    pub custom: Vec<CustomRuleConfig>,
}

impl RulesConfig {
    /// The re-notify interval (default 24 h).
    pub fn renotify(&self) -> Duration {
        self.renotify.map_or(Duration::hours(24), |s| s.0)
    }

    /// The grace of `overdue-elevation`: its own setting, else the policy's. Every "is it overdue"
    /// question uses this ([`crate::Elevation::is_overdue`]).
    pub fn overdue_grace(&self, policy: &crate::Policy) -> Duration {
        self.overdue_elevation.grace.map_or(policy.grace, |g| g.0)
    }

    /// Checks the whole configuration (custom rules compile, ids are unique) without building.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.build().map(|_| ())
    }

    /// The enabled rules, built-ins first, then custom rules in file order.
    pub fn build(&self) -> Result<Vec<Box<dyn Rule>>, ConfigError> {
        let mut rules: Vec<Box<dyn Rule>> = Vec::new();
        let sev = |s: Option<Severity>, d: Severity| s.unwrap_or(d);
        let c = &self.overdue_elevation;
        if c.enabled {
            rules.push(Box::new(OverdueElevation {
                severity: sev(c.severity, Severity::High),
                grace: c.grace.map(|g| g.0),
            }));
        }
        let c = &self.standing_access;
        if c.enabled {
            rules.push(Box::new(StandingAccess {
                severity: sev(c.severity, Severity::High),
                break_glass: c.break_glass.clone(),
                any_role: c.any_role,
            }));
        }
        let c = &self.duplicate_elevation;
        if c.enabled {
            rules.push(Box::new(DuplicateElevation {
                severity: sev(c.severity, Severity::Medium),
            }));
        }
        let c = &self.frequent_activation;
        if c.enabled {
            let count = c.count.unwrap_or(3);
            if count == 0 {
                return Err(ConfigError::Rule {
                    rule: "frequent-activation".into(),
                    message: "`count` must be at least 1".into(),
                });
            }
            rules.push(Box::new(FrequentActivation {
                severity: sev(c.severity, Severity::Low),
                count,
                within: c.within.map_or(Duration::hours(24), |w| w.0),
            }));
        }
        let c = &self.unapproved_local_admin;
        if c.enabled {
            rules.push(Box::new(UnapprovedLocalAdmin {
                severity: sev(c.severity, Severity::High),
                approved: c.approved_local_admin_granters.clone(),
                window: c.window.map(|w| w.0),
            }));
        }
        let c = &self.audit_tampering;
        if c.enabled {
            rules.push(Box::new(AuditTampering {
                severity: sev(c.severity, Severity::Critical),
            }));
        }
        let c = &self.too_many_global_admins;
        if c.enabled {
            rules.push(Box::new(TooManyGlobalAdmins {
                severity: sev(c.severity, Severity::Low),
                max: c.max.unwrap_or(5),
            }));
        }
        let c = &self.collector_failure;
        if c.enabled {
            let missed = c.missed_runs.unwrap_or(3);
            rules.push(Box::new(CollectorFailure {
                severity: sev(c.severity, Severity::High),
                missed_runs: i32::try_from(missed).map_err(|_| ConfigError::Rule {
                    rule: "collector-failure".into(),
                    message: format!("`missed_runs` {missed} is too large"),
                })?,
            }));
        }
        let c = &self.evidence_conflict;
        if c.enabled {
            rules.push(Box::new(EvidenceConflict {
                severity: sev(c.severity, Severity::High),
            }));
        }
        let c = &self.delivery_failure;
        if c.enabled {
            let after = c.after.map_or(Duration::minutes(15), |a| a.0);
            if after < Duration::zero() {
                return Err(ConfigError::Rule {
                    rule: DELIVERY_FAILURE.into(),
                    message: "`after` must not be negative".into(),
                });
            }
            rules.push(Box::new(DeliveryFailure {
                severity: sev(c.severity, Severity::High),
                after,
            }));
        }
        let c = &self.group_burst;
        if c.enabled {
            let within = c.within.map_or(Duration::minutes(1), |w| w.0);
            let baseline = c.baseline.map_or(Duration::days(14), |b| b.0);
            if within <= Duration::zero() || baseline < Duration::zero() {
                return Err(ConfigError::Rule {
                    rule: "group-burst".into(),
                    message: "`within` must be positive and `baseline` not negative".into(),
                });
            }
            rules.push(Box::new(GroupBurst {
                severity: sev(c.severity, Severity::High),
                count: c.count.unwrap_or(5),
                within,
                new_granters: c.new_granters.unwrap_or(true),
                baseline,
            }));
        }
        let c = &self.permanent_eligibility;
        if c.enabled {
            rules.push(Box::new(PermanentEligibility {
                severity: sev(c.severity, Severity::Medium),
                break_glass: c.break_glass.clone(),
                any_role: c.any_role,
            }));
        }
        let c = &self.noisy_audit_policy;
        if c.enabled {
            rules.push(Box::new(c.build()?));
        }
        let c = &self.activation_notice;
        if c.enabled {
            let roles = c.roles.clone().unwrap_or_else(default_notice_roles);
            if roles.is_empty() || roles.iter().any(|r| r.trim().is_empty()) {
                return Err(ConfigError::Rule {
                    rule: "activation-notice".into(),
                    message: "`roles` must name at least one role, and no name may be empty".into(),
                });
            }
            rules.push(Box::new(ActivationNotice {
                severity: sev(c.severity, Severity::Info),
                roles,
            }));
        }
        let c = &self.pim_setting_weakened;
        if c.enabled {
            rules.push(Box::new(PimSettingWeakened {
                severity: sev(c.severity, Severity::High),
            }));
        }
        let c = &self.activation_without_mfa;
        if c.enabled {
            rules.push(Box::new(ActivationWithoutMfa {
                severity: sev(c.severity, Severity::High),
            }));
        }
        let mut ids: HashSet<String> = BUILTIN_IDS.iter().map(|s| (*s).to_owned()).collect();
        for c in &self.custom {
            if !ids.insert(c.id.trim().to_owned()) {
                return Err(ConfigError::Rule {
                    rule: c.id.clone(),
                    message: "duplicate rule id (ids of custom rules must be unique and differ from the built-in ids)".into(),
                });
            }
            let rule = CustomRule::new(c)?;
            if c.enabled {
                rules.push(Box::new(rule));
            }
        }
        Ok(rules)
    }
}
