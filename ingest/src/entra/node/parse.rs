//! One pass over a Graph page's text that builds its [`Node`] tree and its compact text together
//! ([`Parsed::new`]).
//!
//! Before, the page was parsed by `serde_json` into the tree, then scanned a second time by
//! `compact.rs` for each record's text without whitespace, then the tree was freed object by
//! object: together three fifths of the Entra parsing thread. Here one scanner does both, and
//! each object's and array's members are gathered on a stack shared by the whole page and moved
//! into a vector of their exact size once complete (no vector grown member by member).
//!
//! The scanner accepts only a subset of JSON, the one on which it is sure to read what
//! `serde_json::from_str::<Value>` reads and to print what `Value::to_string` prints: integers of
//! at most 18 digits (not `-0`), strings whose escapes are among `\" \\ \b \f \n \r \t` and
//! that hold no control character, no object with a repeated member name or more than
//! [`MAX_MEMBERS`] members, serde_json's raw-value token never as a first name, nesting no deeper
//! than [`MAX_DEPTH`]. Anything else (a float, a `\u` or `\/` escape, an error of any kind)
//! returns `None` and the caller parses the text as `Value`, which decides: the scanner chooses
//! only how a text is read, never what it means. Tests compare both readings on real pages and on
//! generated ones in every spelling.

use std::borrow::Cow;
use std::ops::Range;

use bumpalo::Bump;
use serde_json::Number;

use super::{MAX_MEMBERS, Members, Node, RAW_VALUE_TOKEN};
use crate::entra::compact::skip_ws;

/// Deeper texts are left to `serde_json` (whose own limit is 128).
pub(crate) const MAX_DEPTH: usize = 100;

/// A top-level JSON value read in one pass: its tree, and its text without whitespace with the
/// places of its records in it.
pub(crate) struct Parsed<'a> {
    pub(crate) root: Node<'a>,
    /// The value's text without whitespace: the input itself when it had none.
    compact: Cow<'a, str>,
    /// Where the elements of the root array (`None`) or of the root object's array members (the
    /// member's index) lie in `compact`, in order.
    spans: Vec<(Option<usize>, Range<usize>)>,
}

impl<'a> Parsed<'a> {
    /// The value of `text` (one top-level JSON value, whitespace around it allowed), its
    /// containers and escaped texts allocated in `arena`, or `None` when it is not in the subset
    /// this reads (see the module doc).
    pub(crate) fn new(text: &'a str, arena: &'a Bump) -> Option<Parsed<'a>> {
        let mut p = Scanner {
            arena,
            t: text,
            b: text.as_bytes(),
            i: 0,
            out: String::new(),
            copied: 0,
            items: Vec::new(),
            members: Vec::new(),
            spans: Vec::new(),
        };
        p.i = skip_ws(p.b, 0);
        p.copied = p.i;
        let root = p.value(0, Spans::Root)?;
        let end = p.i;
        if skip_ws(p.b, end) != p.b.len() {
            return None;
        }
        let compact = if p.out.is_empty() {
            Cow::Borrowed(&text[p.copied..end])
        } else {
            p.out.push_str(&text[p.copied..end]);
            Cow::Owned(p.out)
        };
        Some(Parsed {
            root,
            compact,
            spans: p.spans,
        })
    }

    /// The compact text of the whole value: what `serde_json` prints for it.
    pub(crate) fn text(&self) -> &str {
        &self.compact
    }

    /// The compact texts of the root array's elements (`None`) or of the elements of the root
    /// object's member at index `member`, in order.
    pub(crate) fn element_texts(&self, member: Option<usize>) -> impl Iterator<Item = &str> {
        self.spans
            .iter()
            .filter(move |(m, _)| *m == member)
            .map(|(_, r)| &self.compact[r.clone()])
    }
}

/// Which arrays' elements have their places kept.
#[derive(Clone, Copy)]
enum Spans {
    /// The top-level value: if an array, its elements; if an object, its array members'.
    Root,
    /// An array member of the top-level object (its index).
    Member(usize),
    /// Nothing below.
    None,
}

struct Scanner<'a> {
    /// Where the tree's containers go: one allocation each, freed all at once.
    arena: &'a Bump,
    t: &'a str,
    b: &'a [u8],
    i: usize,
    /// The compact text up to `copied`, once the input has shown whitespace (empty before).
    out: String,
    /// Where the input not yet copied to `out` starts.
    copied: usize,
    /// Elements of the arrays being read, innermost last.
    items: Vec<Node<'a>>,
    /// Members of the objects being read, innermost last.
    members: Vec<(&'a str, Node<'a>)>,
    spans: Vec<(Option<usize>, Range<usize>)>,
}

