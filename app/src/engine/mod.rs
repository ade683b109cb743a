//! The rules job: rebuild elevations from the stored events, reconcile them with the latest PIM
//! snapshots, judge the events stored since the **rules cursor**, and update the alerts — and
//! commit elevations, alerts, their outbox entries and the new cursor in one transaction.
//!
//! The cursor (the last event sequence number judged) lives in the store, so whatever stored the
//! events (an import, a collection, the daemon's watcher, a process that died right after its
//! commit) the next run of the job judges them exactly once: a crash before the commit judges
//! them again (nothing was committed), a crash after it never does.
//!
//! Elevations are computed from every event that opens or closes one (a small share of all
//! events, read through a partial index on the actions the rules crate declares), which keeps them
//! correct whatever order events arrive in. A process computes them once and then keeps them up to
//! date from the inputs stored since its last run ([`RulesMemory`], with the active alerts).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use privtrail_ingest::graph::PimSnapshot;
use privtrail_model::{Action, Event};
use privtrail_rules::builtin::ParsedSettings;
use privtrail_rules::{
    Alert, Context, Elevation, Policy, Rule, Silence, apply_findings, evaluate_all,
    evaluate_new_events, max_lookback, reconcile,
};
use privtrail_store::{EventFilter, Store};

use crate::config::{Config, RouteConfig, Schedule};
use crate::error::{AppError, Result};
use crate::writer::WriteHandle;

mod ahead;
mod feed;
mod memory;
mod pim;
mod rows;
mod runs;

pub use feed::Feed;
pub use memory::RulesMemory;
use memory::Save;
pub use pim::{UpnMaps, joined_policy};
use pim::{known_settings, pim_views};
pub(crate) use rows::elevation_row;
pub use rows::{alert_row, decode_alert, load_alerts, load_elevations};
use runs::collector_runs;
pub use runs::{RUN_PREFIX, RunRecord, record_run};

/// The name of the partial index over the events elevations are built from.
pub const ELEVATION_INDEX: &str = "events_elevation_input";

/// The policy and rules of a configuration.
#[derive(Debug)]
pub struct Engine {
    pub policy: Policy,
    pub rules: Vec<Box<dyn Rule>>,
    pub renotify: Duration,
    /// Tenants whose PIM snapshots and users take part, with their audit schedule.
    pub tenants: Vec<(String, Schedule)>,
    /// Where alerts go (`[[routes]]`) and the web UI link put into them.
    pub routes: Vec<RouteConfig>,
    /// The configured channels' names (`delivery-failure` watches them).
    pub channels: Vec<String>,
    pub ui_url: Option<String>,
    /// The actions whose new events the rules look at; `None`: every event (custom rules).
    pub inputs: Option<Vec<Action>>,
    /// Those of them whose new events some rule reads whole (the others are read with only their
    /// identity: [`privtrail_rules::Rule::reads_ids_only`]); `None`: all of them.
    pub whole_inputs: Option<Vec<Action>>,
    /// The grace of `overdue-elevation` (its own setting, else the policy's).
    pub overdue_grace: Duration,
}

impl Engine {
    pub fn from_config(config: &Config) -> Result<Engine> {
        let rules = config
            .rules
            .build()
            .map_err(|e| AppError::Config(format!("invalid [rules]: {e}")))?;
        let policy = config.policy.policy();
        let overdue_grace = config.rules.overdue_grace(&policy);
        Ok(Engine {
            inputs: privtrail_rules::inputs_of(&rules),
            whole_inputs: privtrail_rules::whole_inputs_of(&rules),
            policy,
            rules,
            renotify: config.rules.renotify(),
            tenants: config
                .tenants
                .iter()
                .map(|t| (t.name.clone(), t.schedule.clone()))
                .collect(),
            routes: config.routes.clone(),
            channels: config.channels.iter().map(|c| c.name.clone()).collect(),
            ui_url: config.delivery.ui_url.clone(),
            overdue_grace,
        })
    }

