//! Durations as users write them everywhere in privtrail (config file, command line): one parser,
//! so `[rules]`, `[[tenants]]`, `[[channels]]` and `--since 7d` accept the same forms; [`Span`] is
//! such a duration as a config value. Also the one reader of HTTP `Retry-After`
//! ([`parse_retry_after`]), shared by the Graph client and the delivery channels.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Parses `500ms`, `90s`, `15m`, `8h`, `7d`, `2w` and concatenations (`1h30m`), units in any case,
/// surrounding spaces ignored. Zero is allowed; a missing unit, a sign, a fraction or an overflow
/// is not (`None`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let t = s.trim().as_bytes();
    if t.is_empty() {
        return None;
    }
    let mut total = Duration::zero();
    let mut i = 0;
    while i < t.len() {
        let start = i;
        while i < t.len() && t[i].is_ascii_digit() {
            i += 1;
        }
        let n: i64 = std::str::from_utf8(&t[start..i]).ok()?.parse().ok()?;
        let unit = t.get(i)?.to_ascii_lowercase();
        let millis = unit == b'm' && t.get(i + 1).is_some_and(|c| c.eq_ignore_ascii_case(&b's'));
        let part = match unit {
            _ if millis => Duration::try_milliseconds(n),
            b's' => Duration::try_seconds(n),
            b'm' => Duration::try_minutes(n),
            b'h' => Duration::try_hours(n),
            b'd' => Duration::try_days(n),
            b'w' => Duration::try_weeks(n),
            _ => None,
        }?;
        i += if millis { 2 } else { 1 };
        total = total.checked_add(&part)?;
    }
    Some(total)
}

/// Parses an ISO 8601 duration as Graph writes them (`PT8H`, `PT1H30M`, `P1D`, `P2W`, `P365D`,
/// `PT0.5H` is refused): Graph's wire format, not a user's — users write [`parse_duration`]'s forms.
/// Years and months (no fixed length) are refused.
pub fn parse_iso8601_duration(s: &str) -> Option<Duration> {
    let rest = s.trim().strip_prefix(['P', 'p'])?;
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::zero();
    let mut in_time = false;
    let mut parts = 0;
    let mut n = String::new();
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            'T' if !in_time && n.is_empty() => in_time = true,
            d if d.is_ascii_digit() => n.push(d),
            unit => {
                let v: i64 = n.parse().ok()?;
                n.clear();
                let part = match (in_time, unit) {
                    (false, 'D') => Duration::try_days(v),
                    (false, 'W') => Duration::try_weeks(v),
                    (true, 'H') => Duration::try_hours(v),
                    (true, 'M') => Duration::try_minutes(v),
                    (true, 'S') => Duration::try_seconds(v),
                    _ => None,
                }?;
                total = total.checked_add(&part)?;
                parts += 1;
            }
        }
    }
    (n.is_empty() && parts > 0).then_some(total)
}

/// Formats a duration in the largest units that describe it exactly (`1h30m`, `7d`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.num_seconds();
    let millis = d.num_milliseconds() - secs * 1000;
    if secs == 0 && millis != 0 {
        return format!("{millis}ms");
    }
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
        secs = -secs;
    }
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= len {
            out.push_str(&format!("{}{unit}", secs / len));
            secs %= len;
        }
    }
    out
}

/// A duration read from and written as a string such as `15m` (config files): [`parse_duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(Span).ok_or_else(|| {
            format!(
                "invalid duration {s:?}: expected a number and a unit (ms, s, m, h, d, w), e.g. \"15m\", \"8h\", \"1h30m\""
            )
        })
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// The longest `Retry-After` honoured: a receiver asking for more (or an attacker-controlled
/// endpoint sending an absurd value) is waited for this long at most.
pub const MAX_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// An HTTP `Retry-After` value (RFC 9110 §10.2.3): delay-seconds or an HTTP date (a date in the
/// past means now). Capped at [`MAX_RETRY_AFTER`]; `None` when it is neither form.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<std::time::Duration> {
    let v = value.trim();
    let d = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // More seconds than a u64 holds is still "wait very long", not "no value".
        v.parse::<u64>()
            .map_or(MAX_RETRY_AFTER, std::time::Duration::from_secs)
    } else {
        let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
        (at - now).to_std().unwrap_or(std::time::Duration::ZERO)
    };
    Some(d.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_durations_as_graph_writes_them() {
        let h = Duration::hours;
        assert_eq!(parse_iso8601_duration("PT8H"), Some(h(8)));
        assert_eq!(
            parse_iso8601_duration("PT1H30M"),
            Some(h(1) + Duration::minutes(30))
        );
        assert_eq!(parse_iso8601_duration("P1D"), Some(h(24)));
        assert_eq!(parse_iso8601_duration("P1DT2H"), Some(h(26)));
        assert_eq!(parse_iso8601_duration("P2W"), Some(Duration::weeks(2)));
        for bad in [
            "", "P", "8h", "PT", "P1M", "P1Y", "PT8", "PT0.5H", "PTT1H", "P-1D",
        ] {
            assert_eq!(parse_iso8601_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("date");
        let s = std::time::Duration::from_secs;
        assert_eq!(parse_retry_after("7", now), Some(s(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(s(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(s(0))
        );
        assert_eq!(
            parse_retry_after("99999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        // 10^20 seconds does not fit in a u64: still the cap, not "no value".
        assert_eq!(
            parse_retry_after("100000000000000000000", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn spans_read_and_print() {
        let s: Span = "1h30m".parse().expect("valid");
        assert_eq!(s.0, Duration::minutes(90));
        assert_eq!(s.to_string(), "1h30m");
        assert_eq!(Span(Duration::milliseconds(500)).to_string(), "500ms");
        assert!("soon".parse::<Span>().is_err());
    }

    #[test]
    fn forms() {
        assert_eq!(parse_duration("500ms"), Some(Duration::milliseconds(500)));
        assert_eq!(parse_duration("90s"), Some(Duration::seconds(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::seconds(90)));
        assert_eq!(parse_duration(" 24H "), Some(Duration::hours(24)));
        assert_eq!(parse_duration("2w"), Some(Duration::weeks(2)));
        assert_eq!(parse_duration("0s"), Some(Duration::zero()));
        for bad in [
            "",
            "15",
            "m",
            "-5m",
            "5x",
            "1.5h",
            "99999999999999999999d",
            "1h 30m",
            "ms",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
