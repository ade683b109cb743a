//! `privtrail search QUERY`

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use chrono::Utc;
use privtrail_model::Event;
use privtrail_store::{SearchRequest, Store};

use crate::UsageError;
use crate::cli::{OutputFormat, SearchArgs};

pub fn run(store: &Store, args: &SearchArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let parse = |what: &str, v: &Option<String>| -> Result<_> {
        v.as_deref()
            .map(|s| crate::time::parse_time(s, now))
            .transpose()
            .map_err(|e| anyhow!(UsageError(format!("--{what}: {e}"))))
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
        writeln!(out, "{}", store.count(&req)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let events = store.search(&req)?;
    match args.format {
        OutputFormat::Json => {
            for e in &events {
                serde_json::to_writer(&mut out, e)?;
                out.write_all(b"\n")?;
            }
        }
        OutputFormat::Csv => write_csv(&events, &mut out)?,
        OutputFormat::Table => write_table(&events, &mut out)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Every field of SPEC §2 but `raw` (kept out of spreadsheets; `--format json` carries it).
const CSV_FIELDS: [&str; 20] = [
    "id",
    "time",
    "ingested_at",
    "source",
    "tenant",
    "host",
    "action",
    "outcome",
    "actor",
    "target",
    "target_name",
    "privilege",
    "privilege_id",
    "scope",
    "expires_at",
    "justification",
    "correlation_id",
    "event_code",
    "record_id",
    "message",
];

fn write_csv(events: &[Event], out: &mut dyn Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_FIELDS)?;
    for e in events {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        w.write_record([
            e.id.to_string(),
            rfc3339(e.time),
            rfc3339(e.ingested_at),
            e.source.as_str().to_owned(),
            o(&e.tenant),
            o(&e.host),
            e.action.to_string(),
            e.outcome.as_str().to_owned(),
            o(&e.actor),
            o(&e.target),
            o(&e.target_name),
            o(&e.privilege),
            o(&e.privilege_id),
            o(&e.scope),
            e.expires_at.map(rfc3339).unwrap_or_default(),
            o(&e.justification),
            o(&e.correlation_id),
            e.event_code.clone(),
            o(&e.record_id),
            e.message.clone(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn rfc3339(t: chrono::DateTime<Utc>) -> String {
    privtrail_model::format_time(t)
}

fn write_table(events: &[Event], out: &mut dyn Write) -> Result<()> {
    if events.is_empty() {
        writeln!(out, "no matching events")?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let target = e
                .target_name
                .clone()
                .or_else(|| e.target.clone())
                .unwrap_or_default();
            vec![
                super::table::time(e.time),
                e.action.to_string(),
                e.host
                    .clone()
                    .or_else(|| e.tenant.clone())
                    .unwrap_or_default(),
                e.actor.clone().unwrap_or_default(),
                target,
                e.privilege.clone().unwrap_or_default(),
                e.event_code.clone(),
            ]
        })
        .collect();
    let header = [
        "time (UTC)",
        "action",
        "host/tenant",
        "actor",
        "target",
        "privilege",
        "code",
    ];
    super::table::write(out, &header, &rows)?;
    Ok(())
}
