//! A record's `raw` without a round trip through `serde_json::Value`.
//!
//! `raw` of an Entra record is, and stays, exactly what `serde_json` prints for the parsed record
//! (compact, keys in document order, the last of duplicate keys) — stored events, dedupe and the
//! hash chain depend on that text. Printing a `Value` costs about as much as parsing it, so the
//! reader takes the record's text from the document instead and drops the whitespace, when the
//! text is one `serde_json` would print the same way: no `\u` or `\/` escape (printed decoded), no
//! number other than a short integer (floats, `-0` and long integers print differently), no
//! duplicate key. Anything else returns `None` and the caller prints the `Value`: the fast path
//! decides only how, never what.
//!
//! The text must be JSON that `serde_json` accepted (the caller parsed it first); the scanner
//! relies on that and checks only what decides between the two paths.

/// The texts of the records of a top-level value whose records lie at `layout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// The value is the record.
    Single,
    /// An array whose elements are the records.
    Array,
    /// An object whose first member named `key` (any case) holds the records.
    Wrapper(&'static str),
}

/// The compact text of each record of `text` laid out as `layout`, or `None` (then print the
/// parsed values). One pass over the records' text.
pub(super) fn record_texts(text: &str, layout: Layout) -> Option<Vec<String>> {
    let t = text.trim_matches(is_ws);
    let b = t.as_bytes();
    let (texts, end) = match layout {
        Layout::Single => {
            let (c, end) = compact_at(t, 0)?;
            (vec![c], end)
        }
        Layout::Array => elements(t, 0)?,
        Layout::Wrapper(key) => member_elements(t, key)?,
    };
    (skip_ws(b, end) == b.len()).then_some(texts)
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Index just past the string whose opening quote is at `i`, and whether it holds an escape.
fn string_end(b: &[u8], i: usize) -> (usize, bool) {
    let mut j = i + 1;
    let mut escaped = false;
    while let Some(p) = memchr::memchr2(b'"', b'\\', &b[j..]) {
        if b[j + p] == b'"' {
            return (j + p + 1, escaped);
        }
        escaped = true;
        j += p + 2;
        if j >= b.len() {
            break;
        }
    }
    (b.len(), escaped)
}

/// Index just past the value starting at `i` (no leading whitespace).
fn value_end(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => string_end(b, i).0,
        Some(b'{' | b'[') => super::detect::value_end(&b[i..]).map_or(b.len(), |n| i + n),
        _ => scalar_end(b, i),
    }
}

fn scalar_end(b: &[u8], mut j: usize) -> usize {
    while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
        j += 1;
    }
    j
}

/// Index of the first byte at or after `i` that is not JSON whitespace.
pub(super) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The compact texts of the elements of the array at `i`, and the index past it; `None` when
/// no array starts there or an element takes the slow path.
fn elements(t: &str, i: usize) -> Option<(Vec<String>, usize)> {
    let b = t.as_bytes();
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = skip_ws(b, i + 1);
    while i < b.len() && b[i] != b']' {
        let (c, end) = compact_at(t, i)?;
        out.push(c);
        i = skip_ws(b, end);
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
    }
    Some((out, i + 1))
}

/// [`elements`] of the first member of object `t` whose name is `key` in any case, as
/// `serde_json::Value` and the reader's lookup find it; `None` when `t` is no object, a name
/// repeats (the parsed object keeps the last value at the first one's place) or is escaped.
fn member_elements(t: &str, key: &str) -> Option<(Vec<String>, usize)> {
    let b = t.as_bytes();
    if b.first() != Some(&b'{') {
        return None;
    }
    let mut names: Vec<&str> = Vec::new();
    let mut found = None;
    let mut i = skip_ws(b, 1);
    while i < b.len() && b[i] != b'}' {
        let (name_end, escaped) = string_end(b, i);
        let name = &t[i + 1..name_end - 1];
        if escaped || names.contains(&name) {
            return None;
        }
        names.push(name);
        i = skip_ws(b, name_end);
        i = skip_ws(b, i + 1); // the colon
        let end = if found.is_none() && name.eq_ignore_ascii_case(key) {
            let (texts, end) = elements(t, i)?;
            found = Some(texts);
            end
        } else {
            value_end(b, i)
        };
        i = skip_ws(b, end);
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
    }
    Some((found?, i + 1))
}

/// `t` without whitespace, if `serde_json` prints its parsed value exactly so.
#[cfg(test)]
fn compact(t: &str) -> Option<String> {
    let (c, end) = compact_at(t, 0)?;
    (skip_ws(t.as_bytes(), end) == t.len()).then_some(c)
}

