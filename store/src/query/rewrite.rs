//! Rewrites of the parsed query before tantivy's `QueryParser` sees it: wildcards into regexes,
//! `principal:` into its identities, and the two fields the index does not hold as terms (`id`,
//! exact `time`) into ranges over fast fields.

use tantivy::query_grammar::{self, Delimiter, UserInputAst, UserInputBound, UserInputLeaf};

use super::{Lookup, MAX_IDENTITIES, PRINCIPAL_FIELDS};
use crate::StoreError;
use crate::index::schema::DEFAULT_FIELDS;

/// Rewrites wildcard literals (and `field:*`) into regex leaves.
///
/// Also gives every purely negative clause something to subtract from: tantivy's parser turns
/// `a AND NOT b` into `+a +(-b)`, and `(-b)` alone matches nothing; `(+* -b)` is what users mean.
pub(super) fn rewrite(ast: UserInputAst) -> UserInputAst {
    match ast {
        UserInputAst::Clause(clauses) => {
            let only_negative = !clauses.is_empty()
                && clauses
                    .iter()
                    .all(|(occur, _)| *occur == Some(query_grammar::Occur::MustNot));
            let mut clauses: Vec<_> = clauses
                .into_iter()
                .map(|(occur, sub)| (occur, rewrite(sub)))
                .collect();
            if only_negative {
                clauses.push((
                    Some(query_grammar::Occur::Must),
                    UserInputAst::Leaf(Box::new(UserInputLeaf::All)),
                ));
            }
            UserInputAst::Clause(clauses)
        }
        UserInputAst::Boost(inner, boost) => UserInputAst::Boost(Box::new(rewrite(*inner)), boost),
        UserInputAst::Leaf(leaf) => rewrite_leaf(*leaf),
    }
}

fn rewrite_leaf(leaf: UserInputLeaf) -> UserInputAst {
    match leaf {
        UserInputLeaf::Exists { field } => regex_leaf(Some(field), ".*".to_owned()),
        UserInputLeaf::Literal(lit)
            if lit.delimiter == Delimiter::None && (lit.prefix || lit.phrase.contains('*')) =>
        {
            let mut pattern = wildcard_to_regex(&lit.phrase);
            if lit.prefix {
                pattern.push_str(".*");
            }
            match lit.field_name {
                Some(field) if field == "principal" => any_of(
                    PRINCIPAL_FIELDS
                        .iter()
                        .map(|f| regex_leaf(Some((*f).to_owned()), pattern.clone()))
                        .collect(),
                ),
                Some(field) => regex_leaf(Some(field), pattern),
                None => UserInputAst::Clause(
                    DEFAULT_FIELDS
                        .iter()
                        .map(|f| {
                            (
                                Some(query_grammar::Occur::Should),
                                regex_leaf(Some((*f).to_owned()), pattern.clone()),
                            )
                        })
                        .collect(),
                ),
            }
        }
        other => UserInputAst::Leaf(Box::new(other)),
    }
}

fn any_of(leaves: Vec<UserInputAst>) -> UserInputAst {
    UserInputAst::Clause(
        leaves
            .into_iter()
            .map(|l| (Some(query_grammar::Occur::Should), l))
            .collect(),
    )
}

/// `principal:X` (or `principal:"X"`) becomes "actor, target or target_name is one of the
/// identifiers X is known under": a SID, the `DOMAIN\user` the logons gave it, a UPN, an object id.
pub(super) fn expand_principals(ast: UserInputAst, lookup: &dyn Lookup) -> UserInputAst {
    match ast {
        UserInputAst::Clause(cs) => UserInputAst::Clause(
            cs.into_iter()
                .map(|(o, sub)| (o, expand_principals(sub, lookup)))
                .collect(),
        ),
        UserInputAst::Boost(inner, b) => {
            UserInputAst::Boost(Box::new(expand_principals(*inner, lookup)), b)
        }
        UserInputAst::Leaf(leaf) => match *leaf {
            UserInputLeaf::Literal(lit) if lit.field_name.as_deref() == Some("principal") => {
                let mut ids = lookup.identities(&lit.phrase);
                if !ids.iter().any(|i| i.eq_ignore_ascii_case(&lit.phrase)) {
                    ids.insert(0, lit.phrase.clone());
                }
                ids.truncate(MAX_IDENTITIES);
                any_of(
                    ids.iter()
                        .flat_map(|id| {
                            PRINCIPAL_FIELDS.iter().map(move |f| {
                                UserInputAst::Leaf(Box::new(UserInputLeaf::Literal(
                                    query_grammar::UserInputLiteral {
                                        field_name: Some((*f).to_owned()),
                                        phrase: id.clone(),
                                        delimiter: Delimiter::DoubleQuotes,
                                        slop: 0,
                                        prefix: false,
                                    },
                                )))
                            })
                        })
                        .collect(),
                )
            }
            other => UserInputAst::Leaf(Box::new(other)),
        },
    }
}

