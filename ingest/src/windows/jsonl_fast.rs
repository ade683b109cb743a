//! Fast path for Winlogbeat 7/8 and Elastic Agent lines (`winlog.*` with the lower-case keys Beats
//! writes), deserialized straight from the line without building a `serde_json::Value`.
//!
//! [`winlogbeat`] gives either the very [`WinRecord`] the `Value` path (`super::jsonl`) builds for
//! the line, or `None` whenever it cannot be sure of that (another shape, a key the `Value` path would
//! match without regard to case, a duplicate key, a value type it does not handle, an error); the
//! caller then takes the `Value` path, which decides. So that "parsed here" implies "parsed there",
//! everything the fast path does not read is still parsed through `deserialize_any` ([`Skip`]), with
//! the same checks as `Value` (escapes, lone surrogates, number range, nesting depth); serde's
//! `IgnoredAny` (what `#[derive(Deserialize)]` uses for unknown fields) skips some of those, which is
//! why the visitors here are written out.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::record::{Fields, WinRecord, parse_time};

/// The record for a Winlogbeat 7/8 line, or `None` to take the `Value` path.
pub(crate) fn winlogbeat(line: &str) -> Option<WinRecord<'_>> {
    let root: Root = serde_json::from_str(line).ok()?;
    let w = root.winlog?;
    let event_id = match w.event_id {
        Some(n) => n?,
        None => root.event.as_ref()?.code??,
    };
    let computer = match w.computer_name {
        Some(c) => c.text()?,
        None => None,
    };
    // A `null` or container `computer_name` also gives way to `host.name`.
    let computer = match computer {
        Some(c) => c,
        None => match root.host.and_then(|h| h.name) {
            Some(n) => n.text()?.unwrap_or_default(),
            None => Cow::Borrowed(""),
        },
    };
    let data = match w.event_data {
        Some(d) if !d.is_empty() => fields_of(d)?,
        _ => user_data_fields(w.user_data.unwrap_or_default())?,
    };
    let outcome_failure = root
        .event
        .and_then(|e| e.outcome)
        .is_some_and(|o| o.eq_ignore_ascii_case("failure"));
    let time = match root.timestamp? {
        Scalar::Str(s) => parse_time(&s)?,
        _ => return None,
    };
    Some(WinRecord {
        provider: text_or_default(w.provider_name)?,
        event_id: u32::try_from(event_id).ok()?,
        channel: text_or_default(w.channel)?,
        computer,
        record_id: w.record_id??,
        time,
        audit_failure: outcome_failure || w.audit_failure,
        data,
        raw: Cow::Borrowed(line),
    })
}

/// Whether `serde_json::Map` iterates in key order (without its `preserve_order` feature) rather
/// than in insertion order; the field order of the `Value` path follows it.
fn map_sorted() -> bool {
    static SORTED: OnceLock<bool> = OnceLock::new();
    *SORTED.get_or_init(|| {
        let mut m = serde_json::Map::new();
        m.insert("b".to_owned(), serde_json::Value::Null);
        m.insert("a".to_owned(), serde_json::Value::Null);
        m.keys().next().is_some_and(|k| k == "a")
    })
}

