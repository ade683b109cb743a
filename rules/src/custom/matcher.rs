//! Compiled field matches of custom rules.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use privtrail_model::{Event, format_time};
use regex::Regex;
use serde::Deserialize;

/// An event field by its SPEC §2 name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Id,
    Time,
    IngestedAt,
    Source,
    Tenant,
    Host,
    Action,
    Outcome,
    Actor,
    Target,
    TargetName,
    Privilege,
    PrivilegeId,
    Scope,
    ExpiresAt,
    Justification,
    CorrelationId,
    ViaPim,
    LinkedTo,
    EventCode,
    RecordId,
    Message,
}

/// Field names custom rules may use.
pub const FIELDS: [&str; 22] = [
    "id",
    "time",
    "ingested_at",
    "source",
    "tenant",
    "host",
    "action",
    "outcome",
    "actor",
    "target",
    "target_name",
    "privilege",
    "privilege_id",
    "scope",
    "expires_at",
    "justification",
    "correlation_id",
    "via_pim",
    "linked_to",
    "event_code",
    "record_id",
    "message",
];

impl Field {
    pub(crate) fn parse(name: &str) -> Option<Field> {
        use Field::*;
        const ALL: [Field; 22] = [
            Id,
            Time,
            IngestedAt,
            Source,
            Tenant,
            Host,
            Action,
            Outcome,
            Actor,
            Target,
            TargetName,
            Privilege,
            PrivilegeId,
            Scope,
            ExpiresAt,
            Justification,
            CorrelationId,
            ViaPim,
            LinkedTo,
            EventCode,
            RecordId,
            Message,
        ];
        let i = FIELDS
            .iter()
            .position(|f| f.eq_ignore_ascii_case(name.trim()))?;
        Some(ALL[i])
    }

    fn is_time(self) -> bool {
        matches!(self, Field::Time | Field::IngestedAt | Field::ExpiresAt)
    }

    fn time(self, e: &Event) -> Option<DateTime<Utc>> {
        match self {
            Field::Time => Some(e.time),
            Field::IngestedAt => Some(e.ingested_at),
            Field::ExpiresAt => e.expires_at,
            _ => None,
        }
    }

    /// The field's text (`None` when absent or empty).
    pub(crate) fn get(self, e: &Event) -> Option<Cow<'_, str>> {
        fn s(o: &Option<String>) -> Option<Cow<'_, str>> {
            o.as_deref().map(Cow::Borrowed)
        }
        let v = match self {
            Field::Id => Some(Cow::Borrowed(e.id.as_str())),
            Field::Time | Field::IngestedAt | Field::ExpiresAt => {
                self.time(e).map(|t| Cow::Owned(format_time(t)))
            }
            Field::Source => Some(Cow::Borrowed(e.source.as_str())),
            Field::Tenant => s(&e.tenant),
            Field::Host => s(&e.host),
            Field::Action => Some(Cow::Borrowed(e.action.as_str())),
            Field::Outcome => Some(Cow::Borrowed(e.outcome.as_str())),
            Field::Actor => s(&e.actor),
            Field::Target => s(&e.target),
            Field::TargetName => s(&e.target_name),
            Field::Privilege => s(&e.privilege),
            Field::PrivilegeId => s(&e.privilege_id),
            Field::Scope => s(&e.scope),
            Field::Justification => s(&e.justification),
            Field::CorrelationId => s(&e.correlation_id),
            Field::ViaPim => e
                .via_pim
                .map(|b| Cow::Borrowed(if b { "true" } else { "false" })),
            Field::LinkedTo => e.linked_to.as_ref().map(|l| Cow::Borrowed(l.as_str())),
            Field::EventCode => Some(Cow::Borrowed(e.event_code.as_str())),
            Field::RecordId => s(&e.record_id),
            Field::Message => Some(Cow::Borrowed(e.message.as_str())),
        };
        v.filter(|v| !v.is_empty())
    }
}

/// A TOML scalar (string, number or boolean) compared as text.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    pub(crate) fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Cmp {
    fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Cmp::Gt => o == Greater,
            Cmp::Gte => o != Less,
            Cmp::Lt => o == Less,
            Cmp::Lte => o != Greater,
        }
    }
}

