//! [`WinRecord`]: one Windows event as every reader sees it, before normalization.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

/// Event data (`EventData/Data[@Name]`) or user data (`UserData/*/*`) of a record: name → value, in
/// record order. Names are kept as written; lookups are exact first, then without regard to case.
/// Names and values borrow from the parsed text where they can (the EVTX hot path).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fields<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Fields<'a> {
    pub fn new() -> Self {
        Fields(Vec::new())
    }

    pub fn with_capacity(n: usize) -> Self {
        Fields(Vec::with_capacity(n))
    }

    pub fn push(&mut self, name: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) {
        self.0.push((name.into(), value.into()));
    }

    /// The value of `name`, as written (may be empty or `-`).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .or_else(|| self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.as_ref())
    }

    /// The value of `name`, trimmed, or `None` when it is absent, empty or `-` (Windows' "no value").
    pub fn get(&self, name: &str) -> Option<&str> {
        self.raw(name)
            .map(str::trim)
            .filter(|v| !v.is_empty() && *v != "-")
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    /// The same fields, owning their text.
    pub fn into_owned(self) -> Fields<'static> {
        Fields(
            self.0
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        )
    }
}

impl<'a, K: Into<Cow<'a, str>>, V: Into<Cow<'a, str>>> FromIterator<(K, V)> for Fields<'a> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Fields(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// One Windows event record in a source-independent shape. Every reader (EVTX, JSON lines, Event XML)
/// builds these; [`super::normalize::normalize`] turns them into [`privtrail_model::Event`]s.
///
/// Text fields borrow from the reader's buffer where they can (`'a`); readers that build owned
/// strings use `Cow::Owned` (`String::into`).
#[derive(Debug, Clone, PartialEq)]
pub struct WinRecord<'a> {
    /// `System/Provider/@Name`, e.g. `Microsoft-Windows-Security-Auditing`.
    pub provider: Cow<'a, str>,
    pub event_id: u32,
    pub channel: Cow<'a, str>,
    pub computer: Cow<'a, str>,
    /// `System/EventRecordID`.
    pub record_id: u64,
    /// `System/TimeCreated/@SystemTime`.
    pub time: DateTime<Utc>,
    /// Whether the record is marked as an audit failure (keyword 0x0010000000000000, Winlogbeat's
    /// `Audit Failure`, NXLog's `AUDIT_FAILURE`, ECS `event.outcome: failure`).
    pub audit_failure: bool,
    /// Event data, or the fields of the `UserData` element (1102, 104).
    pub data: Fields<'a>,
    /// The original record as JSON text.
    pub raw: Cow<'a, str>,
}

impl WinRecord<'_> {
    /// The same record, owning its text.
    pub fn into_owned(self) -> WinRecord<'static> {
        WinRecord {
            provider: Cow::Owned(self.provider.into_owned()),
            event_id: self.event_id,
            channel: Cow::Owned(self.channel.into_owned()),
            computer: Cow::Owned(self.computer.into_owned()),
            record_id: self.record_id,
            time: self.time,
            audit_failure: self.audit_failure,
            data: self.data.into_owned(),
            raw: Cow::Owned(self.raw.into_owned()),
        }
    }
}

/// The audit-failure bit of the `Keywords` mask.
pub const KEYWORD_AUDIT_FAILURE: u64 = 0x0010_0000_0000_0000;

/// Whether a `Keywords` value (`0x8010000000000000`, or a decimal, possibly negative, int64) has the
/// audit-failure bit.
pub fn keywords_audit_failure(keywords: &str) -> bool {
    let k = keywords.trim();
    let mask = if let Some(hex) = k.strip_prefix("0x").or_else(|| k.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if let Ok(v) = k.parse::<i64>() {
        Some(v as u64)
    } else {
        k.parse::<u64>().ok()
    };
    mask.is_some_and(|m| m & KEYWORD_AUDIT_FAILURE != 0)
}

/// Parse a Windows timestamp: RFC 3339 (`2016-07-08T18:12:51.6816408Z`), or the forms other tools
/// print (`2016-07-08 18:12:51.681640 UTC`, `2016-07-08 18:12:51` taken as UTC).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let bare = s.strip_suffix(" UTC").unwrap_or(s).trim_end_matches('Z');
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(bare, fmt) {
            return Some(t.and_utc());
        }
    }
    None
}

/// Cut `s` to at most `max` bytes, at a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The largest raw text kept in a [`privtrail_model::Reject`].
pub(crate) const REJECT_RAW_MAX: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_keywords() {
        let a = parse_time("2016-07-08T18:12:51.6816408Z").expect("rfc3339");
        let b = parse_time("2016-07-08 18:12:51.681640 UTC").expect("evtx xml");
        assert_eq!((a - b).num_microseconds(), Some(0));
        assert!(parse_time("2020-09-14 08:05:43").is_some());
        assert!(parse_time("yesterday").is_none());
        assert!(keywords_audit_failure("0x8010000000000000"));
        assert!(!keywords_audit_failure("0x8020000000000000"));
        assert!(!keywords_audit_failure("-9214364837600034816"));
        assert!(keywords_audit_failure(
            &(0x8010_0000_0000_0000u64 as i64).to_string()
        ));
        assert_eq!(cut("héllo", 2), "h");
    }

    #[test]
    fn fields_treat_dash_as_absent() {
        let f: Fields = [("MemberName", "-"), ("TargetSid", " S-1-5-32-544 ")]
            .into_iter()
            .collect();
        assert_eq!(f.get("MemberName"), None);
        assert_eq!(f.raw("MemberName"), Some("-"));
        assert_eq!(f.get("targetsid"), Some("S-1-5-32-544"));
    }
}
