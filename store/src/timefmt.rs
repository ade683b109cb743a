//! Time encodings used by the store.
//!
//! * Columns that are sorted and filtered (`time`, `ingested_at`, `received_at`, `updated_at`)
//!   are INTEGER nanoseconds since the Unix epoch: exact for EVTX's 100 ns ticks, and they sort.
//!   The representable range is 1677-09-21 .. 2262-04-11; an event outside it is stored as a reject.
//! * `expires_at` is TEXT in the fixed form below, because an expiry may be far in the future
//!   (year 9999 sentinels exist) and must still round-trip exactly.
//! * The canonical form hashed by the chain uses the same fixed text form for every time.
//!
//! Fixed form: RFC 3339, UTC, always nine fractional digits, `Z`:
//! `2016-07-08T18:15:23.429226300Z`. For years 0000..=9999 it sorts as text.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};

/// Nanoseconds since the epoch, or `None` outside 1677..2262.
pub fn to_nanos(t: &DateTime<Utc>) -> Option<i64> {
    t.timestamp_nanos_opt()
}

pub fn from_nanos(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

/// Appends the fixed text form of `t` to `out`.
pub fn push_fixed(t: &DateTime<Utc>, out: &mut String) {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        // Rare; chrono writes a sign and more digits. Still exact and deterministic.
        out.push_str(&t.to_rfc3339_opts(SecondsFormat::Nanos, true));
        return;
    }
    // Hand-written because this runs for every event written and verified (chrono's formatter
    // costs several hundred ns).
    let mut buf = *b"0000-00-00T00:00:00.000000000Z";
    put(&mut buf[0..4], year as u32);
    put(&mut buf[5..7], t.month());
    put(&mut buf[8..10], t.day());
    put(&mut buf[11..13], t.hour());
    put(&mut buf[14..16], t.minute());
    // A leap second shows as nanosecond >= 1e9 in chrono; keep it in the seconds field like
    // RFC 3339 does (":60").
    let nanos = t.nanosecond();
    let (sec, frac) = if nanos >= 1_000_000_000 {
        (t.second() + 1, nanos - 1_000_000_000)
    } else {
        (t.second(), nanos)
    };
    put(&mut buf[17..19], sec);
    put(&mut buf[20..29], frac);
    // Every byte written is an ASCII digit or one of the template's ASCII characters.
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// The fixed text form of `t`.
pub fn fixed(t: &DateTime<Utc>) -> String {
    let mut s = String::with_capacity(30);
    push_fixed(t, &mut s);
    s
}

/// Parses the fixed text form (any RFC 3339 form is accepted).
pub fn parse_fixed(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn put(dst: &mut [u8], mut v: u32) {
    for b in dst.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_fixed(s).expect("valid time")
    }

    #[test]
    fn fixed_form_matches_chrono_and_round_trips() {
        for s in [
            "2016-07-08T18:15:23.4292263Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59.999999999Z",
            "0001-01-01T00:00:00.000000001Z",
            "9999-12-31T23:59:59Z",
        ] {
            let v = t(s);
            let f = fixed(&v);
            assert_eq!(f, v.to_rfc3339_opts(SecondsFormat::Nanos, true));
            assert_eq!(parse_fixed(&f), Some(v));
        }
        assert_eq!(
            fixed(&t("2016-07-08T18:15:23.4292263Z")),
            "2016-07-08T18:15:23.429226300Z"
        );
    }

    #[test]
    fn nanos_round_trip_and_range() {
        let v = t("2016-07-08T18:15:23.4292263Z");
        assert_eq!(from_nanos(to_nanos(&v).expect("in range")), v);
        assert_eq!(to_nanos(&t("9999-12-31T23:59:59Z")), None);
    }
}
