//! The remediation job: plan new actions, send the approved ones, trip the circuit breaker.

use chrono::{DateTime, Duration, Utc};
use privtrail_model::{Action, Event, EventId, Outcome as EventOutcome, Source};
use serde::Serialize;

use super::plan::Decision;
use super::receiver::{Outcome, Receivers};
use super::{Remediation, State};
use crate::App;
use crate::config::Mode;
use crate::engine::load_elevations;
use crate::error::Result;

/// A transiently failing action is given up (failed) after this many sends.
pub const MAX_ATTEMPTS: u32 = 5;

/// How long after its `attempts`-th send an action that failed transiently is sent again: 1, 2, 4,
/// 8 minutes.
pub fn retry_delay(attempts: u32) -> Duration {
    Duration::minutes(1 << attempts.saturating_sub(1).min(10))
}

/// Who privtrail's own steps are by.
const SELF: &str = "privtrail";

/// What a run did (or, dry, would do) to one alert's action.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// The action's id (empty for an alert that is skipped).
    pub id: String,
    pub alert_id: String,
    pub rule: String,
    /// `proposed`, `approved`, `skipped`, `sent`, `succeeded`, `failed`, `retrying`,
    /// `rejected`, `waiting`, and with `--dry-run` `would propose|enforce|send`.
    pub step: String,
    pub detail: String,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub mode: String,
    pub dry_run: bool,
    pub lines: Vec<Line>,
    /// Set when the circuit breaker stopped this run.
    pub breaker: Option<String>,
}

impl RunReport {
    fn line(&mut self, r: &Remediation, step: &str, detail: impl Into<String>) {
        self.lines.push(Line {
            id: r.id.clone(),
            alert_id: r.alert_id.clone(),
            rule: r.rule.clone(),
            step: step.to_owned(),
            detail: detail.into(),
        });
    }
}

