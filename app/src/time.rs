//! Times and durations as users type them on the command line and in API queries: RFC 3339, a
//! plain date, or a duration before now (`24h`, `7d`). Durations use the one syntax of the whole
//! project ([`privtrail_model::parse_duration`]).

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::error::{AppError, Result};

/// A duration like `500ms`, `90s`, `15m`, `8h`, `7d`, `2w` or `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration> {
    privtrail_model::parse_duration(s).ok_or_else(|| {
        AppError::Usage(format!(
            "invalid duration {:?}: a whole number and a unit (ms, s, m, h, d, w), e.g. 15m, 7d or 1h30m",
            s.trim()
        ))
    })
}

/// A point in time: RFC 3339 (`2016-07-10T00:00:00Z`), a date (`2016-07-10`, midnight UTC), or a
/// duration before `now` (`24h`).
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    match privtrail_model::parse_duration(s) {
        Some(d) => now
            .checked_sub_signed(d)
            .ok_or_else(|| AppError::Usage(format!("time {s:?} is out of range"))),
        None => Err(AppError::Usage(format!(
            "invalid time {s:?}: use RFC 3339 (2016-07-10T00:00:00Z), a date (2016-07-10) or a duration before now (24h, 7d)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let now = parse_time("2020-01-02T00:00:00Z", Utc::now()).expect("rfc3339");
        let t = |s: &str| parse_time(s, now).map(|t| t.to_rfc3339()).ok();
        assert_eq!(t("24h").as_deref(), Some("2020-01-01T00:00:00+00:00"));
        assert_eq!(
            t("2016-07-10").as_deref(),
            Some("2016-07-10T00:00:00+00:00")
        );
        assert_eq!(
            t("2016-07-10T02:00:00+02:00").as_deref(),
            Some("2016-07-10T00:00:00+00:00")
        );
        assert_eq!(parse_duration("15m").ok(), Some(Duration::minutes(15)));
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("h").is_err());
    }
}
