//! Where approved actions go: [`Receiver`] and its two implementations, Graph ([`EntraReceiver`])
//! and the RMM's signed webhook ([`WebhookReceiver`]).
//!
//! Adding a receiver (an RMM's own API, a ticketing system): a [`super::Target`] variant, its
//! planning in `plan.rs`, an implementation of [`Receiver`] here, and its choice in
//! [`Receivers::for_target`]. A receiver never retries on its own: the job decides (and counts
//! the attempt against the circuit breaker).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use privtrail_alerts::webhook::WebhookPoster;
use privtrail_ingest::graph::{
    AdminRemove, ErrorKind, GraphClient, admin_remove, collector_error_event, find_admin_remove,
};
use privtrail_model::Event;
use tokio::runtime::Handle;

use super::{Remediation, Target};
use crate::config::Config;
use crate::error::{AppError, Result};

/// What a receiver answered.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// It took effect: a line saying so, and the receiver's whole answer (kept in the event).
    Done { summary: String, answer: String },
    /// It was refused and will not work by trying again; the answer, and a `collector.error`
    /// event when the cause is privtrail's own access (a missing Graph permission).
    Refused {
        answer: String,
        error: Option<Box<Event>>,
    },
    /// It failed in a way that may pass (network, throttling, 5xx): try again later.
    Retry(String),
}

/// Sends actions of one kind.
pub trait Receiver: Send + Sync + std::fmt::Debug {
    /// Sends `r` once, with its idempotency key ([`Remediation::key`]).
    fn send(&self, r: &Remediation, now: DateTime<Utc>) -> Outcome;
    /// After a send whose answer was lost: the receiver's record of it, when it has one and it
    /// took effect (`Ok(None)`: send again, with the same key).
    fn find(&self, r: &Remediation) -> std::result::Result<Option<String>, String>;
}

/// Ends PIM activations through Graph (`adminRemove`).
#[derive(Debug)]
pub struct EntraReceiver {
    rt: Handle,
    clients: HashMap<String, GraphClient>,
}

impl EntraReceiver {
    pub fn new(rt: &Handle, config: &Config) -> Result<Self> {
        let mut clients = HashMap::new();
        for t in &config.tenants {
            let client = GraphClient::new(crate::collect::settings(t)?)
                .map_err(|e| AppError::Config(format!("tenant {:?}: {e}", t.name)))?;
            clients.insert(t.name.clone(), client);
        }
        Ok(EntraReceiver {
            rt: rt.clone(),
            clients,
        })
    }

    fn client(&self, r: &Remediation) -> std::result::Result<(&GraphClient, AdminRemove), String> {
        let Target::Entra {
            tenant,
            principal_id,
            role_definition_id,
            directory_scope_id,
        } = &r.target
        else {
            return Err("not an Entra action".into());
        };
        let client = self
            .clients
            .get(tenant)
            .ok_or_else(|| format!("tenant {tenant:?} is not in [[tenants]] any more"))?;
        let mut justification = format!(
            "{}: alert {} ({}) — overdue admin rights ended by privtrail",
            r.key(),
            r.alert_id,
            r.rule
        );
        justification.truncate(
            (0..=justification.len().min(450))
                .rev()
                .find(|i| justification.is_char_boundary(*i))
                .unwrap_or(0),
        );
        Ok((
            client,
            AdminRemove {
                principal_id: principal_id.clone(),
                role_definition_id: role_definition_id.clone(),
                directory_scope_id: directory_scope_id.clone(),
                justification,
            },
        ))
    }
}

impl Receiver for EntraReceiver {
    fn send(&self, r: &Remediation, now: DateTime<Utc>) -> Outcome {
        let (client, req) = match self.client(r) {
            Ok(c) => c,
            Err(e) => {
                return Outcome::Refused {
                    answer: e,
                    error: None,
                };
            }
        };
        match self.rt.block_on(admin_remove(client, &req)) {
            Ok(answer) => Outcome::Done {
                summary: graph_summary(&answer),
                answer: answer.to_string(),
            },
            Err(e) if e.is_retriable() => Outcome::Retry(e.message.clone()),
            Err(e) => {
                let ours = matches!(e.kind, ErrorKind::Permission { .. } | ErrorKind::Auth);
                Outcome::Refused {
                    answer: e.message.clone(),
                    error: ours
                        .then(|| Box::new(collector_error_event(&client.settings().name, &e, now))),
                }
            }
        }
    }

