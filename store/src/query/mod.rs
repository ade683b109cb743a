//! The search language: tantivy's query syntax over the indexed event fields, plus wildcards.
//!
//! tantivy's `QueryParser` handles fields, phrases, `AND`/`OR`/`NOT`, `+`/`-`, ranges and `*`
//! alone (everything). It has no wildcard terms, so the query is first parsed with
//! `tantivy::query_grammar` and every unquoted term containing `*` (`target:*1001`, `host:win*`,
//! `actor:*ir*`) is rewritten into a regex leaf over the lowercased terms of its field (keyword
//! fields hold one lowercased token per value, so this is a case-insensitive match of the whole
//! value). A wildcard without a field runs over the default fields; `field:*` alone means "has a
//! value". Explicit regexes (`actor:/adm.*/`) are allowed too and see lowercased terms.
//!
//! Free-text terms are ANDed (`alice administrators` needs both): reviewers narrow searches.
//!
//! Two fields are not terms of the index and are rewritten ([`rewrite`]): `id:X` into the range
//! `seq:[n TO n]` of the row SQLite stores X in (a [`Lookup`]), and an exact `time:T` into
//! `time:[T TO T]` over the fast field.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery};
use tantivy::query_grammar::{self, UserInputAst, UserInputLeaf};
use tantivy::{Index, Term};

use crate::StoreError;
use crate::index::Fields;
use crate::index::schema::{DEFAULT_FIELDS, KEYWORD_FIELDS};

mod rewrite;
use rewrite::{expand_principals, resolve_ids, rewrite};

/// The most a query may ask for: one request cannot make the index do unbounded work.
pub const MAX_QUERY_LEN: usize = 4096;
/// Terms, phrases, ranges and wildcards in one query.
pub const MAX_CLAUSES: usize = 64;
/// Length of one regex (a wildcard term becomes one).
pub const MAX_REGEX_LEN: usize = 256;

/// The fields `principal:X` looks in, for every identifier X is known under.
pub const PRINCIPAL_FIELDS: &[&str] = &["actor", "target", "target_name"];
/// At most this many identifiers per `principal:` term (each becomes three term queries).
pub const MAX_IDENTITIES: usize = 24;

/// What a query needs from the store besides the index.
///
/// To extend: a field the index does not hold as terms gets a method here and a rewrite in
/// `rewrite::resolve_ids`; [`check`] answers without a store.
pub trait Lookup {
    /// The identifiers `principal:who` stands for (`who` itself included).
    fn identities(&self, who: &str) -> Vec<String>;
    /// The seq of the stored event with this id (`id:` terms; ids are not indexed).
    fn seq_of(&self, id: &str) -> Result<Option<i64>, StoreError>;
}

/// Builds the tantivy query for a request: its text, time window and page position.
pub fn build(
    index: &Index,
    fields: &Fields,
    req: &crate::SearchRequest,
    lookup: &dyn Lookup,
) -> Result<Box<dyn Query>, StoreError> {
    let text = req.query.as_str();
    let invalid = |reason: String| StoreError::InvalidQuery {
        query: text.chars().take(200).collect(),
        reason,
    };
    if text.len() > MAX_QUERY_LEN {
        return Err(invalid(format!(
            "the query is {} bytes long; at most {MAX_QUERY_LEN}",
            text.len()
        )));
    }
    let base: Box<dyn Query> = if text.trim().is_empty() {
        Box::new(AllQuery)
    } else {
        let ast = query_grammar::parse_query(text).map_err(|_| invalid(syntax_error(text)))?;
        let ast = rewrite(ast);
        let (clauses, longest_regex) = measure(&ast);
        if clauses > MAX_CLAUSES {
            return Err(invalid(format!(
                "{clauses} terms; at most {MAX_CLAUSES} (a wildcard without a field counts once per default field)"
            )));
        }
        if longest_regex > MAX_REGEX_LEN {
            return Err(invalid(format!(
                "a wildcard or regex of {longest_regex} characters; at most {MAX_REGEX_LEN}"
            )));
        }
        let ast = resolve_ids(expand_principals(ast, lookup), lookup, &invalid)?;
        let mut parser = QueryParser::for_index(
            index,
            DEFAULT_FIELDS
                .iter()
                .filter_map(|n| index.schema().get_field(n).ok())
                .collect(),
        );
        parser.set_conjunction_by_default();
        parser.allow_regexes();
        parser
            .build_query_from_user_input_ast(ast)
            .map_err(|e| invalid(explain(&e)))?
    };
    let to_term = |t: &DateTime<Utc>| {
        t.timestamp_nanos_opt()
            .map(|ns| {
                Term::from_field_date(fields.time, tantivy::DateTime::from_timestamp_nanos(ns))
            })
            .ok_or_else(|| invalid(format!("time {t} is outside 1677..2262")))
    };
    let lower = match req.since {
        Some(t) => Bound::Included(to_term(&t)?),
        None => Bound::Unbounded,
    };
    let upper = match req.until {
        Some(t) => Bound::Excluded(to_term(&t)?),
        None => Bound::Unbounded,
    };
    let mut must = vec![(Occur::Must, base)];
    if !matches!((&lower, &upper), (Bound::Unbounded, Bound::Unbounded)) {
        must.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
    }
    if let Some(c) = req.after {
        // After (t, s) in (time desc, seq desc) order: time < t, or time = t and seq < s.
        let t = to_term(&c.time)?;
        let older: Box<dyn Query> = Box::new(RangeQuery::new(
            Bound::Unbounded,
            Bound::Excluded(t.clone()),
        ));
        let same_time: Box<dyn Query> = Box::new(RangeQuery::new(
            Bound::Included(t.clone()),
            Bound::Included(t),
        ));
        let lower_seq: Box<dyn Query> = Box::new(RangeQuery::new(
            Bound::Unbounded,
            Bound::Excluded(Term::from_field_u64(fields.seq, c.seq.max(0) as u64)),
        ));
        let tie: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
            (Occur::Must, same_time),
            (Occur::Must, lower_seq),
        ]));
        must.push((
            Occur::Must,
            Box::new(BooleanQuery::new(vec![
                (Occur::Should, older),
                (Occur::Should, tie),
            ])),
        ));
    }
    if must.len() == 1 {
        return Ok(must.remove(0).1);
    }
    Ok(Box::new(BooleanQuery::new(must)))
}

