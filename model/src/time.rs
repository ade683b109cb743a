//! How privtrail writes times: RFC 3339 in UTC with as many fractional digits as needed and no
//! trailing zeros, so a Windows time keeps its 100 ns form (`2016-07-08T18:15:23.4292263Z`, as
//! Windows and `evtx_dump` print it) and a whole second has no fraction.

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serializer};

pub fn format_time(t: DateTime<Utc>) -> String {
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
