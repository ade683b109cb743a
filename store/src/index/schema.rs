//! The tantivy schema: which event fields are indexed, and how.
//!
//! * Keyword fields (ids, names, SIDs, actions…) are one token each: the whole value, lowercased
//!   (tokenizer [`KEYWORD_TOKENIZER`]), so `privilege_id:"S-1-5-32-544"` and
//!   `host:WIN-03DLIIOFRRA` match exactly and case-insensitively, and wildcards can run as
//!   regexes over the lowercased terms. Docs and positions are not needed for them.
//! * `message` is full text (tantivy's default tokenizer, with positions for phrases).
//! * `time` is a nanosecond-precision date, fast only: range filters and the newest-first sort
//!   read the fast field (tantivy runs a range query on a fast field there even when the field is
//!   indexed), and an exact `time:X` is rewritten into the range `[X TO X]`.
//! * `seq` is fast: it is the link back to the SQLite row, and breaks ties in the sort.
//! * The event `id` is not in the index: SQLite's unique index finds it, and `id:X` is rewritten
//!   into `seq:[n TO n]` ([`crate::query`]).
//! * `raw` is NOT indexed: it would dominate indexing cost (NOTES.md) and is searchable through the
//!   normalized fields.
//!
//! Why `time` and `id` are not terms: each was a term of its own per document, and terms that
//! occur once are the expensive kind (a hash-table entry while indexing, an FST node per segment
//! and per merge). The two were about a third of tantivy's indexing thread and over half of the
//! index's bytes on the generated Graph workload (ARCHITECTURE.md, performance notes, item 22).

use privtrail_model::Event;
use tantivy::schema::{
    DateOptions, DateTimePrecision, Field, IndexRecordOption, NumericOptions, Schema,
    TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, TextAnalyzer};
use tantivy::{Index, TantivyDocument};

use crate::timefmt;

/// Name of the whole-value, lowercased tokenizer registered on every opened index.
pub const KEYWORD_TOKENIZER: &str = "privtrail_keyword";

/// Keyword values longer than this are cut (at a char boundary) before indexing: tantivy drops
/// tokens over 64 KiB with a warning per document, and no one searches for such values in full.
const MAX_KEYWORD_BYTES: usize = 4096;

/// The keyword fields, by name, in schema order.
pub const KEYWORD_FIELDS: [&str; 17] = [
    "source",
    "tenant",
    "host",
    "action",
    "outcome",
    "actor",
    "target",
    "target_name",
    "privilege",
    "privilege_id",
    "scope",
    "correlation_id",
    "event_code",
    "record_id",
    "justification",
    "via_pim",
    "linked_to",
];

/// Fields searched by free text (no `field:` prefix).
pub const DEFAULT_FIELDS: [&str; 6] = [
    "message",
    "actor",
    "target",
    "target_name",
    "privilege",
    "host",
];

/// Handles of the schema's fields.
#[derive(Debug, Clone)]
pub struct Fields {
    /// In the order of [`KEYWORD_FIELDS`].
    pub keywords: [Field; KEYWORD_FIELDS.len()],
    pub message: Field,
    pub time: Field,
    pub seq: Field,
}

/// Builds the schema (the same every time: an existing index whose schema differs is rebuilt).
pub fn build_schema() -> Schema {
    let mut b = Schema::builder();
    let keyword_indexing = TextFieldIndexing::default()
        .set_tokenizer(KEYWORD_TOKENIZER)
        .set_index_option(IndexRecordOption::Basic)
        .set_fieldnorms(false);
    let keyword = TextOptions::default().set_indexing_options(keyword_indexing);
    for name in KEYWORD_FIELDS {
        b.add_text_field(name, keyword.clone());
    }
    let message = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions)
            // Results are sorted by time, never by relevance: no norms needed.
            .set_fieldnorms(false),
    );
    b.add_text_field("message", message);
    b.add_date_field(
        "time",
        DateOptions::default()
            .set_fast()
            .set_precision(DateTimePrecision::Nanoseconds),
    );
    b.add_u64_field("seq", NumericOptions::default().set_fast());
    b.build()
}

/// Registers the custom tokenizer; needed every time an index is opened (it is not persisted).
pub fn register_tokenizers(index: &Index) {
    let keyword = TextAnalyzer::builder(RawTokenizer::default())
        .filter(LowerCaser)
        .build();
    index.tokenizers().register(KEYWORD_TOKENIZER, keyword);
}

impl Fields {
    pub fn new(schema: &Schema) -> Result<Fields, tantivy::TantivyError> {
        let mut keywords = [Field::from_field_id(0); KEYWORD_FIELDS.len()];
        for (slot, name) in keywords.iter_mut().zip(KEYWORD_FIELDS) {
            *slot = schema.get_field(name)?;
        }
        Ok(Fields {
            keywords,
            message: schema.get_field("message")?,
            time: schema.get_field("time")?,
            seq: schema.get_field("seq")?,
        })
    }

    /// The tantivy document for a stored event (`seq` is its SQLite row). `raw` and `id` are not
    /// used.
    pub fn document(&self, seq: i64, e: &Event) -> TantivyDocument {
        let values: [Option<&str>; KEYWORD_FIELDS.len()] = [
            Some(e.source.as_str()),
            e.tenant.as_deref(),
            e.host.as_deref(),
            Some(e.action.as_str()),
            Some(e.outcome.as_str()),
            e.actor.as_deref(),
            e.target.as_deref(),
            e.target_name.as_deref(),
            e.privilege.as_deref(),
            e.privilege_id.as_deref(),
            e.scope.as_deref(),
            e.correlation_id.as_deref(),
            Some(&e.event_code),
            e.record_id.as_deref(),
            e.justification.as_deref(),
            e.via_pim.map(|b| if b { "true" } else { "false" }),
            e.linked_to.as_ref().map(|l| l.as_str()),
        ];
        let mut doc = TantivyDocument::new();
        for (field, value) in self.keywords.iter().zip(values) {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                doc.add_text(*field, cut(v, MAX_KEYWORD_BYTES));
            }
        }
        if !e.message.is_empty() {
            doc.add_text(self.message, &e.message);
        }
        // Stored events are always within the nanosecond range (the writer rejects others).
        let ns = timefmt::to_nanos(&e.time).unwrap_or_default();
        doc.add_date(self.time, tantivy::DateTime::from_timestamp_nanos(ns));
        doc.add_u64(self.seq, seq.max(0) as u64);
        doc
    }
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_respects_char_boundaries() {
        assert_eq!(cut("abc", 10), "abc");
        assert_eq!(cut("aé", 2), "a");
        assert_eq!(cut("aéb", 3), "aé");
    }

    #[test]
    fn schema_is_stable() {
        assert_eq!(build_schema(), build_schema());
        assert!(Fields::new(&build_schema()).is_ok());
    }
}
