//! `privtrail run`: the daemon. One process owns the data directory (the lock of [`App`]) and runs
//! every job concurrently through the one writer:
//!
//! - per tenant, the audit pull on `schedule` and the PIM snapshot on `pim_schedule` (each also
//!   once at start);
//! - per `[[windows]]` entry, a [`Watcher`] scanning every `[daemon] watch_interval`;
//! - the rules job, woken when events are stored and on `[daemon] sweep_schedule` (overdue
//!   elevations fire without new events); it judges every event past the stored cursor;
//! - remediation (`[remediation]` not off), right after each rules run: new actions planned,
//!   approved ones sent;
//! - delivery, woken when the outbox may have grown and when the next message is due.
//!
//! Each job runs on a blocking thread (SQLite, parsing and `Handle::block_on` for HTTP), never on
//! the executor. A failing job is logged and counted ([`JobStats`]) and tried again on its next
//! turn; it never stops the others. [`Shutdown`] stops them all: the watchers and collectors stop
//! between batches, the batch in flight and the deliveries in flight finish, within
//! `[daemon] shutdown_timeout`.

mod shutdown;
pub mod watch;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::Utc;
use serde::Serialize;
use tokio::runtime::Handle;
use tokio::task::JoinSet;

pub use shutdown::Shutdown;
pub use watch::Watcher;

use crate::App;
use crate::collect::{CollectOptions, collect_tenant};
use crate::config::Schedule;
use crate::deliver::{Channel, channels, deliver_due};
use crate::error::{AppError, Result};

/// After a rules run that judged at least [`RULES_BUSY`] events, the next one starts no sooner than
/// this after it started. Under a steady push every run finds new events, and each run also costs
/// what does not depend on how many (the joined policy, names, the elevation list, condition rules,
/// a transaction on the writer): back to back, that was paid dozens of times a second. A run that
/// judged a few events (a quiet estate, one alert on its way) is followed at once; under load an
/// alert waits at most this much longer (SPEC §9 allows 500 ms from event to outbox).
const RULES_MIN_GAP: StdDuration = StdDuration::from_millis(100);

/// Events judged by one run from which the daemon takes more to come: see [`RULES_MIN_GAP`].
const RULES_BUSY: u64 = 1_000;

/// How the daemon runs.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Run every job once and return (`run --once`).
    pub once: bool,
}

/// Runs, failures and the last error of one job.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobStat {
    pub runs: u64,
    pub failures: u64,
    pub last_error: Option<String>,
    /// Whether the latest run failed.
    pub failing: bool,
    #[serde(with = "privtrail_model::serde_opt_time")]
    pub last_success: Option<chrono::DateTime<Utc>>,
}

/// Every job's [`JobStat`], by job name (`collect:contoso`, `pim:contoso`, `watch:/var/log/wef`,
/// `rules`, `deliver`).
#[derive(Debug, Default)]
pub struct JobStats {
    jobs: Mutex<BTreeMap<String, JobStat>>,
}

impl JobStats {
    fn record(&self, job: &str, result: &Result<()>) {
        let mut jobs = self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = jobs.entry(job.to_owned()).or_default();
        s.runs += 1;
        s.failing = result.is_err();
        match result {
            Ok(()) => s.last_success = Some(Utc::now()),
            Err(e) => {
                s.failures += 1;
                s.last_error = Some(e.to_string());
            }
        }
    }