/// `text(v).unwrap_or_default()` of the `Value` path; `None`: fall back.
fn text_or_default(v: Option<Scalar<'_>>) -> Option<Cow<'_, str>> {
    match v {
        None => Some(Cow::Borrowed("")),
        Some(s) => Some(s.text()?.unwrap_or_default()),
    }
}

type Pairs<'a> = Vec<(Cow<'a, str>, Scalar<'a>)>;

/// `fields_of` of the `Value` path; `None`: fall back.
fn fields_of(mut d: Pairs<'_>) -> Option<Fields<'_>> {
    if map_sorted() {
        d.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let mut f = Fields::with_capacity(d.len());
    for (k, v) in d {
        f.push(k, v.value_text()?);
    }
    Some(f)
}

/// `user_data_fields` of the `Value` path; `None`: fall back.
fn user_data_fields<'a>(mut u: Vec<(Cow<'a, str>, UserEntry<'a>)>) -> Option<Fields<'a>> {
    let sorted = map_sorted();
    if sorted {
        u.sort_by(|a, b| a.0.cmp(&b.0));
    }
    let mut f = Fields::new();
    for (k, v) in u {
        match v {
            UserEntry::Object(mut inner) => {
                if sorted {
                    inner.sort_by(|a, b| a.0.cmp(&b.0));
                }
                for (ik, iv) in inner {
                    if !ik.starts_with('#') {
                        f.push(ik, iv.value_text()?);
                    }
                }
            }
            UserEntry::Scalar(_) if k == "xml_name" || k.starts_with('#') => {}
            UserEntry::Scalar(s) => f.push(k, s.value_text()?),
        }
    }
    Some(f)
}

/// Any JSON value, kept only as far as the `Value` path's `text`/`value_text`/`as_str` need it.
#[derive(Clone)]
enum Scalar<'a> {
    Str(Cow<'a, str>),
    U64(u64),
    I64(i64),
    /// A float: `Number`'s display of it is not reproduced here.
    Float,
    Bool(bool),
    Null,
    /// An array or an object (contents checked, not kept).
    Container,
}

impl<'a> Scalar<'a> {
    /// `text` of the `Value` path (`Some(None)`: no text); `None`: fall back.
    fn text(self) -> Option<Option<Cow<'a, str>>> {
        Some(match self {
            Scalar::Str(s) => Some(s),
            Scalar::U64(n) => Some(Cow::Owned(n.to_string())),
            Scalar::I64(n) => Some(Cow::Owned(n.to_string())),
            Scalar::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
            Scalar::Null | Scalar::Container => None,
            Scalar::Float => return None,
        })
    }

    /// `value_text` of the `Value` path; `None`: fall back.
    fn value_text(self) -> Option<Cow<'a, str>> {
        match self {
            Scalar::Null => Some(Cow::Borrowed("")),
            Scalar::Container | Scalar::Float => None,
            other => other.text()?,
        }
    }

    /// `required_u64(Some(v))` of the `Value` path: `None` when that fails.
    fn number(self) -> Option<u64> {
        match self {
            Scalar::U64(n) => Some(n),
            Scalar::Str(s) => s.trim().parse().ok(),
            // Negative numbers, floats (`Number` shows a `.` or an `e`), booleans, null and
            // containers never give a u64 there either.
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(PhantomData))
    }
}

struct ScalarVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
    type Value = Scalar<'a>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::U64(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::I64(v))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Scalar::Container)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Scalar::Container)
    }
}

/// A value that is not needed: parsed as `Value` would parse it (unlike `IgnoredAny`), not kept.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
                while seq.next_element::<Skip>()?.is_some() {}
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Skip)
            }
        }
        d.deserialize_any(V)
    }
}

/// A map key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_str(ScalarVisitor(PhantomData))? {
            Scalar::Str(s) => Ok(Key(s)),
            _ => Err(de::Error::custom("key is not a string")),
        }
    }
}

/// Which of `known` `key` is (exactly). A key equal to one of them without regard to case only (the
/// `Value` path might take it), or a second occurrence of a known key (`Value` keeps the last one),
/// is an error: fall back.
fn known_key<E: de::Error>(key: &str, known: &[&str], seen: &mut u32) -> Result<Option<usize>, E> {
    for (i, k) in known.iter().enumerate() {
        if key == *k {
            if *seen & (1 << i) != 0 {
                return Err(E::custom("duplicate key"));
            }
            *seen |= 1 << i;
            return Ok(Some(i));
        }
        if key.len() == k.len() && key.eq_ignore_ascii_case(k) {
            return Err(E::custom("key in another case"));
        }
    }
    Ok(None)
}

