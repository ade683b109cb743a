//! Evaluation helpers and the backtest: replaying history through the same code as live evaluation.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use privtrail_model::{Action, Event, Outcome};

use crate::builtin::settings::{KnownSettings, RoleSettings, changes_of};

use crate::alert::{Alert, apply_findings};
use crate::builtin::{NOISY_AUDIT_POLICY, VolumeCounter, day_bounds, day_to_judge};
use crate::elevation::Tracker;
use crate::policy::Policy;
use crate::rule::{Context, Finding, Rule};

/// Runs every rule that [judges](Rule::judges) this context; returns the findings and the ids of
/// the rules that ran (only their condition alerts may resolve).
pub fn evaluate_all<'r>(
    rules: &'r [Box<dyn Rule>],
    ctx: &Context<'_>,
) -> (Vec<Finding>, Vec<&'r str>) {
    evaluate_where(rules, ctx, |_| true)
}

/// [`evaluate_all`] for a further piece of one run, whose state (elevations, collectors, channels,
/// `now`) the first piece's evaluation already judged: the rules that look only at state
/// (`inputs() == Some([])`) sit it out — they would report the same findings again — and so do not
/// resolve their conditions here either.
pub fn evaluate_new_events<'r>(
    rules: &'r [Box<dyn Rule>],
    ctx: &Context<'_>,
) -> (Vec<Finding>, Vec<&'r str>) {
    evaluate_where(rules, ctx, |r| r.inputs().is_none_or(|i| !i.is_empty()))
}

fn evaluate_where<'r>(
    rules: &'r [Box<dyn Rule>],
    ctx: &Context<'_>,
    take: impl Fn(&dyn Rule) -> bool,
) -> (Vec<Finding>, Vec<&'r str>) {
    let mut findings = Vec::new();
    let mut ids = Vec::with_capacity(rules.len());
    for r in rules.iter().filter(|r| take(r.as_ref()) && r.judges(ctx)) {
        findings.extend(r.evaluate(ctx));
        ids.push(r.id());
    }
    (findings, ids)
}

/// The longest [`Rule::lookback`] of a rule set: how much history `Context::recent_events` needs.
pub fn max_lookback(rules: &[Box<dyn Rule>]) -> Duration {
    rules
        .iter()
        .map(|r| r.lookback())
        .max()
        .unwrap_or_else(Duration::zero)
}

/// What a principal was called when an elevation started (the application asks its store): lets
/// a backtest speak in names as the live rules do. `None` when only the identifier is known.
pub type NameFn<'a> = &'a dyn Fn(&str, DateTime<Utc>) -> Option<String>;

struct Replay<'a> {
    rules: &'a [Box<dyn Rule>],
    names: Option<NameFn<'a>>,
    policy: &'a Policy,
    tracker: Tracker,
    recent: VecDeque<Event>,
    lookback: Duration,
    /// Windows event counts per day, when `noisy-audit-policy` runs: the replay counts the events
    /// of its window as they pass, as the store does live.
    volume: Option<VolumeCounter>,
    /// The replay's start: only days wholly after it were counted whole.
    from: DateTime<Utc>,
    /// The last day whose volume was judged.
    judged: Option<chrono::NaiveDate>,
    /// Every alert opened, in its latest state.
    all: Vec<Alert>,
    index: HashMap<String, usize>,
    /// The roles' PIM settings as the replayed setting changes left them (a backtest has no
    /// snapshot; what the history says stands in).
    settings: Vec<KnownSettings>,
}

