//! How privtrail writes times: RFC 3339 in UTC with as many fractional digits as needed and no
//! trailing zeros, so a Windows time keeps its 100 ns form (`2016-07-08T18:15:23.4292263Z`, as
//! Windows and `evtx_dump` print it) and a whole second has no fraction.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serializer};

pub fn format_time(t: DateTime<Utc>) -> String {
    // Written digit by digit: chrono's `format` interprets its pattern on every call, and this
    // runs for every time of every alert and elevation row a rules run saves (7 % of its
    // judging thread). Years outside 0–9999 and leap seconds keep chrono's spelling.
    let year = t.year();
    let nanos = t.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return format_time_chrono(t);
    }
    let mut b = [0u8; 30];
    let mut len = 0;
    let mut put = |n: u32, width: usize, after: u8| {
        let mut n = n;
        for d in b[len..len + width].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        len += width;
        b[len] = after;
        len += 1;
    };
    put(year.unsigned_abs(), 4, b'-');
    put(t.month(), 2, b'-');
    put(t.day(), 2, b'T');
    put(t.hour(), 2, b':');
    put(t.minute(), 2, b':');
    if nanos > 0 {
        put(t.second(), 2, b'.');
        put(nanos, 9, b'Z');
        // No trailing zeros in the fraction.
        let digits = len - 1;
        let kept = b[digits - 9..digits]
            .iter()
            .rposition(|&d| d != b'0')
            .map_or(0, |p| p + 1);
        len = digits - 9 + kept;
        b[len] = b'Z';
        len += 1;
    } else {
        put(t.second(), 2, b'Z');
    }
    // Only ASCII digits and separators were written.
    String::from_utf8_lossy(&b[..len]).into_owned()
}

/// [`format_time`] through chrono's formatter (the reference the fast form is tested against).
fn format_time_chrono(t: DateTime<Utc>) -> String {
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = t.nanosecond() % 1_000_000_000;
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// `#[serde(with = "privtrail_model::serde_time")]` for a `DateTime<Utc>` written as [`format_time`].
pub mod serde_time {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_time(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        DateTime::<Utc>::deserialize(d)
    }
}

/// The same for an `Option<DateTime<Utc>>`.
pub mod serde_opt_time {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format_time(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_as_chrono_writes_it() {
        // Times spread over years 0–9999 and beyond, every fraction length, leap seconds.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut checked = 0;
        for i in 0..200_000u64 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let secs = (x >> 11) as i64 % 320_000_000_000 - 62_200_000_000;
            let nanos = match i % 5 {
                0 => 0,
                1 => (x % 1_000) as u32 * 1_000_000,
                2 => (x % 10_000_000) as u32 * 100,
                3 => (x % 1_000_000_000) as u32,
                _ => 1_000_000_000 + (x % 1_000_000_000) as u32,
            };
            let Some(t) = DateTime::<Utc>::from_timestamp(secs, nanos) else {
                continue;
            };
            assert_eq!(format_time(t), format_time_chrono(t), "{secs} {nanos}");
            checked += 1;
        }
        assert!(checked > 150_000, "{checked}");
    }

    #[test]
    fn trims_trailing_zeros() {
        let p = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            format_time(p("2016-07-08T18:15:23.4292263Z")),
            "2016-07-08T18:15:23.4292263Z"
        );
        assert_eq!(
            format_time(p("2016-07-08T18:15:23.5Z")),
            "2016-07-08T18:15:23.5Z"
        );
        assert_eq!(
            format_time(p("2016-07-08T18:15:23Z")),
            "2016-07-08T18:15:23Z"
        );
        assert_eq!(
            format_time(p("2016-07-08T20:15:23.000000001+02:00")),
            "2016-07-08T18:15:23.000000001Z"
        );
    }
}
