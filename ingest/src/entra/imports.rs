//! The Entra import reader: Graph JSON (pages, arrays of records or of pages, JSON lines of
//! either), Log Analytics `AuditLogs` exports (JSON rows, JSON lines, the query API's `tables`, and
//! CSV) and Azure Monitor diagnostic records (one per line, or `{"records":[…]}`).
//!
//! Every record is classified on its own ([`super::convert::shape_of`]), converted to a
//! `directoryAudit` and normalized by [`super::normalize_directory_audit`]; `raw` keeps the record
//! as it was read. A record that fails is a reject (`line N`, `line N, record K` or `record N`);
//! nothing aborts the file.

use std::io::BufRead;

use serde_json::{Map, Value};

use super::convert::{Converted, to_directory_audit};
use super::detect::{csv_delimiter, csv_header_names, record_spans, value_end, wrapped};
use super::json::{arr, get, text};
use super::normalize_directory_audit;
use crate::IngestError;
use crate::emit::Emitter;

/// The tenant label used when neither the options nor the record name one.
pub const DEFAULT_TENANT: &str = "default";

struct Reader<'e, 'a> {
    em: &'e mut Emitter<'a>,
    /// Records seen so far (for `record N`).
    n: u64,
}

/// Read an Entra import from `r` (any of the three formats; the content decides).
pub(crate) fn read(r: &mut dyn BufRead, em: &mut Emitter<'_>, progress: &dyn Fn()) {
    let mut rd = Reader { em, n: 0 };
    let mut line_no = 0usize;
    let mut first = Vec::new();
    // The first non-blank line decides: JSON that parses alone means JSON lines.
    loop {
        first.clear();
        match r.read_until(b'\n', &mut first) {
            Ok(0) => return,
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
    let text = String::from_utf8_lossy(&first)
        .trim_start_matches('\u{feff}')
        .to_owned();
    let trimmed = text.trim();
    if !trimmed.starts_with(['{', '[']) {
        rd.csv(&text, r, line_no);
    } else if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
        rd.top(v, Some(line_no));
        rd.lines(r, line_no, progress);
    } else {
        let mut all = text.into_bytes();
        if let Err(e) = r.read_to_end(&mut all) {
            rd.em.damage(
                "end of file",
                format_args!("read error, the rest is lost: {e}"),
            );
        }
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

fn line_at(doc: &str, base: usize, at: usize) -> usize {
    base + doc.as_bytes()[..at].iter().filter(|&&c| c == b'\n').count()
}

impl Reader<'_, '_> {
    /// JSON lines after the first: each line on its own.
    fn lines(&mut self, r: &mut dyn BufRead, mut line_no: usize, progress: &dyn Fn()) {
        let mut buf = Vec::new();
        while !self.em.stopped() {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => line_no += 1,
                Err(e) => {
                    let at = format!("line {}", line_no + 1);
                    self.em
                        .damage(&at, format_args!("read error, the rest is lost: {e}"));
                    break;
                }
            }
            let line = String::from_utf8_lossy(&buf);
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(line) {
                Ok(v) => self.top(v, Some(line_no)),
                Err(e) => {
                    self.n += 1;
                    self.em.reject(
                        format!("line {line_no}"),
                        format!("invalid JSON: {e}"),
                        line,
                    );
                }
            }
            if line_no.is_multiple_of(1024) {
                progress();
            }
        }
    }

    /// A whole document: one or more pretty-printed values (pages, arrays, records).
    fn document(&mut self, doc: &str, base: usize) {
        let b = doc.as_bytes();
        let mut i = 0;
        while i < b.len() && !self.em.stopped() {
            if b[i].is_ascii_whitespace() {
                i += 1;
                continue;
            }
            let line = line_at(doc, base, i);
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
                    match serde_json::from_str::<Value>(span) {
                        Ok(v) => self.top(v, None),
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
        for (s, e) in spans {
            let at = line_at(span, line, s);
            match serde_json::from_str::<Value>(&span[s..e]) {
                Ok(v) => self.top(v, Some(at)),
                Err(err) => {
                    self.n += 1;
                    let why = format!("invalid JSON: {err}");
                    self.em.reject(format!("line {at}"), why, &span[s..e]);
                }
            }
        }
    }

    /// One top-level value: its records in order.
    fn top(&mut self, v: Value, line: Option<usize>) {
        let mut recs = Vec::new();
        flatten(v, &mut recs);
        let single = recs.len() == 1;
        for (k, rec) in recs.into_iter().enumerate() {
            if self.em.stopped() {
                return;
            }
            self.n += 1;
            let loc = match line {
                Some(l) if single => format!("line {l}"),
                Some(l) => format!("line {l}, record {}", k + 1),
                None => format!("record {}", self.n),
            };
            self.record(rec, loc);
        }
    }

    fn record(&mut self, v: Value, loc: String) {
        let raw = v.to_string();
        match to_directory_audit(v) {
            Err(why) => self.em.reject(loc, why, &raw),
            Ok(Converted::Skip(why)) => {
                tracing::debug!(location = %loc, %why, "record skipped");
                self.em.skipped();
            }
            Ok(Converted::Audit(audit, record_tenant)) => {
                let tenant = self
                    .em
                    .opts()
                    .tenant
                    .clone()
                    .or(record_tenant)
                    .unwrap_or_else(|| DEFAULT_TENANT.to_owned());
                match normalize_directory_audit(&audit, &tenant) {
                    Ok(mut e) => {
                        e.raw = raw;
                        self.em.event(e);
                    }
                    Err(e) => self.em.reject(loc, reason(e), &raw),
                }
            }
        }
    }

    /// A Log Analytics CSV export; `header` is its first line (already read).
    fn csv(&mut self, header: &str, r: &mut dyn BufRead, header_line: usize) {
        let names = csv_header_names(header.trim_end_matches(['\r', '\n']));
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(csv_delimiter(header))
            .has_headers(false)
            .flexible(true)
            .from_reader(r);
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
                    self.n += 1;
                    self.record(Value::Object(m), format!("line {line}"));
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
