//! The read-side services the CLI and the HTTP API share: search, elevations with their filters,
//! alerts (with the reviewer's transitions) and the outbox. Each takes typed arguments and returns
//! data; printing is the caller's business.

use chrono::{DateTime, Utc};
use privtrail_model::{Event, EventId};
use privtrail_rules::{Alert, AlertStatus, Elevation};
use privtrail_store::{OutboxMessage, OutboxStatus, SearchRequest, SilenceRow};

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
    /// Only principals containing this text (case-insensitive), whose name contains it, or that
    /// it names (a SID's `DOMAIN\\user`, a UPN's on-premises SID).
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
        // A name finds the SID it stands for (`nina.patel` → `S-1-5-21-…-1601`), a UPN its
        // on-premises SID, and back.
        let identities: Vec<String> = match q.principal.as_deref() {
            Some(p) => self
                .store()
                .identities(p)?
                .iter()
                .map(|i| i.to_lowercase())
                .collect(),
            None => Vec::new(),
        };
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
                principal.as_deref().is_none_or(|n| {
                    let el = &v.elevation;
                    contains(&el.principal, n)
                        || el.principal_name.as_deref().is_some_and(|m| contains(m, n))
                        || identities.contains(&el.principal.to_lowercase())
                })
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

    /// Acknowledges an open alert; `by` (a token's name, an OS user) and `note` go into its history.
    pub fn ack_alert(
        &self,
        id: &str,
        now: DateTime<Utc>,
        by: &str,
        note: Option<&str>,
    ) -> Result<Alert> {
        self.transition(id, now, false, by, note)
    }

    /// Resolves an alert; `by` and `note` go into its history.
    pub fn resolve_alert(
        &self,
        id: &str,
        now: DateTime<Utc>,
        by: &str,
        note: Option<&str>,
    ) -> Result<Alert> {
        self.transition(id, now, true, by, note)
    }

    /// Silences `rule` (`*`: every rule) for `principal` (or everyone) until `until`: its
    /// findings open no alert and notify no one meanwhile. Who, when and why are recorded as a
    /// chained `alert.silenced` event in the same transaction.
    pub fn silence(
        &self,
        rule: &str,
        principal: Option<&str>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
        by: &str,
        note: Option<&str>,
    ) -> Result<SilenceRow> {
        let rule = rule.trim();
        if rule != "*" && !self.engine().rules.iter().any(|r| r.id() == rule) {
            let known: Vec<&str> = self.engine().rules.iter().map(|r| r.id()).collect();
            return Err(AppError::Usage(format!(
                "no rule {rule:?}; rules are {} (or * for all)",
                known.join(", ")
            )));
        }
        if until <= now {
            return Err(AppError::Usage("a silence must end in the future".into()));
        }
        let row = SilenceRow {
            rule: rule.to_owned(),
            principal: principal
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
            until,
            reason: note.map(str::to_owned).filter(|n| !n.trim().is_empty()),
        };
        let event = silence_event(&row, now, by);
        let writer = self.writer()?;
        let saved = row.clone();
        writer.call(move |w| w.add_silence(&saved, &[event]))??;
        writer.notify_stored();
        Ok(row)
    }

    /// The silences still in force at `now`.
    pub fn silences(&self, now: DateTime<Utc>) -> Result<Vec<SilenceRow>> {
        Ok(self
            .store()
            .silences()?
            .into_iter()
            .filter(|s| s.until > now)
            .collect())
    }

    fn transition(
        &self,
        id: &str,
        now: DateTime<Utc>,
        resolve: bool,
        by: &str,
        note: Option<&str>,
    ) -> Result<Alert> {
        let writer = self.writer()?;
        // Read, decide and write under the rules job's lock: neither overwrites the other.
        let _guard = self.alerts_lock();
        let alert = self.alert(id)?.ok_or_else(|| {
            AppError::NotFound(format!("no alert with id {id:?} (see `privtrail alerts`)"))
        })?;
        let next = privtrail_rules::act(&alert, now, resolve, by, note)
            .map_err(|e| AppError::Usage(format!("alert {id}: {e}")))?;
        let row = alert_row(&next)?;
        // The reviewer's action is evidence too: a chained event, in the same transaction.
        let event = review_event(&next, now, resolve, by, note);
        writer.call(move |w| w.save_alerts_and_events(&[row], &[event]))??;
        writer.notify_stored();
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

/// The `alert.silenced` event of a reviewer's silence.
fn silence_event(s: &SilenceRow, now: DateTime<Utc>, by: &str) -> Event {
    use privtrail_model::{Action, Source};
    let whom = s.principal.as_deref().unwrap_or("everyone");
    let id = EventId::native(
        Source::Privtrail,
        "review",
        &format!(
            "silence:{}:{whom}:{}",
            s.rule,
            now.timestamp_nanos_opt().unwrap_or_default()
        ),
    );
    let action = Action::AlertSilenced;
    let mut e = Event::new(id, Source::Privtrail, action, now, action.as_str());
    e.actor = Some(by.to_owned());
    e.target = s.principal.clone();
    e.expires_at = Some(s.until);
    e.justification = s.reason.clone();
    e.message = format!(
        "{by} silenced rule {} for {whom} until {}{}",
        s.rule,
        privtrail_model::format_time(s.until),
        s.reason
            .as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default()
    );
    e.raw = serde_json::json!({
        "rule": s.rule, "principal": s.principal, "until": privtrail_model::format_time(s.until),
        "by": by, "note": s.reason, "at": privtrail_model::format_time(now),
    })
    .to_string();
    e
}

/// The `alert.acknowledged` / `alert.resolved` event of a reviewer's action.
fn review_event(
    alert: &Alert,
    now: DateTime<Utc>,
    resolve: bool,
    by: &str,
    note: Option<&str>,
) -> Event {
    use privtrail_model::{Action, Source};
    let (action, verb) = if resolve {
        (Action::AlertResolved, "resolved")
    } else {
        (Action::AlertAcknowledged, "acknowledged")
    };
    let id = EventId::native(
        Source::Privtrail,
        "review",
        &format!(
            "{}:{verb}:{}",
            alert.id,
            now.timestamp_nanos_opt().unwrap_or_default()
        ),
    );
    let mut e = Event::new(id, Source::Privtrail, action, now, action.as_str());
    e.actor = Some(by.to_owned());
    e.target = alert.principal.clone();
    e.privilege = alert.privilege.clone();
    e.scope = alert.scope.clone();
    e.justification = note.map(str::to_owned).filter(|n| !n.trim().is_empty());
    e.correlation_id = Some(alert.id.clone());
    e.record_id = Some(alert.id.clone());
    e.message = match &e.justification {
        Some(n) => format!(
            "{by} {verb} alert {} ({}: {}): {n}",
            alert.id, alert.rule, alert.summary
        ),
        None => format!(
            "{by} {verb} alert {} ({}: {})",
            alert.id, alert.rule, alert.summary
        ),
    };
    e.raw = serde_json::json!({
        "alert": alert.id, "rule": alert.rule, "action": verb, "by": by, "note": note,
        "at": privtrail_model::format_time(now),
    })
    .to_string();
    e
}

/// One collector as the overview and `/metrics` show it.
#[derive(Debug, Clone)]
pub struct CollectorStatus {
    /// `entra:<tenant>:audit` or `entra:<tenant>:pim`.
    pub collector: String,
    pub last_success: Option<DateTime<Utc>>,
    pub last_failure: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Failures since the last success.
    pub failures: u64,
    /// No success for 3 of its intervals (or never, for as long).
    pub stale: bool,
}

/// The state of the store at a glance (`/metrics`, the UI's overview).
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// Unresolved alerts per severity, most severe first (all four, zeros included).
    pub open_alerts: Vec<(&'static str, u64)>,
    /// `(channel, status, count)` of the outbox.
    pub outbox: Vec<(String, &'static str, u64)>,
    pub collectors: Vec<CollectorStatus>,
    /// `(watched file, bytes not yet read)`.
    pub watch_lag: Vec<(String, u64)>,
    /// Stored events the rules have not judged yet.
    pub rules_lag: i64,
}

impl App {
    /// See [`Status`].
    pub fn status(&self) -> Result<Status> {
        let now = Utc::now();
        let mut open = [
            ("critical", 0u64),
            ("high", 0),
            ("medium", 0),
            ("low", 0),
            ("info", 0),
        ];
        for a in self.alerts(None)?.iter().filter(|a| a.is_active()) {
            if let Some(slot) = open.iter_mut().find(|(s, _)| *s == a.severity.as_str()) {
                slot.1 += 1;
            }
        }
        let outbox = self
            .store()
            .outbox_counts()?
            .into_iter()
            .map(|(c, s, n)| (c, s.as_str(), n))
            .collect();
        let mut collectors = Vec::new();
        for (key, value) in self
            .store()
            .checkpoints_with_prefix(crate::engine::RUN_PREFIX)?
        {
            let Ok(run) = serde_json::from_str::<crate::engine::RunRecord>(&value) else {
                continue;
            };
            let name = key.trim_start_matches(crate::engine::RUN_PREFIX).to_owned();
            let interval = self
                .config()
                .tenants
                .iter()
                .find(|t| {
                    name == format!("entra:{}:audit", t.name)
                        || name == format!("entra:{}:pim", t.name)
                })
                .map(|t| {
                    if name.ends_with(":pim") {
                        t.pim_schedule.interval(now)
                    } else {
                        t.schedule.interval(now)
                    }
                });
            let since = run.last_success.unwrap_or(run.first_attempt);
            collectors.push(CollectorStatus {
                stale: interval.is_some_and(|i| now - since > i * 3),
                collector: name,
                last_success: run.last_success,
                last_failure: run.last_failure,
                last_error: run.last_error,
                failures: run.failures,
            });
        }
        let mut watch_lag = Vec::new();
        for (key, value) in self
            .store()
            .checkpoints_with_prefix(crate::daemon::watch::WATCH_PREFIX)?
        {
            let Ok(pos) = serde_json::from_str::<crate::daemon::watch::FileState>(&value) else {
                continue;
            };
            let path = key
                .trim_start_matches(crate::daemon::watch::WATCH_PREFIX)
                .to_owned();
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            watch_lag.push((path, len.saturating_sub(pos.offset)));
        }
        let rules_lag = (self.store().last_seq()? - self.store().rules_cursor()?).max(0);
        Ok(Status {
            open_alerts: open.to_vec(),
            outbox,
            collectors,
            watch_lag,
            rules_lag,
        })
    }
}
