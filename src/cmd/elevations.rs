//! `privtrail elevations`

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use chrono::Utc;
use privtrail_rules::Elevation;
use privtrail_store::Store;

use super::table;
use crate::UsageError;
use crate::cli::{ElevationsArgs, OutputFormat};
use crate::config::Config;
use crate::engine::load_elevations;

pub fn run(store: &Store, args: &ElevationsArgs, config: &Config) -> Result<ExitCode> {
    let now = Utc::now();
    let at = args
        .at
        .as_deref()
        .map(|s| crate::time::parse_time(s, now))
        .transpose()
        .map_err(|e| anyhow!(UsageError(format!("--at: {e}"))))?;
    let grace = config.policy.policy().grace;
    let needle = args.principal.as_deref().map(str::to_lowercase);
    let list: Vec<Elevation> = load_elevations(store)?
        .into_iter()
        .filter(|e| at.is_none_or(|t| e.started_at <= t && e.ended_at.is_none_or(|end| end > t)))
        .filter(|e| !args.open || e.is_open())
        .filter(|e| {
            !args.overdue || (e.is_open() && e.expected_end.is_some_and(|x| now > x + grace))
        })
        .filter(|e| {
            needle
                .as_ref()
                .is_none_or(|n| e.principal.to_lowercase().contains(n))
        })
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        OutputFormat::Json => {
            for e in &list {
                serde_json::to_writer(&mut out, e)?;
                out.write_all(b"\n")?;
            }
        }
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record([
                "id",
                "principal",
                "privilege",
                "privilege_id",
                "scope",
                "kind",
                "started_at",
                "expected_end",
                "ended_at",
                "end_reason",
                "opened_by",
                "closed_by",
            ])?;
            for e in &list {
                let v = serde_json::to_value(e)?;
                let f = |k: &str| match &v[k] {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                w.write_record([
                    f("id"),
                    f("principal"),
                    f("privilege"),
                    f("privilege_id"),
                    f("scope"),
                    f("kind"),
                    f("started_at"),
                    f("expected_end"),
                    f("ended_at"),
                    f("end_reason"),
                    f("opened_by"),
                    f("closed_by"),
                ])?;
            }
            w.flush()?;
        }
        OutputFormat::Table => {
            if list.is_empty() {
                writeln!(out, "no matching elevations")?;
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|e| {
                    let v = serde_json::to_value(e).unwrap_or_default();
                    let state = match (e.ended_at, e.expected_end) {
                        (Some(_), _) => v["end_reason"].as_str().unwrap_or("ended").to_owned(),
                        (None, Some(x)) if now > x + grace => "OVERDUE".to_owned(),
                        (None, _) => "open".to_owned(),
                    };
                    vec![
                        e.principal.clone(),
                        e.privilege.clone(),
                        e.scope.clone(),
                        v["kind"].as_str().unwrap_or_default().to_owned(),
                        table::time(e.started_at),
                        table::opt_time(e.expected_end),
                        table::opt_time(e.ended_at),
                        state,
                    ]
                })
                .collect();
            table::write(
                &mut out,
                &[
                    "principal",
                    "privilege",
                    "scope",
                    "kind",
                    "started (UTC)",
                    "expected end",
                    "ended",
                    "state",
                ],
                &rows,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
