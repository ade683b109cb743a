//! Rules over elevations: overdue, standing access, duplicates, frequent activation, too many
//! Global Administrators.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::Duration;
use privtrail_model::{Action, EventId, format_time};

use super::{about, describe};
use crate::elevation::{ELEVATION_INPUTS, Elevation, ElevationKind};
use crate::hash::FastSet;
use crate::policy::GLOBAL_ADMIN_TEMPLATE_ID;
use crate::rule::{Context, Finding, Rule, Severity};
use crate::time::format_duration;

/// `overdue-elevation`: an open elevation past `expected_end` + grace. Condition, subject = the
/// elevation id.
#[derive(Debug, Clone)]
pub struct OverdueElevation {
    pub severity: Severity,
    /// `None`: the policy's grace.
    pub grace: Option<Duration>,
}

impl Rule for OverdueElevation {
    fn id(&self) -> &str {
        "overdue-elevation"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    /// Only elevations: no new event needed.
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(Vec::new())
    }
    fn description(&self) -> String {
        "an elevation is still open after its expected end plus grace".into()
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let grace = self.grace.unwrap_or(ctx.policy.grace);
        let now = ctx.now;
        ctx.elevations
            .iter()
            .filter(|el| el.is_overdue(now, grace))
            .filter_map(|el| {
                let end = el.expected_end?;
                let why = if el.tagged_by.is_some() {
                    "endpoint tag ExpiresAt"
                } else {
                    "expected end"
                };
                let summary = format!(
                    "{}; {why} was {}, grace {}",
                    describe(el),
                    format_time(end),
                    format_duration(grace)
                );
                Some(about(
                    self.id(),
                    self.severity,
                    el,
                    el.id.clone(),
                    summary,
                    true,
                ))
            })
            .collect()
    }
}

/// `standing-access`: an open assignment with no end to a privileged Entra role (any role with
/// `any_role`), or any open assignment made outside PIM. Break-glass principals are exempt.
/// Condition, subject = the elevation id.
#[derive(Debug, Clone)]
pub struct StandingAccess {
    pub severity: Severity,
    /// Extra exempt principals (besides the policy's `break_glass`).
    pub break_glass: Vec<String>,
    /// Treat every role as privileged.
    pub any_role: bool,
}

impl Rule for StandingAccess {
    fn id(&self) -> &str {
        "standing-access"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    /// Only elevations: no new event needed.
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(Vec::new())
    }
    fn description(&self) -> String {
        "a permanent active assignment to a privileged role, or an assignment outside PIM".into()
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let p = ctx.policy;
        let exempt: HashSet<String> = self.break_glass.iter().map(|b| p.canonical(b)).collect();
        ctx.elevations
            .iter()
            .filter(|el| el.held_at(ctx.now) && el.kind == ElevationKind::Assignment)
            .filter(|el| {
                !exempt.contains(&p.canonical(&el.principal)) && !p.is_break_glass(&el.principal)
            })
            .filter_map(|el| {
                let outside = el.via_pim == Some(false);
                let permanent = el.expected_end.is_none()
                    && (self.any_role
                        || p.is_privileged_role(el.privilege_id.as_deref(), Some(&el.privilege)));
                let why = match (outside, permanent) {
                    (true, true) => "a permanent assignment made outside PIM",
                    (true, false) => "an assignment made outside PIM",
                    (false, true) => "a permanent active assignment",
                    (false, false) => return None,
                };
                let summary = format!("{}: {why}", describe(el));
                Some(about(
                    self.id(),
                    self.severity,
                    el,
                    el.id.clone(),
                    summary,
                    true,
                ))
            })
            .collect()
    }
}

/// `duplicate-elevation`: an opening event for a key that already had an open elevation (linked
/// PIM/Core Directory pairs are one change and never count). Occurrence, subject = key + duplicate
/// event id; a duplicate is reported when it is among the new events, or when the elevation's
/// opener is (a late opener makes duplicates of events that came before it). The elevation's other
/// duplicates were reported when they came: reporting them again would only repeat their alerts.
#[derive(Debug, Clone)]
pub struct DuplicateElevation {
    pub severity: Severity,
}

impl Rule for DuplicateElevation {
    fn id(&self) -> &str {
        "duplicate-elevation"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(ELEVATION_INPUTS.to_vec())
    }
    fn reads_ids_only(&self) -> bool {
        true
    }
    fn description(&self) -> String {
        "an elevation opens while one is already open for the same principal, privilege and scope"
            .into()
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        if ctx.new_events.is_empty() {
            return Vec::new();
        }
        let new: FastSet<&EventId> = ctx.new_events.iter().map(|e| &e.id).collect();
        let mut out = Vec::new();
        for el in ctx.elevations.iter().filter(|el| !el.duplicates.is_empty()) {
            let all = new.contains(&el.opened_by);
            for dup in el.duplicates.iter().filter(|d| all || new.contains(d)) {
                let summary = format!(
                    "{}; another opening event ({dup}) arrived while it was open",
                    describe(el)
                );
                let mut f = about(
                    self.id(),
                    self.severity,
                    el,
                    format!("{}|{dup}", el.key()),
                    summary,
                    false,
                );
                f.event_ids.push(dup.clone());
                out.push(f);
            }
        }
        out
    }
}

