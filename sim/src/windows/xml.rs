//! Event XML exactly as `wevtutil qe Security /f:xml` prints it: one `<Event>` per record, no root
//! element, single-quoted attributes, braced lowercase provider GUIDs, 7 fractional digits.

use super::record::{Rec, push_time};

const EVENT_NS: &str = "http://schemas.microsoft.com/win/2004/08/events/event";
const EVENTLOG_NS: &str = "http://manifests.microsoft.com/win/2004/08/windows/eventlog";

/// Appends `v` escaped for element text or a single-quoted attribute value.
pub(crate) fn escape_into(out: &mut String, v: &str) {
    if !v.contains(['&', '<', '>', '\'', '"']) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

fn num(out: &mut String, n: impl std::fmt::Display) {
    use std::fmt::Write;
    // Writing into a String cannot fail.
    let _ = write!(out, "{n}");
}

/// Appends one record (followed by CRLF, as wevtutil separates records) for `computer`.
pub(crate) fn render(out: &mut String, r: &Rec, computer: &str) {
    let k = r.kind;
    out.push_str("<Event xmlns='");
    out.push_str(EVENT_NS);
    out.push_str("'><System><Provider Name='");
    out.push_str(k.provider.name());
    out.push_str("' Guid='");
    out.push_str(k.provider.guid());
    out.push_str("'/><EventID>");
    num(out, k.id);
    out.push_str("</EventID><Version>");
    num(out, k.version);
    out.push_str("</Version><Level>");
    num(out, k.level);
    out.push_str("</Level><Task>");
    num(out, k.task);
    out.push_str("</Task><Opcode>0</Opcode><Keywords>");
    out.push_str(k.keywords);
    out.push_str("</Keywords><TimeCreated SystemTime='");
    push_time(out, r.ticks, 7);
    out.push_str("'/><EventRecordID>");
    num(out, r.record_id);
    out.push_str("</EventRecordID><Correlation/><Execution ProcessID='");
    num(out, r.pid);
    out.push_str("' ThreadID='");
    num(out, r.tid);
    out.push_str("'/><Channel>Security</Channel><Computer>");
    escape_into(out, computer);
    out.push_str("</Computer><Security/></System>");
    match r.user_data {
        Some(element) => {
            out.push_str("<UserData><");
            out.push_str(element);
            out.push_str(" xmlns='");
            out.push_str(EVENTLOG_NS);
            out.push_str("'>");
            for (name, value) in &r.data {
                out.push('<');
                out.push_str(name);
                out.push('>');
                escape_into(out, value);
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
            out.push_str("</");
            out.push_str(element);
            out.push_str("></UserData>");
        }
        None => {
            out.push_str("<EventData>");
            for (name, value) in &r.data {
                out.push_str("<Data Name='");
                out.push_str(name);
                out.push_str("'>");
                escape_into(out, value);
                out.push_str("</Data>");
            }
            out.push_str("</EventData>");
        }
    }
    out.push_str("</Event>\r\n");
}
