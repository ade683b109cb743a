//! Elevations (SPEC §3): who held which privilege, where, from when to when.
//!
//! Reconstruction is a pure function of the *set* of events of one [`ElevationKey`]
//! ([`elevations_for_key`]); [`Tracker`] keeps per-key event lists and recomputes the keys a batch
//! touches, so late and out-of-order events give the same result as a replay in time order.

mod granters;
mod reconcile;
mod tracker;
mod view;
mod walk;

use std::fmt;

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, EventId, Outcome, Source, privilege};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::policy::Policy;
use crate::time::{serde_opt_time, serde_time};

pub(crate) use granters::NO_GRANTERS;
pub use granters::{Granters, grant_actor};
pub use reconcile::{InstanceType, PimInstanceView, Reconciliation, reconcile};
pub use tracker::{Changes, Tracker, TrackerFeed};
use view::View;
pub use walk::{at, elevations_for_key};

/// `event_code` of the synthetic opening events [`reconcile`] creates for snapshot instances.
pub const SNAPSHOT_OPEN_CODE: &str = "privtrail.pim_snapshot";
/// `event_code` of the synthetic closing events [`reconcile`] creates (end reason `reconciled`).
pub const SNAPSHOT_CLOSE_CODE: &str = "privtrail.reconciled";

/// How the privilege was held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElevationKind {
    /// A PIM activation (`role.activated`).
    Activation,
    /// An active role assignment (`role.assigned`), permanent when it has no expiry.
    Assignment,
    /// Membership of a privileged Windows group (`group.member.added`).
    Membership,
}

impl ElevationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ElevationKind::Activation => "activation",
            ElevationKind::Assignment => "assignment",
            ElevationKind::Membership => "membership",
        }
    }
}

/// Why an elevation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndReason {
    /// `role.deactivated`.
    Deactivated,
    /// `role.activation.expired`.
    Expired,
    /// `group.member.removed`.
    Removed,
    /// `role.unassigned`.
    Unassigned,
    /// Missing from a PIM snapshot ([`reconcile`]).
    Reconciled,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Deactivated => "deactivated",
            EndReason::Expired => "expired",
            EndReason::Removed => "removed",
            EndReason::Unassigned => "unassigned",
            EndReason::Reconciled => "reconciled",
        }
    }
}

/// One interval during which a principal held a privilege at a scope (SPEC §3 field names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Elevation {
    /// Stable: a hash of the key and the opening event's id.
    pub id: String,
    /// Canonical (identity-mapped) principal, UPN or SID, in the case its source wrote it (keys
    /// and comparisons lower-case it).
    pub principal: String,
    /// What the principal is called when the identifier is a SID or an object id (`CONTOSO\\nina.patel`):
    /// filled by the application from the store's names before rules and output, never by
    /// reconstruction (which is pure). Not part of the elevation's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_name: Option<String>,
    /// Role or group name (the id when the name is unknown).
    pub privilege: String,
    pub privilege_id: Option<String>,
    /// `/` or a directory scope (Entra), the host (local groups) or the domain (domain groups).
    pub scope: String,
    pub kind: ElevationKind,
    pub source: Source,
    pub tenant: Option<String>,
    pub host: Option<String>,
    #[serde(with = "serde_time")]
    pub started_at: DateTime<Utc>,
    /// PIM schedule end, else an endpoint tag's `ExpiresAt`, else started_at + the policy maximum;
    /// `None` for a permanent assignment.
    #[serde(default, with = "serde_opt_time")]
    pub expected_end: Option<DateTime<Utc>>,
    #[serde(default, with = "serde_opt_time")]
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
    pub opened_by: EventId,
    pub closed_by: Option<EventId>,
    /// For assignments: whether it went through PIM.
    pub via_pim: Option<bool>,
    /// Opening events seen while this elevation was already open (`duplicate-elevation`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<EventId>,
    /// The endpoint tag that set `expected_end`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tagged_by: Option<EventId>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "serde_opt_time"
    )]
    pub tagged_at: Option<DateTime<Utc>>,
}

