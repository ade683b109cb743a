//! Typed deserialization of the `evtx` crate's JSON rendering of a record
//! (`{"Event":{"System":{…},"EventData":{…}|"UserData":{…}}}`, attributes under `#attributes`).
//!
//! Typed structs with small custom visitors that borrow from the JSON text are several times faster
//! than `serde_json::Value`. Scalars may be numbers or strings, and an element with attributes and
//! text renders as `{"#attributes":{…},"#text":…}`; [`Text`] and [`Num`] accept all of these.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::record::{Fields, WinRecord, keywords_audit_failure, parse_time};

#[derive(Deserialize)]
struct Root<'a> {
    #[serde(rename = "Event", alias = "event", borrow)]
    event: EvEvent<'a>,
}

#[derive(Deserialize)]
struct EvEvent<'a> {
    #[serde(rename = "System", alias = "system", borrow)]
    system: EvSystem<'a>,
    #[serde(rename = "EventData", alias = "eventdata", default, borrow)]
    event_data: Option<FieldsDe<'a>>,
    #[serde(rename = "UserData", alias = "userdata", default, borrow)]
    user_data: Option<UserDataDe<'a>>,
}

#[derive(Deserialize)]
struct EvSystem<'a> {
    #[serde(rename = "Provider", default, borrow)]
    provider: Option<Attrs<ProviderAttrs<'a>>>,
    #[serde(rename = "EventID", default)]
    event_id: Option<Num>,
    #[serde(rename = "EventRecordID", default)]
    record_id: Option<Num>,
    #[serde(rename = "TimeCreated", default, borrow)]
    time_created: Option<Attrs<TimeAttrs<'a>>>,
    #[serde(rename = "Channel", default, borrow)]
    channel: Option<Text<'a>>,
    #[serde(rename = "Computer", default, borrow)]
    computer: Option<Text<'a>>,
    #[serde(rename = "Keywords", default, borrow)]
    keywords: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Attrs<T> {
    #[serde(rename = "#attributes")]
    attributes: T,
}

#[derive(Deserialize)]
struct ProviderAttrs<'a> {
    #[serde(rename = "Name", default, borrow)]
    name: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct TimeAttrs<'a> {
    #[serde(rename = "SystemTime", default, borrow)]
    system_time: Option<Text<'a>>,
}

/// A scalar rendered as text, borrowed when the JSON string has no escapes: strings as they are,
/// numbers and booleans in decimal, `null` empty, `{"#text": x}` as `x`, arrays joined with `, `.
pub(crate) struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor(PhantomData)).map(Text)
    }
}

struct TextVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Cow<'a, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(if v { "true" } else { "false" }))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(""))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(""))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = String::new();
        while let Some(Text(v)) = seq.next_element()? {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(&v);
        }
        Ok(Cow::Owned(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Cow::Borrowed("");
        while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
            if k == "#text" {
                out = map.next_value::<Text<'a>>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// A map key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor(PhantomData)).map(Key)
    }
}

/// An unsigned number, written as a number, a numeric string, or `{"#text": n}`; `None` otherwise.
struct Num(Option<u64>);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<u64>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(u64::try_from(v).ok())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(v.trim().parse().ok())
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(None)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = None;
                while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                    if k == "#text" {
                        out = map.next_value::<Num>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(V).map(Num)
    }
}

/// An `EventData` (or `UserData` child) object: name → [`Text`], `#attributes` skipped. A scalar or
/// an array in its place gives no fields.
struct FieldsDe<'a>(Fields<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for FieldsDe<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldsVisitor(PhantomData)).map(FieldsDe)
    }
}

struct FieldsVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for FieldsVisitor<'a> {
    type Value = Fields<'a>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of event data")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields::with_capacity(map.size_hint().unwrap_or(24));
        while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
            if k.starts_with('#') {
                map.next_value::<IgnoredAny>()?;
            } else {
                let Text(v) = map.next_value::<Text<'a>>()?;
                fields.push(k, v);
            }
        }
        Ok(fields)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Fields::new())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Fields::new())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Fields::new())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Fields::new())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Fields::new())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Fields::new())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Fields::new())
    }
}

/// `UserData`: the fields of its child elements (`LogFileCleared`, …), merged.
struct UserDataDe<'a>(Fields<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for UserDataDe<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of user data")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut all = Fields::new();
                while let Some(Key(k)) = map.next_key::<Key<'a>>()? {
                    if k.starts_with('#') {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        let FieldsDe(f) = map.next_value::<FieldsDe<'a>>()?;
                        if all.is_empty() {
                            all = f;
                        } else {
                            for (k, v) in f.iter() {
                                all.push(k.to_owned(), v.to_owned());
                            }
                        }
                    }
                }
                Ok(all)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Fields::new())
            }
        }
        d.deserialize_any(V(PhantomData)).map(UserDataDe)
    }
}

