//! A borrowed JSON tree for Graph pages ([`Node`]), read where `serde_json::Value` would cost too
//! much, and the two traits normalization reads either through ([`JsonValue`], [`JsonMap`]).
//!
//! Parsing a Graph page into `Value` was half of the Entra parsing thread: with `preserve_order`
//! (switched on workspace-wide by the `evtx` crate) every object is an `IndexMap` whose keys are
//! copied and SipHashed, and every string is copied. A [`Node`] borrows its keys and strings from
//! the page's text (copying only those with escapes) and keeps an object's members in a vector in
//! order. It reads exactly as `Value` does: a repeated key keeps its first place and takes the
//! last value (what `IndexMap::insert` does), lookups go through the same exact-then-any-case
//! rule, numbers are `serde_json::Number`s. What it does not model it refuses, and the caller
//! parses the text as `Value` instead: objects of more than [`MAX_MEMBERS`] members (a linear
//! check for repeated keys would be quadratic in them) and serde_json's raw-value token as a first
//! key (which `Value` treats specially).
//!
//! To read another kind of tree, implement both traits; normalization is generic over them.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value as normalization reads it.
pub(crate) trait JsonValue: Sized {
    /// The tree's object type.
    type Map: JsonMap<Value = Self>;
    fn as_map(&self) -> Option<&Self::Map>;
    fn array(&self) -> Option<&[Self]>;
    fn string(&self) -> Option<&str>;
    fn is_null(&self) -> bool;
    /// A number or boolean as `serde_json` prints it; `None` for anything else.
    fn number_or_bool(&self) -> Option<String>;
}

/// A JSON object as normalization reads it.
pub(crate) trait JsonMap {
    type Value: JsonValue<Map = Self>;
    /// The member `key`: the exact name first, else the first member whose name matches without
    /// regard to ASCII case.
    fn member(&self, key: &str) -> Option<&Self::Value>;
}

