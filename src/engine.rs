//! The rules job: rebuild elevations from the stored events, reconcile them with the latest PIM
//! snapshots, run the rules, and update the alerts. Runs after every `ingest` and `collect`, and
//! as a sweep (`rules sweep`) so that overdue elevations fire with no new events.
//!
//! Elevations are recomputed from every event that opens or closes one (a small share of all
//! events, read through a partial index), which keeps them correct whatever order events arrive
//! in; the rules crate does the work, this module only reads and writes the store.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use privtrail_ingest::graph::{AssignmentType, PimSnapshot};
use privtrail_rules::{
    Alert, Context, Elevation, InstanceType, PimInstanceView, Policy, Rule, Silence, Tracker,
    apply_findings, evaluate_all, max_lookback, reconcile,
};
use privtrail_store::{AlertRow, ElevationRow, EventFilter, Store, Writer};

use crate::config::Config;

/// The policy and rules of a configuration.
#[derive(Debug)]
pub struct Engine {
    pub policy: Policy,
    pub rules: Vec<Box<dyn Rule>>,
    pub renotify: chrono::Duration,
    /// Tenant labels whose PIM snapshots and users take part.
    pub tenants: Vec<String>,
    /// Where alerts go (`[[routes]]`) and the web UI link put into them.
    pub routes: Vec<crate::config::RouteConfig>,
    pub ui_url: Option<String>,
    /// Custom rules may look at any event; the built-ins only at [`BUILTIN_INPUTS`].
    pub custom_rules: bool,
}

/// The actions whose new events the built-in rules look at: elevation openings and closings, tags,
/// audit-log integrity and collector errors. Without custom rules only these are read back after
/// an import, which keeps the rules' share of a large import small.
const BUILTIN_INPUTS: [&str; 11] = [
    "role.activated",
    "role.deactivated",
    "role.activation.expired",
    "role.assigned",
    "role.unassigned",
    "group.member.added",
    "group.member.removed",
    "endpoint.admin_tag",
    "audit.log_cleared",
    "audit.policy_changed",
    "collector.error",
];

impl Engine {
    pub fn from_config(config: &Config) -> Result<Engine> {
        Ok(Engine {
            policy: config.policy.policy(),
            rules: config.rules.build().context("invalid [rules]")?,
            renotify: config.rules.renotify(),
            tenants: config.tenants.iter().map(|t| t.name.clone()).collect(),
            routes: config.routes.clone(),
            ui_url: config.delivery.ui_url.clone(),
            custom_rules: !config.rules.custom.is_empty(),
        })
    }
}

/// What one evaluation did.
#[derive(Debug, Default)]
pub struct Evaluation {
    pub elevations: Vec<Elevation>,
    pub opened: Vec<Alert>,
    pub resolved: Vec<Alert>,
    pub reconciled: usize,
    /// Notifications put into the outbox.
    pub enqueued: u64,
}

/// New events are read back and given to the rules in chunks of this many (without `raw`), so
/// that a large import does not hold all its events in memory.
const CHUNK: usize = 50_000;

