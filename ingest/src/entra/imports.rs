//! The Entra import reader: Graph JSON (pages, arrays of records or of pages, JSON lines of
//! either), Log Analytics `AuditLogs` exports (JSON rows, JSON lines, the query API's `tables`, and
//! CSV) and Azure Monitor diagnostic records (one per line, or `{"records":[…]}`).
//!
//! Every record is classified on its own ([`super::convert::shape_of`]), converted to a
//! `directoryAudit` and normalized by [`super::normalize_directory_audit`]; `raw` keeps the record
//! as it was read. A record that fails is a reject (`line N`, `line N, record K` or `record N`);
//! nothing aborts the file.

use std::io::{BufRead, Read};

use privtrail_model::Event;
use serde_json::{Map, Value};

use super::compact::{Layout, record_texts};
use super::convert::{Converted, to_directory_audit};
use super::detect::{csv_delimiter, csv_header_names, record_spans, value_end, wrapped};
use super::json::{JsonValue, arr, get, text};
use super::lines::{Line, read_lines};
use super::normalize::normalize_without_raw;
use super::pages::parse_records;
use crate::IngestError;
use crate::emit::Emitter;
use crate::windows::jsonl::read_line_limited;

/// The tenant label used when neither the options nor the record name one.
pub const DEFAULT_TENANT: &str = "default";

struct Reader<'e, 'a> {
    em: &'e mut Emitter<'a>,
    /// Records seen so far (for `record N`).
    n: u64,
    /// The tenant the options name (else the record's, else [`DEFAULT_TENANT`]).
    tenant: Option<String>,
    /// The file was taken for Graph JSON: plain pages are read through the borrowed tree first
    /// (for the other formats that try would only parse each value twice).
    graph: bool,
}

/// What one record became.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) enum Rec {
    Event(Box<Event>),
    Skipped(String),
    Rejected { why: String, raw: String },
}

/// Read an Entra import from `r` (any of the three formats; the content decides, record by record;
/// `format` is what the file was taken for).
pub(crate) fn read(
    r: &mut dyn BufRead,
    format: crate::Format,
    em: &mut Emitter<'_>,
    progress: &dyn Fn(),
) {
    let tenant = em.opts().tenant.clone();
    let graph = format == crate::Format::Graph;
    let mut rd = Reader {
        em,
        n: 0,
        tenant,
        graph,
    };
    let mut line_no = 0usize;
    let mut first = Vec::new();
    // A minified Graph page is one long line: the first line may be as long as a file read whole.
    let max = usize::try_from(rd.em.opts().limits.max_whole_file_bytes).unwrap_or(usize::MAX);
    // The first non-blank line decides: JSON that parses alone means JSON lines.
    loop {
        match read_line_limited(r, &mut first, max) {
            Ok((0, _)) => return,
            Ok(_) => line_no += 1,
            Err(e) => {
                rd.em.damage(
                    &format!("line {}", line_no + 1),
                    format_args!("read error: {e}"),
                );
                return;
            }
        }
        if !String::from_utf8_lossy(&first)
            .trim_start_matches('\u{feff}')
            .trim()
            .is_empty()
        {
            break;
        }
    }
    // The line without its newline; put it back so that the document keeps its line numbers.
    let mut text = String::from_utf8_lossy(&first)
        .trim_start_matches('\u{feff}')
        .to_owned();
    text.push('\n');
    let trimmed = text.trim();
    if !trimmed.starts_with(['{', '[']) {
        rd.csv(&text, r, line_no);
    } else if let Ok(recs) = parse_records(trimmed, rd.tenant.as_deref(), rd.graph) {
        rd.emit(recs, Some(line_no));
        rd.lines(r, line_no, progress);
    } else {
        let all = crate::read_rest(text.into_bytes(), r, rd.em);
        let doc = String::from_utf8_lossy(&all);
        rd.document(&doc, line_no);
    }
    progress();
}

