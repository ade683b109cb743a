//! Rules over new events: unapproved local admins, audit tampering, collector failures.

use std::collections::{BTreeMap, HashMap};

use chrono::Duration;
use privtrail_model::{Action, Event, EventId, Outcome, Source, format_time};

use crate::elevation::{Elevation, ElevationKind, tag_host};
use crate::rule::{Context, Finding, Rule, Severity};
use crate::time::format_duration;

/// `unapproved-local-admin`: a member added to a privileged Windows group by an actor that is not
/// an approved granter, with no endpoint tag for the host within `window` of the add and no Entra
/// activation of the same principal (after identity mapping) held at the time. Occurrence, one per
/// add (subject = the event id).
///
/// A tag counts when it is the tag that set the membership's expected end (stamped up to `window`
/// before the add or while the membership is held) and lies within `window` of the add, or when it
/// arrives in the same batch within `window`. A tag that arrives in a later batch does not withdraw
/// an alert already raised.
#[derive(Debug, Clone)]
pub struct UnapprovedLocalAdmin {
    pub severity: Severity,
    /// Extra approved granters (besides the policy's `approved_local_admin_granters`).
    pub approved: Vec<String>,
    /// `None`: the policy's `tag_window`.
    pub window: Option<Duration>,
}

impl Rule for UnapprovedLocalAdmin {
    fn id(&self) -> &str {
        "unapproved-local-admin"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(vec![Action::GroupMemberAdded, Action::EndpointAdminTag])
    }
    fn description(&self) -> String {
        "a member is added to a privileged Windows group by an unapproved account with no tag or activation covering it".into()
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let p = ctx.policy;
        let window = self.window.unwrap_or(p.tag_window);
        let adds: Vec<&Event> = ctx
            .new_events
            .iter()
            .filter(|e| {
                e.action == Action::GroupMemberAdded
                    && e.source == Source::Windows
                    && e.outcome == Outcome::Success
                    && e.linked_to.is_none()
                    && privtrail_model::privilege::is_privileged(
                        e.privilege_id.as_deref(),
                        e.privilege.as_deref(),
                        &p.privileged_groups,
                    )
            })
            .filter(|e| {
                !e.actor
                    .as_deref()
                    .is_some_and(|a| p.is_approved_granter(a, &self.approved))
            })
            .collect();
        if adds.is_empty() {
            return Vec::new();
        }
        let mut opened_by: HashMap<&EventId, &Elevation> = HashMap::new();
        for el in ctx
            .elevations
            .iter()
            .filter(|el| el.kind == ElevationKind::Membership)
        {
            opened_by.insert(&el.opened_by, el);
            for d in &el.duplicates {
                opened_by.insert(d, el);
            }
        }
        let near = |t: chrono::DateTime<chrono::Utc>, add: &Event| (t - add.time).abs() <= window;
        let mut out = Vec::new();
        for add in adds {
            let member = add.target.as_deref().unwrap_or("unknown member");
            let principal = p.canonical(member);
            let host = add
                .host
                .as_deref()
                .or(add.scope.as_deref())
                .unwrap_or("")
                .to_lowercase();
            let el = opened_by.get(&add.id).copied();
            let tagged = el.and_then(|el| el.tagged_at).is_some_and(|t| near(t, add))
                || ctx.new_events.iter().any(|t| {
                    tag_host(t).is_some_and(|h| h == host)
                        && near(t.time, add)
                        && t.target
                            .as_deref()
                            .is_none_or(|who| p.canonical(who) == principal)
                });
            if tagged {
                continue;
            }
            let activated = ctx.elevations.iter().any(|a| {
                a.kind == ElevationKind::Activation
                    && a.source == Source::Entra
                    && p.canonical(&a.principal) == principal
                    && a.held_at(add.time)
            });
            if activated {
                continue;
            }
            let group = add
                .privilege
                .as_deref()
                .or(add.privilege_id.as_deref())
                .unwrap_or("?");
            // The elevation knows the member's name (`CONTOSO\nina.patel (S-1-5-21-…)`).
            let resolved = el.map_or_else(|| p.resolve(member), |el| el.principal.clone());
            let member = el.map_or_else(|| member.to_owned(), Elevation::who);
            let summary = format!(
                "{} added {member} to {group} on {} at {} without approval: not an approved granter, no endpoint tag within {}, no Entra activation",
                add.actor.as_deref().unwrap_or("unknown actor"),
                add.scope.as_deref().or(add.host.as_deref()).unwrap_or("?"),
                format_time(add.time),
                format_duration(window)
            );
            out.push(Finding {
                rule: self.id().to_owned(),
                severity: self.severity,
                subject: add.id.to_string(),
                principal: Some(resolved),
                privilege: Some(group.to_owned()),
                scope: add.scope.clone().or_else(|| add.host.clone()),
                summary,
                event_ids: vec![add.id.clone()],
                elevation_id: el.map(|el| el.id.clone()),
                condition: false,
            });
        }
        out
    }
}

/// `audit-tampering`: an audit log cleared (1102, 104) or the audit policy changed (4719).
/// Occurrence, subject = host + event code (repeats update one alert).
#[derive(Debug, Clone)]
pub struct AuditTampering {
    pub severity: Severity,
}

fn is_tampering(e: &Event) -> bool {
    matches!(
        e.action,
        Action::AuditLogCleared | Action::AuditPolicyChanged
    ) || (e.source == Source::Windows && matches!(e.event_code.as_str(), "1102" | "104" | "4719"))
}

