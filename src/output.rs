//! The one writer of listings: every listing command prints its items as a table, JSON lines or
//! CSV through [`print`], and values are escaped for where they go (SPEC §8): control characters
//! never reach the terminal, a CSV cell never starts a spreadsheet formula.

use std::io::Write;

use serde::Serialize;

use crate::cli::OutputFormat;

/// Widest a table column gets; longer cells end in `…`. The last column is never cut (nothing
/// follows it, and it is where summaries go).
const MAX_WIDTH: usize = 48;

/// One column: its header and how to get the cell of an item.
pub type Column<'a, T> = (&'a str, &'a dyn Fn(&T) -> String);

/// Prints `items` in `format`: `json` is one object per line (the item's own serialization, the
/// field names of SPEC §2–§4), `csv` has a header row and the `csv` columns, `table` the `table`
/// columns (or `empty` when there is nothing to show).
pub fn print<T: Serialize>(
    out: &mut dyn Write,
    format: OutputFormat,
    items: &[T],
    table: &[Column<'_, T>],
    csv: &[Column<'_, T>],
    empty: &str,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => {
            for item in items {
                serde_json::to_writer(&mut *out, item)?;
                out.write_all(b"\n")?;
            }
        }
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(csv.iter().map(|(h, _)| *h))?;
            for item in items {
                w.write_record(csv.iter().map(|(_, f)| csv_cell(&f(item))))?;
            }
            w.flush()?;
        }
        OutputFormat::Table => {
            if items.is_empty() {
                if !empty.is_empty() {
                    writeln!(out, "{empty}")?;
                }
                return Ok(());
            }
            let header: Vec<&str> = table.iter().map(|(h, _)| *h).collect();
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|item| table.iter().map(|(_, f)| f(item)).collect())
                .collect();
            write_table(out, &header, &rows)?;
        }
    }
    Ok(())
}

/// A plain-text table: columns as wide as their widest cell, capped; cells made safe for a
/// terminal.
pub fn write_table(
    out: &mut dyn Write,
    header: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| terminal_safe(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    let last = header.len().saturating_sub(1);
    for r in &rows {
        for (i, (w, c)) in widths.iter_mut().zip(r).enumerate() {
            let cap = if i == last { usize::MAX } else { MAX_WIDTH };
            *w = (*w).max(c.chars().count()).min(cap);
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        cells
            .zip(&widths)
            .map(|(c, w)| fit(c, *w))
            .collect::<Vec<_>>()
            .join("  ")
    };
    writeln!(out, "{}", line(&mut header.iter().copied()).trim_end())?;
    for r in &rows {
        writeln!(
            out,
            "{}",
            line(&mut r.iter().map(String::as_str)).trim_end()
        )?;
    }
    Ok(())
}

fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        format!("{s:<w$}")
    } else {
        let head: String = s.chars().take(w.saturating_sub(1)).collect();
        format!("{head}…")
    }
}

/// Text from events made safe to print on a terminal: control characters (escape sequences,
/// carriage returns, newlines, C1 controls) and the invisible characters that reorder or hide
/// text (bidirectional overrides and isolates, zero-width characters) become visible `\u{…}`
/// escapes — the evidence stays readable, the terminal takes no orders from it.
pub fn terminal_safe(s: &str) -> String {
    if !s.chars().any(hostile_char) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if hostile_char(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A character a terminal would obey or hide rather than show.
fn hostile_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// A CSV cell that a spreadsheet will not run as a formula (the one rule of
/// [`privtrail_app::export::csv_safe`]).
pub fn csv_cell(s: &str) -> String {
    privtrail_app::export::csv_safe(s)
}

/// A time as tables show it: UTC to the second.
pub fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn opt_time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(time).unwrap_or_default()
}

/// A time as JSON and CSV write it (SPEC §2: RFC 3339, 100 ns precision, no trailing zeros).
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    privtrail_model::format_time(t)
}

pub fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_for_terminals_and_spreadsheets() {
        assert_eq!(terminal_safe("a\u{1b}[31mb\nc"), "a\\u{1b}[31mb\\u{a}c");
        assert_eq!(terminal_safe("plain"), "plain");
        // A right-to-left override would show "admin\u{202e}gpj.exe" as "adminexe.jpg".
        assert_eq!(
            terminal_safe("admin\u{202e}gpj.exe"),
            "admin\\u{202e}gpj.exe"
        );
        assert_eq!(terminal_safe("a\u{9b}31mb"), "a\\u{9b}31mb", "C1 CSI");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("S-1-5-32-544"), "S-1-5-32-544");
    }

    #[test]
    fn one_writer_three_formats() {
        #[derive(Serialize)]
        struct Item {
            name: String,
        }
        let items = [Item { name: "=x".into() }];
        let name = |i: &Item| i.name.clone();
        let cols: [Column<'_, Item>; 1] = [("name", &name)];
        let run = |f| {
            let mut out = Vec::new();
            print(&mut out, f, &items, &cols, &cols, "none").expect("print");
            String::from_utf8(out).expect("utf8")
        };
        assert_eq!(run(OutputFormat::Json), "{\"name\":\"=x\"}\n");
        assert_eq!(run(OutputFormat::Csv), "name\n'=x\n");
        assert_eq!(run(OutputFormat::Table), "name\n=x\n");
    }
}