fn reason(e: IngestError) -> String {
    match e {
        IngestError::Malformed { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// Line numbers of offsets visited in increasing order, counted once: a document of a million
/// concatenated objects is read in linear time.
struct Lines<'d> {
    doc: &'d [u8],
    base: usize,
    pos: usize,
    line: usize,
}

impl<'d> Lines<'d> {
    fn new(doc: &'d str, base: usize) -> Self {
        Lines {
            doc: doc.as_bytes(),
            base,
            pos: 0,
            line: base,
        }
    }

    /// The line of offset `at`; offsets before the last one asked are counted from the start.
    fn at(&mut self, at: usize) -> usize {
        let at = at.min(self.doc.len());
        if at < self.pos {
            self.pos = 0;
            self.line = self.base;
        }
        self.line += self.doc[self.pos..at]
            .iter()
            .filter(|&&c| c == b'\n')
            .count();
        self.pos = at;
        self.line
    }
}

impl Reader<'_, '_> {
    /// JSON lines after the first: each line on its own (parsed on another thread, see
    /// [`super::lines`]).
    fn lines(&mut self, r: &mut dyn BufRead, line_no: usize, progress: &dyn Fn()) {
        if self.em.stopped() {
            return;
        }
        let max = self.em.opts().limits.max_record_bytes;
        let tenant = self.tenant.clone();
        read_lines(r, line_no, max, (tenant, self.graph), progress, |line| {
            match line {
                Line::Records { no, recs } => self.emit(recs, Some(no)),
                Line::Invalid { no, why, text } => {
                    self.n += 1;
                    self.em.reject(format!("line {no}"), why, &text);
                }
                Line::TooLong { no, text } => {
                    self.n += 1;
                    let why = format!("record longer than {max} bytes ([ingest] max_record_bytes)");
                    self.em.reject(format!("line {no}"), why, &text);
                }
                Line::ReadError { no, error } => {
                    let at = format!("line {no}");
                    self.em
                        .damage(&at, format_args!("read error, the rest is lost: {error}"));
                }
            }
            !self.em.stopped()
        });
    }

    /// A whole document: one or more pretty-printed values (pages, arrays, records).
    fn document(&mut self, doc: &str, base: usize) {
        let b = doc.as_bytes();
        let mut lines = Lines::new(doc, base);
        let mut i = 0;
        while i < b.len() && !self.em.stopped() {
            if b[i].is_ascii_whitespace() {
                i += 1;
                continue;
            }
            let line = lines.at(i);
            if !matches!(b[i], b'{' | b'[') {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| i + p);
                self.n += 1;
                let what = "not JSON (expected an object or an array)".to_owned();
                self.em.reject(format!("line {line}"), what, &doc[i..end]);
                i = end;
                continue;
            }
            match value_end(&b[i..]) {
                Some(n) => {
                    let span = &doc[i..i + n];
                    match parse_records(span, self.tenant.as_deref(), self.graph) {
                        Ok(recs) => self.emit(recs, None),
                        Err(e) => self.salvage(span, line, &e.to_string()),
                    }
                    i += n;
                }
                None => {
                    let at = format!("line {line}");
                    self.em.damage(
                        &at,
                        "unterminated JSON value: records after the last complete one are lost",
                    );
                    self.salvage(&doc[i..], line, "unterminated JSON value");
                    break;
                }
            }
        }
    }

    /// A value that does not parse: keep each record that does, reject the others.
    fn salvage(&mut self, span: &str, line: usize, err: &str) {
        let spans = record_spans(span.as_bytes());
        if spans.is_empty() {
            self.n += 1;
            self.em
                .reject(format!("line {line}"), format!("invalid JSON: {err}"), span);
            return;
        }
        let mut lines = Lines::new(span, line);
        for (s, e) in spans {
            let at = lines.at(s);
            match parse_records(&span[s..e], self.tenant.as_deref(), self.graph) {
                Ok(recs) => self.emit(recs, Some(at)),
                Err(err) => {
                    self.n += 1;
                    let why = format!("invalid JSON: {err}");
                    self.em.reject(format!("line {at}"), why, &span[s..e]);
                }
            }
        }
    }

    /// Hands over the records of one top-level value (at `line`, else counted), in order.
    fn emit(&mut self, recs: Vec<Rec>, line: Option<usize>) {
        let single = recs.len() == 1;
        for (k, rec) in recs.into_iter().enumerate() {
            if self.em.stopped() {
                return;
            }
            self.n += 1;
            let loc = || match line {
                Some(l) if single => format!("line {l}"),
                Some(l) => format!("line {l}, record {}", k + 1),
                None => format!("record {}", self.n),
            };
            match rec {
                Rec::Event(e) => self.em.event(*e),
                Rec::Skipped(why) => {
                    tracing::debug!(location = %loc(), %why, "record skipped");
                    self.em.skipped();
                }
                Rec::Rejected { why, raw } => {
                    let loc = loc();
                    self.em.reject(loc, why, &raw);
                }
            }
        }
    }

    /// A Log Analytics CSV export; `header` is its first line (already read).
    fn csv(&mut self, header: &str, r: &mut dyn BufRead, header_line: usize) {
        let names = csv_header_names(header.trim_end_matches(['\r', '\n']));
        // An unterminated quote makes one field of the rest of the file: bounded like a file
        // read whole.
        let cap = self.em.opts().limits.max_whole_file_bytes;
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(csv_delimiter(header))
            .has_headers(false)
            .flexible(true)
            .from_reader(r.take(cap));
        let mut rec = csv::ByteRecord::new();
        loop {
            if self.em.stopped() {
                return;
            }
            match rdr.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {
                    let line = header_line + rec.position().map_or(0, |p| p.line() as usize);
                    let mut m = Map::new();
                    for (name, field) in names.iter().zip(rec.iter()) {
                        let s = String::from_utf8_lossy(field).into_owned();
                        let v = if s.is_empty() {
                            Value::Null
                        } else {
                            Value::String(s)
                        };
                        m.insert(name.clone(), v);
                    }
                    if m.values().all(Value::is_null) {
                        continue;
                    }
                    let v = Value::Object(m);
                    let raw = v.to_string();
                    let rec = record(v, raw, self.tenant.as_deref());
                    self.emit(vec![rec], Some(line));
                }
                Err(e) => {
                    let line = header_line + e.position().map_or(0, |p| p.line() as usize);
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        self.em
                            .damage(&format!("line {line}"), format_args!("read error: {e}"));
                        break;
                    }
                    self.n += 1;
                    self.em
                        .reject(format!("line {line}"), format!("invalid CSV: {e}"), "");
                }
            }
        }
    }
}

