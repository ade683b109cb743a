//! Small helpers over `serde_json` values: keys matched without regard to case, scalars as text,
//! one level of JSON quoting undone, and the time forms Entra exports use.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, Utc};

pub(crate) use super::node::{JsonMap, JsonValue};

/// The member `key` of `m`: the exact name, else the first in another case.
pub(crate) fn get<'a, M: JsonMap>(m: &'a M, key: &str) -> Option<&'a M::Value> {
    m.member(key)
}

/// The object under `key` (any case).
pub(crate) fn obj<'a, M: JsonMap>(m: &'a M, key: &str) -> Option<&'a M> {
    get(m, key).and_then(JsonValue::as_map)
}

/// The array under `key` (any case); empty when absent or not an array.
pub(crate) fn arr<'a, M: JsonMap>(m: &'a M, key: &str) -> &'a [M::Value] {
    get(m, key).and_then(JsonValue::array).unwrap_or(&[])
}

/// A scalar under `key` as trimmed text; `None` for absent, `null`, empty text and containers.
pub(crate) fn text<M: JsonMap>(m: &M, key: &str) -> Option<String> {
    text_ref(m, key).map(Cow::into_owned)
}

/// [`text`] borrowed from the record where it holds text (no copy for a comparison or a value
/// that may not be kept).
pub(crate) fn text_ref<'a, M: JsonMap>(m: &'a M, key: &str) -> Option<Cow<'a, str>> {
    let v = get(m, key)?;
    match v.string() {
        Some(s) => Some(Cow::Borrowed(s.trim())).filter(|s| !s.is_empty()),
        None => scalar(v).map(Cow::Owned),
    }
}

/// A scalar value as trimmed text; `None` for `null`, empty text and containers.
pub(crate) fn scalar<V: JsonValue>(v: &V) -> Option<String> {
    let s = match v.string() {
        Some(s) => s.trim().to_owned(),
        None => v.number_or_bool()?,
    };
    (!s.is_empty()).then_some(s)
}

/// Undo one level of JSON quoting, as in `modifiedProperties` values (`"\"Global Administrator\""`).
/// Text that is not a quoted JSON string is returned trimmed as it is; an empty result is `None`.
pub(crate) fn unquote(s: &str) -> Option<String> {
    let t = s.trim();
    let out = if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        serde_json::from_str::<String>(t).unwrap_or_else(|_| t[1..t.len() - 1].to_owned())
    } else {
        t.to_owned()
    };
    let out = out.trim().to_owned();
    (!out.is_empty()).then_some(out)
}

/// The all-zero GUID Graph uses as a placeholder for "nobody".
pub(crate) fn is_nil_guid(s: &str) -> bool {
    s.len() == 36 && s.bytes().all(|b| b == b'0' || b == b'-')
}

/// RFC 3339 (any precision, any offset), the same without a zone (taken as UTC), or the form the
/// Azure portal writes into CSV exports (`8/2/2021, 1:29:25.983 PM`, UTC).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Some(t) = crate::windows::record::parse_time(s) {
        return Some(t);
    }
    let s = s.trim();
    [
        "%m/%d/%Y, %I:%M:%S%.f %p",
        "%m/%d/%Y %I:%M:%S%.f %p",
        "%m/%d/%Y %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquotes_one_level() {
        assert_eq!(
            unquote("\"Global Administrator\"").as_deref(),
            Some("Global Administrator")
        );
        assert_eq!(unquote(" plain ").as_deref(), Some("plain"));
        assert_eq!(unquote("\"\""), None);
        assert_eq!(unquote("\"a \\\"b\\\"\"").as_deref(), Some("a \"b\""));
    }

    #[test]
    fn times() {
        let p = |s| parse_time(s).map(privtrail_model::format_time);
        assert_eq!(
            p("2018-01-09T21:20:02.7215374Z").as_deref(),
            Some("2018-01-09T21:20:02.7215374Z")
        );
        assert_eq!(
            p("8/2/2021, 1:29:25.983 PM").as_deref(),
            Some("2021-08-02T13:29:25.983Z")
        );
        assert_eq!(p("yesterday"), None);
        assert!(is_nil_guid("00000000-0000-0000-0000-000000000000"));
        assert!(!is_nil_guid("00000000-0000-0000-0000-000000000001"));
    }
}
