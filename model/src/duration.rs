//! Durations as users write them everywhere in privtrail (config file, command line): one parser,
//! so `[rules]`, `[[tenants]]`, `[[channels]]` and `--since 7d` accept the same forms.

use chrono::Duration;

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

#[cfg(test)]
mod tests {
    use super::*;

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