impl Elevation {
    pub fn is_open(&self) -> bool {
        self.ended_at.is_none()
    }

    /// Whether it is still open after its expected end plus `grace` at `now` — the one definition
    /// of "overdue" (the `overdue-elevation` rule and every listing use it).
    pub fn is_overdue(&self, now: DateTime<Utc>, grace: chrono::Duration) -> bool {
        self.ended_at.is_none()
            && self.started_at <= now
            && self
                .expected_end
                .and_then(|end| end.checked_add_signed(grace))
                .is_some_and(|due| now > due)
    }

    /// How privtrail prints the principal: `CONTOSO\nina.patel (S-1-5-21-…-1601)` when a name is
    /// known, else the identifier.
    pub fn who(&self) -> String {
        privtrail_model::names::display(&self.principal, self.principal_name.as_deref())
    }

    /// [`Elevation::who`] for a table column: a named domain SID shortened to its RID.
    pub fn who_short(&self) -> String {
        privtrail_model::names::display_short(&self.principal, self.principal_name.as_deref())
    }

    /// Whether it was held at `t` (started_at <= t and not ended at or before t).
    pub fn held_at(&self, t: DateTime<Utc>) -> bool {
        self.started_at <= t && self.ended_at.is_none_or(|e| e > t)
    }

    /// The key this elevation belongs to.
    pub fn key(&self) -> ElevationKey {
        ElevationKey {
            principal: self.principal.to_lowercase(),
            privilege: self
                .privilege_id
                .as_deref()
                .unwrap_or(&self.privilege)
                .trim()
                .to_lowercase(),
            scope: self.scope.trim().to_lowercase(),
            realm: realm(self.source, self.tenant.as_deref()),
        }
    }
}

/// What identifies the elevations of one principal on one privilege at one scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ElevationKey {
    /// Canonical principal, lower-cased.
    pub principal: String,
    /// `privilege_id`, else the privilege name, lower-cased.
    pub privilege: String,
    /// Scope, lower-cased.
    pub scope: String,
    /// The tenant (lower-cased) for Entra elevations, empty otherwise.
    pub realm: String,
}

impl fmt::Display for ElevationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}|{}|{}|{}",
            self.principal, self.privilege, self.scope, self.realm
        )
    }
}

fn realm(source: Source, tenant: Option<&str>) -> String {
    match (source, tenant) {
        (Source::Entra, Some(t)) => t.trim().to_lowercase(),
        _ => String::new(),
    }
}

/// Every action whose events open or close elevations or promise their end (endpoint tags): the
/// input of elevation tracking, declared here once. The store's partial index over these events
/// and the engine's read of them are built from this list; [`effect`] and [`tag_host`] act on no
/// other action (a test holds them to it).
pub const ELEVATION_INPUTS: [Action; 8] = [
    Action::RoleActivated,
    Action::RoleAssigned,
    Action::GroupMemberAdded,
    Action::RoleDeactivated,
    Action::RoleActivationExpired,
    Action::RoleUnassigned,
    Action::GroupMemberRemoved,
    Action::EndpointAdminTag,
];

/// What an event does to elevations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Open(ElevationKind),
    Close(EndReason),
}

/// The source an elevation opened by `e` counts as (synthetic snapshot events are Entra).
fn elevation_source(e: &View<'_>) -> Source {
    if e.source == Source::Privtrail
        && (e.event_code == SNAPSHOT_OPEN_CODE || e.event_code == SNAPSHOT_CLOSE_CODE)
    {
        Source::Entra
    } else {
        e.source
    }
}

fn privileged_group(e: &View<'_>, policy: &Policy) -> bool {
    privilege::is_privileged(e.privilege_id, e.privilege, &policy.privileged_groups)
}