/// Rebuilds elevations, reconciles, runs the rules on the events stored after `after_seq` (none
/// for a sweep) at `now`, and stores elevations and alerts.
pub fn evaluate(
    store: &Store,
    writer: &mut Writer,
    engine: &Engine,
    after_seq: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Evaluation> {
    let (policy, upn_of) = joined_policy(store, engine)?;

    let inputs = store.elevation_events()?;
    let mut tracker = Tracker::from_events(policy.clone(), &inputs);
    let mut reconciled = 0;
    for t in &engine.tenants {
        let Some(snap) = store.latest_snapshot(t, "pim")? else {
            continue;
        };
        let snap: PimSnapshot = serde_json::from_str(&snap.body)
            .with_context(|| format!("stored PIM snapshot of tenant {t:?} is unreadable"))?;
        let views = pim_views(&snap, upn_of.get(t));
        let open: Vec<Elevation> = tracker.open().cloned().collect();
        let rec = reconcile(&open, &views, snap.taken_at, t, &policy);
        if !rec.events.is_empty() {
            reconciled += writer.write_batch(&rec.events, &[])?.stored as usize;
            tracker.apply(&rec.events);
        }
    }
    let elevations = tracker.elevations().to_vec();
    let rows = elevations
        .iter()
        .map(elevation_row)
        .collect::<Result<Vec<_>>>()?;
    writer.replace_elevations(&rows)?;

    let lookback = max_lookback(&engine.rules);
    let recent = if lookback > chrono::Duration::zero() {
        let from = now.checked_sub_signed(lookback).unwrap_or(now);
        let until = now + chrono::Duration::seconds(1);
        store.events_between(from, until, &EventFilter::default(), 1_000_000)?
    } else {
        Vec::new()
    };
    let silences: Vec<Silence> = store
        .silences()?
        .into_iter()
        .map(|s| Silence {
            rule: Some(s.rule).filter(|r| r != "*"),
            principal: s.principal,
            until: s.until,
        })
        .collect();
    let mut out = Evaluation {
        reconciled,
        ..Evaluation::default()
    };
    let mut cursor = after_seq;
    let wanted = (!engine.custom_rules).then_some(&BUILTIN_INPUTS[..]);
    loop {
        let (seqs, new_events): (Vec<i64>, Vec<_>) = match cursor {
            Some(seq) => store
                .events_after_seq(seq, wanted, CHUNK)?
                .into_iter()
                .unzip(),
            None => (Vec::new(), Vec::new()),
        };
        let ctx = Context {
            new_events: &new_events,
            recent_events: &recent,
            elevations: &elevations,
            now,
            policy: &policy,
            collectors: &[],
        };
        let (findings, evaluated) = evaluate_all(&engine.rules, &ctx);
        let existing = load_alerts(store)?;
        let changes = apply_findings(
            &existing,
            &findings,
            &evaluated,
            now,
            &silences,
            engine.renotify,
        );
        let rows = changes
            .opened
            .iter()
            .chain(&changes.updated)
            .chain(&changes.resolved)
            .map(alert_row)
            .collect::<Result<Vec<_>>>()?;
        // The notifications are enqueued in the transaction that saves the alerts.
        let to_notify: Vec<&Alert> = changes
            .opened
            .iter()
            .chain(&changes.updated)
            .filter(|a| changes.notify.contains(&a.id))
            .collect();
        let entries =
            crate::deliver::alert_entries(&engine.routes, engine.ui_url.as_deref(), &to_notify)?;
        out.enqueued += writer.save_alerts_with_outbox(&rows, &entries)?;
        out.opened.extend(changes.opened);
        out.resolved.extend(changes.resolved);
        if new_events.len() < CHUNK {
            break;
        }
        cursor = seqs.last().copied();
    }
    out.elevations = elevations;
    Ok(out)
}

/// UPNs by user object id, per tenant.
type UpnMaps = HashMap<String, HashMap<String, String>>;

/// The configured policy plus the identity joins Entra knows (`onPremisesSecurityIdentifier`).
pub fn joined_policy(store: &Store, engine: &Engine) -> Result<(Policy, UpnMaps)> {
    let mut upn_of: UpnMaps = HashMap::new();
    let mut joins = Vec::new();
    for t in &engine.tenants {
        let map = upn_of.entry(t.clone()).or_default();
        for u in store.directory_users(t)? {
            if let Some(upn) = &u.upn {
                map.insert(u.id.to_lowercase(), upn.clone());
                if let Some(sid) = &u.on_prem_sid {
                    joins.push((upn.clone(), sid.clone()));
                }
            }
        }
    }
    Ok((engine.policy.clone().with_directory_users(&joins), upn_of))
}

/// The snapshot's active assignments as the rules crate sees them (principal ids → UPNs).
fn pim_views(snap: &PimSnapshot, upns: Option<&HashMap<String, String>>) -> Vec<PimInstanceView> {
    snap.assignments
        .iter()
        .map(|i| {
            let role = snap.roles.iter().find(|r| {
                r.id.eq_ignore_ascii_case(&i.role_definition_id)
                    || r.template_id
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case(&i.role_definition_id))
            });
            PimInstanceView {
                principal: upns
                    .and_then(|m| m.get(&i.principal_id.to_lowercase()))
                    .cloned()
                    .unwrap_or_else(|| i.principal_id.clone()),
                role_template_id: role
                    .and_then(|r| r.template_id.clone())
                    .unwrap_or_else(|| i.role_definition_id.clone()),
                role_name: role.map(|r| r.display_name.clone()),
                scope: i.directory_scope_id.clone(),
                assignment_type: match i.assignment_type {
                    Some(AssignmentType::Activated) => InstanceType::Activated,
                    _ => InstanceType::Assigned,
                },
                start: i.start_date_time,
                end: i.end_date_time,
            }
        })
        .collect()
}

fn elevation_row(e: &Elevation) -> Result<ElevationRow> {
    Ok(ElevationRow {
        id: e.id.clone(),
        principal: e.principal.clone(),
        privilege: e.privilege.clone(),
        scope: e.scope.clone(),
        started_at: e.started_at,
        ended_at: e.ended_at,
        expected_end: e.expected_end,
        body: serde_json::to_string(e)?,
    })
}

pub fn alert_row(a: &Alert) -> Result<AlertRow> {
    Ok(AlertRow {
        id: a.id.clone(),
        rule: a.rule.clone(),
        subject: a.subject.clone(),
        status: a.status.as_str().to_owned(),
        severity: a.severity.as_str().to_owned(),
        opened_at: a.opened_at,
        updated_at: a.updated_at,
        body: serde_json::to_string(a)?,
    })
}

/// Every stored alert.
pub fn load_alerts(store: &Store) -> Result<Vec<Alert>> {
    store
        .alerts(None)?
        .iter()
        .map(|r| {
            serde_json::from_str(&r.body)
                .with_context(|| format!("stored alert {} is unreadable", r.id))
        })
        .collect()
}

/// Every stored elevation.
pub fn load_elevations(store: &Store) -> Result<Vec<Elevation>> {
    store
        .elevations()?
        .iter()
        .map(|r| {
            serde_json::from_str(&r.body)
                .with_context(|| format!("stored elevation {} is unreadable", r.id))
        })
        .collect()
}
