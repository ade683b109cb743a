//! Pure normalization of one Graph v1.0 `directoryAudit` into an [`Event`] (SPEC §1.1, §2).
//!
//! Keys are matched without regard to case everywhere. The action comes from `activityDisplayName`
//! (see [`normalize_directory_audit`] for the table); the role and principal from `targetResources`
//! and `additionalDetails`.

use std::borrow::Cow;

use chrono::Utc;
use privtrail_model::{Action, Event, EventId, Outcome, Source};
use serde_json::Value;

use super::json::{
    JsonMap, JsonValue, arr, get, is_nil_guid, obj, parse_time, text, text_ref, unquote,
};
use crate::IngestError;

/// The application Core Directory names as initiator when PIM makes a role change.
pub const MS_PIM_APP: &str = "MS-PIM";
/// MS-PIM's well-known application id.
const MS_PIM_APP_ID: &str = "01fc33a7-78ba-4d2f-a4b7-768e336e890e";

/// `additionalDetails` keys (any case, first present wins) read as the justification.
pub const JUSTIFICATION_KEYS: [&str; 3] = ["Justification", "RequestJustification", "Reason"];
/// `additionalDetails` keys (any case, first present wins) read as the expiry.
pub const EXPIRY_KEYS: [&str; 7] = [
    "ExpirationTime",
    "ExpirationDateTime",
    "EndTime",
    "EndDateTime",
    "ScheduleEndTime",
    "Expiration",
    "ExpiresAt",
];
/// `additionalDetails` keys read as the role template id when no `Role.TemplateId` is modified.
const TEMPLATE_KEYS: [&str; 3] = ["TemplateId", "RoleTemplateId", "RoleDefinitionId"];
/// `additionalDetails` keys read as the directory scope.
const SCOPE_KEYS: [&str; 3] = ["DirectoryScopeId", "DirectoryScope", "Scope"];

/// What an `activityDisplayName` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Requested,
    Approved,
    Denied,
    Activated,
    Deactivated,
    Expired,
    PimAssigned {
        timebound: bool,
    },
    PimUnassigned,
    EligibleAssigned {
        timebound: bool,
    },
    EligibleRemoved,
    OutsideAssigned,
    OutsideUnassigned,
    /// Core Directory `Add member to role` (PIM's own when initiated by `MS-PIM`).
    CoreAdd,
    CoreRemove,
    Setting,
    Other,
}