    /// A copy of every job's figures.
    pub fn snapshot(&self) -> BTreeMap<String, JobStat> {
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether any job's latest run failed.
    pub fn any_failed(&self) -> bool {
        self.snapshot().values().any(|s| s.failing)
    }
}

/// The jobs of one daemon, ready to run.
struct Daemon {
    app: Arc<App>,
    shutdown: Arc<Shutdown>,
    stats: Arc<JobStats>,
    watchers: Vec<Arc<Mutex<Watcher>>>,
    channels: Arc<HashMap<String, Channel>>,
    /// `None` when `[remediation] mode = "off"`.
    receivers: Option<Arc<crate::remediate::receiver::Receivers>>,
}

/// Runs the daemon until `shutdown` is triggered (or, with `once`, until every job ran once).
/// Returns the job figures; with `once`, the caller turns failures into the exit status.
pub async fn run(
    app: Arc<App>,
    shutdown: Arc<Shutdown>,
    opts: RunOptions,
) -> Result<Arc<JobStats>> {
    app.writer()?;
    let rt = Handle::current();
    let chans = channels(&rt, &app.config().channels, &app.config().delivery)?;
    let watchers = app
        .config()
        .windows
        .iter()
        .map(|w| Watcher::new(&app, w.clone()).map(|w| Arc::new(Mutex::new(w))))
        .collect::<Result<Vec<_>>>()?;
    let receivers = if app.config().remediation.mode == crate::config::Mode::Off {
        None
    } else {
        Some(Arc::new(
            crate::remediate::receiver::Receivers::from_config(&rt, app.config())?,
        ))
    };
    let d = Arc::new(Daemon {
        app,
        shutdown,
        stats: Arc::new(JobStats::default()),
        watchers,
        channels: Arc::new(chans),
        receivers,
    });
    if opts.once {
        d.run_once().await;
        return Ok(Arc::clone(&d.stats));
    }
    tracing::info!(
        tenants = d.app.config().tenants.len(),
        watched = d.watchers.len(),
        channels = d.channels.len(),
        "daemon started"
    );
    let mut tasks = JoinSet::new();
    for t in &d.app.config().tenants {
        let name = t.name.clone();
        // The first PIM snapshot waits for the first audit pull: reconciling a snapshot with an
        // audit log that is not yet read would open elevations from the snapshot that the
        // log's own records open a moment later.
        let (first_pull, after_first_pull) = tokio::sync::watch::channel(false);
        let (dd, n) = (Arc::clone(&d), name.clone());
        tasks.spawn(Arc::clone(&d).scheduled(
            format!("collect:{name}"),
            t.schedule.clone(),
            None,
            Some(first_pull),
            move || dd.collect(&n, false),
        ));
        let (dd, n) = (Arc::clone(&d), name.clone());
        tasks.spawn(Arc::clone(&d).scheduled(
            format!("pim:{name}"),
            t.pim_schedule.clone(),
            Some(after_first_pull),
            None,
            move || dd.collect(&n, true),
        ));
    }
    for w in &d.watchers {
        tasks.spawn(Arc::clone(&d).watch(Arc::clone(w)));
    }
    if d.app.config().retention.enabled() {
        let app = Arc::clone(&d.app);
        let schedule = d.app.config().retention.schedule.clone();
        tasks.spawn(
            Arc::clone(&d).scheduled("purge".into(), schedule, None, None, move || {
                crate::retention::purge(&app, Utc::now()).map(|_| ())
            }),
        );
    }
    tasks.spawn(Arc::clone(&d).rules_loop());
    tasks.spawn(Arc::clone(&d).delivery_loop());

    d.shutdown.wait().await;
    tracing::info!("stopping: finishing the batches and deliveries in flight");
    let deadline = d
        .app
        .config()
        .daemon
        .shutdown_timeout
        .0
        .to_std()
        .unwrap_or_default();
    let all_done = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(deadline, all_done).await.is_err() {
        tracing::warn!(
            timeout = ?deadline,
            "jobs still running at the shutdown deadline; their uncommitted work is dropped (nothing committed is lost)"
        );
    }
    // The last head, anchored whatever the interval: a restart can be told from a truncation.
    let app = Arc::clone(&d.app);
    let anchored =
        tokio::task::spawn_blocking(move || crate::anchor::publish(&app, Utc::now(), true)).await;
    if let Ok(Err(e)) = anchored {
        tracing::error!(error = %e, "publishing the last chain anchor failed");
    }
    Ok(Arc::clone(&d.stats))
}

impl Daemon {
    /// Runs `job` on a blocking thread and records how it went.
    async fn job<F>(&self, name: &str, job: F) -> Result<()>
    where
        F: FnOnce() -> Result<()> + Send + 'static,
    {
        let result = match tokio::task::spawn_blocking(job).await {
            Ok(r) => r,
            Err(e) => Err(AppError::failed(format!("job {name}"), e)),
        };
        match &result {
            Ok(()) => tracing::debug!(job = name, "job done"),
            Err(AppError::Cancelled) => {}
            Err(e) => {
                tracing::error!(job = name, error = %e, "job failed; it runs again on its schedule")
            }
        }
        if !matches!(result, Err(AppError::Cancelled)) {
            self.stats.record(name, &result);
        }
        result
    }

    fn stop_fn(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let s = Arc::clone(&self.shutdown);
        move || s.is_set()
    }