/// The value starting at `start` without whitespace, if `serde_json` prints its parsed value
/// exactly so, and the index past it.
fn compact_at(t: &str, start: usize) -> Option<(String, usize)> {
    let b = t.as_bytes();
    if !matches!(b.get(start), Some(b'{' | b'[')) {
        // A scalar record (rejected by the caller, but with this text).
        let end = value_end(b, start);
        if b[start] == b'"' {
            let (_, escaped) = string_end(b, start);
            if escaped && !plain_escapes(&b[start + 1..end - 1]) {
                return None;
            }
        } else if !matches!(b[start], b't' | b'f' | b'n') && !plain_integer(&b[start..end]) {
            return None;
        }
        return Some((t[start..end].to_owned(), end));
    }
    // About a record's size: the length is known only at its end.
    let mut out = String::with_capacity(2048.min(b.len() - start));
    // Per open container: where its names start in `names` (objects; `None`: an array), to find
    // a repeated one. One stack of names for all: no allocation per object.
    let mut open: Vec<Option<usize>> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    // In an object, the next string is a name.
    let mut expect_name = false;
    let mut i = start;
    let mut copied = start;
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.push_str(&t[copied..i]);
                i = skip_ws(b, i);
                copied = i;
                continue;
            }
            b'"' => {
                let (end, escaped) = string_end(b, i);
                if escaped && !plain_escapes(&b[i + 1..end - 1]) {
                    return None;
                }
                if expect_name {
                    let name = &t[i + 1..end - 1];
                    let from = (*open.last()?)?;
                    if names[from..].contains(&name) {
                        return None;
                    }
                    names.push(name);
                    expect_name = false;
                }
                i = end;
                continue;
            }
            b'{' => {
                open.push(Some(names.len()));
                expect_name = true;
            }
            b'[' => open.push(None),
            b'}' | b']' => {
                if let Some(Some(from)) = open.pop() {
                    names.truncate(from);
                }
                expect_name = false;
                if open.is_empty() {
                    i += 1;
                    out.push_str(&t[copied..i]);
                    return Some((out, i));
                }
            }
            b',' => expect_name = matches!(open.last(), Some(Some(_))),
            b'-' | b'0'..=b'9' => {
                let end = scalar_end(b, i);
                if !plain_integer(&b[i..end]) {
                    return None;
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Whether a string's escapes are all ones `serde_json` prints as they are.
fn plain_escapes(s: &[u8]) -> bool {
    let mut k = 0;
    while let Some(p) = memchr::memchr(b'\\', &s[k..]) {
        match s.get(k + p + 1) {
            Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't') => k += p + 2,
            _ => return false,
        }
    }
    true
}

/// Whether `serde_json` prints this number as it is written: an integer it holds as `u64` or
/// `i64` (at most 18 digits), not `-0` (a float).
fn plain_integer(n: &[u8]) -> bool {
    let digits = n.strip_prefix(b"-").unwrap_or(n);
    !digits.is_empty() && digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) && n != b"-0"
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::entra::test_json::{json_value, spelled};

    fn printed(t: &str) -> String {
        serde_json::from_str::<Value>(t).unwrap().to_string()
    }

    #[test]
    fn whitespace_goes_and_everything_else_stays() {
        let t = "{ \"a\" : [ 1 , -2, \"x y\\n\\\"q\\\"\" ,true,null ] ,\n\t\"b\":{\"c\":\"é\"} }";
        assert_eq!(compact(t).unwrap(), printed(t));
    }

    #[test]
    fn texts_serde_prints_otherwise_take_the_slow_path() {
        for t in [
            r#"{"a":"it\u0027s"}"#,
            r#"{"a":"a\/b"}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"{"a":-0}"#,
            r#"{"a":12345678901234567890}"#,
            r#"{"a":1,"a":2}"#,
            r#"[{"a":{"b":1,"b":1}}]"#,
        ] {
            assert_eq!(compact(t), None, "{t}");
        }
        // The same names in different objects are no repeat.
        let t = r#"[{"a":1,"b":{"a":2}},{"a":3}]"#;
        assert_eq!(compact(t).unwrap(), t);
    }

    #[test]
    fn records_of_pages_arrays_and_single_values() {
        let page = r#"{ "@odata.context": "x", "Value": [ {"id": "1"}, {"id":"2" , "n": [ ]} ] }"#;
        assert_eq!(
            record_texts(page, Layout::Wrapper("value")).unwrap(),
            [r#"{"id":"1"}"#, r#"{"id":"2","n":[]}"#]
        );
        assert_eq!(
            record_texts(" [ {\"a\":1} ,{\"b\":[1,{\"c\":2}]} ]\n", Layout::Array).unwrap(),
            [r#"{"a":1}"#, r#"{"b":[1,{"c":2}]}"#]
        );
        assert_eq!(
            record_texts(" {\"a\" :1}\r\n", Layout::Single).unwrap(),
            [r#"{"a":1}"#]
        );
        assert_eq!(
            record_texts("[]", Layout::Array).unwrap(),
            Vec::<String>::new()
        );
        // A repeated or escaped member name: the parsed page decides.
        assert_eq!(
            record_texts(
                r#"{"value":[],"value":[{"a":1}]}"#,
                Layout::Wrapper("value")
            ),
            None
        );
        assert_eq!(
            record_texts(r#"{"valu\u0065":[{"a":1}]}"#, Layout::Wrapper("value")),
            None
        );
    }

    proptest! {
        #[test]
        fn compact_is_what_serde_prints_or_nothing(v in json_value(), style in 0u8..15) {
            let text = spelled(&v, style);
            // A spelling that is no JSON (a replacement inside a string) proves nothing.
            if let Ok(parsed) = serde_json::from_str::<Value>(&text)
                && let Some(c) = compact(&text)
            {
                prop_assert_eq!(c, parsed.to_string());
            }
        }
    }
}
