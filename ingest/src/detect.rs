//! Format detection by content: magic bytes, then the first JSON line's keys or an `<Event` element,
//! then the Entra import shapes (`entra::detect`).

use crate::Format;
use crate::entra::detect::Detected;
use crate::windows::jsonl::shape_of;

/// The EVTX file magic.
pub const EVTX_MAGIC: &[u8] = b"ElfFile\0";
/// The gzip magic.
pub const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const UTF8_BOM: &[u8] = &[0xef, 0xbb, 0xbf];

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    Gzip,
    Utf16Le,
    Utf16Be,
    Format(Format),
}

fn skip_ws(b: &[u8]) -> &[u8] {
    let i = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[i..]
}

/// Detect from the first bytes (`head`; `complete` when it is the whole file). `None` when the
/// content is none of the supported formats.
pub(crate) fn sniff(head: &[u8], complete: bool) -> Option<Sniffed> {
    if head.starts_with(EVTX_MAGIC) {
        return Some(Sniffed::Format(Format::Evtx));
    }
    if head.starts_with(GZIP_MAGIC) {
        return Some(Sniffed::Gzip);
    }
    if head.starts_with(&[0xff, 0xfe]) {
        return Some(Sniffed::Utf16Le);
    }
    if head.starts_with(&[0xfe, 0xff]) {
        return Some(Sniffed::Utf16Be);
    }
    let body = skip_ws(head.strip_prefix(UTF8_BOM).unwrap_or(head));
    if body.starts_with(b"<") {
        return xml_like(body).then_some(Sniffed::Format(Format::EventXml));
    }
    if body.starts_with(b"{")
        && let Some(f) = json_like(body, complete)
    {
        return Some(Sniffed::Format(f));
    }
    // Endpoint tags: `reg query` text or JSON with LastAdminGranted / ExpiresAt.
    if crate::tags::sniff(body) {
        return Some(Sniffed::Format(Format::Regtag));
    }
    // Entra imports: Graph / Azure Monitor JSON, Log Analytics JSON or CSV.
    match crate::entra::detect::sniff(body, complete) {
        Some(Detected::Format(f)) => Some(Sniffed::Format(f)),
        Some(Detected::NotAuditLog) | None => None,
    }
}

/// When `head` is JSON of Graph (or of a Graph-like shape) that holds no audit records, what it is.
pub(crate) fn not_audit_log(head: &[u8]) -> Option<String> {
    let body = skip_ws(head.strip_prefix(UTF8_BOM).unwrap_or(head));
    (crate::entra::detect::sniff(body, true) == Some(Detected::NotAuditLog))
        .then(|| crate::entra::detect::describe_not_audit(body))
}

/// `<Event` or `<Events` after an optional `<?xml …?>` declaration and comments.
fn xml_like(mut b: &[u8]) -> bool {
    loop {
        b = skip_ws(b);
        if b.starts_with(b"<?") || b.starts_with(b"<!--") {
            let end: &[u8] = if b.starts_with(b"<?") { b"?>" } else { b"-->" };
            match b.windows(end.len()).position(|w| w == end) {
                Some(i) => b = &b[i + end.len()..],
                None => return false,
            }
            continue;
        }
        return b.starts_with(b"<Event")
            && matches!(
                b.get(6),
                Some(b' ' | b'>' | b's' | b'\t' | b'\r' | b'\n' | b'/') | None
            );
    }
}

/// The first parsable one of the first few lines decides; a line too long to be complete in the
/// head is judged by its keys as text.
fn json_like(b: &[u8], complete: bool) -> Option<Format> {
    let mut lines = b.split(|&c| c == b'\n').peekable();
    let mut tried = 0;
    while let Some(line) = lines.next() {
        let is_last = lines.peek().is_none();
        let line = skip_ws(line);
        if line.is_empty() {
            continue;
        }
        if is_last && !complete {
            // Cut by the head's end: fall back to key names.
            let s = String::from_utf8_lossy(line);
            return if s.contains("\"winlog\"")
                || s.contains("\"event_data\"")
                || s.contains("\"computer_name\"")
            {
                Some(Format::Winlogbeat)
            } else if s.contains("\"EventID\"") {
                Some(Format::Nxlog)
            } else {
                None
            };
        }
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(line)
            && let Some(shape) = shape_of(&m)
        {
            return shape.format();
        }
        tried += 1;
        if tried >= 5 {
            return None;
        }
    }
    None
}

/// How the first bytes look, for an "unrecognized format" message: printable text quoted, else hex.
pub(crate) fn describe_head(head: &[u8]) -> String {
    let n = head.len().min(16);
    let h = &head[..n];
    if !h.is_empty() && h.iter().all(|&b| b.is_ascii_graphic() || b == b' ') {
        format!("{:?}", String::from_utf8_lossy(h))
    } else {
        let hex: Vec<String> = h.iter().map(|b| format!("{b:02x}")).collect();
        format!("bytes {}", hex.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_formats() {
        let f = |b: &[u8]| sniff(b, true);
        assert_eq!(f(b"ElfFile\0rest"), Some(Sniffed::Format(Format::Evtx)));
        assert_eq!(f(&[0x1f, 0x8b, 8, 0]), Some(Sniffed::Gzip));
        assert_eq!(
            f(b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<Events><Event xmlns='x'>"),
            Some(Sniffed::Format(Format::EventXml))
        );
        assert_eq!(
            f(b"  <Event xmlns='x'><System>"),
            Some(Sniffed::Format(Format::EventXml))
        );
        assert_eq!(f(b"<html>"), None);
        assert_eq!(
            f(b"\n{\"@timestamp\":\"x\",\"winlog\":{\"event_id\":\"4732\"}}\n"),
            Some(Sniffed::Format(Format::Winlogbeat))
        );
        assert_eq!(
            f(b"{\"event_id\":4732,\"computer_name\":\"h\",\"event_data\":{}}"),
            Some(Sniffed::Format(Format::Winlogbeat))
        );
        assert_eq!(
            f(b"{\"EventID\":4732,\"Hostname\":\"h\"}"),
            Some(Sniffed::Format(Format::Nxlog))
        );
        assert_eq!(f(b"{\"foo\":1}"), None);
        assert_eq!(f(b"garbage"), None);
        assert_eq!(
            sniff(b"{\"EventID\":4732,\"Hostname\":\"h\",\"Mess", false),
            Some(Sniffed::Format(Format::Nxlog))
        );
        assert_eq!(describe_head(b"garbage"), "\"garbage\"");
        assert_eq!(describe_head(&[0, 1]), "bytes 00 01");
    }
}