pub(crate) fn kind_of(activity: &str) -> Kind {
    // Called for every record and every link comparison: names that are single-spaced and
    // short (all of Graph's own) are lowered in a buffer on the stack, without an allocation.
    let single_spaced = !activity.contains("  ")
        && !activity.starts_with(char::is_whitespace)
        && !activity.ends_with(char::is_whitespace);
    let mut buf = [0u8; 80];
    let owned;
    let a: &str = if single_spaced && activity.len() <= buf.len() {
        let b = &mut buf[..activity.len()];
        b.copy_from_slice(activity.as_bytes());
        b.make_ascii_lowercase();
        // ASCII lowering keeps UTF-8 valid; a failure would only mean "no known name".
        std::str::from_utf8(b).unwrap_or("")
    } else {
        let mut s = if single_spaced {
            activity.to_owned()
        } else {
            activity.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        s.make_ascii_lowercase();
        owned = s;
        &owned
    };
    let tb = |s: &str| s.ends_with("(timebound)");
    match a {
        "add member to role requested (pim activation)" => Kind::Requested,
        "add member to role request approved (pim activation)" => Kind::Approved,
        "add member to role request denied (pim activation)" => Kind::Denied,
        "add member to role completed (pim activation)" => Kind::Activated,
        "remove member from role completed (pim deactivate)" => Kind::Deactivated,
        "remove member from role (pim activation expired)" => Kind::Expired,
        "add member to role in pim completed (permanent)"
        | "add member to role in pim completed (timebound)" => {
            Kind::PimAssigned { timebound: tb(a) }
        }
        "remove member from role in pim completed (permanent)"
        | "remove member from role in pim completed (timebound)" => Kind::PimUnassigned,
        "add eligible member to role in pim completed (permanent)"
        | "add eligible member to role in pim completed (timebound)" => {
            Kind::EligibleAssigned { timebound: tb(a) }
        }
        "remove eligible member from role in pim completed (permanent)"
        | "remove eligible member from role in pim completed (timebound)" => Kind::EligibleRemoved,
        "add member to role outside of pim (permanent)" => Kind::OutsideAssigned,
        "remove member from role outside of pim (permanent)" => Kind::OutsideUnassigned,
        "update role setting in pim" => Kind::Setting,
        "add member to role" | "add scoped member to role" => Kind::CoreAdd,
        "remove member from role" | "remove scoped member from role" => Kind::CoreRemove,
        _ => Kind::Other,
    }
}

impl Kind {
    fn action(self) -> Action {
        match self {
            Kind::Requested | Kind::Approved => Action::RoleActivationRequested,
            Kind::Denied => Action::RoleActivationDenied,
            Kind::Activated => Action::RoleActivated,
            Kind::Deactivated => Action::RoleDeactivated,
            Kind::Expired => Action::RoleActivationExpired,
            Kind::PimAssigned { .. } | Kind::OutsideAssigned | Kind::CoreAdd => {
                Action::RoleAssigned
            }
            Kind::PimUnassigned | Kind::OutsideUnassigned | Kind::CoreRemove => {
                Action::RoleUnassigned
            }
            Kind::EligibleAssigned { .. } => Action::RoleEligibilityAssigned,
            Kind::EligibleRemoved => Action::RoleEligibilityRemoved,
            Kind::Setting => Action::RoleSettingChanged,
            Kind::Other => Action::EntraAudit,
        }
    }

    /// Records written by the PIM service itself (their `resultReason` is the requester's text).
    pub(crate) fn is_pim_named(self) -> bool {
        !matches!(self, Kind::CoreAdd | Kind::CoreRemove | Kind::Other)
    }

    /// Kinds whose assignment has no end by definition.
    pub(crate) fn permanent(self) -> bool {
        matches!(
            self,
            Kind::PimAssigned { timebound: false }
                | Kind::EligibleAssigned { timebound: false }
                | Kind::OutsideAssigned
        )
    }

    /// Kinds for which an expiry means something (grants and requests for grants).
    fn grants(self) -> bool {
        matches!(
            self,
            Kind::Requested
                | Kind::Approved
                | Kind::Activated
                | Kind::PimAssigned { .. }
                | Kind::EligibleAssigned { .. }
                | Kind::CoreAdd
        )
    }
}

fn malformed(id: Option<&str>, reason: impl Into<String>) -> IngestError {
    IngestError::Malformed {
        origin: "directoryAudit".to_owned(),
        location: id.map_or_else(|| "record".to_owned(), |i| format!("id {i:?}")),
        reason: reason.into(),
    }
}

/// `additionalDetails` as (key, value) text pairs, as [`text`] reads them but borrowed where the
/// record holds text (copying every pair of every record was a fifth of normalizing it).
fn details<M: JsonMap>(m: &M) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    arr(m, "additionalDetails")
        .iter()
        .filter_map(JsonValue::as_map)
        .filter_map(|d| Some((text_ref(d, "key")?, text_ref(d, "value")?)))
        .collect()
}

/// The first of `keys` (in order, any case) present in `details`.
fn detail(details: &[(Cow<'_, str>, Cow<'_, str>)], keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| {
        details
            .iter()
            .find(|(dk, _)| dk.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone().into_owned())
    })
}

fn type_is<M: JsonMap>(t: &M, ty: &str) -> bool {
    str_is(t, "type", ty)
}

/// Whether the text under `key` is `want` (any case): [`text`] without a copy (the tests of every
/// target and property of every record).
fn str_is<M: JsonMap>(m: &M, key: &str, want: &str) -> bool {
    text_ref(m, key).is_some_and(|x| x.eq_ignore_ascii_case(want))
}

/// A modified property's value (new, else old) with one level of JSON quoting undone.
fn modified<M: JsonMap>(targets: &[&M], name: &str) -> Option<String> {
    targets
        .iter()
        .flat_map(|t| arr(*t, "modifiedProperties"))
        .filter_map(JsonValue::as_map)
        .filter(|p| str_is(*p, "displayName", name))
        .find_map(|p| {
            let v = |k| get(p, k).and_then(JsonValue::string).and_then(unquote);
            v("newValue").or_else(|| v("oldValue"))
        })
}

