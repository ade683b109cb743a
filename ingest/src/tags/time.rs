//! The times endpoint tags carry, as scripts write them.
//!
//! Accepted (leading and trailing blanks ignored):
//! - RFC 3339 / ISO 8601 with a zone: `2026-11-20T08:00:00Z`, `2026-11-20T09:00:00.0000000+01:00`
//!   (.NET's round-trip `o` format);
//! - `yyyy-mm-dd hh:mm:ss` (or with `T`, optional fraction, optional seconds), with an optional zone
//!   `Z`, `UTC`, `GMT`, `+01:00`, `+0100`; **without a zone it is taken as UTC**;
//! - `M/d/yyyy h:mm:ss AM/PM`, what PowerShell's `(Get-Date).ToString()` prints in en-US
//!   (`11/20/2026 8:00:00 AM`), and its 24-hour form `M/d/yyyy H:mm:ss`; also the long form
//!   `Thursday, November 20, 2026 8:00:00 AM`. These carry no zone and are **taken as UTC** too
//!   (a script that writes local time should write an offset); month-first only, as en-US prints;
//! - Unix epoch seconds: decimal digits, or `0x…` hex as `reg query` prints a `REG_DWORD` /
//!   `REG_QWORD`. A value of 10^11 or more is taken as milliseconds (seconds that large are past the
//!   year 5000).

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

const EXPECTED: &str =
    "expected RFC 3339, yyyy-mm-dd hh:mm:ss, M/d/yyyy h:mm:ss AM/PM or Unix epoch seconds";

/// Naive forms (no zone), tried in order.
const NAIVE: [&str; 10] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%A, %B %d, %Y %I:%M:%S %p",
    "%B %d, %Y %I:%M:%S %p",
];

/// Forms with a numeric offset at the end (`+01:00` or `+0100`, with or without a blank before).
const ZONED: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f %#z",
    "%Y-%m-%dT%H:%M:%S%.f %#z",
];

/// Parse one tag time (see the module docs). The error is a reason naming the value.
pub fn parse_tag_time(s: &str) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    let bad = || format!("unrecognized time {t:?} ({EXPECTED})");
    if t.is_empty() {
        return Err(bad());
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        let n = u64::from_str_radix(hex, 16).map_err(|_| bad())?;
        return epoch(i64::try_from(n).map_err(|_| bad())?).ok_or_else(bad);
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = t.parse().map_err(|_| bad())?;
        return epoch(n).ok_or_else(bad);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    for f in ZONED {
        if let Ok(d) = DateTime::parse_from_str(t, f) {
            return Ok(d.with_timezone(&Utc));
        }
    }
    // A UTC marker, then the naive forms.
    let upper = t.to_ascii_uppercase();
    let naive = ["UTC", "GMT", "Z"]
        .iter()
        .find(|z| upper.ends_with(*z))
        .map_or(t, |z| &t[..t.len() - z.len()])
        .trim();
    for f in NAIVE {
        if let Ok(n) = NaiveDateTime::parse_from_str(naive, f) {
            return Ok(Utc.from_utc_datetime(&n));
        }
    }
    Err(bad())
}

/// Unix seconds, or milliseconds when the value is too large for seconds.
pub(crate) fn epoch(n: i64) -> Option<DateTime<Utc>> {
    if n >= 100_000_000_000 {
        DateTime::from_timestamp_millis(n)
    } else {
        DateTime::from_timestamp(n, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        privtrail_model::format_time(parse_tag_time(s).unwrap_or_else(|e| panic!("{s}: {e}")))
    }

    #[test]
    fn accepted_forms() {
        let want = "2026-11-20T08:00:00Z";
        for s in [
            "2026-11-20T08:00:00Z",
            "2026-11-20T09:00:00+01:00",
            "2026-11-20T09:00:00.0000000+01:00",
            "2026-11-20 08:00:00",
            "2026-11-20 08:00:00Z",
            "2026-11-20 08:00:00 UTC",
            "2026-11-20 10:00:00+02:00",
            "2026-11-20 10:00:00 +0200",
            "2026-11-20T08:00:00",
            "2026-11-20 08:00",
            "11/20/2026 8:00:00 AM",
            "11/20/2026 08:00:00 am",
            "11/20/2026 8:00:00",
            "Friday, November 20, 2026 8:00:00 AM",
            "1795161600",
            "0x6afffe00",
            "1795161600000",
            "  2026-11-20T08:00:00Z\r",
        ] {
            assert_eq!(p(s), want, "{s}");
        }
        assert_eq!(p("1/2/2026 1:05:09 PM"), "2026-01-02T13:05:09Z");
        assert_eq!(p("2026-11-20 08:00:00.25"), "2026-11-20T08:00:00.25Z");
    }

    #[test]
    fn rejected_forms() {
        for s in [
            "",
            "soon",
            "20/11/2026 08:00:00",
            "2026-13-01 00:00:00",
            "0xZZ",
            "0xffffffffffffffff",
            "2026-11-20",
        ] {
            let e = parse_tag_time(s).expect_err(s);
            assert!(e.contains("unrecognized time"), "{e}");
        }
    }
}
