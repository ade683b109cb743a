//! Event XML as written by `wevtutil qe Security /f:xml` (a sequence of `<Event>` elements with no root)
//! or Windows Event Forwarding (with `<RenderingInfo>`, ignored), optionally wrapped in `<Events>`.
//! Each record's raw text is stored as JSON shaped like the `evtx` crate's rendering.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event as XmlEvent};
use serde_json::{Map, Value};

use super::record::{Fields, WinRecord, keywords_audit_failure, parse_time};
use crate::emit::Emitter;

/// An element of one `<Event>`, as a small tree.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Node>,
    text: String,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

fn local_name(qname: &[u8]) -> String {
    let local = match qname.iter().rposition(|&b| b == b':') {
        Some(i) => &qname[i + 1..],
        None => qname,
    };
    String::from_utf8_lossy(local).into_owned()
}

fn start_node(e: &BytesStart<'_>) -> Result<Node, String> {
    let mut node = Node {
        name: local_name(e.name().as_ref()),
        ..Node::default()
    };
    for a in e.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        let v = a
            .unescape_value()
            .map_err(|e| format!("bad attribute value: {e}"))?;
        node.attrs
            .push((local_name(a.key.as_ref()), v.into_owned()));
    }
    Ok(node)
}

/// Read all `<Event>` elements of `text` into `em`. A syntax error or a truncated record is damage and
/// a reject (location `offset N`); reading resumes at the next `<Event`.
pub(crate) fn read(text: &str, em: &mut Emitter<'_>) {
    let mut base = 0usize;
    while base < text.len() {
        match read_from(text, base, em) {
            None => return,
            Some(err_at) => match find_event_start(text, err_at.max(base + 1)) {
                Some(next) => base = next,
                None => return,
            },
        }
        if em.stopped() {
            return;
        }
    }
}

fn find_event_start(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while at < text.len() && !text.is_char_boundary(at) {
        at += 1;
    }
    while let Some(i) = text.get(at..)?.find("<Event") {
        let pos = at + i;
        match text.as_bytes().get(pos + 6) {
            Some(b' ' | b'>' | b'\t' | b'\r' | b'\n' | b'/') => return Some(pos),
            _ => at = pos + 6,
        }
    }
    None
}

/// Parse from `base`; returns the offset where an error stopped it, or `None` at the end.
fn read_from(text: &str, base: usize, em: &mut Emitter<'_>) -> Option<usize> {
    let mut reader = Reader::from_str(&text[base..]);
    reader.config_mut().trim_text(false);
    // Elements open in the current record; the record's root is `stack[0]`.
    let mut stack: Vec<Node> = Vec::new();
    let mut record_start = 0usize;
    loop {
        let before = base + reader.buffer_position() as usize;
        let ev = reader.read_event();
        let here = base + reader.buffer_position() as usize;
        let max_record = em.opts().limits.max_record_bytes;
        let fail =
            |em: &mut Emitter<'_>, stack: &Vec<Node>, record_start: usize, reason: String| {
                em.damage(&format!("offset {before}"), &reason);
                if !stack.is_empty() {
                    let raw = text.get(record_start..here.min(text.len())).unwrap_or("");
                    em.reject(format!("offset {record_start}"), reason, raw);
                }
            };
        if !stack.is_empty() && here - record_start > max_record {
            let reason =
                format!("record longer than {max_record} bytes ([ingest] max_record_bytes)");
            fail(em, &stack, record_start, reason);
            return Some(here);
        }
        match ev {
            Err(e) => {
                fail(em, &stack, record_start, format!("XML error: {e}"));
                return Some(here);
            }
            Ok(XmlEvent::Eof) => {
                if !stack.is_empty() {
                    fail(
                        em,
                        &stack,
                        record_start,
                        "truncated record: input ends inside <Event>".to_owned(),
                    );
                }
                return None;
            }
            Ok(XmlEvent::Start(e)) => {
                let node = match start_node(&e) {
                    Ok(n) => n,
                    Err(reason) => {
                        fail(em, &stack, record_start, reason);
                        return Some(here);
                    }
                };
                if stack.is_empty() {
                    if node.name != "Event" {
                        // `<Events>` or another wrapper: look inside.
                        continue;
                    }
                    record_start = before;
                }
                let max = em.opts().limits.max_xml_depth;
                if stack.len() >= max {
                    // A tree this deep is an attack on whoever walks it recursively (a drop, a
                    // conversion): the record is rejected and reading resumes at the next one.
                    let reason =
                        format!("elements nested deeper than {max} ([ingest] max_xml_depth)");
                    fail(em, &stack, record_start, reason);
                    return Some(here);
                }
                stack.push(node);
            }
            Ok(XmlEvent::Empty(e)) => {
                if stack.is_empty() {
                    continue;
                }
                match start_node(&e) {
                    Ok(n) => {
                        if let Some(parent) = stack.last_mut() {
                            parent.children.push(n);
                        }
                    }
                    Err(reason) => {
                        fail(em, &stack, record_start, reason);
                        return Some(here);
                    }
                }
            }
            Ok(XmlEvent::End(_)) => {
                let Some(node) = stack.pop() else {
                    continue; // `</Events>`
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => {
                        let location = format!("offset {record_start}");
                        match to_record(&node) {
                            Ok(rec) => em.record(rec),
                            Err(reason) => {
                                let raw = text.get(record_start..here).unwrap_or("");
                                em.reject(location, reason, raw);
                            }
                        }
                        if em.stopped() {
                            return None;
                        }
                    }
                }
            }
            Ok(XmlEvent::Text(t)) => {
                if let Some(n) = stack.last_mut() {
                    match t.decode() {
                        Ok(s) => n.text.push_str(&s),
                        Err(e) => {
                            fail(em, &stack, record_start, format!("bad text: {e}"));
                            return Some(here);
                        }
                    }
                }
            }
            Ok(XmlEvent::CData(t)) => {
                if let Some(n) = stack.last_mut() {
                    n.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Ok(XmlEvent::GeneralRef(r)) => {
                if let Some(n) = stack.last_mut() {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c),
                        Ok(None) => match r.as_ref() {
                            b"amp" => Some('&'),
                            b"lt" => Some('<'),
                            b"gt" => Some('>'),
                            b"quot" => Some('"'),
                            b"apos" => Some('\''),
                            _ => None,
                        },
                        Err(_) => None,
                    };
                    match resolved {
                        Some(c) => n.text.push(c),
                        None => {
                            n.text.push('&');
                            n.text.push_str(&String::from_utf8_lossy(&r));
                            n.text.push(';');
                        }
                    }
                }
            }
            Ok(_) => {} // declarations, comments, processing instructions, doctype
        }
    }
}

