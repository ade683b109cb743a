use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What happened, in the vocabulary users query by (SPEC §2).
///
/// The string forms (`role.activated`, `group.member.added`, …) are the stable external names: they
/// are stored, indexed and printed. Records privtrail does not interpret keep their source's name
/// ([`Action::EntraAudit`], [`Action::WindowsEvent`]). Adding an action: add a variant and its name
/// in [`Action::ALL`]; the tests check that every name round-trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    RoleActivationRequested,
    RoleActivationDenied,
    RoleActivated,
    RoleDeactivated,
    RoleActivationExpired,
    RoleAssigned,
    RoleUnassigned,
    RoleEligibilityAssigned,
    RoleEligibilityRemoved,
    RoleSettingChanged,
    GroupMemberAdded,
    GroupMemberRemoved,
    Logon,
    LogonSpecialPrivileges,
    LogonExplicitCredentials,
    Logoff,
    AccountCreated,
    AuditLogCleared,
    AuditPolicyChanged,
    EndpointAdminTag,
    CollectorError,
    /// A reviewer acknowledged an alert (privtrail's own evidence).
    AlertAcknowledged,
    /// A reviewer resolved an alert.
    AlertResolved,
    /// A reviewer silenced a rule (for a principal, or for everyone) until a time.
    AlertSilenced,
    /// A record arrived with the id of a stored event but other content (kept in `conflicts`).
    EvidenceConflict,
    /// Retention dropped the oldest events; the record names the range and the last dropped hash.
    StorePurged,
    /// Remediation (SPEC §4): an action was proposed for an alert…
    RemediationProposed,
    /// …approved (by a reviewer, or by `enforce` mode)…
    RemediationApproved,
    /// …or rejected by a reviewer;
    RemediationRejected,
    /// it was handed to its receiver (Graph, the RMM's webhook), recorded before the request…
    RemediationSent,
    /// …and the receiver's answer: done…
    RemediationSucceeded,
    /// …or refused / failed.
    RemediationFailed,
    EntraAudit,
    WindowsEvent,
}

impl Action {
    /// Every action with its external name, in declaration order.
    pub const ALL: [(Action, &'static str); 34] = [
        (Action::RoleActivationRequested, "role.activation.requested"),
        (Action::RoleActivationDenied, "role.activation.denied"),
        (Action::RoleActivated, "role.activated"),
        (Action::RoleDeactivated, "role.deactivated"),
        (Action::RoleActivationExpired, "role.activation.expired"),
        (Action::RoleAssigned, "role.assigned"),
        (Action::RoleUnassigned, "role.unassigned"),
        (Action::RoleEligibilityAssigned, "role.eligibility.assigned"),
        (Action::RoleEligibilityRemoved, "role.eligibility.removed"),
        (Action::RoleSettingChanged, "role.setting.changed"),
        (Action::GroupMemberAdded, "group.member.added"),
        (Action::GroupMemberRemoved, "group.member.removed"),
        (Action::Logon, "logon"),
        (Action::LogonSpecialPrivileges, "logon.special_privileges"),
        (
            Action::LogonExplicitCredentials,
            "logon.explicit_credentials",
        ),
        (Action::Logoff, "logoff"),
        (Action::AccountCreated, "account.created"),
        (Action::AuditLogCleared, "audit.log_cleared"),
        (Action::AuditPolicyChanged, "audit.policy_changed"),
        (Action::EndpointAdminTag, "endpoint.admin_tag"),
        (Action::CollectorError, "collector.error"),
        (Action::AlertAcknowledged, "alert.acknowledged"),
        (Action::AlertResolved, "alert.resolved"),
        (Action::AlertSilenced, "alert.silenced"),
        (Action::EvidenceConflict, "evidence.conflict"),
        (Action::StorePurged, "store.purged"),
        (Action::RemediationProposed, "remediation.proposed"),
        (Action::RemediationApproved, "remediation.approved"),
        (Action::RemediationRejected, "remediation.rejected"),
        (Action::RemediationSent, "remediation.sent"),
        (Action::RemediationSucceeded, "remediation.succeeded"),
        (Action::RemediationFailed, "remediation.failed"),
        (Action::EntraAudit, "entra.audit"),
        (Action::WindowsEvent, "windows.event"),
    ];

    /// The external name, e.g. `group.member.added`.
    pub fn as_str(self) -> &'static str {
        // ALL is in declaration order, so the discriminant indexes it.
        Self::ALL[self as usize].1
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`Action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAction(pub String);

impl fmt::Display for UnknownAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown action {:?}", self.0)
    }
}

impl std::error::Error for UnknownAction {}

impl FromStr for Action {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .find(|(_, name)| *name == s)
            .map(|(a, _)| *a)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_is_unique() {
        let mut seen = std::collections::HashSet::new();
        for (i, (action, name)) in Action::ALL.iter().enumerate() {
            assert_eq!(*action as usize, i, "ALL must be in declaration order");
            assert_eq!(action.as_str(), *name);
            assert_eq!(name.parse::<Action>(), Ok(*action));
            assert!(seen.insert(*name), "duplicate name {name}");
            let json = serde_json::to_string(action).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), *action);
        }
    }

    #[test]
    fn unknown_name_is_an_error() {
        assert!("role.bogus".parse::<Action>().is_err());
        assert!(serde_json::from_str::<Action>("\"nope\"").is_err());
    }
}
