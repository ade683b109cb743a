//! Durations as users type them (privtrail's one syntax, [`privtrail_model::parse_duration`]) and
//! the serde helpers that write times the way the rest of privtrail does.

use chrono::Duration;

pub use privtrail_model::{Span, format_duration};

/// A duration string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {0:?}: expected a number and a unit (ms, s, m, h, d, w), e.g. \"15m\", \"8h\", \"1h30m\""
)]
pub struct DurationError(pub String);

/// Parses a duration in privtrail's one syntax (`500ms`, `90s`, `15m`, `8h`, `7d`, `2w`,
/// concatenations like `1h30m`).
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    privtrail_model::parse_duration(s).ok_or_else(|| DurationError(s.to_owned()))
}

// Times in elevations and alerts are written like events' (100 ns, no trailing zeros).
pub(crate) use privtrail_model::{serde_opt_time, serde_time};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::seconds(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::minutes(90)));
        for bad in ["", "15", "m", "-5m", "5x", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_duration(Duration::days(7)), "7d");
    }
}
