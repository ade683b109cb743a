//! `privtrail alerts [list|show|ack|resolve]`

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use chrono::Utc;
use privtrail_rules::{Alert, ack, resolve};
use privtrail_store::Store;

use super::table;
use crate::UsageError;
use crate::cli::{AlertsArgs, AlertsCommand, OutputFormat};
use crate::engine::alert_row;

pub fn run(store: &Store, args: &AlertsArgs) -> Result<ExitCode> {
    match args.command.as_ref().unwrap_or(&AlertsCommand::List) {
        AlertsCommand::List => list(store, args),
        AlertsCommand::Show { id } => show(store, id, args.format),
        AlertsCommand::Ack { id } => transition(store, id, "acknowledged", ack),
        AlertsCommand::Resolve { id } => transition(store, id, "resolved", resolve),
    }
}

fn load(store: &Store, id: &str) -> Result<Alert> {
    let row = store.alert(id)?.ok_or_else(|| {
        anyhow!(UsageError(format!(
            "no alert with id {id:?} (see `privtrail alerts`)"
        )))
    })?;
    Ok(serde_json::from_str(&row.body)?)
}

fn list(store: &Store, args: &AlertsArgs) -> Result<ExitCode> {
    if let Some(s) = &args.status
        && !["open", "acknowledged", "resolved"].contains(&s.as_str())
    {
        return Err(anyhow!(UsageError(format!(
            "--status {s:?}: use open, acknowledged or resolved"
        ))));
    }
    let alerts: Vec<Alert> = store
        .alerts(args.status.as_deref())?
        .iter()
        .map(|r| serde_json::from_str(&r.body))
        .collect::<Result<_, _>>()?;
    print(&alerts, args.format)
}

pub fn print(alerts: &[Alert], format: OutputFormat) -> Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        OutputFormat::Json => {
            for a in alerts {
                serde_json::to_writer(&mut out, a)?;
                out.write_all(b"\n")?;
            }
        }
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record([
                "id",
                "rule",
                "severity",
                "status",
                "principal",
                "privilege",
                "scope",
                "opened_at",
                "updated_at",
                "summary",
            ])?;
            for a in alerts {
                w.write_record([
                    a.id.clone(),
                    a.rule.clone(),
                    a.severity.as_str().to_owned(),
                    a.status.as_str().to_owned(),
                    a.principal.clone().unwrap_or_default(),
                    a.privilege.clone().unwrap_or_default(),
                    a.scope.clone().unwrap_or_default(),
                    privtrail_model::format_time(a.opened_at),
                    privtrail_model::format_time(a.updated_at),
                    a.summary.clone(),
                ])?;
            }
            w.flush()?;
        }
        OutputFormat::Table => {
            if alerts.is_empty() {
                writeln!(out, "no alerts")?;
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<Vec<String>> = alerts
                .iter()
                .map(|a| {
                    vec![
                        a.id.clone(),
                        a.severity.as_str().to_uppercase(),
                        a.rule.clone(),
                        a.status.as_str().to_owned(),
                        table::time(a.opened_at),
                        a.summary.clone(),
                    ]
                })
                .collect();
            table::write(
                &mut out,
                &[
                    "id",
                    "severity",
                    "rule",
                    "status",
                    "opened (UTC)",
                    "summary",
                ],
                &rows,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(store: &Store, id: &str, format: OutputFormat) -> Result<ExitCode> {
    let alert = load(store, id)?;
    if format == OutputFormat::Json {
        println!("{}", serde_json::to_string(&alert)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} [{}] {} — {}",
        alert.id,
        alert.severity.as_str().to_uppercase(),
        alert.rule,
        alert.status.as_str()
    );
    println!("  {}", alert.summary);
    for (k, v) in [
        ("principal", &alert.principal),
        ("privilege", &alert.privilege),
        ("scope", &alert.scope),
        ("elevation", &alert.elevation_id),
    ] {
        if let Some(v) = v {
            println!("  {k}: {v}");
        }
    }
    println!(
        "  opened {}, updated {}",
        privtrail_model::format_time(alert.opened_at),
        privtrail_model::format_time(alert.updated_at)
    );
    println!("  events:");
    for id in &alert.event_ids {
        match store.get_event(id)? {
            Some(e) => println!("    {}  {}  {}", table::time(e.time), e.action, e.message),
            None => println!("    {id} (not stored)"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn transition(
    store: &Store,
    id: &str,
    what: &str,
    f: fn(&Alert, chrono::DateTime<Utc>) -> Result<Alert, privtrail_rules::LifecycleError>,
) -> Result<ExitCode> {
    let alert = load(store, id)?;
    let next =
        f(&alert, Utc::now()).map_err(|e| anyhow!(UsageError(format!("alert {id}: {e}"))))?;
    store.writer()?.save_alerts(&[alert_row(&next)?])?;
    println!("alert {id} {what}");
    Ok(ExitCode::SUCCESS)
}