/// `id:X` becomes `seq:[n TO n]`, n the seq SQLite stores X under (ids are lowercase hex, and
/// the index matched them case-insensitively, so X is lowercased), or `seq:[0 TO 0]` when no
/// event has that id (SQLite's rowids start at 1: no stored event has seq 0). `id:*` means
/// every event. An exact `time:T` becomes `time:[T TO T]` (and `time:IN [..]` one such range per
/// element): `time` is a fast field only. Wildcards, regexes and ranges over ids are refused: ids
/// are not terms of the index. Runs after [`rewrite`], so wildcards arrive as regexes (`id:*` as
/// `/.*/`). `invalid` makes the error of a refused leaf.
pub(super) fn resolve_ids(
    ast: UserInputAst,
    lookup: &dyn Lookup,
    invalid: &dyn Fn(String) -> StoreError,
) -> Result<UserInputAst, StoreError> {
    Ok(match ast {
        UserInputAst::Clause(cs) => UserInputAst::Clause(
            cs.into_iter()
                .map(|(o, sub)| Ok((o, resolve_ids(sub, lookup, invalid)?)))
                .collect::<Result<_, StoreError>>()?,
        ),
        UserInputAst::Boost(inner, b) => {
            UserInputAst::Boost(Box::new(resolve_ids(*inner, lookup, invalid)?), b)
        }
        UserInputAst::Leaf(leaf) => match *leaf {
            UserInputLeaf::Literal(lit) if lit.field_name.as_deref() == Some("id") => {
                seq_leaf(lookup, &lit.phrase)?
            }
            UserInputLeaf::Set {
                field: Some(field),
                elements,
            } if field == "id" => any_of(
                elements
                    .iter()
                    .map(|id| seq_leaf(lookup, id))
                    .collect::<Result<_, StoreError>>()?,
            ),
            UserInputLeaf::Literal(lit) if lit.field_name.as_deref() == Some("time") => {
                time_leaf(lit.phrase)
            }
            UserInputLeaf::Set {
                field: Some(field),
                elements,
            } if field == "time" => any_of(elements.into_iter().map(time_leaf).collect()),
            // `id:*` and `time:*` (every event has both) arrive as the regex `rewrite` made.
            UserInputLeaf::Regex {
                field: Some(field),
                pattern,
            } if (field == "id" || field == "time") && pattern == ".*" => {
                UserInputAst::Leaf(Box::new(UserInputLeaf::All))
            }
            UserInputLeaf::Regex {
                field: Some(field), ..
            }
            | UserInputLeaf::Range {
                field: Some(field), ..
            } if field == "id" => return Err(invalid(WHOLE_IDS_ONLY.to_owned())),
            UserInputLeaf::Regex {
                field: Some(field), ..
            } if field == "time" => return Err(invalid(TIME_TAKES.to_owned())),
            other => UserInputAst::Leaf(Box::new(other)),
        },
    })
}

const WHOLE_IDS_ONLY: &str = "id: takes a whole event id (id:\"…\", id:IN […] or id:*); \
     wildcards, regexes and ranges do not apply to ids";

const TIME_TAKES: &str = "time takes a time or a range (time:\"2024-05-01T10:00:00Z\", \
     time:[A TO B]); wildcards and regexes do not apply to it";

fn seq_leaf(lookup: &dyn Lookup, id: &str) -> Result<UserInputAst, StoreError> {
    let seq = lookup.seq_of(&id.to_ascii_lowercase())?.unwrap_or(0);
    Ok(UserInputAst::Leaf(Box::new(UserInputLeaf::Range {
        field: Some("seq".to_owned()),
        lower: UserInputBound::Inclusive(seq.to_string()),
        upper: UserInputBound::Inclusive(seq.to_string()),
    })))
}

fn time_leaf(t: String) -> UserInputAst {
    UserInputAst::Leaf(Box::new(UserInputLeaf::Range {
        field: Some("time".to_owned()),
        lower: UserInputBound::Inclusive(t.clone()),
        upper: UserInputBound::Inclusive(t),
    }))
}

fn regex_leaf(field: Option<String>, pattern: String) -> UserInputAst {
    UserInputAst::Leaf(Box::new(UserInputLeaf::Regex { field, pattern }))
}

/// `*` becomes `.*`; everything else is matched literally, lowercased like the indexed terms.
/// A backslash makes the next character literal (`\*`).
fn wildcard_to_regex(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 8);
    let mut chars = term.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '\\' => {
                if let Some(next) = chars.next() {
                    push_literal(&mut out, next);
                }
            }
            c => push_literal(&mut out, c),
        }
    }
    out
}

fn push_literal(out: &mut String, c: char) {
    for l in c.to_lowercase() {
        if "\\.+*?()|[]{}^$#&-~".contains(l) {
            out.push('\\');
        }
        out.push(l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_become_anchored_lowercase_regexes() {
        assert_eq!(wildcard_to_regex("*1001"), ".*1001");
        assert_eq!(wildcard_to_regex("WIN*"), "win.*");
        assert_eq!(wildcard_to_regex("*S-1-5.x*"), ".*s\\-1\\-5\\.x.*");
        assert_eq!(wildcard_to_regex("a\\*b"), "a\\*b");
    }

    #[test]
    fn rewrite_only_touches_unquoted_wildcards() {
        let ast =
            rewrite(query_grammar::parse_query("target:*1001 AND host:\"a*\"").expect("parses"));
        let dbg = format!("{ast:?}");
        assert!(dbg.contains("\"target\":/.*1001/"), "{dbg}");
        assert!(dbg.contains("\"a*\""), "{dbg}");
    }
}
