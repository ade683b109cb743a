//! The short human sentence of a normalized Entra event.

use super::json::{JsonMap, text};
use super::normalize::Kind;
use privtrail_model::{Event, Outcome, format_time};

/// `e` is complete but for its message; `m` is the record.
pub(crate) fn message<M: JsonMap>(e: &Event, kind: Kind, m: &M) -> String {
    let actor = e.actor.as_deref().unwrap_or("someone");
    let target = e
        .target
        .as_deref()
        .or(e.target_name.as_deref())
        .unwrap_or("someone");
    let role = e
        .privilege
        .as_deref()
        .or(e.privilege_id.as_deref())
        .unwrap_or("a role");
    let until = e
        .expires_at
        .map(|t| format!(" until {}", format_time(t)))
        .unwrap_or_default();
    let how = match e.via_pim {
        Some(true) => " through PIM",
        Some(false) => " outside PIM",
        None => "",
    };
    let mut s = match kind {
        Kind::Requested => format!("{target} requested activation of {role}{until}"),
        Kind::Approved => format!("{actor} approved {target}'s activation request for {role}"),
        Kind::Denied => format!("{actor} denied {target}'s activation request for {role}"),
        Kind::Activated => format!("{target} activated {role}{until}"),
        Kind::Deactivated => format!("{target} deactivated {role}"),
        Kind::Expired => format!("{target}'s activation of {role} expired"),
        Kind::PimAssigned { .. } | Kind::OutsideAssigned | Kind::CoreAdd => {
            let end = if kind.permanent() {
                ", permanent".to_owned()
            } else {
                until
            };
            format!("{actor} assigned {role} to {target}{how}{end}")
        }
        Kind::PimUnassigned | Kind::OutsideUnassigned | Kind::CoreRemove => {
            format!("{actor} removed {target} from {role}{how}")
        }
        Kind::EligibleAssigned { .. } => {
            format!("{actor} made {target} eligible for {role}{until}")
        }
        Kind::EligibleRemoved => format!("{actor} removed {target}'s eligibility for {role}"),
        Kind::Setting => format!("{actor} changed the PIM settings of {role}"),
        Kind::Other => {
            let activity = &e.event_code;
            let on = e
                .target_name
                .as_deref()
                .or(e.target.as_deref())
                .map(|t| format!(" on {t}"))
                .unwrap_or_default();
            let service = text(m, "loggedByService")
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            format!("{actor}: {activity}{on}{service}")
        }
    };
    if e.outcome == Outcome::Failure {
        s.push_str(" (failed)");
    }
    s
}
