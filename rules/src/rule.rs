//! The rule interface: [`Rule`], what it sees ([`Context`]) and what it reports ([`Finding`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use privtrail_model::{Action, Event, EventId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::elevation::{Elevation, Granters, NO_GRANTERS};
use crate::policy::Policy;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// A notice, not a problem (`activation-notice`): below `Low`, so that a route's
    /// `min_severity = "low"` keeps notices out.
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => {
                return Err(format!(
                    "unknown severity {s:?}: expected info, low, medium, high or critical"
                ));
            }
        })
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// When a collector last succeeded, and how often it should run (`collector-failure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorRun {
    /// e.g. `graph:contoso`.
    pub collector: String,
    /// `None`: never succeeded.
    pub last_success: Option<DateTime<Utc>>,
    /// Since when it is expected to run (its first recorded run): a collector that has never
    /// succeeded counts its missed runs from here. `None`: unknown (then only a success counts).
    pub watched_since: Option<DateTime<Utc>>,
    pub interval: Duration,
}

/// How a delivery channel is doing (`delivery-failure`), as the delivery worker recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelHealth {
    /// The channel's configured name.
    pub channel: String,
    /// Since when its sends fail (the first failure after its last success); `None`: it works.
    pub failing_since: Option<DateTime<Utc>>,
    /// The last failure was the receiver refusing the channel's credentials.
    pub auth_failure: bool,
    /// What the last failure said.
    pub last_error: Option<String>,
}

/// How many events of one event id a host wrote in a day, by outcome (`noisy-audit-policy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeCount {
    /// The event id as stored (`event_code`).
    pub code: String,
    pub success: u64,
    pub failure: u64,
}

impl CodeCount {
    pub fn total(&self) -> u64 {
        self.success.saturating_add(self.failure)
    }
}

/// One host's Windows events of one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVolume {
    pub host: String,
    /// Every Windows event of the host that day.
    pub total: u64,
    /// Per event id, the most frequent first. The store keeps only the most frequent ids of a
    /// host (see `Store::windows_volume`); the events of the others count in `total` only.
    pub codes: Vec<CodeCount>,
}

/// The Windows events of one completed UTC day, per host: what `noisy-audit-policy` judges. The
/// rules job computes it once per day (a day of a domain controller is millions of events, far
/// too many to hand the rules as [`Event`]s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayVolume {
    pub day: NaiveDate,
    pub hosts: Vec<HostVolume>,
}

/// What a rule sees in one evaluation. Rules do no I/O: everything is here, including `now`.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Events that arrived since the previous evaluation (empty for a time sweep).
    pub new_events: &'a [Event],
    /// Events of the last [`Rule::lookback`] before `now` (including `new_events`), for rules that
    /// count over a window; may be empty when no rule asks for a lookback.
    pub recent_events: &'a [Event],
    /// All known elevations, open and recently closed.
    pub elevations: &'a [Elevation],
    pub now: DateTime<Utc>,
    pub policy: &'a Policy,
    /// Collector run times, filled by the daemon (empty elsewhere).
    pub collectors: &'a [CollectorRun],
    /// The configured delivery channels' health, as the outbox worker recorded it (empty in
    /// backtests).
    pub channels: &'a [ChannelHealth],
    /// Who has granted privileged group membership, from the same history as `elevations` (the
    /// tracker's [`Tracker::granters`](crate::Tracker::granters)); `group-burst` asks it whether a
    /// granter is new.
    pub granters: &'a Granters,
    /// The roles' PIM settings from each tenant's latest snapshot (empty in backtests and before
    /// the first snapshot): what `pim-setting-weakened` and `activation-without-mfa` compare with.
    pub role_settings: &'a [crate::builtin::KnownSettings],
    /// The Windows event volume of the last completed day, on the one evaluation per day that
    /// judges it (`None` on every other one; see [`Rule::judges`]).
    pub volume: Option<&'a DayVolume>,
    /// The new events' role-setting changes, parsed ahead (`None`: the rules parse them).
    pub settings: Option<&'a crate::builtin::ParsedSettings>,
}

impl<'a> Context<'a> {
    /// A context with no events, elevations or collectors.
    pub fn new(now: DateTime<Utc>, policy: &'a Policy) -> Self {
        Context {
            new_events: &[],
            recent_events: &[],
            elevations: &[],
            now,
            policy,
            collectors: &[],
            channels: &[],
            granters: &NO_GRANTERS,
            role_settings: &[],
            volume: None,
            settings: None,
        }
    }
}