impl Replay<'_> {
    fn evaluate(&mut self, now: DateTime<Utc>, new: &[Event]) {
        if let Some(names) = self.names {
            self.tracker.name_with(names);
        }
        let recent: Vec<Event> = self.recent.iter().cloned().collect();
        // Once per day, as live: the last completed day, once it has settled and if the replay
        // saw all of it (events before `from` were not loaded).
        let day = day_to_judge(now)
            .filter(|d| self.judged.is_none_or(|j| *d > j) && day_bounds(*d).0 >= self.from);
        let volume = match (&mut self.volume, day) {
            (Some(counter), Some(d)) => {
                self.judged = Some(d);
                Some(counter.take(d))
            }
            _ => None,
        };
        let ctx = Context {
            new_events: new,
            recent_events: &recent,
            elevations: self.tracker.elevations(),
            now,
            policy: self.policy,
            collectors: &[],
            channels: &[],
            granters: self.tracker.granters(),
            role_settings: &self.settings,
            volume: volume.as_ref(),
            settings: None,
        };
        let (findings, ran) = evaluate_all(self.rules, &ctx);
        let active: Vec<Alert> = self.all.iter().filter(|a| a.is_active()).cloned().collect();
        if findings.is_empty() && active.is_empty() {
            return;
        }
        let ch = apply_findings(&active, &findings, &ran, now, &[], Duration::hours(24));
        for a in ch.opened {
            self.index.insert(a.id.clone(), self.all.len());
            self.all.push(a);
        }
        for a in ch.updated.into_iter().chain(ch.resolved) {
            if let Some(&i) = self.index.get(&a.id) {
                self.all[i] = a;
            }
        }
    }

    /// Applies a role setting change's new values (its `raw`) to the replay's known settings.
    fn learn_settings(&mut self, e: &Event) {
        if e.action != Action::RoleSettingChanged || e.outcome != Outcome::Success {
            return;
        }
        let (Some(tenant), Some(role)) = (e.tenant.as_deref(), e.privilege_id.as_deref()) else {
            return;
        };
        let i = match self.settings.iter().position(|k| {
            k.tenant.eq_ignore_ascii_case(tenant) && k.role_id.eq_ignore_ascii_case(role)
        }) {
            Some(i) => i,
            None => {
                self.settings.push(KnownSettings {
                    tenant: tenant.to_owned(),
                    role_id: role.to_owned(),
                    settings: RoleSettings::default(),
                });
                self.settings.len() - 1
            }
        };
        for c in changes_of(&e.raw) {
            self.settings[i].settings.set(c.setting, c.new);
        }
    }

    fn remember(&mut self, e: &Event) {
        if let Some(counter) = &mut self.volume {
            counter.add(e);
        }
        if self.lookback <= Duration::zero() {
            return;
        }
        self.recent.push_back(e.clone());
        let from = e.time.checked_sub_signed(self.lookback).unwrap_or(e.time);
        while self.recent.front().is_some_and(|x| x.time <= from) {
            self.recent.pop_front();
        }
    }
}

/// Replays `events_sorted` (sorted by time; re-sorted by (time, id) if not) through a [`Tracker`]
/// and `rules`, with `now` advancing event by event and by sweeps every `step` from `from` (so
/// that `overdue-elevation` fires with no new events), applying the alert lifecycle. Events
/// before `from` build state without being evaluated; events after `until` are ignored. Returns
/// every alert that would have been opened in [from, until] (opened_at = the simulated now), in
/// its final state, in opening order. Sends nothing and does no I/O.
pub fn backtest(
    events_sorted: &[Event],
    policy: &Policy,
    rules: &[Box<dyn Rule>],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    step: Duration,
) -> Vec<Alert> {
    backtest_named(events_sorted, policy, rules, (from, until), step, None)
}

/// [`backtest`] with the elevations' principals named by `names` (see [`NameFn`]).
pub fn backtest_named(
    events_sorted: &[Event],
    policy: &Policy,
    rules: &[Box<dyn Rule>],
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    step: Duration,
    names: Option<NameFn<'_>>,
) -> Vec<Alert> {
    let mut events: Vec<&Event> = events_sorted.iter().collect();
    if !events.is_sorted_by(|a, b| (a.time, &a.id) <= (b.time, &b.id)) {
        events.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    }
    let step = step.max(Duration::seconds(1));
    let mut r = Replay {
        rules,
        names,
        policy,
        tracker: Tracker::new(policy.clone()),
        recent: VecDeque::new(),
        lookback: max_lookback(rules),
        volume: rules
            .iter()
            .any(|r| r.id() == NOISY_AUDIT_POLICY)
            .then(VolumeCounter::default),
        from,
        judged: None,
        all: Vec::new(),
        index: HashMap::new(),
        settings: Vec::new(),
    };
    let mut next_sweep = Some(from);
    let sweep_until =
        |r: &mut Replay, next: &mut Option<DateTime<Utc>>, before: Option<DateTime<Utc>>| {
            while let Some(t) = *next {
                if t > until || before.is_some_and(|b| t >= b) {
                    break;
                }
                r.evaluate(t, &[]);
                *next = t.checked_add_signed(step);
            }
        };
    for e in events {
        if e.time > until {
            break;
        }
        if e.time < from {
            r.tracker.apply(std::slice::from_ref(e));
            r.remember(e);
            r.learn_settings(e);
            continue;
        }
        sweep_until(&mut r, &mut next_sweep, Some(e.time));
        r.tracker.apply(std::slice::from_ref(e));
        r.remember(e);
        r.evaluate(e.time, std::slice::from_ref(e));
        r.learn_settings(e);
    }
    sweep_until(&mut r, &mut next_sweep, None);
    r.all
}
