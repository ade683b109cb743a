//! The [`crate::Format::Regtag`] reader: `reg query` text or JSON tags (one object, an array of
//! objects, or JSON lines), each tag normalized by [`super::normalize_tag`].
//!
//! The host of a tag is, first to last: the tag's own (a `\\HOST\…` remote key path, a `host` /
//! `computer` / `hostname` value), the last `# host:` header line before it, [`crate::Options::host`].
//! A file none of whose tags has a host is an error ([`IngestError::NoHost`]) when `Options::host` is
//! not set; in a file where some tags have one, a tag without is a reject. A tag with a bad time is a
//! reject (`line N` of the value, `record N`, `line N`); nothing else aborts the file.

use std::io::BufRead;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::normalize::{TagError, clean_host, fold, is_tag, normalize_tag, tag_host};
use super::regquery::{self, RegKey};
use crate::IngestError;
use crate::emit::Emitter;

/// One tag as read, before normalization.
struct Item {
    location: String,
    /// The record's text, for a reject.
    text: String,
    what: Read,
}

enum Read {
    Tag {
        tag: Map<String, Value>,
        host: Option<String>,
        /// Line of each value by folded name (`reg query` text), for the location of a bad value.
        lines: Vec<(String, usize)>,
    },
    /// A key with values none of which is a tag field.
    NotATag,
    Bad(String),
}

/// Read a tag file. Errors only when no tag names its host and `Options::host` is unset.
pub(crate) fn read(
    r: &mut dyn BufRead,
    em: &mut Emitter<'_>,
    progress: &dyn Fn(),
) -> Result<(), IngestError> {
    let all = crate::read_rest(Vec::new(), r, em);
    let text = String::from_utf8_lossy(&all);
    let text = text.trim_start_matches('\u{feff}');
    let items = if text.trim_start().starts_with(['{', '[']) {
        json_items(text)
    } else {
        reg_items(text, em)
    };
    emit(items, em, Utc::now())?;
    progress();
    Ok(())
}

fn emit(items: Vec<Item>, em: &mut Emitter<'_>, now: DateTime<Utc>) -> Result<(), IngestError> {
    let fallback = em.opts().host.as_deref().and_then(clean_host);
    let needs_host = |i: &Item| matches!(&i.what, Read::Tag { host: None, .. });
    let has_host = |i: &Item| matches!(&i.what, Read::Tag { host: Some(_), .. });
    if fallback.is_none() && items.iter().any(needs_host) && !items.iter().any(has_host) {
        return Err(IngestError::NoHost {
            path: em.report.path.clone(),
        });
    }
    for item in items {
        if em.stopped() {
            break;
        }
        match item.what {
            Read::NotATag => em.skipped(),
            Read::Bad(reason) => em.reject(item.location, reason, &item.text),
            Read::Tag { tag, host, lines } => {
                let Some(host) = host.or_else(|| fallback.clone()) else {
                    em.reject(
                        item.location,
                        "the tag names no host: add a `host` value or a `# host: NAME` line, or give --host".to_owned(),
                        &item.text,
                    );
                    continue;
                };
                match normalize_tag(&tag, &host, now) {
                    Ok(e) => em.event(e),
                    Err(TagError { field, reason }) => {
                        let at = field
                            .and_then(|f| {
                                let f = fold(&f);
                                lines.iter().find(|(n, _)| *n == f).map(|(_, l)| *l)
                            })
                            .map_or(item.location, |l| format!("line {l}"));
                        em.reject(at, reason, &item.text);
                    }
                }
            }
        }
    }
    Ok(())
}

/// `reg query` text: one item per key that has values.
fn reg_items(text: &str, em: &mut Emitter<'_>) -> Vec<Item> {
    let q = regquery::parse(text);
    for (line, stray) in &q.unrecognized {
        em.damage(
            &format!("line {line}"),
            format_args!("not a reg query key, value or header line, ignored: {stray:?}"),
        );
    }
    let lines: Vec<&str> = text.lines().collect();
    q.keys
        .into_iter()
        .filter(|k| !k.values.is_empty())
        .map(|k| reg_item(k, &lines))
        .collect()
}

fn reg_item(k: RegKey, text_lines: &[&str]) -> Item {
    let last = k.values.last().map_or(k.line, |v| v.line);
    let text = text_lines
        .get(k.line - 1..last.min(text_lines.len()))
        .map(|l| {
            l.iter()
                .map(|s| s.trim_end())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let mut tag = Map::new();
    let mut lines = Vec::new();
    for v in &k.values {
        tag.insert(v.name.clone(), Value::String(v.data.clone()));
        lines.push((fold(&v.name), v.line));
    }
    if !is_tag(&tag) {
        return Item {
            location: format!("line {}", k.line),
            text,
            what: Read::NotATag,
        };
    }
    // The remote path's host comes first, then a host value, then the header's.
    let remote = regquery::key_line(&k.path).and_then(|(h, _)| h);
    let host = remote.clone().or_else(|| tag_host(&tag)).or(k.host);
    if let Some(h) = &host
        && tag_host(&tag).is_none()
    {
        tag.insert("host".to_owned(), Value::String(h.clone()));
    }
    tag.insert("key".to_owned(), Value::String(k.path.clone()));
    Item {
        location: format!("line {}", k.line),
        text,
        what: Read::Tag { tag, host, lines },
    }
}

fn json_item(v: Value, location: String) -> Item {
    let text = v.to_string();
    let what = match v {
        Value::Object(tag) if is_tag(&tag) => Read::Tag {
            host: tag_host(&tag),
            tag,
            lines: Vec::new(),
        },
        Value::Object(_) => Read::Bad(
            "not an admin tag (no LastAdminGranted, ExpiresAt, GrantedTo or GrantedToSid)"
                .to_owned(),
        ),
        _ => Read::Bad("not a JSON object".to_owned()),
    };
    Item {
        location,
        text,
        what,
    }
}

/// JSON tags: one document (an object or an array of objects), else JSON lines.
fn json_items(text: &str) -> Vec<Item> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return match v {
            Value::Array(a) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| json_item(v, format!("record {}", i + 1)))
                .collect(),
            v => vec![json_item(v, "record 1".to_owned())],
        };
    }
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = format!("line {}", i + 1);
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Array(a)) => {
                for (k, v) in a.into_iter().enumerate() {
                    items.push(json_item(v, format!("{at}, record {}", k + 1)));
                }
            }
            Ok(v) => items.push(json_item(v, at)),
            Err(e) => items.push(Item {
                location: at,
                text: line.to_owned(),
                what: Read::Bad(format!("invalid JSON: {e}")),
            }),
        }
    }
    items
}

/// Whether a JSON head holds tags: its first object (or the first object of an array) has a
/// `LastAdminGranted` or `ExpiresAt` key.
pub(crate) fn json_looks_like(body: &[u8]) -> bool {
    use crate::entra::detect::{record_spans, value_end};
    let has_keys = |m: &Map<String, Value>| {
        m.keys()
            .any(|k| matches!(fold(k).as_str(), "lastadmingranted" | "expiresat"))
    };
    let first = match body.first() {
        Some(b'{') => value_end(body).map(|e| (0, e)),
        Some(b'[') => record_spans(body).into_iter().next(),
        _ => None,
    };
    first
        .and_then(|(s, e)| serde_json::from_slice::<Value>(&body[s..e]).ok())
        .and_then(|v| v.as_object().map(has_keys))
        .unwrap_or(false)
}