    /// The one answer to "is this elevation overdue at `now`" (`overdue-elevation`,
    /// `elevations --overdue`, the demo and the UI all ask here).
    pub fn is_overdue(&self, e: &Elevation, now: DateTime<Utc>) -> bool {
        e.is_overdue(now, self.overdue_grace)
    }
}

/// What one evaluation did.
#[derive(Debug, Default)]
pub struct Evaluation {
    /// How many elevations the store holds after the run.
    pub elevations: usize,
    /// The open ones among them (a copy of all of them was ~6 % of a large run).
    pub open_elevations: Vec<Elevation>,
    pub opened: Vec<Alert>,
    pub resolved: Vec<Alert>,
    pub reconciled: usize,
    /// Events judged (past the cursor).
    pub judged: u64,
    /// Notifications put into the outbox.
    pub enqueued: u64,
    /// The cursor after this evaluation.
    pub cursor: i64,
    /// Elevation inputs read back from the store for the tracker: every stored one for a
    /// process's first run, but those it stored itself (fed as they committed,
    /// [`Feed`]); those stored since the last run for a later one.
    pub inputs_read: u64,
}

/// New events are read back and given to the rules in chunks of this many (without `raw`), so
/// that a large import does not hold all its events in memory.
const CHUNK: usize = 50_000;

/// Chunks whose results the writer may still be saving while the next one is judged.
const SAVES_IN_FLIGHT: usize = 4;

/// Runs the rules job once at `now`: every event past the stored cursor is judged (none may be
/// skipped, whichever process stored it), condition rules are evaluated, and the cursor moves in
/// the transaction that stores the results.
///
/// Callers serialize runs (two at once would judge the same events twice): [`crate::App::rules`]
/// holds a lock around it, the lock that guards the `memory` kept between runs.
pub fn evaluate(
    store: &Store,
    writer: &WriteHandle,
    engine: &Engine,
    now: DateTime<Utc>,
    memory: &mut RulesMemory,
) -> Result<Evaluation> {
    evaluate_in_chunks(store, writer, engine, now, memory, CHUNK)
}

