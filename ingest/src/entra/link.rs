//! [`same_change`]: PIM logs one change twice (its own record and Core Directory's `MS-PIM` one).

use privtrail_model::{Action, Event, Source};

use super::normalize::{Kind, kind_of};

/// Direction of a role change, for linking PIM's record with Core Directory's.
fn direction(e: &Event) -> Option<bool> {
    match e.action {
        Action::RoleActivated | Action::RoleAssigned => Some(true),
        Action::RoleDeactivated | Action::RoleActivationExpired | Action::RoleUnassigned => {
            Some(false)
        }
        _ => None,
    }
}

/// Whether `core` is Core Directory's plain `Add/Remove member to/from role` matching PIM's record
/// `pim`: initiated by `MS-PIM` (`via_pim` true), or, for PIM's `… outside of PIM` records, by
/// anyone else (`via_pim` false).
fn is_core_for(core: &Event, pim: &Event) -> bool {
    let outside = matches!(
        kind_of(&pim.event_code),
        Kind::OutsideAssigned | Kind::OutsideUnassigned
    );
    matches!(kind_of(&core.event_code), Kind::CoreAdd | Kind::CoreRemove)
        && core.via_pim == Some(!outside)
}

/// PIM's own record of an activation, deactivation, expiry or assignment change.
fn is_pim_record(e: &Event) -> bool {
    direction(e).is_some() && kind_of(&e.event_code).is_pim_named()
}

fn same_text(a: &Option<String>, b: &Option<String>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
}

/// Whether `a` and `b` record the same PIM change twice: one is PIM's own record (activation,
/// deactivation, expiry, assignment in PIM), the other Core Directory's `Add/Remove member to/from
/// role` initiated by `MS-PIM` (for PIM's `… outside of PIM (permanent)` records: Core Directory's
/// record of that change, initiated by anyone but `MS-PIM`); same tenant, same direction (add/remove), same target, same
/// `privilege_id` (or, when either lacks one, the same privilege name), and the same
/// `correlation_id` or times at most 60 s apart. Symmetric; pure.
pub fn same_change(a: &Event, b: &Event) -> bool {
    // The field comparisons first: the linker asks this of every neighbour of a record in its
    // (tenant, target) group, and most differ in direction, role or time. Records of no
    // direction (requests, approvals) are no PIM record: naming their kind is left out.
    if a.source != Source::Entra
        || b.source != Source::Entra
        || !same_text(&a.tenant, &b.tenant)
        || direction(a) != direction(b)
        || direction(a).is_none()
        || !same_text(&a.target, &b.target)
    {
        return false;
    }
    let role = if a.privilege_id.is_some() && b.privilege_id.is_some() {
        same_text(&a.privilege_id, &b.privilege_id)
    } else {
        same_text(&a.privilege, &b.privilege)
    };
    let near = (a.time - b.time).num_milliseconds().abs() <= 60_000;
    if !(role && (same_text(&a.correlation_id, &b.correlation_id) || near)) {
        return false;
    }
    (is_pim_record(a) && is_core_for(b, a)) || (is_pim_record(b) && is_core_for(a, b))
}
