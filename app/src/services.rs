//! The read-side services the CLI and the HTTP API share: search, elevations with their filters,
//! alerts (with the reviewer's transitions) and the outbox. Each takes typed arguments and returns
//! data; printing is the caller's business.

use chrono::{DateTime, Utc};
use privtrail_model::{Event, EventId};
use privtrail_rules::{Alert, AlertStatus, Elevation};
use privtrail_store::{OutboxMessage, OutboxStatus, SearchRequest};

use crate::App;
use crate::engine::{alert_row, decode_alert, load_elevations};
use crate::error::{AppError, Result};

/// Filters of an elevations listing (all optional).
#[derive(Debug, Clone, Default)]
pub struct ElevationQuery {
    /// Only elevations held at this moment (point in time).
    pub at: Option<DateTime<Utc>>,
    /// Only elevations still open.
    pub open: bool,
    /// Only open elevations past their expected end plus the grace.
    pub overdue: bool,
    /// Only principals containing this text (case-insensitive).
    pub principal: Option<String>,
    /// Only privileges (name or id) containing this text (case-insensitive).
    pub privilege: Option<String>,
}

/// An elevation as listings show it: with its state at `now`.
#[derive(Debug, Clone)]
pub struct ElevationView {
    pub elevation: Elevation,
    pub overdue: bool,
}

impl ElevationView {
    /// `OVERDUE`, `open`, or why it ended (`removed`, `expired`, …).
    pub fn state(&self) -> String {
        match (&self.elevation.ended_at, self.overdue) {
            (Some(_), _) => self
                .elevation
                .end_reason
                .map_or("ended".to_owned(), |r| r.as_str().to_owned()),
            (None, true) => "OVERDUE".to_owned(),
            (None, false) => "open".to_owned(),
        }
    }
}

impl App {
    /// The newest matching events (SPEC §6 query syntax).
    pub fn search(&self, req: &SearchRequest) -> Result<Vec<Event>> {
        Ok(self.store().search(req)?)
    }

    /// The number of matching events.
    pub fn count(&self, req: &SearchRequest) -> Result<u64> {
        Ok(self.store().count(req)?)
    }

    /// One event by id, with `raw`.
    pub fn event(&self, id: &str) -> Result<Option<Event>> {
        Ok(self
            .store()
            .get_event(&EventId::from_stored(id.to_owned()))?)
    }

    /// Elevations matching `q`, oldest start first, each with its overdue state at `now` (the one
    /// definition: [`crate::Engine::is_overdue`]).
    pub fn elevations(&self, q: &ElevationQuery, now: DateTime<Utc>) -> Result<Vec<ElevationView>> {
        let principal = q.principal.as_deref().map(str::to_lowercase);
        let privilege = q.privilege.as_deref().map(str::to_lowercase);
        let contains = |hay: &str, needle: &str| hay.to_lowercase().contains(needle);
        Ok(load_elevations(self.store())?
            .into_iter()
            .filter(|e| q.at.is_none_or(|t| e.held_at(t)))
            .filter(|e| !q.open || e.is_open())
            .map(|e| ElevationView {
                overdue: self.engine().is_overdue(&e, now),
                elevation: e,
            })
            .filter(|v| !q.overdue || v.overdue)
            .filter(|v| {
                principal
                    .as_deref()
                    .is_none_or(|n| contains(&v.elevation.principal, n))
            })
            .filter(|v| {
                privilege.as_deref().is_none_or(|n| {
                    contains(&v.elevation.privilege, n)
                        || v.elevation
                            .privilege_id
                            .as_deref()
                            .is_some_and(|id| contains(id, n))
                })
            })
            .collect())
    }

    /// Alerts, newest first; only those with `status` when given.
    pub fn alerts(&self, status: Option<AlertStatus>) -> Result<Vec<Alert>> {
        self.store()
            .alerts(status.map(AlertStatus::as_str))?
            .iter()
            .map(decode_alert)
            .collect()
    }

    /// One alert.
    pub fn alert(&self, id: &str) -> Result<Option<Alert>> {
        self.store()
            .alert(id)?
            .as_ref()
            .map(decode_alert)
            .transpose()
    }

    /// Acknowledges an open alert.
    pub fn ack_alert(&self, id: &str, now: DateTime<Utc>) -> Result<Alert> {
        self.transition(id, now, privtrail_rules::ack)
    }

    /// Resolves an alert.
    pub fn resolve_alert(&self, id: &str, now: DateTime<Utc>) -> Result<Alert> {
        self.transition(id, now, privtrail_rules::resolve)
    }

    fn transition(
        &self,
        id: &str,
        now: DateTime<Utc>,
        f: fn(&Alert, DateTime<Utc>) -> Result<Alert, privtrail_rules::LifecycleError>,
    ) -> Result<Alert> {
        let writer = self.writer()?;
        // Read, decide and write under the rules job's lock: neither overwrites the other.
        let _guard = self.alerts_lock();
        let alert = self.alert(id)?.ok_or_else(|| {
            AppError::Usage(format!("no alert with id {id:?} (see `privtrail alerts`)"))
        })?;
        let next = f(&alert, now).map_err(|e| AppError::Usage(format!("alert {id}: {e}")))?;
        let row = alert_row(&next)?;
        writer.call(move |w| w.save_alerts(&[row]))??;
        Ok(next)
    }

    /// Outbox messages, newest first, at most `limit`; only those with `status` when given.
    pub fn outbox(&self, status: Option<OutboxStatus>, limit: usize) -> Result<Vec<OutboxMessage>> {
        Ok(self.store().outbox_list(status, limit)?)
    }

    /// Messages per channel and status; channels that left the config are named so (their
    /// messages can never be delivered until the channel comes back).
    pub fn outbox_counts(&self) -> Result<Vec<(String, OutboxStatus, u64, bool)>> {
        let known = |ch: &str| self.config().channels.iter().any(|c| c.name == ch);
        Ok(self
            .store()
            .outbox_counts()?
            .into_iter()
            .map(|(ch, st, n)| {
                let k = known(&ch);
                (ch, st, n, k)
            })
            .collect())
    }

    /// Puts one dead (or pending) message back in the queue; `false` when there is none.
    pub fn outbox_retry(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let done = self.writer()?.call(move |w| w.outbox_retry(id, now))??;
        self.writer()?.notify_outbox();
        Ok(done)
    }

    /// Puts every dead letter back in the queue; returns how many.
    pub fn outbox_retry_dead(&self, now: DateTime<Utc>) -> Result<u64> {
        let n = self.writer()?.call(move |w| w.outbox_retry_dead(now))??;
        self.writer()?.notify_outbox();
        Ok(n)
    }
}
