//! `privtrail search QUERY`

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use privtrail_app::{App, AppError};
use privtrail_model::Event;
use privtrail_store::SearchRequest;

use crate::cli::SearchArgs;
use crate::output::{self, Column, opt, rfc3339};

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
    let id = |e: &Event| e.id.to_string();
    let time = |e: &Event| rfc3339(e.time);
    let time_short = |e: &Event| output::time(e.time);
    let ingested = |e: &Event| rfc3339(e.ingested_at);
    let source = |e: &Event| e.source.as_str().to_owned();
    let tenant = |e: &Event| opt(&e.tenant);
    let host = |e: &Event| opt(&e.host);
    let where_ = |e: &Event| {
        e.host
            .clone()
            .or_else(|| e.tenant.clone())
            .unwrap_or_default()
    };
    let action = |e: &Event| e.action.to_string();
    let outcome = |e: &Event| e.outcome.as_str().to_owned();
    let actor = |e: &Event| opt(&e.actor);
    let target = |e: &Event| opt(&e.target);
    let target_shown = |e: &Event| {
        e.target_name
            .clone()
            .or_else(|| e.target.clone())
            .unwrap_or_default()
    };
    let target_name = |e: &Event| opt(&e.target_name);
    let privilege = |e: &Event| opt(&e.privilege);
    let privilege_id = |e: &Event| opt(&e.privilege_id);
    let scope = |e: &Event| opt(&e.scope);
    let expires = |e: &Event| e.expires_at.map(rfc3339).unwrap_or_default();
    let justification = |e: &Event| opt(&e.justification);
    let correlation = |e: &Event| opt(&e.correlation_id);
    let code = |e: &Event| e.event_code.clone();
    let record = |e: &Event| opt(&e.record_id);
    let message = |e: &Event| e.message.clone();
    let table: [Column<'_, Event>; 7] = [
        ("time (UTC)", &time_short),
        ("action", &action),
        ("host/tenant", &where_),
        ("actor", &actor),
        ("target", &target_shown),
        ("privilege", &privilege),
        ("code", &code),
    ];
    let csv: [Column<'_, Event>; 20] = [
        ("id", &id),
        ("time", &time),
        ("ingested_at", &ingested),
        ("source", &source),
        ("tenant", &tenant),
        ("host", &host),
        ("action", &action),
        ("outcome", &outcome),
        ("actor", &actor),
        ("target", &target),
        ("target_name", &target_name),
        ("privilege", &privilege),
        ("privilege_id", &privilege_id),
        ("scope", &scope),
        ("expires_at", &expires),
        ("justification", &justification),
        ("correlation_id", &correlation),
        ("event_code", &code),
        ("record_id", &record),
        ("message", &message),
    ];
    output::print(out, format, events, &table, &csv, "no matching events")
}
