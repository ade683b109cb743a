//! Plain-text tables for listing commands: columns as wide as their widest cell, capped.

use std::io::Write;

/// Widest a column gets; longer cells end in `…`. The last column is never cut (nothing follows
/// it, and it is where summaries go).
const MAX_WIDTH: usize = 48;

pub fn write(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    let last = header.len().saturating_sub(1);
    for r in rows {
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
    for r in rows {
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

/// A time as tables show it: UTC to the second.
pub fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn opt_time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(time).unwrap_or_default()
}
