//! `privtrail search QUERY`

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use privtrail_app::{App, AppError};
use privtrail_model::Event;
use privtrail_store::SearchRequest;

use crate::cli::SearchArgs;
use privtrail_app::export::{EVENT_FIELDS, event_values};

use crate::output::{self, Column, opt};

pub fn run(app: &App, args: &SearchArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let parse = |what: &str, v: &Option<String>| -> Result<_> {
        Ok(v.as_deref()
            .map(|s| privtrail_app::time::parse_time(s, now))
            .transpose()
            .map_err(|e| AppError::Usage(format!("--{what}: {e}")))?)
    };
    let req = SearchRequest {
        query: args.query.clone(),
        since: parse("since", &args.since)?,
        until: parse("until", &args.until)?,
        limit: args.limit,
        after: None,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.count {
        writeln!(out, "{}", app.count(&req)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let events = app.search(&req)?;
    print(&mut out, args.format, &events)?;
    Ok(ExitCode::SUCCESS)
}

/// Events as a listing: the table shows the essentials, CSV every field of SPEC §2 but `raw` (kept
/// out of spreadsheets; JSON carries it).
pub fn print(
    out: &mut dyn Write,
    format: crate::cli::OutputFormat,
    events: &[Event],
) -> Result<()> {
    let time_short = |e: &Event| output::time(e.time);
    let where_ = |e: &Event| {
        e.host
            .clone()
            .or_else(|| e.tenant.clone())
            .unwrap_or_default()
    };
    let action = |e: &Event| e.action.to_string();
    let actor = |e: &Event| opt(&e.actor);
    let target_shown = |e: &Event| {
        e.target_name
            .clone()
            .or_else(|| e.target.clone())
            .unwrap_or_default()
    };
    let privilege = |e: &Event| opt(&e.privilege);
    let code = |e: &Event| e.event_code.clone();
    let table: [Column<'_, Event>; 7] = [
        ("time (UTC)", &time_short),
        ("action", &action),
        ("host/tenant", &where_),
        ("actor", &actor),
        ("target", &target_shown),
        ("privilege", &privilege),
        ("code", &code),
    ];
    // CSV: every field of SPEC §2 but `raw`, as the API's export writes them.
    type Cell = Box<dyn Fn(&Event) -> String>;
    let fields: Vec<Cell> = (0..EVENT_FIELDS.len())
        .map(|i| Box::new(move |e: &Event| event_values(e)[i].clone()) as Cell)
        .collect();
    let csv: Vec<Column<'_, Event>> = EVENT_FIELDS
        .iter()
        .zip(&fields)
        .map(|(h, f)| (*h, f.as_ref() as &dyn Fn(&Event) -> String))
        .collect();
    output::print(out, format, events, &table, &csv, "no matching events")
}
