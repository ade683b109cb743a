//! Remediation (SPEC §4): ending elevations that outlived their promise, opt-in and auditable.
//!
//! # Main types
//! - [`Remediation`]: one action for one alert (at most one per alert, ever): what it targets
//!   ([`Target`]: a PIM activation to end through Graph, or a Windows membership handed to the RMM
//!   through a signed webhook), its [`State`], and its history.
//! - [`plan`](plan::plan) decides, purely (`lookup.rs` reads what it needs from the store), which
//!   alerts lead to an action and at which
//!   [`Mode`](crate::config::Mode) (`[remediation]`, break-glass, allow/deny lists, what kind of
//!   elevation it is); [`run`](run::run) is the job: it stores new proposals, sends what is
//!   approved through a [`Receiver`](receiver::Receiver), and trips the circuit breaker.
//! - [`App::remediation_approve`] and [`App::remediation_reject`] are the reviewer's transitions.
//!
//! Every step is a chained event (`remediation.proposed|approved|rejected|sent|succeeded|failed`,
//! correlation id = the alert's id) stored in the same transaction as the action's new state
//! (kept as a checkpoint `remediation:<id>`). `sent` is stored *before* the request: a crash
//! between the request and its answer leaves the action `sending`, and the next run asks the
//! receiver whether it already took effect (Graph: the request carrying the action's key in its
//! justification) before sending again with the same idempotency key.

mod lookup;
pub mod plan;
pub mod receiver;
pub mod run;

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, EventId, Source, format_time};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::App;
use crate::config::Mode;
use crate::error::{AppError, Result};

/// Checkpoint key prefix of stored actions.
pub const PREFIX: &str = "remediation:";

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waits for a reviewer.
    Proposed,
    /// Will be sent by the next run (approved by a reviewer or by `enforce`).
    Approved,
    /// A reviewer said no, or it was no longer needed.
    Rejected,
    /// Sent; its answer was not recorded yet (a crash in between).
    Sending,
    Succeeded,
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Proposed => "proposed",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Sending => "sending",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
        }
    }
}

/// What an action ends, with everything its receiver needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Target {
    /// `adminRemove` of a PIM assignment (an activation) in a tenant.
    Entra {
        tenant: String,
        principal_id: String,
        role_definition_id: String,
        directory_scope_id: String,
    },
    /// A Windows group membership, removed by the RMM that manages `host`.
    Windows {
        host: String,
        group_sid: String,
        group_name: String,
        member_sid: String,
        member_name: Option<String>,
        /// What the receiver should run (built from validated SIDs only).
        powershell: String,
    },
}

/// One step of an action's history (each is also a chained event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    #[serde(with = "privtrail_model::serde_time")]
    pub at: DateTime<Utc>,
    /// `proposed`, `approved`, `rejected`, `sent`, `succeeded`, `failed`.
    pub step: String,
    pub by: String,
    /// A note, or the receiver's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One remediation action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remediation {
    /// Derived from the alert's id: one action per alert.
    pub id: String,
    pub alert_id: String,
    pub rule: String,
    pub elevation_id: String,
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_name: Option<String>,
    pub privilege: String,
    pub scope: String,
    pub target: Target,
    /// The mode the policy allowed when it was planned.
    pub mode: Mode,
    /// Why the mode is lower than the rule's (`assignment outside PIM: only ever proposed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capped: Option<String>,
    pub state: State,
    #[serde(with = "privtrail_model::serde_time")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "privtrail_model::serde_time")]
    pub updated_at: DateTime<Utc>,
    /// Sends so far (a retry after a transient failure is another).
    pub attempts: u32,
    #[serde(default, with = "privtrail_model::serde_opt_time")]
    pub last_sent_at: Option<DateTime<Utc>>,
    pub history: Vec<Step>,
}

/// The id of the action for `alert_id`.
pub fn action_id(alert_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"remediation\0");
    h.update(alert_id.as_bytes());
    hex::encode(&h.finalize()[..8])
}

impl Remediation {
    /// The idempotency key the receiver sees (webhook header, Graph justification).
    pub fn key(&self) -> String {
        format!("privtrail-remediation-{}", self.id)
    }

    /// What the action does, in a line.
    pub fn describe(&self) -> String {
        let who = self.principal_name.as_deref().unwrap_or(&self.principal);
        match &self.target {
            Target::Entra { tenant, .. } => format!(
                "end {who}'s {} at {} in tenant {tenant} (Graph adminRemove)",
                self.privilege, self.scope
            ),
            Target::Windows { host, .. } => format!(
                "remove {who} from {} on {host} (webhook to the RMM)",
                self.privilege
            ),
        }
    }

