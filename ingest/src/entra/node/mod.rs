//! A borrowed JSON tree for Graph pages ([`Node`]), read where `serde_json::Value` would cost too
//! much, and the two traits normalization reads either through ([`JsonValue`], [`JsonMap`]).
//!
//! Parsing a Graph page into `Value` was half of the Entra parsing thread: with `preserve_order`
//! (switched on workspace-wide by the `evtx` crate) every object is an `IndexMap` whose keys are
//! copied and SipHashed, and every string is copied. A [`Node`] borrows its names and strings from
//! the page's text (copying only those with escapes) and keeps an object's members in a vector in
//! order; [`Parsed`] reads a page into one, together with the compact text of its records (see
//! `parse.rs`). It reads exactly as `Value` does where it reads at all: lookups go through the
//! same exact-then-any-case rule, numbers are `serde_json::Number`s. What it does not model it
//! refuses, and the caller parses the text as `Value` instead: among others repeated names (which
//! `Value` reads as the last value at the first one's place), objects of more than
//! [`MAX_MEMBERS`] members (a linear check for repeated names would be quadratic in them) and
//! serde_json's raw-value token as a first name (which `Value` treats specially).
//!
//! To read another kind of tree, implement both traits; normalization is generic over them.

mod parse;

use serde_json::{Map, Number, Value};

pub(crate) use parse::Parsed;

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

/// A JSON value whose texts are borrowed from the parsed input, or (names and strings with
/// escapes) from the arena its containers live in: nothing in it is dropped on its own.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(&'a str),
    Array(&'a [Node<'a>]),
    Object(Members<'a>),
}

/// An object's members in their order, each name once.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Members<'a>(&'a [(&'a str, Node<'a>)]);

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
    /// The first member (in order) whose name is `key` in any case, and its index: how the general
    /// path takes a wrapper's records (`imports::flatten_one`), which need not be the one
    /// [`JsonMap::member`] prefers when the object has the name in two spellings.
    pub(crate) fn first_named_at(&self, key: &str) -> Option<(usize, &Node<'a>)> {
        self.0
            .iter()
            .enumerate()
            .find(|(_, (k, _))| k.eq_ignore_ascii_case(key))
            .map(|(i, (_, v))| (i, v))
    }
}

impl<'a> JsonMap for Members<'a> {
    type Value = Node<'a>;
    fn member(&self, key: &str) -> Option<&Node<'a>> {
        crate::windows::jsonl::scan_members(self.0.iter().map(|(k, v)| (*k, v)), key)
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
            Node::String(s) => Value::String((*s).to_owned()),
            Node::Array(a) => Value::Array(a.iter().map(Node::to_value).collect()),
            Node::Object(m) => Value::Object(
                m.0.iter()
                    .map(|(k, v)| ((*k).to_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_exact_first_then_any_case() {
        let text = r#"{"ID":"upper","Id":"mixed","id":"exact"}"#;
        let arena = bumpalo::Bump::new();
        let n = Parsed::new(text, &arena).unwrap().root;
        let m = n.as_map().unwrap();
        assert_eq!(m.member("id").and_then(JsonValue::string), Some("exact"));
        assert_eq!(m.member("iD").and_then(JsonValue::string), Some("upper"));
        assert_eq!(m.first_named_at("iD").map(|(i, _)| i), Some(0));
        let v: Value = serde_json::from_str(text).unwrap();
        let vm = v.as_object().unwrap();
        assert_eq!(vm.member("id").and_then(JsonValue::string), Some("exact"));
        assert_eq!(vm.member("iD").and_then(JsonValue::string), Some("upper"));
    }
}
