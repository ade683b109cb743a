//! The built-in rules of SPEC §4. Each is a struct holding its settings; [`RulesConfig`](crate::RulesConfig)
//! builds them from the config file.

mod delivery;
mod elevations;
mod events;
mod groups;
mod noisy;
mod roles;
pub mod settings;

pub use delivery::{DELIVERY_FAILURE, DeliveryFailure};
pub use elevations::{
    DuplicateElevation, FrequentActivation, OverdueElevation, StandingAccess, TooManyGlobalAdmins,
};
pub use events::{AuditTampering, CollectorFailure, EvidenceConflict, UnapprovedLocalAdmin};
pub use groups::GroupBurst;
pub use noisy::{
    Category, MAX_CODES, NOISY_AUDIT_POLICY, NoisyAuditPolicy, NoisySettings, Origin,
    VolumeCounter, advice, category, day_bounds, day_to_judge, origin, settle,
};
pub use roles::{
    ActivationNotice, NOTICE_ROLES, PRIVILEGED_ROLE_ADMIN_TEMPLATE_ID, PermanentEligibility,
    SECURITY_ADMIN_TEMPLATE_ID, default_notice_roles,
};
pub use settings::{
    ActivationWithoutMfa, KnownSettings, ParsedSettings, PimSettingWeakened, RoleSettings,
};

use privtrail_model::format_time;

use crate::elevation::Elevation;
use crate::rule::{Finding, Severity};

/// The ids of the built-in rules.
pub const BUILTIN_IDS: [&str; 16] = [
    "overdue-elevation",
    "standing-access",
    "duplicate-elevation",
    "frequent-activation",
    "unapproved-local-admin",
    "audit-tampering",
    "too-many-global-admins",
    "collector-failure",
    "evidence-conflict",
    DELIVERY_FAILURE,
    "group-burst",
    "permanent-eligibility",
    NOISY_AUDIT_POLICY,
    "activation-notice",
    "pim-setting-weakened",
    "activation-without-mfa",
];

/// A finding about one elevation, with its principal, privilege and scope.
fn about(
    rule: &str,
    severity: Severity,
    el: &Elevation,
    subject: String,
    summary: String,
    condition: bool,
) -> Finding {
    let mut event_ids = vec![el.opened_by.clone()];
    event_ids.extend(el.closed_by.iter().cloned());
    Finding {
        rule: rule.to_owned(),
        severity,
        subject,
        principal: Some(el.principal.clone()),
        privilege: Some(el.privilege.clone()),
        scope: Some(el.scope.clone()),
        summary,
        event_ids,
        elevation_id: Some(el.id.clone()),
        condition,
    }
}

/// `alice@contoso.com holds Global Administrator at / (activation since 2024-…Z)`.
fn describe(el: &Elevation) -> String {
    format!(
        "{} holds {} at {} ({} since {})",
        el.who(),
        el.privilege,
        el.scope,
        el.kind.as_str(),
        format_time(el.started_at)
    )
}
