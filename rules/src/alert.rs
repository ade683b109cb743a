//! The alert lifecycle (SPEC §4) as a pure state machine: findings in, alert changes out.
//!
//! - One alert per rule + subject: a finding for an open or acknowledged alert updates it (new
//!   event ids, summary, severity); it never duplicates it.
//! - A **resolved** alert is history: when its rule + subject fires again, a **new** alert opens
//!   (new id, new `opened_at`), so the record of the first one stays as it was.
//! - A condition alert (the finding's `condition`) whose rule was evaluated and which is no longer
//!   reported resolves itself. Occurrence alerts stay until a person resolves them.
//! - **Silences** suppress *opening* and *notifying*: a silenced finding opens no alert (if it still
//!   holds when the silence ends, the next evaluation opens it); an alert that was already open is
//!   still updated and auto-resolved, but not re-notified while silenced.
//! - `notify` lists the newly opened alerts and the `open` (not acknowledged) ones last notified at
//!   least `renotify` ago; their `last_notified_at` becomes `now`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use privtrail_model::{EventId, format_time};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hash::{FastMap, FastSet};
use crate::rule::{Finding, Severity};
use crate::time::{serde_opt_time, serde_time};

/// Most event ids an alert keeps (the first ones and the latest ones are what a reader needs).
pub const MAX_EVENT_IDS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        }
    }

    /// The status named `s` (`open`, `acknowledged`, `resolved`).
    pub fn parse(s: &str) -> Option<AlertStatus> {
        match s.trim() {
            "open" => Some(AlertStatus::Open),
            "acknowledged" => Some(AlertStatus::Acknowledged),
            "resolved" => Some(AlertStatus::Resolved),
            _ => None,
        }
    }
}

/// An alert (SPEC §4 field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable: a hash of rule, subject and `opened_at`.
    pub id: String,
    pub rule: String,
    pub severity: Severity,
    pub status: AlertStatus,
    pub principal: Option<String>,
    pub privilege: Option<String>,
    pub scope: Option<String>,
    #[serde(with = "serde_time")]
    pub opened_at: DateTime<Utc>,
    #[serde(with = "serde_time")]
    pub updated_at: DateTime<Utc>,
    #[serde(default, with = "serde_opt_time")]
    pub resolved_at: Option<DateTime<Utc>>,
    pub summary: String,
    pub event_ids: Vec<EventId>,
    pub elevation_id: Option<String>,
    /// Dedupe key within the rule.
    pub subject: String,
    #[serde(default, with = "serde_opt_time")]
    pub last_notified_at: Option<DateTime<Utc>>,
    /// Resolves itself when no longer reported (see [`Finding::condition`]).
    pub condition: bool,
    /// What people did to it: who acknowledged or resolved it, when, and their note.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<AlertAction>,
}

/// One reviewer's action on an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertAction {
    #[serde(with = "serde_time")]
    pub at: DateTime<Utc>,
    /// `acknowledged` or `resolved`.
    pub action: String,
    /// Who: the API token's name, or the operating-system user of the CLI.
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Alert {
    pub fn is_active(&self) -> bool {
        self.status != AlertStatus::Resolved
    }
}

/// Suppresses alerts of a rule (`None`: every rule) for a principal (`None`: everyone) until a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub rule: Option<String>,
    pub principal: Option<String>,
    #[serde(with = "serde_time")]
    pub until: DateTime<Utc>,
}

impl Silence {
    fn covers(&self, rule: &str, principal: Option<&str>, now: DateTime<Utc>) -> bool {
        now < self.until
            && self.rule.as_deref().is_none_or(|r| r == rule)
            && self
                .principal
                .as_deref()
                .is_none_or(|p| principal.is_some_and(|x| x.trim().eq_ignore_ascii_case(p.trim())))
    }
}

/// What [`apply_findings`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertChanges {
    pub opened: Vec<Alert>,
    /// Alerts whose content or `last_notified_at` changed (still open or acknowledged).
    pub updated: Vec<Alert>,
    pub resolved: Vec<Alert>,
    /// Ids of alerts to send now.
    pub notify: Vec<String>,
}

/// A transition that is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("alert {0} is already resolved")]
    AlreadyResolved(String),
}

fn alert_id(rule: &str, subject: &str, opened_at: DateTime<Utc>) -> String {
    let mut h = Sha256::new();
    for part in [rule, subject, &format_time(opened_at)] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}

fn merge_ids(into: &mut Vec<EventId>, more: &[EventId]) -> bool {
    let added: Vec<EventId> = {
        let mut have: FastSet<&EventId> = into.iter().collect();
        more.iter().filter(|id| have.insert(id)).cloned().collect()
    };
    let changed = !added.is_empty();
    into.extend(added);
    if into.len() > MAX_EVENT_IDS {
        // Keep the first half and the latest half.
        let keep = MAX_EVENT_IDS / 2;
        let tail = into.split_off(into.len() - keep);
        into.truncate(keep);
        into.extend(tail);
    }
    changed
}

/// Merges findings with the same rule + subject (the later one's text wins, event ids are united);
/// a finding reported once is borrowed, not copied.
fn merge_findings(findings: &[Finding]) -> Vec<Cow<'_, Finding>> {
    let mut order: Vec<Cow<'_, Finding>> = Vec::new();
    let mut at: FastMap<(&str, &str), usize> = FastMap::default();
    for f in findings {
        match at.get(&(f.rule.as_str(), f.subject.as_str())) {
            Some(&i) => {
                let m = order[i].to_mut();
                let ids = std::mem::take(&mut m.event_ids);
                *m = Finding {
                    event_ids: ids,
                    ..f.clone()
                };
                merge_ids(&mut m.event_ids, &f.event_ids);
            }
            None => {
                at.insert((&f.rule, &f.subject), order.len());
                order.push(Cow::Borrowed(f));
            }
        }
    }
    order
}

