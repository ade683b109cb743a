//! `privtrail remediate [list|show|approve|reject|run]`

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use privtrail_app::remediate::receiver::Receivers;
use privtrail_app::remediate::run::{Line, run as run_job};
use privtrail_app::remediate::{Remediation, Target};
use privtrail_app::{App, AppError};

use crate::cli::OutputFormat;
use crate::output::{self, Column, terminal_safe};

/// `remediate list` (read-only).
pub fn list(app: &App, format: OutputFormat) -> Result<ExitCode> {
    let all = app.remediations()?;
    let id = |r: &Remediation| r.id.clone();
    let state = |r: &Remediation| r.state.as_str().to_owned();
    let mode = |r: &Remediation| r.mode.as_str().to_owned();
    let alert = |r: &Remediation| r.alert_id.clone();
    let rule = |r: &Remediation| r.rule.clone();
    let created = |r: &Remediation| output::time(r.created_at);
    let created_at = |r: &Remediation| output::rfc3339(r.created_at);
    let what = |r: &Remediation| r.describe();
    let table: [Column<'_, Remediation>; 6] = [
        ("id", &id),
        ("state", &state),
        ("mode", &mode),
        ("alert", &alert),
        ("created (UTC)", &created),
        ("action", &what),
    ];
    let csv: [Column<'_, Remediation>; 7] = [
        ("id", &id),
        ("state", &state),
        ("mode", &mode),
        ("alert_id", &alert),
        ("rule", &rule),
        ("created_at", &created_at),
        ("action", &what),
    ];
    output::print(
        &mut std::io::stdout().lock(),
        format,
        &all,
        &table,
        &csv,
        "no remediation actions",
    )?;
    Ok(ExitCode::SUCCESS)
}

fn load(app: &App, id: &str) -> Result<Remediation> {
    Ok(app.remediation(id)?.ok_or_else(|| {
        AppError::Usage(format!(
            "no remediation {id:?} (see `privtrail remediate list`)"
        ))
    })?)
}

/// `remediate show ID` (read-only).
pub fn show(app: &App, id: &str, format: OutputFormat) -> Result<ExitCode> {
    let r = load(app, id)?;
    if format == OutputFormat::Json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_detail(&r);
    Ok(ExitCode::SUCCESS)
}

/// An action with its history, as `remediate show` and `alerts show` print it.
pub fn print_detail(r: &Remediation) {
    println!(
        "remediation {} — {} ({})",
        r.id,
        r.state.as_str(),
        r.mode.as_str()
    );
    println!("  {}", terminal_safe(&r.describe()));
    println!(
        "  alert {} ({}), elevation {}",
        terminal_safe(&r.alert_id),
        terminal_safe(&r.rule),
        terminal_safe(&r.elevation_id)
    );
    if let Some(c) = &r.capped {
        println!("  {}", terminal_safe(c));
    }
    match &r.target {
        Target::Entra {
            tenant,
            principal_id,
            role_definition_id,
            directory_scope_id,
        } => println!(
            "  Graph: POST /roleManagement/directory/roleAssignmentScheduleRequests adminRemove \
             tenant={} principalId={} roleDefinitionId={} directoryScopeId={}",
            terminal_safe(tenant),
            terminal_safe(principal_id),
            terminal_safe(role_definition_id),
            terminal_safe(directory_scope_id)
        ),
        Target::Windows {
            host, powershell, ..
        } => {
            println!(
                "  webhook to the RMM of {}; PowerShell:",
                terminal_safe(host)
            );
            for l in powershell.lines() {
                println!("    {}", terminal_safe(l));
            }
        }
    }
    println!("  history:");
    for s in &r.history {
        println!(
            "    {}  {:<9} by {}{}",
            output::time(s.at),
            s.step,
            terminal_safe(&s.by),
            s.detail
                .as_deref()
                .map(|d| format!(": {}", terminal_safe(d)))
                .unwrap_or_default()
        );
    }
}

/// `remediate approve|reject ID`: recorded with the operating-system user and the note.
pub fn review(app: &App, id: &str, approve: bool, note: Option<&str>) -> Result<ExitCode> {
    let by = super::alerts::os_user();
    let r = if approve {
        app.remediation_approve(id, Utc::now(), &by, note)?
    } else {
        app.remediation_reject(id, Utc::now(), &by, note)?
    };
    println!(
        "remediation {} {}: {}",
        r.id,
        r.state.as_str(),
        terminal_safe(&r.describe())
    );
    Ok(ExitCode::SUCCESS)
}

/// `remediate run [--dry-run]`.
pub fn run(app: &App, dry_run: bool, format: OutputFormat) -> Result<ExitCode> {
    let rt = super::runtime()?;
    let receivers = Receivers::from_config(rt.handle(), app.config())?;
    let report = run_job(app, &receivers, Utc::now(), dry_run)?;
    if !dry_run {
        // Failures and a tripped breaker are `collector.error` events: judge them now.
        app.rules(Utc::now())?;
    }
    if format == OutputFormat::Table {
        println!(
            "remediation: mode {}{}: {} action(s)",
            report.mode,
            if dry_run {
                " (dry run: nothing stored or sent)"
            } else {
                ""
            },
            report.lines.len()
        );
    }
    let id = |l: &Line| l.id.clone();
    let alert = |l: &Line| l.alert_id.clone();
    let rule = |l: &Line| l.rule.clone();
    let step = |l: &Line| l.step.clone();
    let detail = |l: &Line| l.detail.clone();
    let cols: [Column<'_, Line>; 5] = [
        ("id", &id),
        ("alert", &alert),
        ("rule", &rule),
        ("step", &step),
        ("detail", &detail),
    ];
    output::print(
        &mut std::io::stdout().lock(),
        format,
        &report.lines,
        &cols,
        &cols,
        "",
    )?;
    if let Some(b) = &report.breaker {
        eprintln!("warning: {}", terminal_safe(b));
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
