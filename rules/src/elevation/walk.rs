//! Reconstruction of one key's elevations from the set of its events.

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, EventId, Source};

use super::{
    Effect, Elevation, ElevationKind, SNAPSHOT_OPEN_CODE, View, effect, elevation_id,
    elevation_source, scope_of, view_key, view_tag_host,
};
use crate::policy::Policy;

/// An elevation being built: the schedule end is kept apart from the computed `expected_end`.
struct Building {
    el: Elevation,
    schedule_end: Option<DateTime<Utc>>,
    synthetic: bool,
}

fn is_synthetic(e: &View<'_>) -> bool {
    e.source == Source::Privtrail && e.event_code == SNAPSHOT_OPEN_CODE
}

fn event_id(id: &str) -> EventId {
    EventId::from_stored(id.to_owned())
}

fn open(e: &View<'_>, kind: ElevationKind, policy: &Policy) -> Option<Building> {
    let key = view_key(e, policy)?;
    let privilege_name = e
        .privilege
        .or(e.privilege_id)
        .unwrap_or_default()
        .to_owned();
    let opened_by = event_id(e.id);
    Some(Building {
        el: Elevation {
            id: elevation_id(&key, &opened_by),
            // The key compares lower-cased; the elevation keeps its source's case.
            principal: e
                .target
                .map_or_else(|| key.principal.clone(), |t| policy.resolve(t)),
            principal_name: None,
            privilege: privilege_name,
            privilege_id: e.privilege_id.map(str::to_owned),
            scope: scope_of(e),
            kind,
            source: elevation_source(e),
            tenant: e.tenant.map(str::to_owned),
            host: e.host.map(str::to_owned),
            started_at: e.time,
            expected_end: None,
            ended_at: None,
            end_reason: None,
            opened_by,
            closed_by: None,
            via_pim: e.via_pim,
            duplicates: Vec::new(),
            tagged_by: None,
            tagged_at: None,
        },
        schedule_end: e.expires_at,
        synthetic: is_synthetic(e),
    })
}

/// Fills in what a linked second record of the opening change knows (Core Directory's record may
/// be stored first and look like an assignment; PIM's record says it was an activation).
fn enrich(b: &mut Building, linked: &View<'_>) {
    if linked.action == Action::RoleActivated && b.el.kind == ElevationKind::Assignment {
        b.el.kind = ElevationKind::Activation;
    }
    if b.schedule_end.is_none() {
        b.schedule_end = linked.expires_at;
    }
    if b.el.via_pim.is_none() {
        b.el.via_pim = linked.via_pim;
    }
    if b.el.privilege_id.is_none() {
        b.el.privilege_id = linked.privilege_id.map(str::to_owned);
    }
}

/// The elevations of one key, from the set of its events (any order, duplicates by id ignored).
///
/// `events` are the key's events ([`key_of`]) plus, for membership keys, the endpoint tags of the
/// host ([`tag_host`]); other events are ignored. Events are walked in (time, id) order: an
/// opening event while an elevation is open is recorded in its `duplicates` and starts nothing
/// (except that a real event adopts an elevation opened by a PIM snapshot), a close with nothing
/// open is ignored, linked second records (`linked_to`) neither open nor close anything, failures
/// are ignored. Endpoint tags then set `expected_end` of the memberships they apply to.
pub fn elevations_for_key(events: &[Event], policy: &Policy) -> Vec<Elevation> {
    of_views(events.iter().map(View::of).collect(), policy)
}

/// [`elevations_for_key`] of borrowed views (the tracker's compact inputs).
pub(crate) fn of_views(mut views: Vec<View<'_>>, policy: &Policy) -> Vec<Elevation> {
    views.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(b.id)));
    views.dedup_by(|a, b| a.id == b.id);

    let mut tags: Vec<View<'_>> = Vec::new();
    let mut done: Vec<Building> = Vec::new();
    let mut current: Option<Building> = None;
    for e in &views {
        if view_tag_host(e).is_some() {
            tags.push(*e);
            continue;
        }
        if let Some(first) = e.linked_to {
            if let Some(b) = current
                .as_mut()
                .filter(|b| b.el.opened_by.as_str() == first)
            {
                enrich(b, e);
            }
            continue;
        }
        match effect(e, policy) {
            Some(Effect::Open(kind)) => match current.as_mut() {
                Some(b) if b.synthetic && !is_synthetic(e) => {
                    if let Some(mut real) = open(e, kind, policy) {
                        real.el.duplicates = std::mem::take(&mut b.el.duplicates);
                        *b = real;
                    }
                }
                // A snapshot instance of what is already open is no second opening.
                Some(_) if is_synthetic(e) => {}
                Some(b) => b.el.duplicates.push(event_id(e.id)),
                None => current = open(e, kind, policy),
            },
            Some(Effect::Close(reason)) => {
                if let Some(mut b) = current.take() {
                    b.el.ended_at = Some(e.time);
                    b.el.end_reason = Some(reason);
                    b.el.closed_by = Some(event_id(e.id));
                    done.push(b);
                }
            }
            None => {}
        }
    }
    done.extend(current);
    done.into_iter().map(|b| finish(b, &tags, policy)).collect()
}

/// Computes `expected_end`: the schedule end, else the latest applicable tag, else the maximum.
fn finish(b: Building, tags: &[View<'_>], policy: &Policy) -> Elevation {
    let mut el = b.el;
    if let Some(end) = b.schedule_end {
        el.expected_end = Some(end);
        return el;
    }
    if el.kind == ElevationKind::Assignment {
        // An active assignment without an end is permanent: nothing is expected to end it.
        return el;
    }
    if el.kind == ElevationKind::Membership
        && let Some(tag) = tags.iter().rev().find(|t| tag_applies(t, &el, policy))
    {
        el.expected_end = tag.expires_at;
        el.tagged_by = Some(event_id(tag.id));
        el.tagged_at = Some(tag.time);
        return el;
    }
    let max = policy.max_duration_for(el.privilege_id.as_deref(), Some(&el.privilege));
    el.expected_end = el.started_at.checked_add_signed(max);
    el
}

/// A tag applies to a membership on its host (by principal when it names one) stamped while the
/// membership was held, or up to `policy.tag_window` before it started with an expiry after the start.
fn tag_applies(tag: &View<'_>, el: &Elevation, policy: &Policy) -> bool {
    let Some(host) = view_tag_host(tag) else {
        return false;
    };
    let on_host = el.scope.eq_ignore_ascii_case(&host)
        || el
            .host
            .as_deref()
            .is_some_and(|h| h.eq_ignore_ascii_case(&host));
    let for_principal = tag
        .target
        .filter(|t| !t.trim().is_empty())
        .is_none_or(|t| policy.canonical(t) == policy.canonical(&el.principal));
    let Some(expires) = tag.expires_at else {
        return false;
    };
    let earliest = el
        .started_at
        .checked_sub_signed(policy.tag_window)
        .unwrap_or(el.started_at);
    let in_time = if tag.time >= el.started_at {
        el.ended_at.is_none_or(|end| tag.time <= end)
    } else {
        tag.time >= earliest && expires > el.started_at
    };
    on_host && for_principal && in_time
}

/// The elevations held at `t`: started at or before `t` and not ended at or before `t`.
pub fn at(elevations: &[Elevation], t: DateTime<Utc>) -> Vec<&Elevation> {
    elevations.iter().filter(|e| e.held_at(t)).collect()
}