/// One `<Event>` tree → [`WinRecord`] (raw: its JSON form).
fn to_record(event: &Node) -> Result<WinRecord<'static>, String> {
    let sys = event.child("System").ok_or("no <System>")?;
    let event_id = sys
        .child_text("EventID")
        .ok_or("no <EventID>")?
        .parse::<u32>()
        .map_err(|_| "<EventID> is not a number".to_owned())?;
    let record_id = sys
        .child_text("EventRecordID")
        .ok_or("no <EventRecordID>")?
        .parse::<u64>()
        .map_err(|_| "<EventRecordID> is not a number".to_owned())?;
    let time = sys
        .child("TimeCreated")
        .and_then(|t| t.attr("SystemTime"))
        .and_then(parse_time)
        .ok_or("no valid <TimeCreated SystemTime>")?;
    let mut data = Fields::new();
    if let Some(ed) = event.child("EventData") {
        for (i, d) in ed.children.iter().enumerate() {
            let name = d.attr("Name").map(str::to_owned).unwrap_or_else(|| {
                if d.name == "Data" {
                    format!("Data{}", i + 1)
                } else {
                    d.name.clone()
                }
            });
            data.push(name, d.text.trim().to_owned());
        }
    } else if let Some(ud) = event.child("UserData") {
        for wrapper in &ud.children {
            for f in &wrapper.children {
                data.push(f.name.clone(), f.text.trim().to_owned());
            }
        }
    }
    Ok(WinRecord {
        provider: sys
            .child("Provider")
            .and_then(|p| p.attr("Name"))
            .unwrap_or("")
            .to_owned()
            .into(),
        event_id,
        channel: sys.child_text("Channel").unwrap_or("").to_owned().into(),
        computer: sys.child_text("Computer").unwrap_or("").to_owned().into(),
        record_id,
        time,
        audit_failure: sys
            .child_text("Keywords")
            .is_some_and(keywords_audit_failure),
        data,
        raw: to_json(event).to_string().into(),
    })
}

/// The record as JSON in the `evtx` crate's shape: attributes under `#attributes`, text under `#text`
/// when there are attributes too, `EventData` as `Name → value`; `RenderingInfo` left out.
fn to_json(event: &Node) -> Value {
    let mut root = Map::new();
    root.insert("Event".to_owned(), node_json(event, false));
    Value::Object(root)
}

fn scalar(name: &str, text: &str) -> Value {
    let t = text.trim();
    if t.is_empty() {
        return Value::Null;
    }
    if matches!(name, "EventID" | "EventRecordID")
        && let Ok(n) = t.parse::<u64>()
    {
        return Value::from(n);
    }
    Value::String(t.to_owned())
}

fn node_json(node: &Node, data_by_name: bool) -> Value {
    if node.children.is_empty() && node.attrs.is_empty() {
        return scalar(&node.name, &node.text);
    }
    let mut m = Map::new();
    if !node.attrs.is_empty() {
        let attrs: Map<String, Value> = node
            .attrs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        m.insert("#attributes".to_owned(), Value::Object(attrs));
    }
    for c in &node.children {
        if c.name == "RenderingInfo" {
            continue;
        }
        let (key, value) = match (data_by_name, c.attr("Name")) {
            (true, Some(name)) => (name.to_owned(), scalar(name, &c.text)),
            _ => (c.name.clone(), node_json(c, c.name == "EventData")),
        };
        match m.get_mut(&key) {
            Some(Value::Array(a)) => a.push(value),
            Some(prev) => {
                let first = prev.take();
                *prev = Value::Array(vec![first, value]);
            }
            None => {
                m.insert(key, value);
            }
        }
    }
    if node.children.is_empty() && !node.text.trim().is_empty() {
        m.insert("#text".to_owned(), scalar(&node.name, &node.text));
    }
    Value::Object(m)
}