#[derive(Debug, Clone)]
enum Test {
    Equals(String),
    OneOf(Vec<String>),
    Contains(String),
    Glob(glob::Pattern),
    Regex(Regex),
    Time(Cmp, DateTime<Utc>),
    Number(Cmp, f64),
    Exists,
}

/// One compiled condition: field, test, negation.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    field: Field,
    test: Test,
    negate: bool,
}

/// Operators custom rules may use.
pub const OPS: [&str; 10] = [
    "equals", "one_of", "contains", "glob", "regex", "gt", "gte", "lt", "lte", "exists",
];

impl Matcher {
    /// Compiles a condition; the error says what is wrong (the caller adds the rule id).
    pub(crate) fn compile(
        field: &str,
        op: &str,
        value: Option<&Scalar>,
        values: &[Scalar],
        negate: bool,
    ) -> Result<Matcher, String> {
        let f = Field::parse(field)
            .ok_or_else(|| format!("unknown field {field:?} (known: {})", FIELDS.join(", ")))?;
        let one = || {
            value
                .map(Scalar::text)
                .ok_or_else(|| format!("op {op:?} on {field:?} needs `value`"))
        };
        let cmp = |c: Cmp| -> Result<Test, String> {
            let v = one()?;
            if f.is_time() {
                DateTime::parse_from_rfc3339(v.trim())
                    .map(|t| Test::Time(c, t.with_timezone(&Utc)))
                    .map_err(|e| format!("{field:?} compares times: {v:?} is not RFC 3339 ({e})"))
            } else {
                v.trim()
                    .parse::<f64>()
                    .map(|n| Test::Number(c, n))
                    .map_err(|_| format!("op {op:?} compares numbers: {v:?} is not a number"))
            }
        };
        let test = match op.trim().to_ascii_lowercase().as_str() {
            "equals" => Test::Equals(one()?.to_lowercase()),
            "one_of" => {
                let mut all: Vec<String> = values.iter().map(|v| v.text().to_lowercase()).collect();
                all.extend(value.map(|v| v.text().to_lowercase()));
                if all.is_empty() {
                    return Err(format!("op \"one_of\" on {field:?} needs `values`"));
                }
                Test::OneOf(all)
            }
            "contains" => Test::Contains(one()?.to_lowercase()),
            "glob" => {
                let v = one()?;
                Test::Glob(glob::Pattern::new(&v).map_err(|e| format!("invalid glob {v:?}: {e}"))?)
            }
            "regex" => {
                let v = one()?;
                Test::Regex(Regex::new(&v).map_err(|e| format!("invalid regex {v:?}: {e}"))?)
            }
            "gt" => cmp(Cmp::Gt)?,
            "gte" => cmp(Cmp::Gte)?,
            "lt" => cmp(Cmp::Lt)?,
            "lte" => cmp(Cmp::Lte)?,
            "exists" => Test::Exists,
            other => {
                return Err(format!("unknown op {other:?} (known: {})", OPS.join(", ")));
            }
        };
        Ok(Matcher {
            field: f,
            test,
            negate,
        })
    }

    /// Whether the event matches. A missing field fails every test but `exists` (and so a negated
    /// test on a missing field holds).
    pub(crate) fn matches(&self, e: &Event) -> bool {
        let hit = match &self.test {
            Test::Time(c, t) => self.field.time(e).is_some_and(|v| c.holds(v.cmp(t))),
            test => match self.field.get(e) {
                None => false,
                Some(v) => match test {
                    Test::Equals(x) => v.to_lowercase() == *x,
                    Test::OneOf(xs) => {
                        let v = v.to_lowercase();
                        xs.contains(&v)
                    }
                    Test::Contains(x) => v.to_lowercase().contains(x.as_str()),
                    Test::Glob(p) => p.matches_with(
                        &v,
                        glob::MatchOptions {
                            case_sensitive: false,
                            require_literal_separator: false,
                            require_literal_leading_dot: false,
                        },
                    ),
                    Test::Regex(r) => r.is_match(&v),
                    Test::Number(c, n) => v
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .and_then(|x| x.partial_cmp(n))
                        .is_some_and(|o| c.holds(o)),
                    Test::Exists => true,
                    Test::Time(..) => false,
                },
            },
        };
        hit != self.negate
    }
}
