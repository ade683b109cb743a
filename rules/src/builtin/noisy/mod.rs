//! `noisy-audit-policy`: a Windows host whose events of a day are mostly outside the categories
//! that matter — excessive auditing buries (and, once the log wraps, overwrites) the events that
//! do — with the top event ids and the `auditpol` line that turns each off.

mod audit;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use privtrail_model::{Action, Event, Outcome, Source};
use serde::Deserialize;

pub use audit::{Category, Origin, category, origin};

use crate::config::ConfigError;
use crate::rule::{CodeCount, Context, DayVolume, Finding, HostVolume, Rule, Severity};

/// The rule id.
pub const NOISY_AUDIT_POLICY: &str = "noisy-audit-policy";

/// Most event ids kept per host and day: a host writes a few dozen distinct ids, so this never
/// cuts real data, but it bounds what a hostile stream of made-up ids can cost.
pub const MAX_CODES: usize = 200;

/// How long after its end a day is judged: forwarders (Windows Event Forwarding, agents) deliver
/// minutes late, and a day judged at midnight would miss its last events.
pub fn settle() -> Duration {
    Duration::hours(1)
}

/// The day judged at `now`: the last UTC day that ended at least [`settle`] ago. The rules job
/// judges it once (it remembers the last day judged) and the backtest likewise.
pub fn day_to_judge(now: DateTime<Utc>) -> Option<NaiveDate> {
    now.checked_sub_signed(settle())?.date_naive().pred_opt()
}

/// `[start, end)` of `day` in UTC.
pub fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
    (start, start + Duration::days(1))
}

/// `noisy-audit-policy`: on the one evaluation per day that carries the last completed day's
/// [`DayVolume`], every Windows host with at least `min_events` events that day whose share of
/// events outside the categories that matter ([`category`], plus the `expected` ids) is above
/// `threshold`. A condition per host (subject `host|` + the host, lower-cased): it stays open,
/// updated with each day's figures, while the host stays noisy, and resolves on the first day
/// judged on which it is not (at or under the threshold, under `min_events`, or silent) —
/// fixing the audit policy closes it the next day without anyone's help.
#[derive(Debug, Clone)]
pub struct NoisyAuditPolicy {
    pub severity: Severity,
    /// Share (0..1) of outside events above which a host is noisy.
    pub threshold: f64,
    /// Fewest events a host must have written that day to be judged.
    pub min_events: u64,
    /// How many event ids the alert lists.
    pub top: usize,
    /// Event ids audited on purpose: counted with the categories that matter.
    pub expected: Vec<u32>,
}

impl NoisyAuditPolicy {
    fn matters(&self, code: &str) -> bool {
        code.trim()
            .parse::<u32>()
            .is_ok_and(|id| category(id).is_some() || self.expected.contains(&id))
    }

    fn judge(&self, day: NaiveDate, h: &HostVolume) -> Option<Finding> {
        if h.total == 0 || h.total < self.min_events {
            return None;
        }
        let mut codes: Vec<&CodeCount> = h.codes.iter().collect();
        codes.sort_by(|a, b| b.total().cmp(&a.total()).then_with(|| a.code.cmp(&b.code)));
        let (signal, noise): (Vec<&CodeCount>, Vec<&CodeCount>) =
            codes.into_iter().partition(|c| self.matters(&c.code));
        let kept: u64 = signal.iter().map(|c| c.total()).sum();
        let outside = h.total.saturating_sub(kept);
        let share = outside as f64 / h.total as f64;
        if share <= self.threshold {
            return None;
        }
        let top: Vec<String> = noise
            .iter()
            .take(self.top)
            .map(|c| format!("{} ×{} ({})", c.code.trim(), c.total(), advice(c)))
            .collect();
        let summary = format!(
            "{host}: {pct:.1}% of its {total} Windows events on {day} were outside privilege use, \
             logon/logoff, account and group management and audit integrity (above {limit:.1}%; \
             {kept} were); excessive auditing hides the events that matter and rolls them out \
             of the log. Top event ids: {top}. Where a GPO sets the audit policy, change the same \
             subcategory under Advanced Audit Policy Configuration (it overrides auditpol at the \
             next refresh).",
            host = h.host,
            pct = share * 100.0,
            total = h.total,
            limit = self.threshold * 100.0,
            top = if top.is_empty() {
                "none recorded".to_owned()
            } else {
                top.join("; ")
            },
        );
        Some(Finding {
            rule: NOISY_AUDIT_POLICY.to_owned(),
            severity: self.severity,
            subject: format!("host|{}", h.host.to_lowercase()),
            principal: None,
            privilege: None,
            scope: Some(h.host.clone()),
            summary,
            event_ids: Vec::new(),
            elevation_id: None,
            condition: true,
        })
    }
}

/// `[rules.noisy-audit-policy]` (low; on by default, like every hygiene finding but the
/// activation notices).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoisySettings {
    /// `false` turns the rule off (default `true`).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Overrides the rule's default severity (`low`).
    pub severity: Option<Severity>,
    /// Share of a host's events of a day outside the categories that matter above which it
    /// fires, from 0 to 1 (default 0.8).
    pub threshold: Option<f64>,
    /// Fewest events a host must write in a day to be judged (default 1000): a quiet host's
    /// share says little.
    pub min_events: Option<u64>,
    /// How many event ids the alert lists (default 5).
    pub top: Option<usize>,
    /// Event ids audited on purpose (e.g. `"4663"` where file access is audited by design):
    /// counted with the categories that matter.
    #[serde(default)]
    pub expected: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Default for NoisySettings {
    fn default() -> Self {
        NoisySettings {
            enabled: true,
            severity: None,
            threshold: None,
            min_events: None,
            top: None,
            expected: Vec::new(),
        }
    }
}

