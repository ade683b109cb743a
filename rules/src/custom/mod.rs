//! Custom rules from the config file (SPEC §4): field matches with an optional threshold.
//!
//! ```toml
//! [[rules.custom]]
//! id = "many-explicit-logons"
//! severity = "medium"
//! summary = "{actor} used explicit credentials {count} times on {host}"
//! match = [
//!   { field = "action", op = "equals", value = "logon.explicit_credentials" },
//!   { field = "actor", op = "glob", value = "*$", negate = true },
//! ]
//! threshold = { count = 5, within = "10m", group_by = ["actor", "host"] }
//! ```
//!
//! Text tests (`equals`, `one_of`, `contains`, `glob`) ignore case; `regex` is as written (use
//! `(?i)`); `gt`/`gte`/`lt`/`lte` compare times on `time`, `ingested_at`, `expires_at` (RFC 3339
//! values) and numbers elsewhere (a field that is not a number does not match); `exists` holds for
//! a present, non-empty field. Every condition must hold. Without a threshold each matching new
//! event is one occurrence (subject = its id); with one, a new matching event whose group has
//! `count` or more matching events within `within` (ending at it) raises one occurrence per group.

mod matcher;

use std::collections::{BTreeMap, HashSet};

use chrono::Duration;
use privtrail_model::Event;
use serde::Deserialize;

pub use matcher::{FIELDS, OPS, Scalar};

use crate::config::ConfigError;
use crate::rule::{Context, Finding, Rule, Severity};
use crate::time::{Span, format_duration};
use matcher::{Field, Matcher};

/// `[[rules.custom]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRuleConfig {
    /// Unique rule id (must not be a built-in id).
    pub id: String,
    pub severity: Severity,
    /// The alert summary; `{field}` is replaced by the field of the latest matching event and
    /// `{count}` by the number of events counted. Default: the rule id and the event's message.
    pub summary: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Conditions, all of which must hold.
    #[serde(rename = "match")]
    pub matches: Vec<MatchConfig>,
    pub threshold: Option<ThresholdConfig>,
}

fn yes() -> bool {
    true
}

/// One condition of a custom rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchConfig {
    /// An event field (SPEC §2 name), see [`FIELDS`].
    pub field: String,
    /// See [`OPS`].
    pub op: String,
    pub value: Option<Scalar>,
    /// For `one_of`.
    #[serde(default)]
    pub values: Vec<Scalar>,
    #[serde(default)]
    pub negate: bool,
}

/// `count >= N within W`, grouped by fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdConfig {
    pub count: usize,
    pub within: Span,
    #[serde(default)]
    pub group_by: Vec<String>,
}

/// A conjunction of field conditions, written as a custom rule's `match`, usable on its own (the
/// binary selects forwarded events with it).
#[derive(Debug, Clone)]
pub struct EventMatch {
    matchers: Vec<Matcher>,
}

impl EventMatch {
    /// Compiles the conditions; an error names the bad field, operator or pattern.
    pub fn compile(conditions: &[MatchConfig]) -> Result<EventMatch, String> {
        let matchers = conditions
            .iter()
            .map(|m| Matcher::compile(&m.field, &m.op, m.value.as_ref(), &m.values, m.negate))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EventMatch { matchers })
    }

    /// Whether every condition holds for `e` (true when there are none).
    pub fn matches(&self, e: &Event) -> bool {
        self.matchers.iter().all(|m| m.matches(e))
    }
}

/// A validated custom rule.
#[derive(Debug, Clone)]
pub struct CustomRule {
    id: String,
    severity: Severity,
    summary: Option<String>,
    matchers: Vec<Matcher>,
    threshold: Option<(usize, Duration, Vec<Field>)>,
}

