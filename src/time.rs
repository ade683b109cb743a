//! Times and durations as users type them: RFC 3339, a plain date, or relative (`24h`, `7d`).

use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// A duration like `500ms`, `90s`, `15m`, `8h`, `7d`, `2w` or `1h30m` (the syntax of the whole
/// project: [`privtrail_model::parse_duration`]).
pub fn parse_duration(s: &str) -> Result<Duration> {
    privtrail_model::parse_duration(s).ok_or_else(|| {
        anyhow!(
            "invalid duration {:?}: a whole number and a unit (ms, s, m, h, d, w), e.g. 15m, 7d or 1h30m",
            s.trim()
        )
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
    match parse_duration(s) {
        Ok(d) => now
            .checked_sub_signed(d)
            .ok_or_else(|| anyhow!("time {s:?} is out of range")),
        Err(_) => bail!(
            "invalid time {s:?}: use RFC 3339 (2016-07-10T00:00:00Z), a date (2016-07-10) or a duration before now (24h, 7d)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let now = parse_time("2020-01-02T00:00:00Z", Utc::now()).unwrap();
        assert_eq!(
            parse_time("24h", now).unwrap().to_rfc3339(),
            "2020-01-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2016-07-10", now).unwrap().to_rfc3339(),
            "2016-07-10T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("2016-07-10T02:00:00+02:00", now)
                .unwrap()
                .to_rfc3339(),
            "2016-07-10T00:00:00+00:00"
        );
        assert_eq!(parse_duration("15m").unwrap(), Duration::minutes(15));
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("h").is_err());
    }
}