/// A non-placeholder id.
fn id_of<M: JsonMap>(t: &M) -> Option<String> {
    text(t, "id").filter(|i| !is_nil_guid(i))
}

struct Role {
    name: Option<String>,
    template_id: Option<String>,
    scope: Option<String>,
}

fn role_of<M: JsonMap>(targets: &[&M], details: &[(Cow<'_, str>, Cow<'_, str>)]) -> Role {
    let resource = targets.iter().copied().find(|t| type_is(*t, "Role"));
    let name = resource
        .and_then(|r| text(r, "displayName"))
        .or_else(|| modified(targets, "Role.DisplayName"))
        .or_else(|| detail(details, &["RoleName", "RoleDisplayName"]));
    let template_id = modified(targets, "Role.TemplateId")
        .or_else(|| detail(details, &TEMPLATE_KEYS))
        .or_else(|| resource.and_then(|r| id_of(r)));
    let scope = detail(details, &SCOPE_KEYS).or_else(|| {
        targets
            .iter()
            .find(|t| type_is(**t, "AdministrativeUnit"))
            .and_then(|t| id_of(*t))
            .map(|id| format!("/administrativeUnits/{id}"))
    });
    Role {
        name,
        template_id,
        scope,
    }
}

/// The principal whose rights changed: a `User` target (else a `Group` or `ServicePrincipal`, to
/// which roles can be assigned too). For other records the `User` target, else the first real one.
fn principal<'a, M: JsonMap>(targets: &[&'a M], role_change: bool) -> Option<&'a M> {
    let typed = ["User", "Group", "ServicePrincipal"]
        .iter()
        .find_map(|ty| targets.iter().find(|t| type_is(**t, ty)).copied());
    if role_change {
        return typed;
    }
    typed.filter(|t| type_is(*t, "User")).or_else(|| {
        targets
            .iter()
            .find(|t| id_of(**t).is_some() || text(**t, "displayName").is_some())
            .copied()
    })
}

/// Who did it, and whether it was the `MS-PIM` application.
fn initiator<M: JsonMap>(m: &M) -> (Option<String>, bool) {
    let Some(init) = obj(m, "initiatedBy") else {
        return (None, false);
    };
    let user = obj(init, "user");
    let app = obj(init, "app");
    let u = |k| user.and_then(|u| text(u, k));
    let a = |k| app.and_then(|a| text(a, k));
    let is_pim = ["displayName", "servicePrincipalName"]
        .iter()
        .any(|k| a(k).is_some_and(|n| n.eq_ignore_ascii_case(MS_PIM_APP)))
        || a("appId").is_some_and(|i| i.eq_ignore_ascii_case(MS_PIM_APP_ID));
    let actor = u("userPrincipalName")
        .or_else(|| a("displayName"))
        .or_else(|| a("servicePrincipalName"))
        .or_else(|| a("appId"))
        .or_else(|| u("displayName"))
        .or_else(|| u("id").filter(|i| !is_nil_guid(i)))
        .or_else(|| a("servicePrincipalId").filter(|i| !is_nil_guid(i)));
    (actor, is_pim)
}

/// Normalize one Graph v1.0 `directoryAudit` record of tenant `tenant`.
///
/// Required: `id`, `activityDateTime` (RFC 3339, full precision kept) and `activityDisplayName`;
/// anything else missing leaves the field empty. Actions by `activityDisplayName` (any case):
///
/// | activity | action | notes |
/// |---|---|---|
/// | `Add member to role requested (PIM activation)` | `role.activation.requested` | |
/// | `Add member to role request approved (PIM activation)` | `role.activation.requested` | approval is not yet the activation; the message says approved |
/// | `Add member to role request denied (PIM activation)` | `role.activation.denied` | |
/// | `Add member to role completed (PIM activation)` | `role.activated` | |
/// | `Remove member from role completed (PIM deactivate)` | `role.deactivated` | |
/// | `Remove member from role (PIM activation expired)` | `role.activation.expired` | |
/// | `Add member to role in PIM completed (permanent\|timebound)` | `role.assigned` | via PIM; permanent = no expiry |
/// | `Remove member from role in PIM completed (permanent\|timebound)` | `role.unassigned` | via PIM |
/// | `Add eligible member to role in PIM completed (permanent\|timebound)` | `role.eligibility.assigned` | |
/// | `Remove eligible member from role in PIM completed (permanent\|timebound)` | `role.eligibility.removed` | |
/// | `Add member to role outside of PIM (permanent)` / `Remove member from role outside of PIM (permanent)` | `role.assigned` / `role.unassigned` | not via PIM |
/// | `Update role setting in PIM` | `role.setting.changed` | |
/// | `Add [scoped] member to role` / `Remove [scoped] member from role` (Core Directory) | `role.assigned` / `role.unassigned` | via PIM iff the initiator app is `MS-PIM` |
/// | anything else | `entra.audit` | |
///
/// `outcome` is failure for `result` `failure` or `timeout`, else success. The justification is the
/// first of [`JUSTIFICATION_KEYS`] in `additionalDetails`, else (PIM's own records) `resultReason`;
/// the expiry the first of [`EXPIRY_KEYS`], only for grants that are not permanent.
pub fn normalize_directory_audit(record: &Value, tenant: &str) -> Result<Event, IngestError> {
    let mut e = normalize_without_raw(record, tenant)?;
    e.raw = record.to_string();
    Ok(e)
}