/// Checks a query as a search would build it, against an empty in-memory index with the store's
/// schema (`principal:` terms stand for themselves): what `config check`-style validation and the
/// fuzzer call. The error is the one a search would give.
pub fn check(req: &crate::SearchRequest) -> Result<(), StoreError> {
    use std::sync::OnceLock;
    static EMPTY: OnceLock<(Index, Fields)> = OnceLock::new();
    let (index, fields) = EMPTY.get_or_init(|| {
        let index = Index::create_in_ram(crate::index::schema::build_schema());
        crate::index::schema::register_tokenizers(&index);
        let fields = Fields::new(&index.schema()).expect("the schema has its own fields");
        (index, fields)
    });
    /// Every principal stands for itself; every id is absent.
    struct NoStore;
    impl Lookup for NoStore {
        fn identities(&self, who: &str) -> Vec<String> {
            vec![who.to_owned()]
        }
        fn seq_of(&self, _: &str) -> Result<Option<i64>, StoreError> {
            Ok(None)
        }
    }
    build(index, fields, req, &NoStore).map(|_| ())
}

/// The number of leaves of a query and the length of its longest regex.
fn measure(ast: &UserInputAst) -> (usize, usize) {
    match ast {
        UserInputAst::Clause(cs) => cs.iter().fold((0, 0), |(n, l), (_, sub)| {
            let (n2, l2) = measure(sub);
            (n + n2, l.max(l2))
        }),
        UserInputAst::Boost(inner, _) => measure(inner),
        UserInputAst::Leaf(leaf) => match leaf.as_ref() {
            UserInputLeaf::Regex { pattern, .. } => (1, pattern.chars().count()),
            UserInputLeaf::Set { elements, .. } => (elements.len().max(1), 0),
            _ => (1, 0),
        },
    }
}

/// A readable reason for a syntax error, from the lenient parser's diagnostics.
fn syntax_error(text: &str) -> String {
    let (_, errors) = query_grammar::parse_query_lenient(text);
    match errors.first() {
        Some(e) => format!(
            "syntax error at character {}: {} (quote phrases with \"…\", balance parentheses)",
            e.pos, e.message
        ),
        None => "syntax error (check quotes, parentheses and operators)".to_owned(),
    }
}

fn explain(e: &tantivy::query::QueryParserError) -> String {
    use tantivy::query::QueryParserError as E;
    match e {
        E::FieldDoesNotExist(f) => format!(
            "unknown field {f:?}; fields are id, {}, message, time, and principal (actor, target \
             or target_name under any of its names)",
            KEYWORD_FIELDS.join(", ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_builds_like_a_search_without_a_store() {
        let ok = |q: &str| check(&crate::SearchRequest::new(q, 10));
        assert!(ok("principal:nina.patel AND target:*1601").is_ok());
        assert!(ok("id:0123abc OR id:* OR time:\"2024-05-01T10:00:00Z\"").is_ok());
        let err = ok("action:(group").unwrap_err().to_string();
        assert!(err.contains("syntax error"), "{err}");
        let err = ok("nosuchfield:x").unwrap_err().to_string();
        assert!(err.contains("unknown field"), "{err}");
        let err = ok("id:0123*").unwrap_err().to_string();
        assert!(err.contains("whole event id"), "{err}");
        let err = ok("time:/2024.*/").unwrap_err().to_string();
        assert!(err.contains("time takes a time or a range"), "{err}");
    }
}