impl<'a> Scanner<'a> {
    /// Where input offset `i` (outside whitespace) lands in the compact text.
    fn compact_at(&self, i: usize) -> usize {
        self.out.len() + (i - self.copied)
    }

    /// Past whitespace at `self.i`, copying the text before it to the compact text.
    #[inline(always)]
    fn ws(&mut self) {
        // Graph's own pages hold none: one comparison, the copying out of line.
        if skip_ws(self.b, self.i) != self.i {
            self.skip_ws_copying();
        }
    }

    #[cold]
    fn skip_ws_copying(&mut self) {
        if self.out.capacity() == 0 {
            self.out.reserve(self.b.len() - self.copied);
        }
        self.out.push_str(&self.t[self.copied..self.i]);
        self.i = skip_ws(self.b, self.i);
        self.copied = self.i;
    }

    /// The value at `self.i` (no whitespace before it), leaving `self.i` just past it.
    fn value(&mut self, depth: usize, spans: Spans) -> Option<Node<'a>> {
        match *self.b.get(self.i)? {
            b'{' => self.object(depth + 1, matches!(spans, Spans::Root)),
            b'[' => self.array(depth + 1, spans),
            b'"' => self.string().map(Node::String),
            b't' => self.literal("true", Node::Bool(true)),
            b'f' => self.literal("false", Node::Bool(false)),
            b'n' => self.literal("null", Node::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str, node: Node<'a>) -> Option<Node<'a>> {
        self.b[self.i..].starts_with(word.as_bytes()).then(|| {
            self.i += word.len();
            node
        })
    }

    /// An integer of at most 18 digits, as `serde_json` holds it (`u64`, negative ones `i64`).
    /// Anything after the digits but a delimiter is left to the caller to refuse.
    fn number(&mut self) -> Option<Node<'a>> {
        let start = self.i;
        let negative = self.b[start] == b'-';
        let digits = start + usize::from(negative);
        let end = digits
            + self.b[digits..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
        let n = end - digits;
        // No digit, a leading zero before more digits, more digits than always fit, `-0`
        // (a float to serde_json), or a fraction or exponent next: not in the subset.
        if n == 0
            || n > 18
            || (self.b[digits] == b'0' && (n > 1 || negative))
            || matches!(self.b.get(end), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        self.i = end;
        let text = &self.t[start..end];
        let number = if negative {
            Number::from(text.parse::<i64>().ok()?)
        } else {
            Number::from(text.parse::<u64>().ok()?)
        };
        Some(Node::Number(number))
    }

    /// The string whose opening quote is at `self.i`: borrowed from the input when it holds no
    /// escape, else decoded into the arena.
    fn string(&mut self) -> Option<&'a str> {
        let start = self.i + 1;
        let mut j = start;
        let mut decoded: Option<String> = None;
        loop {
            let p = j + special(&self.b[j..])?;
            match self.b[p] {
                b'"' => {
                    self.i = p + 1;
                    return Some(match decoded {
                        None => &self.t[start..p],
                        Some(mut s) => {
                            s.push_str(&self.t[j..p]);
                            self.arena.alloc_str(&s)
                        }
                    });
                }
                b'\\' => {
                    let s = decoded.get_or_insert_with(String::new);
                    s.push_str(&self.t[j..p]);
                    s.push(match self.b.get(p + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        // `\/` and `\u` print otherwise than they are written.
                        _ => return None,
                    });
                    j = p + 2;
                }
                // A control character, which JSON strings may not hold raw.
                _ => return None,
            }
        }
    }

    /// After a member: `true` at the container's `close`, `false` past a comma (and the
    /// whitespace after it), `None` at anything else.
    fn closes(&mut self, close: u8) -> Option<bool> {
        self.ws();
        match *self.b.get(self.i)? {
            b',' => {
                self.i += 1;
                self.ws();
                Some(false)
            }
            c => (c == close).then_some(true),
        }
    }

    fn array(&mut self, depth: usize, spans: Spans) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let kept = match spans {
            Spans::Root => Some(None),
            Spans::Member(m) => Some(Some(m)),
            Spans::None => None,
        };
        let from = self.items.len();
        self.i += 1;
        self.ws();
        if self.b.get(self.i) != Some(&b']') {
            loop {
                let start = self.compact_at(self.i);
                let v = self.value(depth, Spans::None)?;
                if let Some(key) = kept {
                    self.spans.push((key, start..self.compact_at(self.i)));
                }
                self.items.push(v);
                if self.closes(b']')? {
                    break;
                }
            }
        }
        self.i += 1;
        Some(Node::Array(
            self.arena.alloc_slice_fill_iter(self.items.drain(from..)),
        ))
    }

    fn object(&mut self, depth: usize, root: bool) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let from = self.members.len();
        self.i += 1;
        self.ws();
        if self.b.get(self.i) != Some(&b'}') {
            loop {
                if self.b.get(self.i) != Some(&b'"') {
                    return None;
                }
                let name = self.string()?;
                let mine = &self.members[from..];
                let index = mine.len();
                if index == MAX_MEMBERS
                    || (index == 0 && name == RAW_VALUE_TOKEN)
                    || mine.iter().any(|(k, _)| *k == name)
                {
                    return None;
                }
                self.ws();
                if self.b.get(self.i) != Some(&b':') {
                    return None;
                }
                self.i += 1;
                self.ws();
                let spans = if root && self.b.get(self.i) == Some(&b'[') {
                    Spans::Member(index)
                } else {
                    Spans::None
                };
                let v = self.value(depth, spans)?;
                self.members.push((name, v));
                if self.closes(b'}')? {
                    break;
                }
            }
        }
        self.i += 1;
        Some(Node::Object(Members(
            self.arena.alloc_slice_fill_iter(self.members.drain(from..)),
        )))
    }
}