/// The effect of an event that is not a linked second record and did not fail.
pub(crate) fn effect(e: &View<'_>, policy: &Policy) -> Option<Effect> {
    if e.outcome == Outcome::Failure {
        return None;
    }
    Some(match e.action {
        Action::RoleActivated => Effect::Open(ElevationKind::Activation),
        Action::RoleAssigned => Effect::Open(ElevationKind::Assignment),
        Action::GroupMemberAdded if privileged_group(e, policy) => {
            Effect::Open(ElevationKind::Membership)
        }
        Action::RoleDeactivated => Effect::Close(EndReason::Deactivated),
        Action::RoleActivationExpired => Effect::Close(EndReason::Expired),
        Action::RoleUnassigned if e.event_code == SNAPSHOT_CLOSE_CODE => {
            Effect::Close(EndReason::Reconciled)
        }
        Action::RoleUnassigned => Effect::Close(EndReason::Unassigned),
        Action::GroupMemberRemoved if privileged_group(e, policy) => {
            Effect::Close(EndReason::Removed)
        }
        _ => return None,
    })
}

/// The scope an event's elevation is at: the event's scope, else its host (local groups), else `/`.
fn scope_of(e: &View<'_>) -> String {
    e.scope
        .or(e.host.filter(|_| e.source == Source::Windows))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("/")
        .to_owned()
}

/// The elevation key of an opening or closing event (linked second records included, so that a
/// key's event list holds them), or `None` for events that touch no elevation: other actions,
/// failures, non-privileged groups, and events without a target or privilege. Endpoint tags have
/// no key: see [`tag_host`].
pub fn key_of(e: &Event, policy: &Policy) -> Option<ElevationKey> {
    view_key(&View::of(e), policy)
}

fn view_key(e: &View<'_>, policy: &Policy) -> Option<ElevationKey> {
    let relevant = if e.linked_to.is_some() {
        matches!(
            e.action,
            Action::RoleActivated
                | Action::RoleAssigned
                | Action::RoleDeactivated
                | Action::RoleActivationExpired
                | Action::RoleUnassigned
        )
    } else {
        effect(e, policy).is_some()
    };
    if !relevant {
        return None;
    }
    let target = e.target.filter(|t| !t.trim().is_empty())?;
    let privilege = e
        .privilege_id
        .or(e.privilege)
        .filter(|p| !p.trim().is_empty())?;
    Some(ElevationKey {
        principal: policy.canonical(target),
        privilege: privilege.trim().to_lowercase(),
        scope: scope_of(e).to_lowercase(),
        realm: realm(elevation_source(e), e.tenant),
    })
}

/// The host (lower-cased) an `endpoint.admin_tag` event with an `expires_at` applies to; `None` for
/// other events. Reconstruction of a membership key needs the tags of its host.
pub fn tag_host(e: &Event) -> Option<String> {
    view_tag_host(&View::of(e))
}

fn view_tag_host(e: &View<'_>) -> Option<String> {
    if e.action != Action::EndpointAdminTag || e.expires_at.is_none() {
        return None;
    }
    e.host
        .or(e.scope)
        .map(|h| h.trim().to_lowercase())
        .filter(|h| !h.is_empty())
}

/// The stable id of an elevation: SHA-256 of the key and the opening event id, 32 hex digits.
pub fn elevation_id(key: &ElevationKey, opened_by: &EventId) -> String {
    let mut h = Sha256::new();
    h.update(key.to_string().as_bytes());
    h.update([0u8]);
    h.update(opened_by.as_str().as_bytes());
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ELEVATION_INPUTS` is the list the store indexes and the engine reads: no other action may
    /// open, close or time an elevation.
    #[test]
    fn elevation_inputs_cover_every_effect() {
        let policy = Policy::default();
        let t = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("time");
        for (action, name) in Action::ALL {
            for source in [Source::Windows, Source::Entra, Source::Privtrail] {
                let mut e = Event::new(EventId::native(source, "h", name), source, action, t, "x");
                e.privilege_id = Some("S-1-5-32-544".into());
                e.privilege = Some("Administrators".into());
                e.target = Some("S-1-5-21-1-2-3-1001".into());
                e.host = Some("ws1".into());
                e.expires_at = Some(t);
                let touches = effect(&View::of(&e), &policy).is_some() || tag_host(&e).is_some();
                assert_eq!(
                    touches,
                    ELEVATION_INPUTS.contains(&action),
                    "{name} ({source:?})"
                );
            }
        }
    }
}
