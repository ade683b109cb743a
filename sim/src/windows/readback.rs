//! Test-only readers for the generated files: a small XML well-formedness checker and record
//! extractor, and a Winlogbeat 8 JSON line reader that checks the documented keys.

use std::io::Read;
use std::path::Path;

use super::record::View;

/// One record as read back from a file.
#[derive(Debug)]
pub(super) struct Parsed {
    pub id: u16,
    pub provider: String,
    pub computer: String,
    pub record_id: u64,
    pub time: String,
    pub fields: Vec<(String, String)>,
    /// Read from Event XML (field order is Windows'); else from a JSON line.
    pub xml: bool,
}

impl View for Parsed {
    fn event_id(&self) -> u16 {
        self.id
    }
    fn provider(&self) -> &str {
        &self.provider
    }
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn read_text(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read file");
    if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .expect("valid gzip of UTF-8");
        s
    } else {
        String::from_utf8(bytes).expect("UTF-8")
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Checks tags nest, attributes are quoted, `&` only starts the five XML entities, and every
/// top-level element is an `<Event>`.
fn assert_well_formed(doc: &str) {
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = doc;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        assert!(!text.contains('>'), "stray > in text {text:?}");
        check_entities(text);
        if stack.is_empty() {
            assert!(text.trim().is_empty(), "text outside any element: {text:?}");
        }
        let gt = rest[lt..].find('>').expect("unclosed tag") + lt;
        let tag = &rest[lt + 1..gt];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name), "mismatched close tag");
        } else {
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body.split(' ').next().expect("tag name");
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
                "bad name {name:?}"
            );
            if stack.is_empty() {
                assert_eq!(name, "Event", "top-level element");
            }
            let attrs = &body[name.len()..];
            assert_eq!(
                attrs.matches('\'').count() % 2,
                0,
                "unbalanced quotes in {tag:?}"
            );
            assert!(!attrs.contains('<'));
            check_entities(attrs);
            if !self_closing {
                stack.push(name);
            }
        }
        rest = &rest[gt + 1..];
    }
    assert!(
        rest.trim().is_empty() && stack.is_empty(),
        "unclosed elements {stack:?}"
    );
}

fn check_entities(s: &str) {
    for (i, _) in s.match_indices('&') {
        let ok = ["&amp;", "&lt;", "&gt;", "&apos;", "&quot;"]
            .iter()
            .any(|e| s[i..].starts_with(e));
        assert!(ok, "bare & in {s:?}");
    }
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> &'a str {
    let i = s.find(a).unwrap_or_else(|| panic!("{a} missing")) + a.len();
    let j = s[i..].find(b).unwrap_or_else(|| panic!("{b} missing")) + i;
    &s[i..j]
}

fn parse_xml(doc: &str) -> Vec<Parsed> {
    assert_well_formed(doc);
    assert!(doc.ends_with("</Event>\r\n"));
    doc.split_terminator("</Event>\r\n")
        .map(|ev| {
            assert!(ev.starts_with("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='"));
            let mut fields = Vec::new();
            if ev.contains("<UserData>") {
                let inner = between(ev, "<LogFileCleared xmlns='http://manifests.microsoft.com/win/2004/08/windows/eventlog'>", "</LogFileCleared>");
                let mut r = inner;
                while let Some(s) = r.strip_prefix('<') {
                    let name = &s[..s.find('>').expect(">")];
                    let value = between(r, &format!("<{name}>"), &format!("</{name}>"));
                    fields.push((name.to_owned(), unescape(value)));
                    r = &r[name.len() * 2 + 5 + value.len()..];
                }
                assert!(r.is_empty());
            } else {
                for part in between(ev, "<EventData>", "</EventData>").split("</Data>").filter(|p| !p.is_empty()) {
                    let (name, value) = part.strip_prefix("<Data Name='").expect("Data").split_once("'>").expect("'>");
                    fields.push((name.to_owned(), unescape(value)));
                }
            }
            Parsed {
                id: between(ev, "<EventID>", "</EventID>").parse().expect("EventID"),
                provider: between(ev, "<Provider Name='", "'").to_owned(),
                computer: between(ev, "<Computer>", "</Computer>").to_owned(),
                record_id: between(ev, "<EventRecordID>", "</EventRecordID>").parse().expect("EventRecordID"),
                time: between(ev, "<TimeCreated SystemTime='", "'").to_owned(),
                fields,
                xml: true,
            }
        })
        .collect()
}

pub(super) fn parse_winlogbeat_line(line: &str) -> Parsed {
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
    let s = |p: &str| {
        v.pointer(p)
            .and_then(|x| x.as_str())
            .unwrap_or_else(|| panic!("{p} missing in {line}"))
    };
    for p in [
        "/@timestamp",
        "/event/provider",
        "/event/outcome",
        "/host/name",
        "/winlog/channel",
        "/winlog/provider_name",
        "/message",
    ] {
        s(p);
    }
    assert_eq!(
        s("/event/code"),
        s("/winlog/event_id"),
        "event.code and winlog.event_id are the same string"
    );
    assert_eq!(s("/winlog/channel"), "Security");
    assert!(v.pointer("/winlog/keywords").is_some_and(|k| k.is_array()));
    let data = v
        .pointer("/winlog/event_data")
        .or(v.pointer("/winlog/user_data"))
        .and_then(|d| d.as_object())
        .expect("event_data or user_data");
    let fields = data
        .iter()
        .filter(|(k, _)| *k != "xml_name")
        .map(|(k, x)| {
            (
                k.clone(),
                x.as_str().expect("data values are strings").to_owned(),
            )
        })
        .collect();
    Parsed {
        id: s("/winlog/event_id").parse().expect("event id"),
        provider: s("/winlog/provider_name").to_owned(),
        computer: s("/winlog/computer_name").to_owned(),
        record_id: v
            .pointer("/winlog/record_id")
            .and_then(|x| x.as_u64())
            .expect("record_id is a number"),
        time: s("/@timestamp").to_owned(),
        fields,
        xml: false,
    }
}

pub(super) fn read_back(files: &[std::path::PathBuf]) -> Vec<Vec<Parsed>> {
    files
        .iter()
        .map(|f| {
            let text = read_text(f);
            if f.to_string_lossy().ends_with(".xml") {
                parse_xml(&text)
            } else {
                text.lines().map(parse_winlogbeat_line).collect()
            }
        })
        .collect()
}