    fn find(&self, r: &Remediation) -> std::result::Result<Option<String>, String> {
        let (client, req) = self.client(r)?;
        self.rt
            .block_on(find_admin_remove(client, &req.principal_id, &r.key()))
            .map(|found| found.map(|v| v.to_string()))
            .map_err(|e| e.message)
    }
}

/// `Graph request <id>: Revoked` from a `unifiedRoleAssignmentScheduleRequest`.
pub fn graph_summary(answer: &serde_json::Value) -> String {
    let field = |k: &str| answer.get(k).and_then(|v| v.as_str()).unwrap_or("?");
    format!(
        "Graph request {} ({}): {}",
        field("id"),
        field("action"),
        field("status")
    )
}

/// Hands Windows actions to the RMM: a signed webhook carrying the host, the group, the member,
/// the alert and the PowerShell to run.
#[derive(Debug)]
pub struct WebhookReceiver {
    rt: Handle,
    poster: WebhookPoster,
}

impl WebhookReceiver {
    pub fn new(rt: &Handle, config: &Config) -> Result<Option<Self>> {
        let Some(name) = &config.remediation.webhook else {
            return Ok(None);
        };
        let channel = config
            .channels
            .iter()
            .find(|c| &c.name == name)
            .ok_or_else(|| {
                AppError::Config(format!("[remediation] webhook: no channel {name:?}"))
            })?;
        let poster = WebhookPoster::new(channel)
            .map_err(|e| AppError::Config(format!("[remediation] webhook: {e}")))?;
        Ok(Some(WebhookReceiver {
            rt: rt.clone(),
            poster,
        }))
    }
}

/// The webhook's JSON body for `r`.
pub fn webhook_body(r: &Remediation) -> serde_json::Value {
    let (host, group_sid, group_name, member_sid, member_name, powershell) = match &r.target {
        Target::Windows {
            host,
            group_sid,
            group_name,
            member_sid,
            member_name,
            powershell,
        } => (
            host,
            group_sid,
            group_name,
            member_sid,
            member_name,
            powershell,
        ),
        Target::Entra { .. } => return serde_json::Value::Null,
    };
    serde_json::json!({
        "type": "privtrail.remediation",
        "action": "remove-group-member",
        "action_id": r.id,
        "idempotency_key": r.key(),
        "alert_id": r.alert_id,
        "rule": r.rule,
        "reason": r.describe(),
        "host": host,
        "group_sid": group_sid,
        "group_name": group_name,
        "member_sid": member_sid,
        "member_name": member_name,
        "powershell": powershell,
    })
}

impl Receiver for WebhookReceiver {
    fn send(&self, r: &Remediation, _now: DateTime<Utc>) -> Outcome {
        let body = webhook_body(r).to_string();
        match self
            .rt
            .block_on(self.poster.post(&r.key(), body.as_bytes()))
        {
            Ok(a) if (200..300).contains(&a.status) => Outcome::Done {
                summary: format!("the webhook answered {}", a.status),
                answer: format!("{} {}", a.status, a.body),
            },
            Ok(a) if a.status == 408 || a.status == 429 || a.status >= 500 => {
                Outcome::Retry(format!("{} {}", a.status, a.body))
            }
            Ok(a) => Outcome::Refused {
                answer: format!("{} {}", a.status, a.body),
                error: None,
            },
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }

    /// A webhook cannot be asked; the receiver dedupes by the idempotency key.
    fn find(&self, _r: &Remediation) -> std::result::Result<Option<String>, String> {
        Ok(None)
    }
}

/// The receivers of a configuration.
#[derive(Debug, Default)]
pub struct Receivers {
    pub entra: Option<Box<dyn Receiver>>,
    pub windows: Option<Box<dyn Receiver>>,
}

impl Receivers {
    /// Graph for every configured tenant, and the webhook when configured.
    pub fn from_config(rt: &Handle, config: &Config) -> Result<Self> {
        Ok(Receivers {
            entra: Some(Box::new(EntraReceiver::new(rt, config)?)),
            windows: WebhookReceiver::new(rt, config)?.map(|w| Box::new(w) as Box<dyn Receiver>),
        })
    }

    pub fn for_target(&self, t: &Target) -> Option<&dyn Receiver> {
        match t {
            Target::Entra { .. } => self.entra.as_deref(),
            Target::Windows { .. } => self.windows.as_deref(),
        }
    }
}
