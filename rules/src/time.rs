//! Durations as users type them (`90s`, `15m`, `8h`, `7d`, `2w`, or combined: `1h30m`) and the
//! serde helpers that write times the way the rest of privtrail does ([`format_time`]).

use std::fmt;
use std::str::FromStr;

use chrono::Duration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {0:?}: expected a number and a unit (ms, s, m, h, d, w), e.g. \"15m\", \"8h\", \"1h30m\""
)]
pub struct DurationError(pub String);

/// Parses a duration in privtrail's one syntax ([`privtrail_model::parse_duration`]: `500ms`, `90s`,
/// `15m`, `8h`, `7d`, `2w`, concatenations like `1h30m`).
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    privtrail_model::parse_duration(s).ok_or_else(|| DurationError(s.to_owned()))
}

/// Formats a duration in the largest units that describe it exactly (`1h30m`, `7d`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.num_seconds();
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

/// A [`Duration`] read from and written as a string such as `15m` (config files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(Span)
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

// Times in elevations and alerts are written like events' (100 ns, no trailing zeros).
pub(crate) use privtrail_model::{serde_opt_time, serde_time};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::seconds(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::minutes(15)));
        assert_eq!(parse_duration("8h"), Ok(Duration::hours(8)));
        assert_eq!(parse_duration("7d"), Ok(Duration::days(7)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration(" 24H "), Ok(Duration::hours(24)));
        for bad in ["", "15", "m", "-5m", "5x", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::minutes(90)), "1h30m");
        assert_eq!(format_duration(Duration::days(7)), "7d");
        let s: Span = "15m".parse().unwrap();
        assert_eq!(s.to_string(), "15m");
    }
}