/// An object of name → value pairs (`event_data`, a `user_data` element), in document order. A
/// duplicate name is an error (fall back).
struct PairsDe<'a>(Pairs<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for PairsDe<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Pairs<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Pairs<'a> = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
                    if out.iter().any(|(o, _)| *o == k) {
                        return Err(de::Error::custom("duplicate key"));
                    }
                    let v = map.next_value::<Scalar<'a>>()?;
                    out.push((k, v));
                }
                Ok(out)
            }
        }
        d.deserialize_map(V(PhantomData)).map(PairsDe)
    }
}

/// One entry of `winlog.user_data`: an element's fields, or a scalar (`xml_name`).
enum UserEntry<'a> {
    Object(Pairs<'a>),
    Scalar(Scalar<'a>),
}

/// `winlog.user_data`: an object of [`UserEntry`]s, in document order.
struct UserDataDe<'a>(Vec<(Cow<'a, str>, UserEntry<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for UserDataDe<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entry<'a>(UserEntry<'a>);
        impl<'de: 'a, 'a> Deserialize<'de> for Entry<'a> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<'a>(PhantomData<&'a ()>);
                impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
                    type Value = UserEntry<'a>;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("any JSON value")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                        let d = de::value::MapAccessDeserializer::new(map);
                        PairsDe::deserialize(d).map(|p| UserEntry::Object(p.0))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                        ScalarVisitor(PhantomData)
                            .visit_seq(seq)
                            .map(UserEntry::Scalar)
                    }
                    fn visit_borrowed_str<E: de::Error>(
                        self,
                        v: &'de str,
                    ) -> Result<Self::Value, E> {
                        Ok(UserEntry::Scalar(Scalar::Str(Cow::Borrowed(v))))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                        Ok(UserEntry::Scalar(Scalar::Str(Cow::Owned(v.to_owned()))))
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                        Ok(UserEntry::Scalar(Scalar::U64(v)))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                        Ok(UserEntry::Scalar(Scalar::I64(v)))
                    }
                    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                        Ok(UserEntry::Scalar(Scalar::Float))
                    }
                    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                        Ok(UserEntry::Scalar(Scalar::Bool(v)))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                        Ok(UserEntry::Scalar(Scalar::Null))
                    }
                }
                d.deserialize_any(V(PhantomData)).map(Entry)
            }
        }
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Vec<(Cow<'a, str>, UserEntry<'a>)>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Self::Value = Vec::new();
                while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
                    if out.iter().any(|(o, _)| *o == k) {
                        return Err(de::Error::custom("duplicate key"));
                    }
                    let Entry(v) = map.next_value::<Entry<'a>>()?;
                    out.push((k, v));
                }
                Ok(out)
            }
        }
        d.deserialize_map(V(PhantomData)).map(UserDataDe)
    }
}

/// `winlog.keywords`: whether it is, or is an array holding, the string `Audit Failure` (any case).
struct AuditFailure(bool);

impl<'de> Deserialize<'de> for AuditFailure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
                let mut any = false;
                while let Some(s) = seq.next_element::<Scalar<'de>>()? {
                    any |= s
                        .as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case("Audit Failure"));
                }
                Ok(any)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
                while map.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(false)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
                Ok(v.eq_ignore_ascii_case("Audit Failure"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
                Ok(false)
            }
        }
        d.deserialize_any(V).map(AuditFailure)
    }
}

/// The top level: `@timestamp`, `winlog`, `event`, `host`; everything else checked and skipped.
#[derive(Default)]
struct Root<'a> {
    timestamp: Option<Scalar<'a>>,
    winlog: Option<Winlog<'a>>,
    event: Option<Event<'a>>,
    host: Option<Host<'a>>,
}

/// `winlog`. The numbers are `Some(None)` when present but not a u64 (the `Value` path rejects).
#[derive(Default)]
struct Winlog<'a> {
    channel: Option<Scalar<'a>>,
    computer_name: Option<Scalar<'a>>,
    event_id: Option<Option<u64>>,
    provider_name: Option<Scalar<'a>>,
    record_id: Option<Option<u64>>,
    event_data: Option<Pairs<'a>>,
    user_data: Option<Vec<(Cow<'a, str>, UserEntry<'a>)>>,
    audit_failure: bool,
}

