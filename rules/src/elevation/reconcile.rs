//! Reconciliation of elevations with a PIM snapshot (SPEC §3).

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, EventId, Source, format_time};

use super::{
    Elevation, ElevationKey, SNAPSHOT_CLOSE_CODE, SNAPSHOT_OPEN_CODE, elevations_for_key, key_of,
};
use crate::policy::Policy;

/// How an active PIM instance came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceType {
    /// Activated from an eligibility: an elevation of kind `activation`.
    Activated,
    /// Assigned by an administrator (or unknown): kind `assignment`.
    Assigned,
}

/// One active role assignment instance of a PIM snapshot, with its principal resolved to a UPN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PimInstanceView {
    /// UPN (or object id when unknown).
    pub principal: String,
    pub role_template_id: String,
    pub role_name: Option<String>,
    /// `/` or a directory scope.
    pub scope: String,
    pub assignment_type: InstanceType,
    pub start: Option<DateTime<Utc>>,
    /// `None`: no expiry.
    pub end: Option<DateTime<Utc>>,
}

/// What a snapshot changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciliation {
    /// Elevations for instances that had no open elevation (end_reason `None`).
    pub opened: Vec<Elevation>,
    /// (elevation id, closed at) for open elevations missing from the snapshot.
    pub closed: Vec<(String, DateTime<Utc>)>,
    /// The synthetic events (source `privtrail`, codes [`SNAPSHOT_OPEN_CODE`] and
    /// [`SNAPSHOT_CLOSE_CODE`]) that express these changes: store them and feed them to the
    /// [`Tracker`](super::Tracker) so that a rebuild from stored events gives the same elevations.
    pub events: Vec<Event>,
}

fn instance_event(i: &PimInstanceView, taken_at: DateTime<Utc>, tenant: &str) -> Event {
    let start = i.start.unwrap_or(taken_at);
    let native = format!(
        "pim-snapshot|{}|{}|{}|{}",
        i.principal.to_lowercase(),
        i.role_template_id.to_lowercase(),
        i.scope.to_lowercase(),
        format_time(start)
    );
    let action = match i.assignment_type {
        InstanceType::Activated => Action::RoleActivated,
        InstanceType::Assigned => Action::RoleAssigned,
    };
    let mut e = Event::new(
        EventId::native(Source::Privtrail, tenant, &native),
        Source::Privtrail,
        action,
        start,
        SNAPSHOT_OPEN_CODE,
    );
    e.ingested_at = taken_at;
    e.tenant = Some(tenant.to_owned());
    e.actor = Some("privtrail".to_owned());
    e.target = Some(i.principal.clone());
    e.privilege = i
        .role_name
        .clone()
        .or_else(|| Some(i.role_template_id.clone()));
    e.privilege_id = Some(i.role_template_id.clone());
    e.scope = Some(if i.scope.trim().is_empty() {
        "/".to_owned()
    } else {
        i.scope.clone()
    });
    e.expires_at = i.end;
    e.message = format!(
        "PIM snapshot of {} shows {} holding {} at {} ({:?}) with no matching open elevation",
        format_time(taken_at),
        i.principal,
        e.privilege.as_deref().unwrap_or("?"),
        e.scope.as_deref().unwrap_or("/"),
        i.assignment_type
    );
    e
}

fn close_event(el: &Elevation, taken_at: DateTime<Utc>, tenant: &str) -> Event {
    let native = format!("pim-reconciled|{}|{}", el.id, format_time(taken_at));
    let mut e = Event::new(
        EventId::native(Source::Privtrail, tenant, &native),
        Source::Privtrail,
        Action::RoleUnassigned,
        taken_at,
        SNAPSHOT_CLOSE_CODE,
    );
    e.tenant = Some(tenant.to_owned());
    e.actor = Some("privtrail".to_owned());
    e.target = Some(el.principal.clone());
    e.privilege = Some(el.privilege.clone());
    e.privilege_id = el.privilege_id.clone();
    e.scope = Some(el.scope.clone());
    e.message = format!(
        "{} no longer holds {} at {} according to the PIM snapshot of {}",
        el.principal,
        el.privilege,
        el.scope,
        format_time(taken_at)
    );
    e
}

fn matches(el: &Elevation, key: &ElevationKey, i: &PimInstanceView) -> bool {
    let k = el.key();
    k == *key
        || (k.principal == key.principal
            && k.scope == key.scope
            && k.realm == key.realm
            && i.role_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(el.privilege.trim())))
}

/// Reconciles the open elevations with a snapshot of tenant `tenant` taken at `taken_at`.
///
/// An instance with no open elevation opens one (opened by a synthetic event derived from the
/// instance; kind `activation` for activated instances, else `assignment`; expected_end = the
/// instance's end). An open Entra elevation of that tenant that started before `taken_at` and has
/// no instance closes at `taken_at` with end_reason `reconciled`. Elevations opened after
/// `taken_at` are left alone: the snapshot may predate them.
pub fn reconcile(
    open: &[Elevation],
    instances: &[PimInstanceView],
    taken_at: DateTime<Utc>,
    tenant: &str,
    policy: &Policy,
) -> Reconciliation {
    let of_tenant = |el: &&Elevation| {
        el.is_open()
            && el.source == Source::Entra
            && el
                .tenant
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(tenant))
    };
    let candidates: Vec<&Elevation> = open.iter().filter(of_tenant).collect();
    let mut matched = vec![false; candidates.len()];
    let mut out = Reconciliation::default();
    for i in instances {
        let ev = instance_event(i, taken_at, tenant);
        let Some(key) = key_of(&ev, policy) else {
            continue;
        };
        let mut found = false;
        for (n, el) in candidates.iter().enumerate() {
            if matches(el, &key, i) {
                matched[n] = true;
                found = true;
            }
        }
        if !found {
            out.opened
                .extend(elevations_for_key(std::slice::from_ref(&ev), policy));
            out.events.push(ev);
        }
    }
    for (el, hit) in candidates.iter().zip(matched) {
        if !hit && el.started_at < taken_at {
            out.closed.push((el.id.clone(), taken_at));
            out.events.push(close_event(el, taken_at, tenant));
        }
    }
    out
}