impl Rule for AuditTampering {
    fn id(&self) -> &str {
        "audit-tampering"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(vec![Action::AuditLogCleared, Action::AuditPolicyChanged])
    }
    fn description(&self) -> String {
        "an audit log was cleared (1102, 104) or the audit policy changed (4719)".into()
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut by_subject: BTreeMap<String, Finding> = BTreeMap::new();
        for e in ctx.new_events.iter().filter(|e| is_tampering(e)) {
            let host = e
                .host
                .as_deref()
                .or(e.scope.as_deref())
                .unwrap_or("unknown host");
            let subject = format!("{}|{}", host.to_lowercase(), e.event_code);
            let f = by_subject
                .entry(subject.clone())
                .or_insert_with(|| Finding {
                    rule: self.id().to_owned(),
                    severity: self.severity,
                    subject,
                    principal: e.actor.clone(),
                    privilege: None,
                    scope: Some(host.to_owned()),
                    summary: format!(
                        "{} on {host} (event {}) by {}",
                        if e.action == Action::AuditPolicyChanged || e.event_code == "4719" {
                            "audit policy changed"
                        } else {
                            "audit log cleared"
                        },
                        e.event_code,
                        e.actor.as_deref().unwrap_or("unknown actor")
                    ),
                    event_ids: Vec::new(),
                    elevation_id: None,
                    condition: false,
                });
            f.event_ids.push(e.id.clone());
        }
        by_subject.into_values().collect()
    }
}

/// `evidence-conflict`: a record arrived with the id of a stored event but other content (the store
/// kept both and chained an `evidence.conflict` event). Occurrence, subject = that event's id.
#[derive(Debug, Clone)]
pub struct EvidenceConflict {
    pub severity: Severity,
}

impl Rule for EvidenceConflict {
    fn id(&self) -> &str {
        "evidence-conflict"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(vec![Action::EvidenceConflict])
    }
    fn description(&self) -> String {
        "a record arrived with the id of a stored event but different content (both kept)".into()
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        ctx.new_events
            .iter()
            .filter(|e| e.action == Action::EvidenceConflict)
            .map(|e| Finding {
                rule: self.id().to_owned(),
                severity: self.severity,
                subject: e.id.to_string(),
                principal: None,
                privilege: None,
                scope: e.host.clone().or_else(|| e.tenant.clone()),
                summary: e.message.clone(),
                event_ids: std::iter::once(e.id.clone())
                    .chain(
                        e.target
                            .as_deref()
                            .map(|t| EventId::from_stored(t.to_owned())),
                    )
                    .collect(),
                elevation_id: None,
                condition: false,
            })
            .collect()
    }
}

/// `collector-failure`: a `collector.error` event (occurrence, subject = tenant or host +
/// collector), or a collector whose last success is more than `missed_runs` intervals ago
/// (condition, subject = `stale|` + collector).
#[derive(Debug, Clone)]
pub struct CollectorFailure {
    pub severity: Severity,
    pub missed_runs: i32,
}

impl Rule for CollectorFailure {
    fn id(&self) -> &str {
        "collector-failure"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(vec![Action::CollectorError])
    }
    fn description(&self) -> String {
        format!(
            "a collector fails on permissions or auth, or has had no successful run for {} intervals",
            self.missed_runs
        )
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut by_subject: BTreeMap<String, Finding> = BTreeMap::new();
        for e in ctx
            .new_events
            .iter()
            .filter(|e| e.action == Action::CollectorError)
        {
            let origin = e.tenant.as_deref().or(e.host.as_deref()).unwrap_or("-");
            let collector = e.event_code.split('.').next().unwrap_or("collector");
            let subject = format!("error|{}|{collector}", origin.to_lowercase());
            let f = by_subject
                .entry(subject.clone())
                .or_insert_with(|| Finding {
                    rule: self.id().to_owned(),
                    severity: self.severity,
                    subject,
                    principal: None,
                    privilege: None,
                    scope: Some(origin.to_owned()),
                    summary: format!("collector {collector} for {origin} failed: {}", e.message),
                    event_ids: Vec::new(),
                    elevation_id: None,
                    condition: false,
                });
            f.event_ids.push(e.id.clone());
        }
        let mut out: Vec<Finding> = by_subject.into_values().collect();
        for c in ctx.collectors {
            let (Some(last), Some(limit)) = (
                c.last_success.or(c.watched_since),
                c.interval.checked_mul(self.missed_runs),
            ) else {
                continue;
            };
            if ctx.now - last > limit {
                out.push(Finding {
                    rule: self.id().to_owned(),
                    severity: self.severity,
                    subject: format!("stale|{}", c.collector),
                    principal: None,
                    privilege: None,
                    scope: None,
                    summary: match c.last_success {
                        Some(_) => format!(
                            "collector {} has had no successful run since {} ({} runs of {} missed)",
                            c.collector,
                            format_time(last),
                            self.missed_runs,
                            format_duration(c.interval)
                        ),
                        None => format!(
                            "collector {} has never run successfully since it started at {} ({} runs of {} missed)",
                            c.collector,
                            format_time(last),
                            self.missed_runs,
                            format_duration(c.interval)
                        ),
                    },
                    event_ids: Vec::new(),
                    elevation_id: None,
                    condition: true,
                });
            }
        }
        out
    }
}