/// Runs the job once at `now`. With `dry_run` nothing is stored or sent: the report says what
/// would be. Mode `off` does nothing at all, approved actions included.
pub fn run(
    app: &App,
    receivers: &Receivers,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<RunReport> {
    let config = &app.config().remediation;
    let mut report = RunReport {
        mode: config.mode.as_str().to_owned(),
        dry_run,
        ..RunReport::default()
    };
    if config.mode == Mode::Off {
        return Ok(report);
    }
    propose(app, now, dry_run, &mut report)?;
    execute(app, receivers, now, dry_run, &mut report)?;
    Ok(report)
}

fn propose(app: &App, now: DateTime<Utc>, dry_run: bool, report: &mut RunReport) -> Result<()> {
    // Proposals are remediation state and chained events; alerts are only read.
    let _guard = app.alerts_read_lock();
    let alerts = app.alerts(None)?;
    for d in app.remediation_plan(&alerts, now)? {
        match d {
            Decision::Skip {
                alert_id,
                rule,
                reason,
            } => report.lines.push(Line {
                id: String::new(),
                alert_id,
                rule,
                step: "skipped".into(),
                detail: reason,
            }),
            Decision::Act(r) => {
                let mut r = *r;
                let enforce = r.mode == Mode::Enforce;
                if dry_run {
                    let step = if enforce {
                        "would enforce"
                    } else {
                        "would propose"
                    };
                    report.line(&r, step, r.describe());
                    continue;
                }
                let why = r.capped.clone().unwrap_or_else(|| r.describe());
                let mut events = vec![r.advance(
                    State::Proposed,
                    Action::RemediationProposed,
                    now,
                    SELF,
                    Some(&why),
                )];
                if enforce {
                    events.push(r.advance(
                        State::Approved,
                        Action::RemediationApproved,
                        now,
                        "policy",
                        Some("[remediation] mode = \"enforce\""),
                    ));
                }
                app.save_remediation(&r, events)?;
                report.line(&r, r.state.as_str(), r.describe());
            }
        }
    }
    Ok(())
}

fn execute(
    app: &App,
    receivers: &Receivers,
    now: DateTime<Utc>,
    dry_run: bool,
    report: &mut RunReport,
) -> Result<()> {
    let max = app.config().remediation.max_per_hour();
    let all = app.remediations()?;
    let mut sent_last_hour = all
        .iter()
        .filter(|r| r.last_sent_at.is_some_and(|t| now - t < Duration::hours(1)))
        .count() as u32;
    let mut due: Vec<Remediation> = all
        .into_iter()
        .filter(|r| matches!(r.state, State::Approved | State::Sending))
        .collect();
    due.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
    let waiting = due.len();
    let mut elevations = None;
    for (i, mut r) in due.into_iter().enumerate() {
        let Some(receiver) = receivers.for_target(&r.target) else {
            report.line(
                &r,
                "waiting",
                "no receiver configured for this kind of action",
            );
            continue;
        };
        if r.state == State::Sending {
            // Sent before, answer never recorded: did it take effect?
            match receiver.find(&r) {
                Ok(Some(answer)) => {
                    let summary =
                        format!("found after an interruption: {}", answer_summary(&answer));
                    if !dry_run {
                        let e = r.advance(
                            State::Succeeded,
                            Action::RemediationSucceeded,
                            now,
                            SELF,
                            Some(&summary),
                        );
                        app.save_remediation(&r, vec![with_answer(e, &answer)])?;
                    }
                    report.line(&r, "succeeded", summary);
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    report.line(&r, "waiting", format!("cannot ask the receiver yet: {e}"));
                    continue;
                }
            }
        } else if let Some(at) = r
            .last_sent_at
            .filter(|_| r.history.last().is_some_and(|s| s.step == "failed"))
            .map(|t| t + retry_delay(r.attempts))
            .filter(|at| *at > now)
        {
            report.line(
                &r,
                "waiting",
                format!("next attempt at {}", privtrail_model::format_time(at)),
            );
            continue;
        } else if let Some(why) = no_longer_needed(app, &r, &mut elevations)? {
            if !dry_run {
                let e = r.advance(
                    State::Rejected,
                    Action::RemediationRejected,
                    now,
                    SELF,
                    Some(&why),
                );
                app.save_remediation(&r, vec![e])?;
            }
            report.line(&r, "rejected", why);
            continue;
        }
        if sent_last_hour >= max {
            let msg = format!(
                "circuit breaker: {sent_last_hour} remediation actions sent in the last hour \
                 (max_per_hour = {max}); remediation stopped with {} approved action(s) waiting",
                waiting - i
            );
            if !dry_run {
                let e = breaker_event(now, &msg);
                let writer = app.writer()?;
                writer.call(move |w| w.write_batch(&[e], &[]))??;
                writer.notify_stored();
            }
            tracing::warn!(
                sent = sent_last_hour,
                max,
                "remediation circuit breaker tripped"
            );
            report.breaker = Some(msg);
            break;
        }
        if dry_run {
            report.line(&r, "would send", r.describe());
            continue;
        }
        r.attempts += 1;
        r.last_sent_at = Some(now);
        sent_last_hour += 1;
        let key = r.key();
        let e = r.advance(
            State::Sending,
            Action::RemediationSent,
            now,
            SELF,
            Some(&key),
        );
        // Committed before the request: a crash from here on is found by `find` next time.
        app.save_remediation(&r, vec![e])?;
        let outcome = receiver.send(&r, now);
        let done = Utc::now().max(now);
        let (events, step, detail) = match outcome {
            Outcome::Done { summary, answer } => {
                let e = r.advance(
                    State::Succeeded,
                    Action::RemediationSucceeded,
                    done,
                    SELF,
                    Some(&summary),
                );
                (vec![with_answer(e, &answer)], "succeeded", summary)
            }
            Outcome::Refused { answer, error } => {
                let mut ev = vec![r.advance(
                    State::Failed,
                    Action::RemediationFailed,
                    done,
                    SELF,
                    Some(&answer),
                )];
                ev.extend(error.map(|e| *e));
                (ev, "failed", answer)
            }
            Outcome::Retry(msg) if r.attempts >= MAX_ATTEMPTS => {
                let detail = format!("gave up after {} attempts: {msg}", r.attempts);
                (
                    vec![r.advance(
                        State::Failed,
                        Action::RemediationFailed,
                        done,
                        SELF,
                        Some(&detail),
                    )],
                    "failed",
                    detail,
                )
            }
            Outcome::Retry(msg) => {
                let detail = format!("will try again: {msg}");
                (
                    vec![r.advance(
                        State::Approved,
                        Action::RemediationFailed,
                        done,
                        SELF,
                        Some(&detail),
                    )],
                    "retrying",
                    detail,
                )
            }
        };
        app.save_remediation(&r, events)?;
        report.line(&r, step, detail);
    }
    Ok(())
}

/// The receiver's whole answer, kept in the step's event (`raw.answer`): evidence of what it said.
fn with_answer(mut e: Event, answer: &str) -> Event {
    if let Ok(serde_json::Value::Object(mut m)) = serde_json::from_str(&e.raw) {
        let value = serde_json::from_str(answer).unwrap_or_else(|_| answer.into());
        m.insert("answer".into(), value);
        e.raw = serde_json::Value::Object(m).to_string();
    }
    e
}

/// A found Graph request in a line.
fn answer_summary(answer: &str) -> String {
    serde_json::from_str(answer)
        .map(|v| super::receiver::graph_summary(&v))
        .unwrap_or_else(|_| answer.chars().take(200).collect())
}

/// Why an approved action need not be sent any more: its alert was resolved or its elevation
/// ended (someone removed it by hand, or it expired after all).
fn no_longer_needed(
    app: &App,
    r: &Remediation,
    elevations: &mut Option<Vec<privtrail_rules::Elevation>>,
) -> Result<Option<String>> {
    match app.alert(&r.alert_id)? {
        Some(a) if a.is_active() => {}
        Some(_) => {
            return Ok(Some(format!(
                "no longer needed: alert {} is resolved",
                r.alert_id
            )));
        }
        None => {
            return Ok(Some(format!(
                "no longer needed: alert {} is gone",
                r.alert_id
            )));
        }
    }
    // Read once per run, on the first action that needs them.
    if elevations.is_none() {
        *elevations = Some(load_elevations(app.store())?);
    }
    let ended = elevations
        .iter()
        .flatten()
        .find(|e| e.id == r.elevation_id)
        .is_none_or(|e| e.ended_at.is_some());
    Ok(ended.then(|| "no longer needed: the elevation ended".to_owned()))
}

/// The `collector.error` event of a tripped breaker (one per hour), which `collector-failure`
/// turns into an alert.
fn breaker_event(now: DateTime<Utc>, msg: &str) -> Event {
    let hour = now.format("%Y-%m-%dT%HZ").to_string();
    let mut e = Event::new(
        EventId::native(Source::Privtrail, "remediation", &format!("breaker|{hour}")),
        Source::Privtrail,
        Action::CollectorError,
        now,
        "remediation.breaker",
    );
    e.host = Some(SELF.to_owned());
    e.outcome = EventOutcome::Failure;
    e.actor = Some(SELF.to_owned());
    e.message = msg.to_owned();
    e.raw = serde_json::json!({"collector": "remediation", "kind": "breaker", "message": msg})
        .to_string();
    e
}