    /// Once at start (after `wait_for` says so, when given), then at every firing of `schedule`,
    /// until shutdown; `first_done` is told when the first run ended.
    fn scheduled<F>(
        self: Arc<Self>,
        name: String,
        schedule: Schedule,
        wait_for: Option<tokio::sync::watch::Receiver<bool>>,
        first_done: Option<tokio::sync::watch::Sender<bool>>,
        job: F,
    ) -> impl Future<Output = ()> + Send + 'static
    where
        F: Fn() -> Result<()> + Send + Sync + 'static,
    {
        let job = Arc::new(job);
        async move {
            if let Some(mut rx) = wait_for {
                tokio::select! {
                    _ = rx.wait_for(|done| *done) => {}
                    () = self.shutdown.wait() => return,
                }
            }
            let mut first_done = first_done;
            loop {
                let j = Arc::clone(&job);
                let _ = self.job(&name, move || j()).await;
                if let Some(tx) = first_done.take() {
                    let _ = tx.send(true);
                }
                let now = Utc::now();
                let Some(next) = schedule.next_after(now) else {
                    return;
                };
                let wait = (next - now).to_std().unwrap_or_default();
                if self.shutdown.sleep(wait).await {
                    return;
                }
            }
        }
    }

    /// One collection of `tenant`: the audit pull, or (`pim`) the PIM snapshot.
    fn collect(&self, tenant: &str, pim: bool) -> Result<()> {
        let app = Arc::clone(&self.app);
        let Some(t) = app.config().tenant(tenant).cloned() else {
            return Ok(());
        };
        let opts = CollectOptions {
            since: None,
            no_audit: pim,
            no_pim: !pim,
        };
        let stop = self.stop_fn();
        let report = collect_tenant(
            &Handle::current(),
            app.store(),
            app.writer()?,
            &t,
            &opts,
            app.forward(),
            &stop,
        )?;
        if report.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::failed(
                format!("collecting tenant {tenant:?}"),
                report.errors.join("; "),
            ))
        }
    }

    async fn watch(self: Arc<Self>, w: Arc<Mutex<Watcher>>) {
        let name = {
            let g = w.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            format!("watch:{}", g.path())
        };
        let interval = self
            .app
            .config()
            .daemon
            .watch_interval
            .0
            .to_std()
            .unwrap_or(StdDuration::from_secs(1));
        loop {
            let _ = self.scan(&name, &w, true).await;
            if self.shutdown.sleep(interval).await {
                return;
            }
        }
    }

    /// One scan of a watcher as the job `name`. A file that cannot be read is reported and the
    /// scan goes on; in the daemon (`settle`) the job still succeeds (the file is tried again when
    /// it changes), in `run --once` it fails.
    async fn scan(&self, name: &str, w: &Arc<Mutex<Watcher>>, settle: bool) -> Result<()> {
        let (app, w, stop) = (Arc::clone(&self.app), Arc::clone(w), self.stop_fn());
        self.job(name, move || {
            let mut g = w.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let report = g.scan(&app, settle, &stop)?;
            if report.errors.is_empty() {
                return Ok(());
            }
            tracing::warn!(errors = ?report.errors, "watched files with errors");
            if settle {
                Ok(())
            } else {
                Err(AppError::failed("watched files", report.errors.join("; ")))
            }
        })
        .await
    }

    /// Runs the rules job whenever events were stored (after a busy run, [`RULES_MIN_GAP`] after
    /// it started), and on the sweep schedule.
    async fn rules_loop(self: Arc<Self>) {
        let schedule = self.app.config().daemon.sweep_schedule.clone();
        let judged = Arc::new(std::sync::atomic::AtomicU64::new(0));
        loop {
            let started = std::time::Instant::now();
            let app = Arc::clone(&self.app);
            let judged_by_run = Arc::clone(&judged);
            judged.store(0, std::sync::atomic::Ordering::Relaxed);
            let _ = self
                .job("rules", move || {
                    let ev = app.rules(Utc::now())?;
                    judged_by_run.store(ev.judged, std::sync::atomic::Ordering::Relaxed);
                    if !ev.opened.is_empty() || !ev.resolved.is_empty() {
                        tracing::info!(
                            judged = ev.judged,
                            opened = ev.opened.len(),
                            resolved = ev.resolved.len(),
                            enqueued = ev.enqueued,
                            "rules"
                        );
                    }
                    Ok(())
                })
                .await;
            let _ = self.remediate().await;
            let now = Utc::now();
            let sweep = schedule
                .next_after(now)
                .and_then(|t| (t - now).to_std().ok())
                .unwrap_or(StdDuration::from_secs(60));
            if self.pause(|w| w.stored(), sweep).await {
                return;
            }
            let busy = judged.load(std::sync::atomic::Ordering::Relaxed) >= RULES_BUSY;
            if let Some(rest) = RULES_MIN_GAP
                .checked_sub(started.elapsed())
                .filter(|_| busy)
            {
                tokio::time::sleep(rest).await;
                if self.shutdown.is_set() {
                    return;
                }
            }
        }
    }

    /// The remediation job, when `[remediation]` is on.
    async fn remediate(&self) -> Result<()> {
        let Some(receivers) = self.receivers.clone() else {
            return Ok(());
        };
        let app = Arc::clone(&self.app);
        self.job("remediate", move || {
            let report = crate::remediate::run::run(&app, &receivers, Utc::now(), false)?;
            for l in report.lines.iter().filter(|l| l.step != "skipped") {
                tracing::info!(action = %l.id, alert = %l.alert_id, step = %l.step, detail = %l.detail, "remediation");
            }
            match report.breaker {
                Some(b) => Err(AppError::failed("remediation", b)),
                None => Ok(()),
            }
        })
        .await
    }

    /// Waits until the writer's notification `which` fires or `d` passes; `true` when stopping.
    async fn pause(
        &self,
        which: impl Fn(&crate::WriteHandle) -> &tokio::sync::Notify,
        d: StdDuration,
    ) -> bool {
        let Ok(writer) = self.app.writer() else {
            return true;
        };
        tokio::select! {
            () = which(writer).notified() => self.shutdown.is_set(),
            () = tokio::time::sleep(d) => self.shutdown.is_set(),
            () = self.shutdown.wait() => true,
        }
    }

    /// Delivers what is due; sleeps until the next message is due or the outbox grows.
    async fn delivery_loop(self: Arc<Self>) {
        loop {
            let _ = self.deliver_round().await;
            let next = self.app.store().outbox_next_due().ok().flatten();
            let wait = next
                .map(|t| (t - Utc::now()).to_std().unwrap_or_default())
                .unwrap_or(StdDuration::from_secs(60))
                .clamp(StdDuration::from_millis(20), StdDuration::from_secs(60));
            if self.pause(|w| w.outbox(), wait).await {
                return;
            }
        }
    }

    async fn deliver_round(&self) -> Result<()> {
        let (app, chans, stop) = (
            Arc::clone(&self.app),
            Arc::clone(&self.channels),
            self.stop_fn(),
        );
        self.job("deliver", move || {
            let report = deliver_due(
                &Handle::current(),
                app.store(),
                app.writer()?,
                &chans,
                &app.config().delivery,
                Utc::now(),
                &stop,
            )?;
            if report.delivered > 0 || report.retried > 0 || report.dead > 0 {
                tracing::info!(
                    delivered = report.delivered,
                    retrying = report.retried,
                    dead = report.dead,
                    "delivery"
                );
            }
            if report.health_changed {
                // A channel started or stopped failing: the rules loop raises or resolves
                // `delivery-failure` now, not at the next sweep.
                app.writer()?.notify_stored();
            }
            Ok(())
        })
        .await
    }

    /// `run --once`: every job once, in pipeline order.
    async fn run_once(self: &Arc<Self>) {
        for t in &self.app.config().tenants {
            for pim in [false, true] {
                let (d, n) = (Arc::clone(self), t.name.clone());
                let name = format!("{}:{}", if pim { "pim" } else { "collect" }, t.name);
                let _ = self.job(&name, move || d.collect(&n, pim)).await;
            }
        }
        for w in &self.watchers {
            let name = format!(
                "watch:{}",
                w.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .path()
            );
            let _ = self.scan(&name, w, false).await;
        }
        let app = Arc::clone(&self.app);
        let _ = self
            .job("rules", move || app.rules(Utc::now()).map(|_| ()))
            .await;
        let _ = self.remediate().await;
        if self.receivers.is_some() {
            // Its failures are events: judge them in this run.
            let app = Arc::clone(&self.app);
            let _ = self
                .job("rules", move || app.rules(Utc::now()).map(|_| ()))
                .await;
        }
        if self.app.config().retention.enabled() {
            let app = Arc::clone(&self.app);
            let _ = self
                .job("purge", move || {
                    crate::retention::purge(&app, Utc::now()).map(|_| ())
                })
                .await;
        }
        let _ = self.deliver_round().await;
    }
}