/// `event` (ECS).
#[derive(Default)]
struct Event<'a> {
    code: Option<Option<u64>>,
    /// `event.outcome` when it is a string.
    outcome: Option<Cow<'a, str>>,
}

/// `host` (ECS).
#[derive(Default)]
struct Host<'a> {
    name: Option<Scalar<'a>>,
}

/// Implements `Deserialize` for a struct read from a JSON object with [`known_key`]: `$ty`, its
/// keys, and a handler `|this, index, map|` reading the value of the key at `index`.
macro_rules! object {
    ($ty:ident, $keys:expr, |$this:ident, $i:ident, $map:ident| $body:block) => {
        impl<'de: 'a, 'a> Deserialize<'de> for $ty<'a> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<'a>(PhantomData<&'a ()>);
                impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
                    type Value = $ty<'a>;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("an object")
                    }
                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        mut $map: A,
                    ) -> Result<Self::Value, A::Error> {
                        const KEYS: &[&str] = $keys;
                        let mut $this = $ty::default();
                        let mut seen = 0u32;
                        while let Some(Key(k)) = $map.next_key::<Key<'a>>()? {
                            match known_key::<A::Error>(&k, KEYS, &mut seen)? {
                                Some($i) => $body,
                                None => {
                                    $map.next_value::<Skip>()?;
                                }
                            }
                        }
                        Ok($this)
                    }
                }
                d.deserialize_map(V(PhantomData))
            }
        }
    };
}

object!(
    Root,
    &["@timestamp", "winlog", "event", "host"],
    |r, i, map| {
        match i {
            0 => r.timestamp = Some(map.next_value()?),
            1 => r.winlog = Some(map.next_value()?),
            2 => r.event = Some(map.next_value()?),
            _ => r.host = Some(map.next_value()?),
        }
    }
);