/// Parse one record of the `evtx` crate's JSON into a [`WinRecord`] borrowing from `raw`.
/// `fallback_record_id` is used when the JSON has no `EventRecordID` (the EVTX record header has it).
/// A record whose channel `selected` refuses is `Ok(None)` before anything else is checked: records
/// of other channels are skipped, not judged. The error is the reason.
pub(crate) fn parse_record_json<'a>(
    raw: &'a str,
    fallback_record_id: Option<u64>,
    selected: &dyn Fn(&str) -> bool,
) -> Result<Option<WinRecord<'a>>, String> {
    let root: Root<'a> =
        serde_json::from_str(raw).map_err(|e| format!("invalid event JSON: {e}"))?;
    let sys = root.event.system;
    let channel = sys.channel.map(|t| t.0).unwrap_or_default();
    if !selected(&channel) {
        return Ok(None);
    }
    let event_id = match sys.event_id {
        Some(Num(Some(id))) => u32::try_from(id).map_err(|_| "System/EventID out of range")?,
        Some(Num(None)) => return Err("System/EventID is not a number".to_owned()),
        None => return Err("no System/EventID".to_owned()),
    };
    let record_id = match (sys.record_id, fallback_record_id) {
        (Some(Num(Some(id))), _) => id,
        (_, Some(id)) => id,
        _ => return Err("no numeric System/EventRecordID".to_owned()),
    };
    let time = sys
        .time_created
        .and_then(|t| t.attributes.system_time)
        .and_then(|t| parse_time(&t.0))
        .ok_or("no valid System/TimeCreated/@SystemTime")?;
    let data = match (root.event.event_data, root.event.user_data) {
        (Some(FieldsDe(f)), _) if !f.is_empty() => f,
        (_, Some(UserDataDe(f))) => f,
        (Some(FieldsDe(f)), None) => f,
        (None, None) => Fields::new(),
    };
    Ok(Some(WinRecord {
        provider: sys
            .provider
            .and_then(|p| p.attributes.name)
            .map(|t| t.0)
            .unwrap_or_default(),
        event_id,
        channel,
        computer: sys.computer.map(|t| t.0).unwrap_or_default(),
        record_id,
        time,
        audit_failure: sys.keywords.is_some_and(|k| keywords_audit_failure(&k.0)),
        data,
        raw: Cow::Borrowed(raw),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_crates_rendering() {
        let raw = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/evtx/security_event_1.json"
        ))
        .expect("sample");
        let r = parse_record_json(&raw, None, &|_| true)
            .expect("parse")
            .expect("selected");
        assert_eq!(r.event_id, 4608);
        assert_eq!(r.record_id, 1);
        assert_eq!(r.channel, "Security");
        assert_eq!(r.computer, "37L4247F27-25");
        assert_eq!(r.provider, "Microsoft-Windows-Security-Auditing");
        assert!(r.data.is_empty());
        assert!(!r.audit_failure);
    }

    #[test]
    fn qualifiers_user_data_escapes_and_errors() {
        let raw = r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Eventlog"}},
            "EventID":{"#attributes":{"Qualifiers":16384},"#text":104},"EventRecordID":"7",
            "TimeCreated":{"#attributes":{"SystemTime":"2021-10-25T18:04:30.3344711Z"}},
            "Keywords":"0x8010000000000000","Channel":"System","Computer":"FS03"},
            "UserData":{"LogFileCleared":{"#attributes":{"xmlns":"x"},"SubjectUserName":"adm\u00e9",
            "SubjectDomainName":"OFF\\SEC","BackupPath":null}}}}"##;
        let r = parse_record_json(raw, None, &|_| true)
            .expect("parse")
            .expect("selected");
        assert_eq!(r.event_id, 104);
        assert_eq!(r.record_id, 7);
        assert!(r.audit_failure);
        assert_eq!(r.data.get("SubjectUserName"), Some("admé"));
        assert_eq!(r.data.get("SubjectDomainName"), Some("OFF\\SEC"));
        assert_eq!(r.data.raw("BackupPath"), Some(""));
        assert!(
            parse_record_json(raw, None, &|c| c == "Security")
                .expect("parse")
                .is_none()
        );
        assert!(parse_record_json("{\"Event\":{\"System\":{}}}", None, &|_| true).is_err());
        assert!(parse_record_json("{\"Event\":{}}", None, &|_| true).is_err());
        assert!(parse_record_json("nope", None, &|_| true).is_err());
    }
}