impl NoisySettings {
    /// The rule these settings describe.
    pub fn build(&self) -> Result<NoisyAuditPolicy, ConfigError> {
        let bad = |message: String| ConfigError::Rule {
            rule: NOISY_AUDIT_POLICY.into(),
            message,
        };
        let threshold = self.threshold.unwrap_or(0.8);
        // A share of 1 can never be exceeded: a rule that cannot fire is a mistake to refuse.
        if !(0.0..1.0).contains(&threshold) {
            return Err(bad(format!(
                "`threshold` {threshold} must be at least 0 and below 1 (a share: 0.8 = 80%)"
            )));
        }
        let top = self.top.unwrap_or(5);
        if top == 0 {
            return Err(bad("`top` must be at least 1".into()));
        }
        let expected = self
            .expected
            .iter()
            .map(|s| {
                s.trim()
                    .parse::<u32>()
                    .map_err(|_| bad(format!("`expected`: {s:?} is not an event id")))
            })
            .collect::<Result<Vec<u32>, ConfigError>>()?;
        Ok(NoisyAuditPolicy {
            severity: self.severity.unwrap_or(Severity::Low),
            threshold,
            min_events: self.min_events.unwrap_or(1000),
            top,
            expected,
        })
    }
}

/// What to do about one noisy event id: the `auditpol` line for the outcomes it was written for.
pub fn advice(c: &CodeCount) -> String {
    let flags = match (c.success > 0, c.failure > 0) {
        (true, false) => "/success:disable",
        (false, true) => "/failure:disable",
        _ => "/success:disable /failure:disable",
    };
    let Some(o) = c.code.trim().parse::<u32>().ok().and_then(origin) else {
        return "not from an audit subcategory privtrail knows (another channel or provider?): \
                drop it at the forwarder (subscription query or agent event id filter)"
            .to_owned();
    };
    if let Some(also) = o.also_records {
        return format!(
            "{}, which also records {also}: keep it on, and drop {} at the forwarder \
             (subscription query or agent event id filter)",
            o.subcategories.join(" / "),
            c.code.trim()
        );
    }
    match o.subcategories {
        [one] => format!("auditpol /set /subcategory:\"{one}\" {flags}"),
        several => format!(
            "one of {} (its ObjectType tells which): auditpol /set /subcategory:\"<that one>\" \
             {flags}, or narrow the SACLs that ask for it",
            several
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl Rule for NoisyAuditPolicy {
    fn id(&self) -> &str {
        NOISY_AUDIT_POLICY
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(vec![])
    }
    fn description(&self) -> String {
        format!(
            "more than {:.0}% of a Windows host's events of a day (at least {} events) are outside \
             privilege use, logon/logoff, account and group management and audit integrity; judged \
             once per UTC day, with the top event ids and their auditpol advice",
            self.threshold * 100.0,
            self.min_events
        )
    }
    fn judges(&self, ctx: &Context<'_>) -> bool {
        ctx.volume.is_some()
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let Some(v) = ctx.volume else {
            return Vec::new();
        };
        v.hosts
            .iter()
            .filter_map(|h| self.judge(v.day, h))
            .collect()
    }
}

/// One host's counts while a day is being counted.
#[derive(Debug, Default)]
struct HostTally {
    host: String,
    total: u64,
    codes: HashMap<String, CodeCount>,
}

/// Counts Windows events per UTC day, host and event id as they pass: how the backtest, which
/// holds every event of its window anyway, builds the [`DayVolume`]s the store computes live.
#[derive(Debug, Default)]
pub struct VolumeCounter {
    days: BTreeMap<NaiveDate, HashMap<String, HostTally>>,
}

impl VolumeCounter {
    pub fn add(&mut self, e: &Event) {
        let Some(host) = e.host.as_deref().filter(|_| e.source == Source::Windows) else {
            return;
        };
        let hosts = self.days.entry(e.time.date_naive()).or_default();
        let t = hosts
            .entry(host.to_lowercase())
            .or_insert_with(|| HostTally {
                host: host.to_owned(),
                ..HostTally::default()
            });
        t.total += 1;
        let code = e.event_code.trim();
        if !t.codes.contains_key(code) && t.codes.len() >= MAX_CODES {
            return;
        }
        let c = t.codes.entry(code.to_owned()).or_insert_with(|| CodeCount {
            code: code.to_owned(),
            success: 0,
            failure: 0,
        });
        if e.outcome == Outcome::Failure {
            c.failure += 1;
        } else {
            c.success += 1;
        }
    }

    /// The counts of `day`, forgetting it and every earlier day.
    pub fn take(&mut self, day: NaiveDate) -> DayVolume {
        let later = day.succ_opt().map(|d| self.days.split_off(&d));
        let mut hosts: Vec<HostVolume> = self
            .days
            .remove(&day)
            .unwrap_or_default()
            .into_values()
            .map(|t| {
                let mut codes: Vec<CodeCount> = t.codes.into_values().collect();
                codes.sort_by(|a, b| b.total().cmp(&a.total()).then_with(|| a.code.cmp(&b.code)));
                HostVolume {
                    host: t.host,
                    total: t.total,
                    codes,
                }
            })
            .collect();
        hosts.sort_by(|a, b| a.host.cmp(&b.host));
        self.days = later.unwrap_or_default();
        DayVolume { day, hosts }
    }
}
