//! Writing a [`Report`]: one self-contained printable HTML file (inline CSS, no script, every
//! value escaped, a CSP that forbids anything else), Markdown, CSV (one row per holder) or JSON.

use chrono::{DateTime, Duration, Utc};

use super::{ActionLine, Report};
use crate::error::{AppError, Result};
use crate::export::csv_safe;

/// The output formats of `privtrail report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Markdown,
    Csv,
    /// The [`Report`] itself, for scripts.
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "html" => Ok(Format::Html),
            "md" | "markdown" => Ok(Format::Markdown),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            other => Err(format!("{other:?}: html, md, csv or json")),
        }
    }
}

/// The report as bytes in `format`.
pub fn render(r: &Report, format: Format) -> Result<Vec<u8>> {
    match format {
        Format::Html => Ok(super::html::page(r).into_string().into_bytes()),
        Format::Markdown => Ok(markdown(r).into_bytes()),
        Format::Csv => csv(r),
        Format::Json => {
            let mut v = serde_json::to_vec_pretty(r).map_err(AppError::json("report"))?;
            v.push(b'\n');
            Ok(v)
        }
    }
}

/// `one` for 1, else `many`.
pub(super) fn plural(k: usize, one: &'static str, many: &'static str) -> &'static str {
    if k == 1 { one } else { many }
}

/// `2026-11-30 14:05 UTC`.
pub(super) fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A duration to the minute (`3d4h17m`; under a minute in seconds).
pub(super) fn span(secs: i64) -> String {
    let rounded = if secs >= 60 { secs - secs % 60 } else { secs };
    privtrail_model::format_duration(Duration::seconds(rounded))
}

/// Where a privilege was held: an Entra scope of `/` is the whole directory.
pub(super) fn place(scopes: &[String]) -> String {
    scopes
        .iter()
        .map(|s| {
            if s == "/" {
                "whole directory (/)"
            } else {
                s.as_str()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Markdown text: no markup of its own, no HTML, one line.
fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn markdown(r: &Report) -> String {
    use std::fmt::Write;
    let t = &r.totals;
    let mut o = String::new();
    let _ = writeln!(o, "# Privileged access review\n");
    let _ = writeln!(o, "**{} to {}**\n", when(r.since), when(r.until));
    let _ = writeln!(
        o,
        "Generated {} by privtrail {} from `{}`. Durations count the time inside the period.\n",
        when(r.generated_at),
        r.privtrail_version,
        r.store.replace('`', "'")
    );
    let n = |k: usize, one, many| format!("{k} {}", plural(k, one, many));
    let _ = writeln!(
        o,
        "{} of {} to {}; {} past the promised end; {} with standing access; {} still held at \
         the end; {} ({} unresolved).\n",
        n(t.elevations, "elevation", "elevations"),
        n(t.principals, "principal", "principals"),
        n(t.privileges, "privilege", "privileges"),
        n(t.overdue, "ran", "ran"),
        n(t.standing, "holder", "holders"),
        t.open_at_end,
        n(t.alerts, "alert", "alerts"),
        t.alerts_unresolved
    );
    let _ = writeln!(o, "## Who held what\n");
    for p in &r.privileges {
        let id = p
            .privilege_id
            .as_deref()
            .filter(|i| !i.eq_ignore_ascii_case(&p.privilege))
            .map(|i| format!(" ({})", md(i)))
            .unwrap_or_default();
        let _ = writeln!(o, "### {}{id}, {}\n", md(&p.privilege), p.kind);
        let _ = writeln!(
            o,
            "| Holder | Where | Times | Total | Longest | Overdue | Held at end | Standing |"
        );
        let _ = writeln!(o, "|---|---|--:|--:|--:|--:|--:|---|");
        for h in &p.holders {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                md(&h.who_short()),
                md(&place(&h.scopes)),
                h.elevations,
                span(h.total_seconds),
                span(h.longest_seconds),
                h.overdue,
                h.open_at_end,
                if h.standing { "**yes**" } else { "no" }
            );
        }
        o.push('\n');
    }
    let _ = writeln!(o, "## Alerts and what became of them\n");
    if r.alerts.is_empty() {
        let _ = writeln!(o, "No alert in this period.\n");
    } else {
        let _ = writeln!(
            o,
            "| Opened | Severity | Rule | Finding | Status | Acknowledged | Resolved |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|");
        let act = |a: &Option<ActionLine>| match a {
            Some(a) => format!(
                "{}, {}{}",
                md(&a.by),
                when(a.at),
                a.note
                    .as_deref()
                    .filter(|n| !n.trim().is_empty())
                    .map(|n| format!(": “{}”", md(n)))
                    .unwrap_or_default()
            ),
            None => "—".into(),
        };
        for a in &r.alerts {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} |",
                when(a.opened_at),
                a.severity,
                md(&a.rule),
                md(&a.summary),
                a.status,
                act(&a.acknowledged),
                act(&a.resolved)
            );
        }
        o.push('\n');
    }
    let e = &r.evidence;
    let _ = writeln!(o, "## What backs this report\n");
    let _ = writeln!(o, "- Events in the period: {}", e.events);
    if let Some((a, b)) = e.seq_range {
        let _ = writeln!(o, "- Chain positions: seq {a} to {b}");
    }
    if let (Some(x), Some(y)) = (&e.chain_before_first, &e.chain_after_last) {
        let _ = writeln!(o, "- Link before the first: `{x}`; link of the last: `{y}`");
    }
    let _ = writeln!(o, "- Anchors covering it: {}", e.anchors.len());
    match &e.verified {
        Some(v) if v.intact => {
            let _ = writeln!(
                o,
                "- Verification when generated: **intact** from the start to seq {} ({} links), {} anchors matched",
                v.head_seq, v.checked, v.anchors_matched
            );
        }
        Some(v) => {
            let _ = writeln!(
                o,
                "- Verification when generated: **BROKEN** at {}",
                md(v.broken.as_deref().unwrap_or("?"))
            );
        }
        None => {
            let _ = writeln!(o, "- Verification: not checked");
        }
    }
    o
}

fn csv(r: &Report) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        let fail = |e: csv::Error| AppError::failed("report", e);
        w.write_record([
            "privilege",
            "privilege_id",
            "kind",
            "principal",
            "principal_name",
            "where",
            "elevations",
            "total_seconds",
            "longest_seconds",
            "overdue",
            "held_at_end",
            "standing",
        ])
        .map_err(fail)?;
        for p in &r.privileges {
            for h in &p.holders {
                w.write_record([
                    csv_safe(&p.privilege),
                    csv_safe(p.privilege_id.as_deref().unwrap_or("")),
                    p.kind.to_owned(),
                    csv_safe(&h.principal),
                    csv_safe(h.principal_name.as_deref().unwrap_or("")),
                    csv_safe(&h.scopes.join(" ")),
                    h.elevations.to_string(),
                    h.total_seconds.to_string(),
                    h.longest_seconds.to_string(),
                    h.overdue.to_string(),
                    h.open_at_end.to_string(),
                    h.standing.to_string(),
                ])
                .map_err(fail)?;
            }
        }
        w.flush().map_err(|e| AppError::failed("report", e))?;
    }
    Ok(out)
}