/// `frequent-activation`: the same principal activates the same role `count` times within
/// `within`. Occurrence, reported when a new activation completes such a series; subject =
/// principal + role + the UTC day of the series' first activation (a fourth activation in the
/// same series updates the alert).
#[derive(Debug, Clone)]
pub struct FrequentActivation {
    pub severity: Severity,
    pub count: usize,
    pub within: Duration,
}

impl Rule for FrequentActivation {
    fn id(&self) -> &str {
        "frequent-activation"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(ELEVATION_INPUTS.to_vec())
    }
    fn reads_ids_only(&self) -> bool {
        true
    }
    fn description(&self) -> String {
        format!(
            "a principal activates the same role {} times within {}",
            self.count,
            format_duration(self.within)
        )
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        if ctx.new_events.is_empty() || self.count == 0 {
            return Vec::new();
        }
        let new: FastSet<&EventId> = ctx.new_events.iter().map(|e| &e.id).collect();
        let p = ctx.policy;
        let role = |el: &Elevation| {
            (
                p.canonical(&el.principal),
                el.privilege_id
                    .as_deref()
                    .unwrap_or(&el.privilege)
                    .to_lowercase(),
            )
        };
        let activations = || {
            ctx.elevations
                .iter()
                .filter(|el| el.kind == ElevationKind::Activation)
        };
        let fresh: Vec<&Elevation> = activations()
            .filter(|el| new.contains(&el.opened_by))
            .collect();
        if fresh.is_empty() {
            return Vec::new();
        }
        let wanted: HashSet<(String, String)> = fresh.iter().map(|el| role(el)).collect();
        let mut series: HashMap<(String, String), Vec<&Elevation>> = HashMap::new();
        for el in activations() {
            let k = role(el);
            if wanted.contains(&k) {
                series.entry(k).or_default().push(el);
            }
        }
        let mut out: BTreeMap<String, Finding> = BTreeMap::new();
        for f in fresh {
            let Some(all) = series.get(&role(f)) else {
                continue;
            };
            let from = f
                .started_at
                .checked_sub_signed(self.within)
                .unwrap_or(f.started_at);
            let mut window: Vec<&&Elevation> = all
                .iter()
                .filter(|el| el.started_at > from && el.started_at <= f.started_at)
                .collect();
            if window.len() < self.count {
                continue;
            }
            window.sort_by_key(|el| (el.started_at, el.opened_by.clone()));
            let first = window[0];
            let (who, role_key) = role(f);
            let subject = format!("{who}|{role_key}|{}", first.started_at.date_naive());
            let summary = format!(
                "{} activated {} {} times within {} (first at {})",
                f.who(),
                f.privilege,
                window.len(),
                format_duration(self.within),
                format_time(first.started_at)
            );
            let mut finding = about(self.id(), self.severity, f, subject.clone(), summary, false);
            finding.event_ids = window.iter().map(|el| el.opened_by.clone()).collect();
            out.insert(subject, finding);
        }
        out.into_values().collect()
    }
}

/// `too-many-global-admins`: more than `max` principals hold Global Administrator at `now`, per
/// tenant. Condition, subject = the tenant.
#[derive(Debug, Clone)]
pub struct TooManyGlobalAdmins {
    pub severity: Severity,
    pub max: usize,
}

fn is_global_admin(el: &Elevation) -> bool {
    el.privilege_id
        .as_deref()
        .is_some_and(|i| i.eq_ignore_ascii_case(GLOBAL_ADMIN_TEMPLATE_ID))
        || el.privilege.eq_ignore_ascii_case("Global Administrator")
}

impl Rule for TooManyGlobalAdmins {
    fn id(&self) -> &str {
        "too-many-global-admins"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    /// Only elevations: no new event needed.
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(Vec::new())
    }
    fn description(&self) -> String {
        format!(
            "more than {} principals hold Global Administrator at once",
            self.max
        )
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut by_tenant: BTreeMap<String, (BTreeSet<String>, Vec<EventId>)> = BTreeMap::new();
        for el in ctx
            .elevations
            .iter()
            .filter(|el| el.held_at(ctx.now) && is_global_admin(el))
        {
            let t = el.tenant.as_deref().unwrap_or("-").to_lowercase();
            let entry = by_tenant.entry(t).or_default();
            entry.0.insert(ctx.policy.canonical(&el.principal));
            entry.1.push(el.opened_by.clone());
        }
        by_tenant
            .into_iter()
            .filter(|(_, (who, _))| who.len() > self.max)
            .map(|(tenant, (who, ids))| Finding {
                rule: self.id().to_owned(),
                severity: self.severity,
                subject: tenant.clone(),
                principal: None,
                privilege: Some("Global Administrator".to_owned()),
                scope: Some("/".to_owned()),
                summary: format!(
                    "{} principals hold Global Administrator in tenant {tenant} (more than {})",
                    who.len(),
                    self.max
                ),
                event_ids: ids,
                elevation_id: None,
                condition: true,
            })
            .collect()
    }
}