/// The records of the top-level value `v` parsed from `text`, converted and normalized.
pub(super) fn records_of(v: Value, text: &str, tenant: Option<&str>) -> Vec<Rec> {
    let layout = layout_of(&v);
    let mut recs = Vec::new();
    flatten(v, &mut recs);
    let texts = layout
        .and_then(|l| record_texts(text, l))
        .filter(|t| t.len() == recs.len());
    match texts {
        Some(texts) => recs
            .into_iter()
            .zip(texts)
            .map(|(v, raw)| record(v, raw, tenant))
            .collect(),
        None => recs
            .into_iter()
            .map(|v| {
                let raw = v.to_string();
                record(v, raw, tenant)
            })
            .collect(),
    }
}

/// Where [`flatten`] finds the records of `v` in its text, when [`record_texts`] can follow.
fn layout_of(v: &Value) -> Option<Layout> {
    match v {
        Value::Array(a) => (!a.iter().any(expands)).then_some(Layout::Array),
        Value::Object(m) => match wrapped(m) {
            Some((key, _)) => Some(Layout::Wrapper(key)),
            None if expands(v) => None,
            None => Some(Layout::Single),
        },
        _ => Some(Layout::Single),
    }
}

/// Whether [`flatten_one`] makes of `v` other records than `v` itself.
fn expands(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| wrapped(m).is_some() || get(m, "tables").is_some_and(Value::is_array))
}

/// One record, `raw` its text as `serde_json` prints it.
fn record(v: Value, raw: String, tenant: Option<&str>) -> Rec {
    match to_directory_audit(v) {
        Err(why) => Rec::Rejected { why, raw },
        Ok(Converted::Skip(why)) => Rec::Skipped(why),
        Ok(Converted::Audit(audit, record_tenant)) => {
            let tenant = tenant
                .map(str::to_owned)
                .or(record_tenant)
                .unwrap_or_else(|| DEFAULT_TENANT.to_owned());
            normalized(&audit, &tenant, raw)
        }
    }
}

/// A `directoryAudit` (of either tree) normalized, with `raw` its text: an event, or a reject.
pub(super) fn normalized<V: JsonValue>(audit: &V, tenant: &str, raw: String) -> Rec {
    match normalize_without_raw(audit, tenant) {
        Ok(mut e) => {
            e.raw = raw;
            Rec::Event(Box::new(e))
        }
        Err(e) => Rec::Rejected {
            why: reason(e),
            raw,
        },
    }
}

/// The records of a top-level value: pages (`value`), `records` wrappers, arrays of either, the
/// Log Analytics query API's `tables`; anything else is one record.
fn flatten(v: Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(a) => {
            for x in a {
                flatten_one(x, out);
            }
        }
        other => flatten_one(other, out),
    }
}

fn flatten_one(v: Value, out: &mut Vec<Value>) {
    let Value::Object(m) = v else {
        out.push(v);
        return;
    };
    if let Some((key, _)) = wrapped(&m) {
        if let Some(Value::Array(a)) = m
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
        {
            out.extend(a);
        }
        return;
    }
    if get(&m, "tables").is_some_and(Value::is_array) {
        for table in arr(&m, "tables").iter().filter_map(Value::as_object) {
            let cols: Vec<String> = arr(table, "columns")
                .iter()
                .map(|c| {
                    c.as_object()
                        .and_then(|c| text(c, "name"))
                        .or_else(|| c.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .collect();
            for row in arr(table, "rows") {
                match row.as_array() {
                    Some(cells) => out.push(Value::Object(
                        cols.iter().cloned().zip(cells.iter().cloned()).collect(),
                    )),
                    None => out.push(row.clone()),
                }
            }
        }
        return;
    }
    out.push(Value::Object(m));
}