/// The index in `s` of the first quote, backslash or control character: where a string's plain
/// run ends. Eight bytes at a time (strings are GUIDs and names of a few dozen bytes, too short
/// for `memchr`'s setup to pay off).
fn special(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut k = 0;
    while let Some(chunk) = s.get(k..k + 8) {
        let x = u64::from_le_bytes(chunk.try_into().ok()?);
        // A byte's high bit is set where it is below 0x20 or equal to '"' or '\\'. Above the
        // first such byte a borrow may flag others, never below it: the lowest is exact.
        let below = |v: u64, n: u8| v.wrapping_sub(ONES * u64::from(n)) & !v & HIGH;
        let hits = below(x, 0x20) | below(x ^ (ONES * 0x22), 1) | below(x ^ (ONES * 0x5c), 1);
        if hits != 0 {
            return Some(k + (hits.trailing_zeros() / 8) as usize);
        }
        k += 8;
    }
    s[k..]
        .iter()
        .position(|c| *c < 0x20 || *c == b'"' || *c == b'\\')
        .map(|p| k + p)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::entra::node::JsonValue;
    use crate::entra::test_json::{json_value, spelled};

    /// [`Parsed::new`] in an arena of its own (leaked: the tests are short).
    fn parsed(t: &str) -> Option<Parsed<'_>> {
        Parsed::new(t, Box::leak(Box::new(Bump::new())))
    }

    /// What `Value` reads and prints of `t`, checked against the scanner when it takes `t`.
    fn agrees(t: &str) -> Option<Parsed<'_>> {
        let p = parsed(t)?;
        let v: Value = serde_json::from_str(t).expect("the scanner took what serde_json refuses");
        assert_eq!(p.root.to_value(), v, "{t}");
        assert_eq!(p.text(), v.to_string(), "{t}");
        Some(p)
    }

    #[test]
    fn reads_and_prints_as_value_does() {
        for t in [
            r#"{"a":1,"b":[true,null,-2,0,"x\"y\\z\n\t"],"c":{"d":"é","e":{}},"f":[]}"#,
            "  {\n  \"a\" : [ 1 ,\r\n 2 ] ,\t\"b\":\"x y\"}\n",
            r#"[{"a":"b"},"s",999999999999999999,-999999999999999999]"#,
            "\"top\"",
            "0",
            "-7",
            "[]",
            "{}",
            " [ ] ",
            r#"{"":""}"#,
            r#"{"k":1,"K":2}"#,
        ] {
            assert!(agrees(t).is_some(), "{t}");
        }
    }

    #[test]
    fn borrows_what_has_no_escapes_and_copies_no_compact_text() {
        let t = r#"{"plain":"text","esc\"":"a\nb"}"#;
        let p = parsed(t).unwrap();
        let Node::Object(m) = &p.root else { panic!() };
        // Borrowed: the text lies inside the input.
        let inside = |x: &str| t.as_bytes().as_ptr_range().contains(&x.as_ptr());
        assert!(inside(m.0[0].0));
        assert!(matches!(m.0[0].1, Node::String(s) if inside(s)));
        assert!(!inside(m.0[1].0) && m.0[1].0 == "esc\"");
        assert!(matches!(m.0[1].1, Node::String(s) if !inside(s) && s == "a\nb"));
        assert!(matches!(p.compact, Cow::Borrowed(_)));
        assert!(matches!(parsed(" [1, 2]").unwrap().compact, Cow::Owned(_)));
    }

    #[test]
    fn refuses_what_it_does_not_model() {
        let many = format!(
            "{{{}}}",
            (0..=MAX_MEMBERS)
                .map(|i| format!("\"k{i}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let just_deep_enough = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(agrees(&just_deep_enough).is_some());
        for t in [
            many.as_str(),
            deep.as_str(),
            r#"{"$serde_json::private::RawValue":"1"}"#,
            r#"{"a":1,"a":2}"#,
            r#"[{"b":{"c":1,"c":1}}]"#,
            r#"{"a":"it\u0027s"}"#,
            r#"{"a":"a\/b"}"#,
            "[1.5]",
            "[1e3]",
            "[1E3]",
            "[-0]",
            "[1234567890123456789]",
            // Not JSON at all.
            "{",
            "[1,]",
            "[01]",
            "[-]",
            "[tru]",
            "[truex]",
            "[\"a\u{1}b\"]",
            "[\"a\tb\"]",
            "{\"a\" 1}",
            "{1:2}",
            "[1] x",
            "[\"open",
            "[\"bad escape \\x\"]",
            "",
        ] {
            assert!(parsed(t).is_none(), "{t:?}");
        }
    }

    #[test]
    fn elements_of_the_root_and_of_its_array_members_keep_their_texts() {
        let t = "{ \"n\" : 1, \"value\" : [ {\"a\" : 1} , [ 2, 3 ] ,\"s\"], \"o\":{\"x\":[9]}, \"e\": [] }";
        let p = agrees(t).unwrap();
        let texts: Vec<&str> = p.element_texts(Some(1)).collect();
        assert_eq!(texts, [r#"{"a":1}"#, "[2,3]", "\"s\""]);
        assert_eq!(p.element_texts(Some(3)).count(), 0);
        // Arrays below the root object's members keep nothing.
        assert_eq!(p.spans.len(), 3);
        let p = agrees("[{\"a\":[1]}, 2 ]").unwrap();
        assert_eq!(
            p.element_texts(None).collect::<Vec<_>>(),
            [r#"{"a":[1]}"#, "2"]
        );
        assert_eq!(
            p.root.array().map(<[Node]>::len),
            Some(p.element_texts(None).count())
        );
    }

    /// Whether `serde_json` prints `v` inside the subset (no float, no integer of more than 18
    /// digits, no `\u` escape).
    fn in_subset(v: &Value) -> bool {
        match v {
            Value::Number(n) => !n.is_f64() && n.to_string().trim_start_matches('-').len() <= 18,
            Value::String(s) => !s
                .chars()
                .any(|c| c < ' ' && !"\u{8}\u{c}\n\r\t".contains(c)),
            Value::Array(a) => a.iter().all(in_subset),
            Value::Object(m) => m
                .iter()
                .all(|(k, v)| in_subset(&Value::String(k.clone())) && in_subset(v)),
            _ => true,
        }
    }

    proptest! {
        #[test]
        fn reads_as_value_or_not_at_all(v in json_value(), style in 0u8..15) {
            let text = spelled(&v, style);
            // A spelling that is no JSON (a replacement inside a string) proves nothing.
            if serde_json::from_str::<Value>(&text).is_ok() {
                let p = agrees(&text);
                // The plain spellings of what the subset holds must be read.
                if style / 3 == 0 && in_subset(&v) {
                    prop_assert!(p.is_some(), "{}", text);
                }
                if let (Some(p), Value::Array(a)) = (&p, &v) {
                    let texts: Vec<String> = a.iter().map(Value::to_string).collect();
                    prop_assert_eq!(p.element_texts(None).collect::<Vec<_>>(), texts);
                }
            } else {
                prop_assert!(parsed(&text).is_none(), "{}", text);
            }
        }

        #[test]
        fn special_finds_the_first_quote_backslash_or_control(
            s in prop::collection::vec(prop_oneof![
                8 => 0x20u8..=0xff,
                1 => Just(b'"'),
                1 => Just(b'\\'),
                1 => 0u8..0x20,
            ], 0..40),
        ) {
            let naive = s.iter().position(|c| *c < 0x20 || *c == b'"' || *c == b'\\');
            prop_assert_eq!(special(&s), naive);
        }

        #[test]
        fn never_takes_what_serde_json_refuses(text in "[\\[\\]{}\",:0-9a-z\\\\ .eE+-]{0,24}") {
            if parsed(&text).is_some() {
                prop_assert!(serde_json::from_str::<Value>(&text).is_ok(), "{}", text);
                agrees(&text);
            }
        }
    }
}