/// [`normalize_directory_audit`] for a caller that already holds the record's text.
pub(super) fn normalize_without_raw<V: JsonValue>(
    record: &V,
    tenant: &str,
) -> Result<Event, IngestError> {
    let m = record
        .as_map()
        .ok_or_else(|| malformed(None, "a directoryAudit is a JSON object"))?;
    let id = text(m, "id").ok_or_else(|| malformed(None, "missing id"))?;
    let idr = Some(id.as_str());
    let when =
        text(m, "activityDateTime").ok_or_else(|| malformed(idr, "missing activityDateTime"))?;
    let time = parse_time(&when)
        .ok_or_else(|| malformed(idr, format!("invalid activityDateTime {when:?}")))?;
    let activity = text(m, "activityDisplayName")
        .ok_or_else(|| malformed(idr, "missing activityDisplayName"))?;
    for key in ["initiatedBy", "targetResources", "additionalDetails"] {
        if let Some(v) = get(m, key)
            && !(v.is_null() || v.as_map().is_some() || v.array().is_some())
        {
            return Err(malformed(
                idr,
                format!("{key} is not a JSON object or array"),
            ));
        }
    }
    let kind = kind_of(&activity);
    let action = kind.action();
    let details = details(m);
    let targets: Vec<&V::Map> = arr(m, "targetResources")
        .iter()
        .filter_map(JsonValue::as_map)
        .collect();
    let (actor, by_ms_pim) = initiator(m);

    let mut e = Event::new(
        EventId::entra(tenant, &id, time),
        Source::Entra,
        action,
        time,
        activity.clone(),
    );
    e.ingested_at = Utc::now();
    e.tenant = Some(tenant.to_owned());
    e.record_id = Some(id.clone());
    e.correlation_id = text(m, "correlationId");
    e.outcome = match text(m, "result") {
        Some(r) if r.eq_ignore_ascii_case("failure") || r.eq_ignore_ascii_case("timeout") => {
            Outcome::Failure
        }
        _ => Outcome::Success,
    };
    e.actor = actor;
    let role_change = kind != Kind::Other;
    if let Some(p) = principal(&targets, role_change) {
        e.target = text(p, "userPrincipalName").or_else(|| id_of(p));
        e.target_name = text(p, "displayName");
    }
    if role_change {
        let role = role_of(&targets, &details);
        e.scope = Some(role.scope.unwrap_or_else(|| "/".to_owned()));
        e.privilege = role.name;
        e.privilege_id = role.template_id;
    }
    e.via_pim = match kind {
        Kind::PimAssigned { .. } | Kind::PimUnassigned => Some(true),
        Kind::OutsideAssigned | Kind::OutsideUnassigned => Some(false),
        Kind::CoreAdd | Kind::CoreRemove => Some(by_ms_pim),
        _ => None,
    };
    e.justification = detail(&details, &JUSTIFICATION_KEYS).or_else(|| {
        kind.is_pim_named()
            .then(|| text(m, "resultReason"))
            .flatten()
    });
    if kind.grants() && !kind.permanent() {
        e.expires_at = detail(&details, &EXPIRY_KEYS).and_then(|t| parse_time(&t));
    }
    e.message = super::message::message(&e, kind, m);
    Ok(e)
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