    /// The chained event of a step; `n` tells repeated steps (attempts) apart.
    pub(crate) fn event(
        &self,
        action: Action,
        now: DateTime<Utc>,
        by: &str,
        detail: Option<&str>,
        n: u32,
    ) -> Event {
        let step = action.as_str().trim_start_matches("remediation.");
        let id = EventId::native(
            Source::Privtrail,
            "remediation",
            &format!("{}:{step}:{n}", self.id),
        );
        let mut e = Event::new(id, Source::Privtrail, action, now, action.as_str());
        e.actor = Some(by.to_owned());
        e.target = Some(self.principal.clone());
        e.target_name = self.principal_name.clone();
        e.privilege = Some(self.privilege.clone());
        e.scope = Some(self.scope.clone());
        e.correlation_id = Some(self.alert_id.clone());
        e.record_id = Some(self.id.clone());
        match &self.target {
            Target::Entra {
                tenant,
                role_definition_id,
                ..
            } => {
                e.tenant = Some(tenant.clone());
                e.privilege_id = Some(role_definition_id.clone());
            }
            Target::Windows {
                host, group_sid, ..
            } => {
                e.host = Some(host.clone());
                e.privilege_id = Some(group_sid.clone());
            }
        }
        if action == Action::RemediationFailed {
            e.outcome = privtrail_model::Outcome::Failure;
        }
        e.justification = detail.map(str::to_owned);
        e.message = match detail {
            Some(d) => format!(
                "remediation {} {step} by {by}: {} (alert {}, {}): {d}",
                self.id,
                self.describe(),
                self.alert_id,
                self.rule
            ),
            None => format!(
                "remediation {} {step} by {by}: {} (alert {}, {})",
                self.id,
                self.describe(),
                self.alert_id,
                self.rule
            ),
        };
        e.raw = serde_json::json!({
            "remediation": self.id, "step": step, "by": by, "detail": detail,
            "at": format_time(now), "alert": self.alert_id, "rule": self.rule,
            "elevation": self.elevation_id, "target": self.target, "mode": self.mode,
            "attempt": n,
        })
        .to_string();
        e
    }

    /// Moves to `state`, records the step, and returns its event.
    pub(crate) fn advance(
        &mut self,
        state: State,
        action: Action,
        now: DateTime<Utc>,
        by: &str,
        detail: Option<&str>,
    ) -> Event {
        self.state = state;
        self.updated_at = now;
        let step = action
            .as_str()
            .trim_start_matches("remediation.")
            .to_owned();
        self.history.push(Step {
            at: now,
            step,
            by: by.to_owned(),
            detail: detail.map(str::to_owned),
        });
        self.event(action, now, by, detail, self.attempts)
    }
}

impl App {
    /// Every stored action, newest first.
    pub fn remediations(&self) -> Result<Vec<Remediation>> {
        let mut out: Vec<Remediation> = self
            .store()
            .checkpoints_with_prefix(PREFIX)?
            .into_iter()
            .map(|(k, v)| {
                serde_json::from_str(&v).map_err(AppError::json(format!(
                    "stored remediation {k:?} is unreadable"
                )))
            })
            .collect::<Result<_>>()?;
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// One action by its id (or a unique prefix of it), or the action of an alert.
    pub fn remediation(&self, id: &str) -> Result<Option<Remediation>> {
        let id = id.trim().to_lowercase();
        if id.is_empty() {
            return Ok(None);
        }
        let all = self.remediations()?;
        let mut hits = all
            .into_iter()
            .filter(|r| r.id.starts_with(&id) || r.alert_id == id);
        let first = hits.next();
        if first.is_some() && hits.next().is_some() {
            return Err(AppError::Usage(format!(
                "{id:?} names more than one remediation; give more of its id"
            )));
        }
        Ok(first)
    }

    /// Stores `r` and `events` in one transaction.
    pub(crate) fn save_remediation(&self, r: &Remediation, events: Vec<Event>) -> Result<()> {
        let key = format!("{PREFIX}{}", r.id);
        let value = serde_json::to_string(r).map_err(AppError::json(format!(
            "cannot encode remediation {}",
            r.id
        )))?;
        let writer = self.writer()?;
        writer
            .call(move |w| w.write_batch_with_checkpoint(&events, &[], Some((&key, &value))))??;
        writer.notify_stored();
        Ok(())
    }

    /// A reviewer approves a proposed (or failed) action: the next run sends it.
    pub fn remediation_approve(
        &self,
        id: &str,
        now: DateTime<Utc>,
        by: &str,
        note: Option<&str>,
    ) -> Result<Remediation> {
        self.review(id, now, by, note, true)
    }

    /// A reviewer rejects a proposed (or failed) action: it is never sent.
    pub fn remediation_reject(
        &self,
        id: &str,
        now: DateTime<Utc>,
        by: &str,
        note: Option<&str>,
    ) -> Result<Remediation> {
        self.review(id, now, by, note, false)
    }

    fn review(
        &self,
        id: &str,
        now: DateTime<Utc>,
        by: &str,
        note: Option<&str>,
        approve: bool,
    ) -> Result<Remediation> {
        let _guard = self.alerts_lock();
        let mut r = self.remediation(id)?.ok_or_else(|| {
            AppError::NotFound(format!(
                "no remediation {id:?} (see `privtrail remediate list`)"
            ))
        })?;
        if !matches!(r.state, State::Proposed | State::Failed) {
            return Err(AppError::Usage(format!(
                "remediation {} is {}: only a proposed or failed action can be {}",
                r.id,
                r.state.as_str(),
                if approve { "approved" } else { "rejected" }
            )));
        }
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        let event = if approve {
            r.advance(State::Approved, Action::RemediationApproved, now, by, note)
        } else {
            r.advance(State::Rejected, Action::RemediationRejected, now, by, note)
        };
        // A second approval after a failure is its own event.
        let event = if approve && r.attempts > 0 {
            let mut e = event;
            e.id = EventId::native(
                Source::Privtrail,
                "remediation",
                &format!("{}:approved:{}:{}", r.id, r.attempts, format_time(now)),
            );
            e
        } else {
            event
        };
        self.save_remediation(&r, vec![event])?;
        Ok(r)
    }
}
