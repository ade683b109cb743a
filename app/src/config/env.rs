//! `${NAME}` in the config file: expanded in the parsed string values, never in the TOML text, so
//! a value holding `"`, `\` or a newline is taken as it is instead of breaking (or rewriting) the
//! file around it; and kept out of every error message the config produces.

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{AppError, Result};

/// A value shorter than this is not searched for in error messages: it would garble them (a
/// variable holding `5` would rewrite every 5), and a secret that short protects nothing.
const MIN_REDACTED_LEN: usize = 4;

/// What the expansion of one file did.
#[derive(Debug, Default)]
pub(super) struct Expansion {
    /// Every variable used, with its value, to keep the values out of messages.
    vars: Vec<(String, String)>,
    /// The (expanded) values of strings that hold text written in the file itself, not only
    /// `${NAME}` references: a secret among these is stored in the file.
    written: HashSet<String>,
    /// Where in the text each string holding a reference is, and the references it holds.
    interpolated: Vec<(Range<usize>, Vec<String>)>,
}

impl Expansion {
    /// Whether `value` came (in part) from the file's own text rather than only from variables.
    pub(super) fn is_written(&self, value: &str) -> bool {
        self.written.contains(value)
    }

    /// `message` with every expanded value (as written, or escaped as `Debug` and TOML print it)
    /// replaced by the `${NAME}` it came from.
    pub(super) fn redact(&self, message: &str) -> String {
        let mut forms: Vec<(String, &str)> = Vec::new();
        for (name, value) in &self.vars {
            if value.chars().count() < MIN_REDACTED_LEN {
                continue;
            }
            let debug = format!("{value:?}");
            let debug = debug[1..debug.len() - 1].to_owned();
            for form in [
                value.clone(),
                debug,
                value.escape_default().to_string(),
                value.escape_debug().to_string(),
            ] {
                forms.push((form, name));
            }
        }
        // Longest first: an escaped form may contain the raw one.
        forms.sort_by_key(|(f, _)| std::cmp::Reverse(f.len()));
        let mut out = message.to_owned();
        for (form, name) in forms {
            if out.contains(&form) {
                out = out.replace(&form, &format!("${{{name}}}"));
            }
        }
        out
    }

    /// The `${NAME}`s of the interpolated string at `span` (an error's location), if it is one.
    /// A parser's message about such a value may quote any part of it (a cron parser shows the
    /// first line and the offending character), so it is not shown at all.
    pub(super) fn names_at(&self, span: &Range<usize>) -> Option<String> {
        self.interpolated
            .iter()
            .find(|(at, _)| at.start <= span.start && span.end <= at.end)
            .map(|(_, names)| {
                names
                    .iter()
                    .map(|n| format!("${{{n}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
    }

    pub(super) fn redact_error(&self, e: AppError) -> AppError {
        match e {
            AppError::Config(m) => AppError::Config(self.redact(&m)),
            other => other,
        }
    }
}

/// Expands every string value of `root` (a document parsed from `text`) in place.
pub(super) fn expand(
    root: &mut Spanned<DeTable<'_>>,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Expansion> {
    let mut out = Expansion::default();
    let mut path = Vec::new();
    table(root.get_mut(), text, lookup, &mut path, &mut out)?;
    Ok(out)
}

fn table(
    t: &mut DeTable<'_>,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    path: &mut Vec<String>,
    out: &mut Expansion,
) -> Result<()> {
    for (k, v) in t.iter_mut() {
        path.push(k.get_ref().to_string());
        value(v, text, lookup, path, out)?;
        path.pop();
    }
    Ok(())
}

fn value(
    v: &mut Spanned<DeValue<'_>>,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    path: &mut Vec<String>,
    out: &mut Expansion,
) -> Result<()> {
    let span = v.span();
    match v.get_mut() {
        DeValue::String(s) => {
            let mut names = Vec::new();
            let (expanded, literal) = string(s, lookup, &mut names).map_err(|reason| {
                AppError::Config(format!(
                    "`{}` (line {}): {reason}",
                    path.join("."),
                    line_of(text, span.start)
                ))
            })?;
            if literal && !expanded.is_empty() {
                out.written.insert(expanded.clone());
            }
            if !names.is_empty() {
                out.interpolated
                    .push((span, names.iter().map(|(n, _)| n.clone()).collect()));
                for (n, v) in names {
                    if !out.vars.iter().any(|(known, _)| *known == n) {
                        out.vars.push((n, v));
                    }
                }
            }
            *s = expanded.into();
        }
        DeValue::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                value(item, text, lookup, path, out)?;
                path.pop();
            }
        }
        DeValue::Table(t) => table(t, text, lookup, path, out)?,
        DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_) => {}
    }
    Ok(())
}

/// Expands one string: `${NAME}` is the variable's value, `$${` a literal `${`. Returns the result
/// and whether any of it is the file's own text. A missing variable is an error naming it (a
/// silently empty secret is worse than a clear failure).
fn string(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    vars: &mut Vec<(String, String)>,
) -> std::result::Result<(String, bool), String> {
    let mut out = String::with_capacity(s.len());
    let mut literal = false;
    let mut rest = s;
    while let Some(pos) = rest.find("${") {
        if rest[..pos].ends_with('$') {
            out.push_str(&rest[..pos - 1]);
            out.push_str("${");
            literal = true;
            rest = &rest[pos + 2..];
            continue;
        }
        literal |= pos > 0;
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let Some(end) = after.find('}') else {
            return Err("unterminated ${".into());
        };
        let name = &after[..end];
        let Some(v) = lookup(name) else {
            return Err(format!("environment variable {name} is not set"));
        };
        out.push_str(&v);
        if !vars.iter().any(|(n, _)| n == name) {
            vars.push((name.to_owned(), v));
        }
        rest = &after[end + 1..];
    }
    literal |= !rest.is_empty();
    out.push_str(rest);
    Ok((out, literal))
}

/// The 1-based line of byte `at` in `text`.
pub(super) fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(
        s: &str,
        look: impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<(String, bool), String> {
        string(s, &look, &mut Vec::new())
    }

    #[test]
    fn references_literal_dollars_and_missing_variables() {
        let look = |n: &str| (n == "A").then(|| "x".to_owned());
        assert_eq!(one("a=${A} b", look), Ok(("a=x b".into(), true)));
        assert_eq!(one("${A}${A}", look), Ok(("xx".into(), false)));
        assert_eq!(one("lit $${A}", look), Ok(("lit ${A}".into(), true)));
        assert_eq!(one("plain", look), Ok(("plain".into(), true)));
        let err = one("${B}", look).expect_err("missing variable");
        assert!(err.contains("B is not set"), "{err}");
        assert!(one("${A", look).is_err());
    }

    #[test]
    fn redaction_finds_raw_and_escaped_forms_but_leaves_short_values() {
        let mut vars = Vec::new();
        let look = |n: &str| match n {
            "S" => Some("a\"b\\c\nd".to_owned()),
            _ => Some("5".to_owned()),
        };
        string("${S}${N}", &look, &mut vars).expect("expands");
        let e = Expansion {
            vars,
            ..Expansion::default()
        };
        let raw = "a\"b\\c\nd";
        for shown in [
            format!("invalid duration {raw:?} at line 5"),
            format!("bad value `{raw}` at line 5"),
            format!("x {} at line 5", raw.escape_default()),
        ] {
            let r = e.redact(&shown);
            assert!(!r.contains("b\\c") && !r.contains("b\\\\c"), "{r}");
            assert!(r.contains("${S}"), "{r}");
            assert!(r.contains("line 5"), "short values are left alone: {r}");
        }
    }
}