object!(
    Winlog,
    &[
        "channel",
        "computer_name",
        "event_id",
        "provider_name",
        "record_id",
        "event_data",
        "user_data",
        "keywords",
    ],
    |w, i, map| {
        match i {
            0 => w.channel = Some(map.next_value()?),
            1 => w.computer_name = Some(map.next_value()?),
            2 => w.event_id = Some(map.next_value::<Scalar<'a>>()?.number()),
            3 => w.provider_name = Some(map.next_value()?),
            4 => w.record_id = Some(map.next_value::<Scalar<'a>>()?.number()),
            5 => w.event_data = Some(map.next_value::<PairsDe<'a>>()?.0),
            6 => w.user_data = Some(map.next_value::<UserDataDe<'a>>()?.0),
            _ => w.audit_failure = map.next_value::<AuditFailure>()?.0,
        }
    }
);

object!(Event, &["code", "outcome"], |e, i, map| {
    match i {
        0 => e.code = Some(map.next_value::<Scalar<'a>>()?.number()),
        _ => {
            e.outcome = match map.next_value::<Scalar<'a>>()? {
                Scalar::Str(s) => Some(s),
                _ => None,
            }
        }
    }
});

object!(Host, &["name"], |h, _i, map| {
    h.name = Some(map.next_value()?);
});

#[cfg(test)]
mod tests {
    use super::super::jsonl::{parse_line, parse_line_value};
    use super::*;
    use crate::Format;

    /// The fast path gives what the `Value` path gives (when it gives anything), and `parse_line`
    /// as a whole gives what the `Value` path alone gives, record or reason.
    fn check(line: &str, fast_expected: bool) {
        let slow = parse_line_value(line, None);
        let fast = winlogbeat(line);
        assert_eq!(fast.is_some(), fast_expected, "fast path taken? {line}");
        if let Some(fast) = fast {
            assert!(matches!(fast.raw, Cow::Borrowed(_)), "raw borrows the line");
            assert_eq!(Ok(fast.into_owned()), slow, "{line}");
        }
        assert_eq!(parse_line(line, None), slow, "{line}");
        for forced in [Format::Winlogbeat, Format::Nxlog] {
            assert_eq!(
                parse_line(line, Some(forced)),
                parse_line_value(line, Some(forced)),
                "{forced:?} {line}"
            );
        }
    }

    #[test]
    fn fixture_lines_match_the_value_path() {
        let text = include_str!("../../tests/fixtures/winlogbeat8.jsonl");
        let mut fast = 0;
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            // The second record spells `Winlog`, `Channel`, … with capitals: the `Value` path's.
            let lower = !line.contains("\"Winlog\"");
            check(line, lower);
            fast += usize::from(lower);
        }
        assert_eq!(fast, 3);
    }

    /// Lines as the demo generator (`src/demo/winlogbeat.rs`) and Winlogbeat 7/8 write them, and
    /// variations the fast path handles itself.
    #[test]
    fn winlogbeat_lines_match_the_value_path() {
        let agent = r#""agent":{"ephemeral_id":"0b1f6c2e","id":"5e2c9d8a","name":"ws042","type":"winlogbeat","version":"8.17.4"},"ecs":{"version":"8.0.0"}"#;
        let lines = [
            format!(
                r#"{{"@timestamp":"2024-03-01T10:00:00.123Z",{agent},"event":{{"action":"Logon","code":"4624","created":"2024-03-01T10:00:01.456Z","kind":"event","outcome":"success","provider":"Microsoft-Windows-Security-Auditing"}},"host":{{"name":"ws042"}},"log":{{"level":"information"}},"message":"An account was successfully logged on.\n\nSubject:\n\tSecurity ID:\t\tS-1-5-18","winlog":{{"api":"wineventlog","channel":"Security","computer_name":"ws042.contoso.local","event_data":{{"SubjectUserSid":"S-1-5-18","TargetUserName":"alice","LogonType":"3","IpAddress":"10.0.4.17","ProcessName":"C:\\Windows\\System32\\svchost.exe","ElevatedToken":"%%1843"}},"event_id":"4624","keywords":["Audit Success"],"opcode":"Info","process":{{"pid":612,"thread":{{"id":700}}}},"provider_guid":"{{54849625-5478-4994-a5ba-3e3b0328c30d}}","provider_name":"Microsoft-Windows-Security-Auditing","record_id":100042,"task":"Logon","version":2}}}}"#
            ),
            format!(
                r#"{{"@timestamp":"2024-03-01T10:05:00.000Z",{agent},"event":{{"action":"Logon","code":"4625","kind":"event","outcome":"failure"}},"host":{{"name":"ws042"}},"message":"An account failed to log on.","winlog":{{"api":"wineventlog","channel":"Security","computer_name":"ws042.contoso.local","event_data":{{"TargetUserName":"administrator","Status":"0xc000006d","LogonType":"3"}},"event_id":"4625","keywords":["Audit Failure"],"provider_name":"Microsoft-Windows-Security-Auditing","record_id":100043,"task":"Logon"}}}}"#
            ),
            format!(
                r#"{{"@timestamp":"2024-03-01T10:10:00.500Z",{agent},"event":{{"action":"Log clear","code":"1102","outcome":"success"}},"host":{{"name":"ws042"}},"winlog":{{"api":"wineventlog","channel":"Security","computer_name":"ws042.contoso.local","user_data":{{"xml_name":"LogFileCleared","SubjectUserSid":"S-1-5-21-1-2-3-500","SubjectUserName":"Administrator","SubjectDomainName":"CONTOSO","SubjectLogonId":"0x4a5c1"}},"event_id":"1102","keywords":["Audit Success"],"provider_name":"Microsoft-Windows-Eventlog","record_id":100044,"task":"Log clear"}}}}"#
            ),
            // Numbers for event_id, strings for record_id, non-string event data, keywords as a
            // string, an escaped key, no computer_name (host.name instead).
            r#"{"@timestamp":"2024-03-01T10:11:00Z","host":{"name":"srv02"},"winlog":{"channel":"Security","event_id":4732,"provider_name":"Microsoft-Windows-Security-Auditing","record_id":" 77 ","keywords":"audit failure","event_data":{"Count":3,"Neg":-4,"Flag":true,"Empty":null,"Tar\u0067etSid":"S-1-5-32-544","Quote":"a \"b\""}}}"#.to_owned(),
            // A null computer_name gives way to host.name; event_id from event.code.
            r#"{"@timestamp":"2024-03-01 10:12:00","event":{"code":4720,"outcome":"FAILURE"},"host":{"name":"srv03"},"winlog":{"computer_name":null,"channel":"Security","record_id":"9"}}"#.to_owned(),
            // user_data with an element object, `#` keys, empty event_data.
            r##"{"@timestamp":"2024-03-01T10:13:00Z","winlog":{"channel":"System","computer_name":"dc1","event_id":"104","provider_name":"Microsoft-Windows-Eventlog","record_id":1,"event_data":{},"user_data":{"LogFileCleared":{"#attributes":{"xmlns":"x"},"SubjectUserName":"bob","Channel":"Application"},"#note":"x","Extra":"y"},"keywords":[1,null,{"a":[1,2]},"Classic"]}}"##.to_owned(),
            // No host, no keywords, no provider: defaults.
            r#"{"@timestamp":"2024-03-01T10:14:00+02:00","winlog":{"event_id":"4688","record_id":2},"event":{"outcome":3}}"#.to_owned(),
        ];
        for line in &lines {
            check(line, true);
        }
    }

    /// What the fast path leaves to the `Value` path, which accepts or rejects it.
    #[test]
    fn unsure_lines_fall_back() {
        let deep = format!(
            r#"{{"x":{}1{},"@timestamp":"2024-03-01T10:00:00Z","winlog":{{"event_id":"1","record_id":1}}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let lines = [
            // Another case of a key the Value path reads.
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":{"Channel":"Security","event_id":"1","record_id":1}}"#,
            r#"{"@Timestamp":"2024-03-01T10:00:00Z","winlog":{"event_id":"1","record_id":1}}"#,
            r#"{"@timestamp":"2024-03-01T10:00:00Z","WINLOG":{},"winlog":{"event_id":"1","record_id":1}}"#,
            // Duplicate keys: Value keeps the last.
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":{"event_id":"1","record_id":1,"record_id":2}}"#,
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":{"event_id":"1","record_id":1,"event_data":{"A":"1","A":"2"}}}"#,
            // Values shown by serde_json's own formatting.
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":{"event_id":"1","record_id":1,"event_data":{"A":1.5}}}"#,
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":{"event_id":"1","record_id":1,"event_data":{"A":["x","y"]}}}"#,
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":{"event_id":"1","record_id":1,"channel":2.0}}"#,
            // Rejects: the Value path gives the reason.
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":{"event_id":"x","record_id":1}}"#,
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":{"event_id":"99999999999","record_id":1}}"#,
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":{"event_id":"1"}}"#,
            r#"{"@timestamp":"soon","winlog":{"event_id":"1","record_id":1}}"#,
            r#"{"winlog":{"event_id":"1","record_id":1}}"#,
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":{"event_id":"1","record_id":1},"x":"\ud800"}"#,
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":{"event_id":"1","record_id":1},"x":1e400}"#,
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":{"event_id":"1","record_id":1}} x"#,
            &deep,
            // Other shapes.
            r#"{"@timestamp":"2024-03-01T10:00:00Z","winlog":"x","event_id":1,"event_data":{}}"#,
            r#"{"EventID":4624,"Hostname":"h","EventTime":"2024-03-01 10:00:00","RecordNumber":1}"#,
            r#"[1]"#,
        ];
        for line in lines {
            check(line, false);
        }
    }
}