/// [`evaluate`], judging the new events `chunk` at a time.
fn evaluate_in_chunks(
    store: &Store,
    writer: &WriteHandle,
    engine: &Engine,
    now: DateTime<Utc>,
    memory: &mut RulesMemory,
    chunk: usize,
) -> Result<Evaluation> {
    let started = std::time::Instant::now();
    let cursor = store.rules_cursor()?;
    // The bound first: every event up to it is in the elevation inputs read next.
    let upto = store.last_seq()?;
    let (policy, upn_of) = joined_policy(store, engine)?;

    let wanted: Option<Vec<&str>> = engine
        .inputs
        .as_ref()
        .map(|a| a.iter().map(|a| a.as_str()).collect());
    // The few events whose record a rule reads (an activation's ticket, a role-setting change)
    // come with their `raw`, read and parsed on the reading thread.
    let raw_wanted = privtrail_rules::raw_inputs_of(&engine.rules);
    let raw_wanted: Vec<&str> = raw_wanted.iter().map(|a| a.as_str()).collect();
    let whole: Option<Vec<&str>> = engine
        .whole_inputs
        .as_ref()
        .map(|a| a.iter().map(|a| a.as_str()).collect());
    let mut pieces = ahead::pieces_after(
        store,
        cursor,
        upto,
        wanted.as_deref(),
        (&raw_wanted, whole.as_deref()),
        chunk,
    );
    // The chunks are read once the tracker's inputs are: reading both at once only slowed the
    // rebuild (two reading threads on two cores, beside the judging thread adding inputs).
    let (open, gate) = std::sync::mpsc::sync_channel::<()>(1);
    let mut gate = Some(gate);
    let read = || {
        // Closed without a word: the run ended before its tracker was ready.
        if let Some(g) = gate.take()
            && g.recv().is_err()
        {
            return Ok(None);
        }
        let Some((events, next)) = pieces()? else {
            return Ok(None);
        };
        let settings = ParsedSettings::of(&events);
        Ok(Some((events, next, settings)))
    };
    // The next chunk is decoded on the other core while this one is judged, and a chunk's results
    // are saved by the writer while the next ones are judged. Four saves in flight: the first
    // (every elevation of a large import, 105,581 rows after 1M Graph records) takes as long as
    // judging four chunks, and with two the judging thread sat idle waiting for it (a thread
    // timeline of `perf` samples: ~0.5 s of a 4 s run, ARCHITECTURE item 27). The writer runs them in
    // order; once one fails, the ones queued behind it save nothing (`None`), or their cursor
    // would pass events whose results were lost.
    let mut saving: VecDeque<(crossbeam_channel::Receiver<_>, i64)> = VecDeque::new();
    let failed = Arc::new(AtomicBool::new(false));
    // The first chunks are read while the tracker's rebuild ends (its keys computed on the judging
    // thread alone, ~0.5 s after a million-record import), the elevations are named and their
    // rows made, and the run's other inputs read.
    let (tracker, first_seq, saved, alerts, mut out) = ahead::read_ahead(read, |next_chunk| {
        let memory::Recalled {
            mut tracker,
            first_seq,
            saved,
            read: inputs_read,
        } = memory.recall(store, &policy, upto, move || {
            // Refused only once the run has ended (it no longer reads).
            let _ = open.send(());
        })?;
        let mut reconciled = 0;
        let mut role_settings = Vec::new();
        for (t, _) in &engine.tenants {
            let Some(snap) = store.latest_snapshot(t, "pim")? else {
                continue;
            };
            let snap: PimSnapshot = serde_json::from_str(&snap.body).map_err(AppError::json(
                format!("stored PIM snapshot of tenant {t:?} is unreadable"),
            ))?;
            role_settings.extend(known_settings(t, &snap));
            let views = pim_views(&snap, upn_of.get(t));
            let open: Vec<Elevation> = tracker.open().cloned().collect();
            let rec = reconcile(&open, &views, snap.taken_at, t, &policy);
            if !rec.events.is_empty() {
                // Stored (and chained) like any event; judged by the next run (past `upto`).
                let events = rec.events.clone();
                let stats = writer.call(move |w| w.write_batch(&events, &[]))??;
                reconciled += stats.stored as usize;
                tracker.apply(&rec.events);
            }
        }
        let mut out = Evaluation {
            reconciled,
            cursor,
            inputs_read,
            ..Evaluation::default()
        };
        // Names before the rules: their summaries and the notifications speak in them. Named where
        // they are (a copy of a million-record import's elevations was ~50 MB of the run's peak).
        let mut namer = crate::names::Namer::preloaded(store)?;
        tracker.rename(|p, at| namer.name(p, Some(at)))?;
        let elevations = tracker.elevations();
        let (save, saved) = memory::changes(saved.as_ref(), elevations, elevation_row)?;
        let mut elevation_rows = Some(save);

        let lookback = max_lookback(&engine.rules);
        let recent = if lookback > Duration::zero() {
            let from = now.checked_sub_signed(lookback).unwrap_or(now);
            let until = now + Duration::seconds(1);
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
        let collectors = collector_runs(store, engine, now)?;
        let channels = crate::deliver::channel_health(store, &engine.channels)?;
        // Once a day: the last completed day's Windows event volume (`noisy-audit-policy`), given to
        // the first chunk only; the rule sits out the other evaluations (`Rule::judges`).
        let mut volume = crate::noisy::due(store, engine, now)?;
        let mut alerts = memory.take_alerts(store)?;
        let mut first = true;
        let mut done = None;
        while let Some((new_events, next, settings)) = next_chunk(done.take())? {
            out.judged += new_events.len() as u64;
            let ctx = Context {
                new_events: &new_events,
                recent_events: &recent,
                elevations,
                now,
                policy: &policy,
                collectors: &collectors,
                channels: &channels,
                granters: tracker.granters(),
                role_settings: &role_settings,
                volume: volume.as_ref(),
                settings: Some(&settings),
            };
            // The state (elevations, collectors, channels, `now`) is the same for every chunk of
            // a run: the rules that look only at it judge the first chunk only.
            let (findings, evaluated) = if first {
                evaluate_all(&engine.rules, &ctx)
            } else {
                evaluate_new_events(&engine.rules, &ctx)
            };
            first = false;
            let changes = apply_findings(
                &alerts,
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
            // The notifications are enqueued in the transaction that saves the alerts and the cursor.
            let notify: HashSet<&str> = changes.notify.iter().map(String::as_str).collect();
            let to_notify: Vec<&Alert> = changes
                .opened
                .iter()
                .chain(&changes.updated)
                .filter(|a| notify.contains(a.id.as_str()))
                .collect();
            let entries = crate::deliver::alert_entries(
                &engine.routes,
                &engine.channels,
                engine.ui_url.as_deref(),
                &to_notify,
            )?;
            if saving.len() == SAVES_IN_FLIGHT
                && let Some((rx, cursor)) = saving.pop_front()
            {
                out.enqueued += enqueued_by(rx)?;
                out.cursor = cursor;
            }
            let els = elevation_rows.take();
            let day = volume.take().map(|v| v.day);
            let failed = Arc::clone(&failed);
            let rx = writer.submit(move |w| {
                if failed.load(Ordering::Acquire) {
                    return None;
                }
                let saved =
                    w.save_rules_result(els.as_ref().map(Save::as_write), &rows, &entries, next);
                let saved = match (saved, day) {
                    // After the results it produced: see `crate::noisy`.
                    (Ok(n), Some(day)) => crate::noisy::mark_judged(w, day).map(|()| n),
                    (saved, _) => saved,
                };
                failed.store(saved.is_err(), Ordering::Release);
                Some(saved)
            })?;
            saving.push_back((rx, next));
            memory::apply_alert_changes(&mut alerts, &changes);
            out.opened.extend(changes.opened);
            out.resolved.extend(changes.resolved);
            // Freed on the reading thread.
            done = Some((new_events, next, settings));
        }
        out.elevations = elevations.len();
        out.open_elevations = elevations.iter().filter(|e| e.is_open()).cloned().collect();
        Ok((tracker, first_seq, saved, alerts, out))
    })?;
    for (rx, cursor) in saving {
        out.enqueued += enqueued_by(rx)?;
        out.cursor = cursor;
    }
    if out.enqueued > 0 {
        writer.notify_outbox();
    }
    memory.keep(tracker, policy, upto, first_seq, saved);
    memory.keep_alerts(alerts);
    tracing::debug!(
        judged = out.judged,
        opened = out.opened.len(),
        elevations = out.elevations,
        took_ms = started.elapsed().as_millis() as u64,
        "rules run"
    );
    Ok(out)
}

/// What a save queued by [`evaluate_in_chunks`] enqueued. Saves are awaited in order, so the first
/// failure is the one reported; a save skipped behind it is never awaited.
fn enqueued_by(
    rx: crossbeam_channel::Receiver<Option<std::result::Result<u64, privtrail_store::StoreError>>>,
) -> Result<u64> {
    match crate::writer::wait(rx)? {
        Some(saved) => Ok(saved?),
        None => Err(AppError::WriterStopped(
            "a rules result was not saved: an earlier save of the same run failed".into(),
        )),
    }
}

/// Shared handle type for the forwarding function (event → outbox entries).
pub type ForwardFn = Arc<dyn Fn(&Event) -> Vec<privtrail_store::OutboxEntry> + Send + Sync>;

#[cfg(test)]
mod tests;
