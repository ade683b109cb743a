//! The text of one syslog message (RFC 5424, no framing), and its shortening to a size limit.

use super::Format;
use crate::{Message, Payload};

/// The header fields that do not change per message.
#[derive(Debug, Clone)]
pub struct Header {
    pub facility: u8,
    pub hostname: String,
    pub app_name: String,
    pub procid: String,
    pub format: Format,
}

/// A header field: printable US-ASCII without spaces, at most `max` long, `-` when empty.
fn field(s: &str, max: usize) -> String {
    let f: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if f.is_empty() { "-".to_owned() } else { f }
}

/// Escapes an SD-PARAM value (`"`, `\`, `]`).
pub fn escape_sd(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn severity(p: &Payload) -> u8 {
    match p {
        Payload::Alert(a) => match a.severity.as_str() {
            "critical" => 2,
            "high" => 3,
            "medium" => 4,
            // RFC 5424 6 = Informational: a notice, not a problem.
            "info" => 6,
            _ => 5,
        },
        Payload::Event(e) if e.action == privtrail_model::Action::AuditLogCleared => 2,
        Payload::Event(_) | Payload::Anchor(_) => 6,
    }
}

/// The RFC 5424 message for `m` (no framing).
pub fn format_message(h: &Header, m: &Message) -> String {
    format_marked(h, m, false)
}

/// The RFC 5424 message for `m` in at most `max` bytes: as [`format_message`] when it fits, else
/// with the payload shortened by [`Payload::shortened`] at the largest field limit that fits, and
/// marked `truncated`. Should even one character per field not fit (an enormous id), the bytes
/// are cut at `max`: the mark comes first in the structured data, before the cut.
pub fn format_within(h: &Header, m: &Message, max: usize) -> String {
    let full = format_message(h, m);
    if full.len() <= max {
        return full;
    }
    let at = |limit: usize| {
        let payload = m.payload.shortened(limit)?;
        let short = Message {
            payload,
            ..m.clone()
        };
        Some(format_marked(h, &short, true))
    };
    // The largest field limit whose message fits: shorter limits give shorter messages, and no
    // field is longer than the whole message.
    let (mut lo, mut hi) = (0, full.len());
    let mut best = None;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        match at(mid).filter(|t| t.len() <= max) {
            Some(t) => {
                best = Some(t);
                lo = mid;
            }
            None => hi = mid,
        }
    }
    if let Some(t) = best {
        return t;
    }
    let mut text = at(1).unwrap_or_else(|| format_marked(h, m, true));
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

fn format_marked(h: &Header, m: &Message, truncated: bool) -> String {
    let pri = u16::from(h.facility) * 8 + u16::from(severity(&m.payload));
    let ts = m
        .payload
        .time()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut msg = match (&m.payload, h.format) {
        (Payload::Alert(a), Format::Cef) => crate::cef::alert_line(a, &m.idempotency_key),
        (Payload::Event(e), Format::Cef) => crate::cef::event_line(e, &m.idempotency_key),
        (Payload::Anchor(a), Format::Cef) => crate::cef::anchor_line(a, &m.idempotency_key),
        (p, Format::Json) => {
            let mut v = serde_json::to_value(p).unwrap_or(serde_json::Value::Null);
            v["idempotency_key"] = serde_json::json!(m.idempotency_key);
            if truncated {
                v["truncated"] = serde_json::json!(true);
            }
            v.to_string()
        }
    };
    if truncated && h.format == Format::Cef {
        msg.push(' ');
        msg.push_str(crate::cef::TRUNCATED);
    }
    // The mark goes first: should the message be cut, it is the last thing lost.
    let mark = if truncated { "truncated=\"true\" " } else { "" };
    format!(
        "<{pri}>1 {ts} {} {} {} {} [privtrail@32473 {mark}id=\"{}\"] {msg}",
        field(&h.hostname, 255),
        field(&h.app_name, 48),
        field(&h.procid, 128),
        m.payload.kind(),
        escape_sd(m.payload.id()),
    )
}

/// Octet-counting frame: `LEN SP MSG`.
pub fn frame(msg: &str) -> String {
    format!("{} {msg}", msg.len())
}
