//! The text and HTML of alert mails (pure).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::AlertNotice;

/// `[privtrail] {SEVERITY} {rule}: {summary}`.
pub fn subject(a: &AlertNotice) -> String {
    one_line(&format!(
        "[privtrail] {} {}: {}",
        a.severity.to_uppercase(),
        a.rule,
        a.summary
    ))
}

/// `[privtrail] {n} alerts: 1 critical, 2 high`.
pub fn digest_subject(alerts: &[&AlertNotice]) -> String {
    let mut parts = Vec::new();
    for sev in ["critical", "high", "medium", "low", "info"] {
        let n = alerts.iter().filter(|a| a.severity == sev).count();
        if n > 0 {
            parts.push(format!("{n} {sev}"));
        }
    }
    let noun = if alerts.len() == 1 { "alert" } else { "alerts" };
    format!("[privtrail] {} {noun}: {}", alerts.len(), parts.join(", "))
}

fn one_line(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    crate::clip(&s, 200)
}

/// `2026-11-26 10:00:00 UTC (11:00:00 CET)` style: UTC and the reader's zone.
pub fn both_times(t: DateTime<Utc>, tz: Option<Tz>) -> String {
    let utc = t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    match tz {
        Some(tz) => format!(
            "{utc} ({})",
            t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z")
        ),
        None => utc,
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn rows(a: &AlertNotice, tz: Option<Tz>) -> Vec<(&'static str, String)> {
    let mut r = vec![
        ("Severity", a.severity.to_uppercase()),
        ("Rule", a.rule.clone()),
        ("Status", a.status.clone()),
    ];
    for (k, v) in [
        ("Principal", &a.principal),
        ("Privilege", &a.privilege),
        ("Scope", &a.scope),
    ] {
        if let Some(v) = v {
            r.push((k, v.clone()));
        }
    }
    r.push(("Opened", both_times(a.opened_at, tz)));
    r.push(("Updated", both_times(a.updated_at, tz)));
    r.push(("Alert id", a.id.clone()));
    if let Some(e) = &a.elevation_id {
        r.push(("Elevation", e.clone()));
    }
    if !a.event_ids.is_empty() {
        r.push(("Events", a.event_ids.join(", ")));
    }
    r
}

/// The text/plain part for `alerts` (one, or a digest).
pub fn text(alerts: &[&AlertNotice], tz: Option<Tz>) -> String {
    let mut s = String::new();
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            s.push_str("\n----------------------------------------\n\n");
        }
        s.push_str(&a.summary);
        s.push_str("\n\n");
        for (k, v) in rows(a, tz) {
            s.push_str(&format!("{k:<10} {v}\n"));
        }
        if let Some(link) = &a.link {
            s.push_str(&format!("\nOpen in privtrail: {link}\n"));
        }
    }
    s
}

/// The text/html part for `alerts`; every value is escaped.
pub fn html(alerts: &[&AlertNotice], tz: Option<Tz>) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">\n",
    );
    for a in alerts {
        let color = match a.severity.as_str() {
            "critical" => "#8b0000",
            "high" => "#c0392b",
            "medium" => "#d68910",
            "info" => "#5d6d7e",
            _ => "#2e86c1",
        };
        s.push_str(&format!(
            "<h2 style=\"color:{color}\">{}</h2>\n<table cellpadding=\"4\">\n",
            html_escape(&a.summary)
        ));
        for (k, v) in rows(a, tz) {
            s.push_str(&format!(
                "<tr><th align=\"left\">{k}</th><td>{}</td></tr>\n",
                html_escape(&v)
            ));
        }
        s.push_str("</table>\n");
        if let Some(link) = &a.link {
            s.push_str(&format!(
                "<p><a href=\"{}\">Open in privtrail</a></p>\n",
                html_escape(link)
            ));
        }
    }
    s.push_str("</body></html>\n");
    s
}