impl CustomRule {
    /// Validates and compiles a custom rule; errors name the rule.
    pub fn new(c: &CustomRuleConfig) -> Result<CustomRule, ConfigError> {
        let err = |message: String| ConfigError::Rule {
            rule: c.id.clone(),
            message,
        };
        if c.id.trim().is_empty() {
            return Err(err("a custom rule needs a non-empty `id`".into()));
        }
        if c.matches.is_empty() {
            return Err(err("`match` needs at least one condition".into()));
        }
        let matchers = c
            .matches
            .iter()
            .map(|m| Matcher::compile(&m.field, &m.op, m.value.as_ref(), &m.values, m.negate))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let threshold = match &c.threshold {
            None => None,
            Some(t) => {
                if t.count == 0 {
                    return Err(err("threshold `count` must be at least 1".into()));
                }
                if t.within.0 <= Duration::zero() {
                    return Err(err("threshold `within` must be positive".into()));
                }
                let fields = t
                    .group_by
                    .iter()
                    .map(|f| {
                        Field::parse(f).ok_or_else(|| {
                            err(format!(
                                "unknown group_by field {f:?} (known: {})",
                                FIELDS.join(", ")
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Some((t.count, t.within.0, fields))
            }
        };
        Ok(CustomRule {
            id: c.id.clone(),
            severity: c.severity,
            summary: c.summary.clone(),
            matchers,
            threshold,
        })
    }

    fn matches(&self, e: &Event) -> bool {
        self.matchers.iter().all(|m| m.matches(e))
    }

    fn summary(&self, e: &Event, count: usize) -> String {
        let Some(template) = &self.summary else {
            return format!("{}: {}", self.id, e.message);
        };
        let mut s = template.replace("{count}", &count.to_string());
        for name in FIELDS {
            let pat = format!("{{{name}}}");
            if s.contains(&pat) {
                let v = Field::parse(name)
                    .and_then(|f| f.get(e))
                    .unwrap_or_default();
                s = s.replace(&pat, &v);
            }
        }
        s
    }

    fn finding(&self, e: &Event, subject: String, events: Vec<&Event>) -> Finding {
        Finding {
            rule: self.id.clone(),
            severity: self.severity,
            subject,
            principal: e.target.clone().or_else(|| e.actor.clone()),
            privilege: e.privilege.clone(),
            scope: e.scope.clone().or_else(|| e.host.clone()),
            summary: self.summary(e, events.len()),
            event_ids: events.iter().map(|e| e.id.clone()).collect(),
            elevation_id: None,
            condition: false,
        }
    }
}

impl Rule for CustomRule {
    fn id(&self) -> &str {
        &self.id
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn description(&self) -> String {
        match &self.threshold {
            None => "custom rule".into(),
            Some((n, w, _)) => format!("custom rule: {n} or more within {}", format_duration(*w)),
        }
    }
    fn lookback(&self) -> Duration {
        self.threshold.as_ref().map_or(Duration::zero(), |t| t.1)
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let fresh: Vec<&Event> = ctx.new_events.iter().filter(|e| self.matches(e)).collect();
        let Some((count, within, group_by)) = &self.threshold else {
            return fresh
                .into_iter()
                .map(|e| self.finding(e, e.id.to_string(), vec![e]))
                .collect();
        };
        if fresh.is_empty() {
            return Vec::new();
        }
        let group = |e: &Event| -> String {
            if group_by.is_empty() {
                return "*".to_owned();
            }
            group_by
                .iter()
                .map(|f| f.get(e).map(|v| v.to_lowercase()).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|")
        };
        let mut seen = HashSet::new();
        let pool: Vec<&Event> = ctx
            .recent_events
            .iter()
            .chain(ctx.new_events)
            .filter(|e| seen.insert(&e.id) && self.matches(e))
            .collect();
        let mut out: BTreeMap<String, Finding> = BTreeMap::new();
        for e in fresh {
            let g = group(e);
            let from = e.time.checked_sub_signed(*within).unwrap_or(e.time);
            let mut window: Vec<&Event> = pool
                .iter()
                .copied()
                .filter(|x| x.time > from && x.time <= e.time && group(x) == g)
                .collect();
            if window.len() >= *count {
                window.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
                out.insert(g.clone(), self.finding(e, g, window));
            }
        }
        out.into_values().collect()
    }
}