/// Applies one evaluation's findings to the existing alerts (see the module doc for the rules).
/// `evaluated_rules` are the ids of the rules that ran (only their condition alerts can resolve).
pub fn apply_findings(
    existing: &[Alert],
    findings: &[Finding],
    evaluated_rules: &[&str],
    now: DateTime<Utc>,
    silences: &[Silence],
    renotify: Duration,
) -> AlertChanges {
    let mut active: FastMap<(&str, &str), usize> = FastMap::default();
    for (i, a) in existing.iter().enumerate().filter(|(_, a)| a.is_active()) {
        let k = (a.rule.as_str(), a.subject.as_str());
        if active
            .get(&k)
            .is_none_or(|&j| existing[j].opened_at <= a.opened_at)
        {
            active.insert(k, i);
        }
    }
    let silenced = |rule: &str, principal: Option<&str>| {
        silences.iter().any(|s| s.covers(rule, principal, now))
    };
    let mut changed: BTreeMap<usize, Alert> = BTreeMap::new();
    let mut out = AlertChanges::default();
    let merged = merge_findings(findings);
    let reported: FastSet<(&str, &str)> = merged
        .iter()
        .map(|f| (f.rule.as_str(), f.subject.as_str()))
        .collect();
    for f in &merged {
        if let Some(&i) = active.get(&(f.rule.as_str(), f.subject.as_str())) {
            let old = &existing[i];
            let retold = old.summary != f.summary
                || old.severity != f.severity
                || old.elevation_id != f.elevation_id;
            // Most findings repeat what their alert says (a rule re-reports what a run touches):
            // those cost a comparison, not a copy of the alert.
            if !retold && f.event_ids.iter().all(|id| old.event_ids.contains(id)) {
                continue;
            }
            let mut a = old.clone();
            merge_ids(&mut a.event_ids, &f.event_ids);
            if retold {
                a.summary = f.summary.clone();
                a.severity = f.severity;
                a.elevation_id = f.elevation_id.clone();
            }
            a.updated_at = now;
            changed.insert(i, a);
            continue;
        }
        if silenced(&f.rule, f.principal.as_deref()) {
            continue;
        }
        let id = alert_id(&f.rule, &f.subject, now);
        out.notify.push(id.clone());
        out.opened.push(Alert {
            id,
            rule: f.rule.clone(),
            severity: f.severity,
            status: AlertStatus::Open,
            principal: f.principal.clone(),
            privilege: f.privilege.clone(),
            scope: f.scope.clone(),
            opened_at: now,
            updated_at: now,
            resolved_at: None,
            summary: f.summary.clone(),
            event_ids: f.event_ids.clone(),
            elevation_id: f.elevation_id.clone(),
            subject: f.subject.clone(),
            last_notified_at: Some(now),
            condition: f.condition,
            history: Vec::new(),
        });
    }
    let evaluated: FastSet<&str> = evaluated_rules.iter().copied().collect();
    for (&k, &i) in &active {
        let a = changed.get(&i).unwrap_or(&existing[i]);
        if a.condition && evaluated.contains(a.rule.as_str()) && !reported.contains(&k) {
            let mut a = a.clone();
            changed.remove(&i);
            a.status = AlertStatus::Resolved;
            a.resolved_at = Some(now);
            a.updated_at = now;
            out.resolved.push(a);
            continue;
        }
        let due = a.last_notified_at.is_none_or(|t| now - t >= renotify);
        if a.status == AlertStatus::Open && due && !silenced(&a.rule, a.principal.as_deref()) {
            let mut a = a.clone();
            a.last_notified_at = Some(now);
            out.notify.push(a.id.clone());
            changed.insert(i, a);
        }
    }
    out.updated = changed.into_values().collect();
    out.resolved.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Acknowledges an open alert (acknowledging an acknowledged one changes nothing).
pub fn ack(alert: &Alert, now: DateTime<Utc>) -> Result<Alert, LifecycleError> {
    match alert.status {
        AlertStatus::Resolved => Err(LifecycleError::AlreadyResolved(alert.id.clone())),
        AlertStatus::Acknowledged => Ok(alert.clone()),
        AlertStatus::Open => Ok(Alert {
            status: AlertStatus::Acknowledged,
            updated_at: now,
            ..alert.clone()
        }),
    }
}

/// [`ack`] or [`resolve`] by a person, recorded in the alert's history with their note.
pub fn act(
    alert: &Alert,
    now: DateTime<Utc>,
    resolve_it: bool,
    by: &str,
    note: Option<&str>,
) -> Result<Alert, LifecycleError> {
    let mut next = if resolve_it {
        resolve(alert, now)?
    } else {
        ack(alert, now)?
    };
    next.history.push(AlertAction {
        at: now,
        action: if resolve_it {
            "resolved"
        } else {
            "acknowledged"
        }
        .to_owned(),
        by: by.to_owned(),
        note: note.map(str::to_owned).filter(|n| !n.trim().is_empty()),
    });
    next.updated_at = now;
    Ok(next)
}

/// Resolves an open or acknowledged alert by hand.
pub fn resolve(alert: &Alert, now: DateTime<Utc>) -> Result<Alert, LifecycleError> {
    match alert.status {
        AlertStatus::Resolved => Err(LifecycleError::AlreadyResolved(alert.id.clone())),
        _ => Ok(Alert {
            status: AlertStatus::Resolved,
            resolved_at: Some(now),
            updated_at: now,
            ..alert.clone()
        }),
    }
}