/// One thing a rule reports. `rule` + `subject` is the alert's dedupe key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    /// What the finding is about, unique within the rule (an elevation id, a host + event code…).
    pub subject: String,
    pub principal: Option<String>,
    pub privilege: Option<String>,
    pub scope: Option<String>,
    pub summary: String,
    pub event_ids: Vec<EventId>,
    pub elevation_id: Option<String>,
    /// `true`: holds while the condition holds; its alert resolves itself when an evaluation of the
    /// rule no longer reports it. `false`: an occurrence; its alert stays open until acknowledged
    /// and resolved by a person.
    pub condition: bool,
}

/// A rule: looks at a [`Context`] and reports [`Finding`]s. Rules must be pure (no I/O, no clock:
/// use `ctx.now`) so that live evaluation and backtests run the same code.
///
/// **Adding a built-in rule**: write a struct holding its settings in `builtin/`, implement this
/// trait (report occurrences only for `ctx.new_events` so that a resolved alert is not reopened by
/// the next evaluation; report conditions from state such as `ctx.elevations`, every time they
/// hold), add a settings struct with `enabled`/`severity` to [`RulesConfig`](crate::RulesConfig)
/// and construct the rule in `RulesConfig::build`, then test it in `tests/`.
pub trait Rule: Send + Sync + fmt::Debug {
    /// The stable id, e.g. `overdue-elevation`.
    fn id(&self) -> &str;
    fn severity(&self) -> Severity;
    /// One line for `rules list`.
    fn description(&self) -> String {
        String::new()
    }
    /// How much event history before `now` the rule needs in [`Context::recent_events`].
    fn lookback(&self) -> Duration {
        Duration::zero()
    }
    /// The actions of the new events this rule looks at (`None`: every event). The engine reads
    /// back only the union of these after a write, which keeps the rules' share of a large import
    /// small; a rule that looks only at elevations returns `Some(vec![])`.
    fn inputs(&self) -> Option<Vec<Action>> {
        None
    }
    /// The actions of the new events whose `raw` record this rule reads. The engine reads new
    /// events back without `raw` (an import may bring millions) and fetches it for these only;
    /// elsewhere `raw` may be empty, and the rule must cope.
    fn raw_inputs(&self) -> Vec<Action> {
        Vec::new()
    }
    /// Whether this rule reads nothing of its [`Rule::inputs`]' new events but their `id` (it asks
    /// only whether an elevation's opening event is new). The engine then reads the events of an
    /// action that no other rule reads whole with only their identity (`id`, `time`,
    /// `ingested_at`, `source`, `action`, `outcome`; every other field empty): after an import of
    /// PIM records, decoding them all whole for the two such rules was a fifth of reading the new
    /// events back.
    fn reads_ids_only(&self) -> bool {
        false
    }
    /// Whether this evaluation judges the rule at all. A rule whose input comes only on some
    /// evaluations (`noisy-audit-policy`: once a day) returns `false` on the others, so that they
    /// neither run it nor resolve its condition alerts (which only an evaluation that looked may
    /// do).
    fn judges(&self, _ctx: &Context<'_>) -> bool {
        true
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding>;
}

/// The union of the rules' [`Rule::raw_inputs`].
pub fn raw_inputs_of(rules: &[Box<dyn Rule>]) -> Vec<Action> {
    let mut all: Vec<Action> = Vec::new();
    for a in rules.iter().flat_map(|r| r.raw_inputs()) {
        if !all.contains(&a) {
            all.push(a);
        }
    }
    all
}

/// The union of the rules' [`Rule::inputs`]; `None` when one of them looks at every event.
pub fn inputs_of(rules: &[Box<dyn Rule>]) -> Option<Vec<Action>> {
    union_of_inputs(rules.iter())
}

fn union_of_inputs<'a>(rules: impl Iterator<Item = &'a Box<dyn Rule>>) -> Option<Vec<Action>> {
    let mut all: Vec<Action> = Vec::new();
    for r in rules {
        for a in r.inputs()? {
            if !all.contains(&a) {
                all.push(a);
            }
        }
    }
    Some(all)
}

/// The actions whose new events some rule reads whole: the union of [`Rule::inputs`] of the rules
/// that do not [`Rule::reads_ids_only`]; `None` when one of them looks at every event.
pub fn whole_inputs_of(rules: &[Box<dyn Rule>]) -> Option<Vec<Action>> {
    union_of_inputs(rules.iter().filter(|r| !r.reads_ids_only()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_is_below_low_and_round_trips() {
        assert!(Severity::Info < Severity::Low);
        assert!(Severity::Low < Severity::Medium);
        for s in [
            Severity::Info,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ] {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
        }
        assert_eq!(" INFO ".parse::<Severity>(), Ok(Severity::Info));
        assert!("notice".parse::<Severity>().is_err());
    }
}