impl JsonValue for Value {
    type Map = Map<String, Value>;
    fn as_map(&self) -> Option<&Self::Map> {
        self.as_object()
    }
    fn array(&self) -> Option<&[Self]> {
        self.as_array().map(Vec::as_slice)
    }
    fn string(&self) -> Option<&str> {
        self.as_str()
    }
    fn is_null(&self) -> bool {
        Value::is_null(self)
    }
    fn number_or_bool(&self) -> Option<String> {
        match self {
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

impl JsonMap for Map<String, Value> {
    type Value = Value;
    fn member(&self, key: &str) -> Option<&Value> {
        crate::windows::jsonl::get(self, key)
    }
}

/// Objects with more members are left to `Value` (see the module doc).
pub(crate) const MAX_MEMBERS: usize = 64;

/// serde_json's marker for a raw value, which its `Value` reads specially as a first key.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// A JSON value borrowing its text from the parsed input where it can.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Members<'a>),
}

/// An object's members in their order, each name once.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Members<'a>(Vec<(Cow<'a, str>, Node<'a>)>);

impl<'a> JsonValue for Node<'a> {
    type Map = Members<'a>;
    fn as_map(&self) -> Option<&Members<'a>> {
        match self {
            Node::Object(m) => Some(m),
            _ => None,
        }
    }
    fn array(&self) -> Option<&[Self]> {
        match self {
            Node::Array(a) => Some(a),
            _ => None,
        }
    }
    fn string(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }
    fn number_or_bool(&self) -> Option<String> {
        match self {
            Node::Number(n) => Some(n.to_string()),
            Node::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

impl<'a> Members<'a> {
    /// The first member (in order) whose name is `key` in any case: how the general path takes a
    /// wrapper's records (`imports::flatten_one`), which need not be the one [`JsonMap::member`]
    /// prefers when the object has the name in two spellings.
    pub(crate) fn first_named(&self, key: &str) -> Option<&Node<'a>> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }
}

impl<'a> JsonMap for Members<'a> {
    type Value = Node<'a>;
    fn member(&self, key: &str) -> Option<&Node<'a>> {
        crate::windows::jsonl::scan_members(self.0.iter().map(|(k, v)| (k.as_ref(), v)), key)
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Node<'de>, E> {
        Ok(Node::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Node<'de>, E> {
        Ok(Node::Number(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Node<'de>, E> {
        // As `Value` does: a float that is no JSON number is null.
        Ok(Number::from_f64(n).map_or(Node::Null, Node::Number))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Node<'de>, E> {
        Ok(Node::String(Cow::Owned(s)))
    }
    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        Deserialize::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Node<'de>)> = Vec::new();
        while let Some(Key(k)) = map.next_key()? {
            if members.is_empty() && k == RAW_VALUE_TOKEN {
                return Err(de::Error::custom("serde_json's raw value token as a key"));
            }
            let v: Node<'de> = map.next_value()?;
            let full = members.len() == MAX_MEMBERS;
            match members.iter_mut().find(|(x, _)| *x == k) {
                Some(slot) => slot.1 = v,
                None if full => return Err(de::Error::custom("an object of many members")),
                None => members.push((k, v)),
            }
        }
        Ok(Node::Object(Members(members)))
    }
}

/// An object's member name, borrowed from the input unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
impl Node<'_> {
    /// The same tree as a `Value` (for comparing the two readings).
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.clone().into_owned()),
            Node::Array(a) => Value::Array(a.iter().map(Node::to_value).collect()),
            Node::Object(m) => Value::Object(
                m.0.iter()
                    .map(|(k, v)| (k.clone().into_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(s: &str) -> Node<'_> {
        serde_json::from_str(s).expect("parses")
    }

    #[test]
    fn reads_as_value_reads() {
        let texts = [
            r#"{"a":1,"b":[true,null,-2,3.5e2,"x\"y"],"c":{"d":"\u00e9","e":{}},"f":[]}"#,
            r#"{"k":1,"K":2,"k":3,"z":"last"}"#,
            r#"[{"a":"b"},"s",18446744073709551615,-9223372036854775808,1e-3]"#,
            r#"{"esc\u0061ped":"v\/w","\ud83d\ude00":"😀"}"#,
            "\"top\"",
            "0",
        ];
        for t in texts {
            let n = node(t);
            let v: Value = serde_json::from_str(t).expect("value");
            assert_eq!(n.to_value(), v, "{t}");
            // Printed the same too (order and repeated keys).
            assert_eq!(n.to_value().to_string(), v.to_string(), "{t}");
        }
    }

    #[test]
    fn borrows_what_has_no_escapes() {
        let n = node(r#"{"plain":"text","esc\"":"a\nb"}"#);
        let Node::Object(m) = &n else { panic!() };
        assert!(matches!(m.0[0].0, Cow::Borrowed(_)));
        assert!(matches!(m.0[0].1, Node::String(Cow::Borrowed(_))));
        assert!(matches!(m.0[1].0, Cow::Owned(_)));
        assert!(matches!(m.0[1].1, Node::String(Cow::Owned(_))));
    }

    #[test]
    fn lookup_is_exact_first_then_any_case() {
        let n = node(r#"{"ID":"upper","Id":"mixed","id":"exact"}"#);
        let m = n.as_map().unwrap();
        assert_eq!(m.member("id").and_then(JsonValue::string), Some("exact"));
        assert_eq!(m.member("iD").and_then(JsonValue::string), Some("upper"));
        let v: Value = serde_json::from_str(r#"{"ID":"upper","Id":"mixed","id":"exact"}"#).unwrap();
        let vm = v.as_object().unwrap();
        assert_eq!(vm.member("id").and_then(JsonValue::string), Some("exact"));
        assert_eq!(vm.member("iD").and_then(JsonValue::string), Some("upper"));
    }

    #[test]
    fn refuses_what_it_does_not_model() {
        let many: String = format!(
            "{{{}}}",
            (0..=MAX_MEMBERS)
                .map(|i| format!("\"k{i}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(serde_json::from_str::<Node>(&many).is_err());
        let repeated = format!(
            "{{{}}}",
            (0..200)
                .map(|i| format!("\"k{}\":{i}", i % 3))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(
            serde_json::from_str::<Node>(&repeated).unwrap().to_value(),
            serde_json::from_str::<Value>(&repeated).unwrap()
        );
        assert!(serde_json::from_str::<Node>(r#"{"$serde_json::private::RawValue":"1"}"#).is_err());
        assert!(serde_json::from_str::<Node>("{").is_err());
        // Out of range: an error for both.
        assert!(serde_json::from_str::<Node>("[1e400]").is_err());
        assert!(serde_json::from_str::<Value>("[1e400]").is_err());
    }
}
