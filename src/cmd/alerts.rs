//! `privtrail alerts [list|show|ack|resolve]`

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use privtrail_app::{App, AppError};
use privtrail_rules::{Alert, AlertStatus};

use crate::cli::OutputFormat;
use crate::output::{self, Column, terminal_safe};

/// `alerts list` (read-only).
pub fn list(app: &App, status: Option<&str>, format: OutputFormat) -> Result<ExitCode> {
    let status = match status {
        None => None,
        Some(s) => Some(AlertStatus::parse(s).ok_or_else(|| {
            AppError::Usage(format!(
                "--status {s:?}: use open, acknowledged or resolved"
            ))
        })?),
    };
    print(&app.alerts(status)?, format)
}

/// Prints alerts as a listing (`alerts`, `rules test`).
pub fn print(alerts: &[Alert], format: OutputFormat) -> Result<ExitCode> {
    let id = |a: &Alert| a.id.clone();
    let sev = |a: &Alert| a.severity.as_str().to_owned();
    let sev_upper = |a: &Alert| a.severity.as_str().to_uppercase();
    let rule = |a: &Alert| a.rule.clone();
    let status = |a: &Alert| a.status.as_str().to_owned();
    let principal = |a: &Alert| output::opt(&a.principal);
    let privilege = |a: &Alert| output::opt(&a.privilege);
    let scope = |a: &Alert| output::opt(&a.scope);
    let opened = |a: &Alert| output::time(a.opened_at);
    let opened_at = |a: &Alert| output::rfc3339(a.opened_at);
    let updated_at = |a: &Alert| output::rfc3339(a.updated_at);
    let summary = |a: &Alert| a.summary.clone();
    let table: [Column<'_, Alert>; 6] = [
        ("id", &id),
        ("severity", &sev_upper),
        ("rule", &rule),
        ("status", &status),
        ("opened (UTC)", &opened),
        ("summary", &summary),
    ];
    let csv: [Column<'_, Alert>; 10] = [
        ("id", &id),
        ("rule", &rule),
        ("severity", &sev),
        ("status", &status),
        ("principal", &principal),
        ("privilege", &privilege),
        ("scope", &scope),
        ("opened_at", &opened_at),
        ("updated_at", &updated_at),
        ("summary", &summary),
    ];
    output::print(
        &mut std::io::stdout().lock(),
        format,
        alerts,
        &table,
        &csv,
        "no alerts",
    )?;
    Ok(ExitCode::SUCCESS)
}

fn load(app: &App, id: &str) -> Result<Alert> {
    Ok(app.alert(id)?.ok_or_else(|| {
        AppError::Usage(format!("no alert with id {id:?} (see `privtrail alerts`)"))
    })?)
}

/// `alerts show ID` (read-only).
pub fn show(app: &App, id: &str, format: OutputFormat) -> Result<ExitCode> {
    let alert = load(app, id)?;
    if format == OutputFormat::Json {
        println!("{}", serde_json::to_string(&alert)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} [{}] {} — {}",
        terminal_safe(&alert.id),
        alert.severity.as_str().to_uppercase(),
        terminal_safe(&alert.rule),
        alert.status.as_str()
    );
    println!("  {}", terminal_safe(&alert.summary));
    for (k, v) in [
        ("principal", &alert.principal),
        ("privilege", &alert.privilege),
        ("scope", &alert.scope),
        ("elevation", &alert.elevation_id),
    ] {
        if let Some(v) = v {
            println!("  {k}: {}", terminal_safe(v));
        }
    }
    println!(
        "  opened {}, updated {}",
        privtrail_model::format_time(alert.opened_at),
        privtrail_model::format_time(alert.updated_at)
    );
    println!("  events:");
    for id in &alert.event_ids {
        match app.store().get_event(id)? {
            Some(e) => println!(
                "    {}  {}  {}",
                output::time(e.time),
                e.action,
                terminal_safe(&e.message)
            ),
            None => println!("    {} (not stored)", terminal_safe(id.as_str())),
        }
    }
    if let Some(r) = app
        .remediations()?
        .into_iter()
        .find(|r| r.alert_id == alert.id)
    {
        super::remediate::print_detail(&r);
    }
    Ok(ExitCode::SUCCESS)
}

/// `alerts ack ID` / `alerts resolve ID`: recorded with the operating-system user and the note.
pub fn transition(app: &App, id: &str, resolve: bool, note: Option<&str>) -> Result<ExitCode> {
    let by = os_user();
    if resolve {
        app.resolve_alert(id, Utc::now(), &by, note)?;
        println!("alert {id} resolved");
    } else {
        app.ack_alert(id, Utc::now(), &by, note)?;
        println!("alert {id} acknowledged");
    }
    Ok(ExitCode::SUCCESS)
}

/// `alerts silence`: a silence recorded with who set it.
pub fn silence(
    app: &App,
    rule: &str,
    principal: Option<&str>,
    duration: &str,
    note: Option<&str>,
) -> Result<ExitCode> {
    let span = privtrail_model::parse_duration(duration).ok_or_else(|| {
        privtrail_app::AppError::Usage(format!("--for {duration:?}: a duration such as 4h or 7d"))
    })?;
    let now = Utc::now();
    let until = now
        .checked_add_signed(span)
        .ok_or_else(|| privtrail_app::AppError::Usage(format!("--for {duration:?} is too long")))?;
    let s = app.silence(rule, principal, until, now, &os_user(), note)?;
    println!(
        "rule {} silenced for {} until {}",
        s.rule,
        s.principal.as_deref().unwrap_or("everyone"),
        privtrail_model::format_time(s.until)
    );
    Ok(ExitCode::SUCCESS)
}

/// A silence as listed (JSON: these names).
#[derive(serde::Serialize)]
struct SilenceView {
    rule: String,
    principal: Option<String>,
    until: String,
    reason: Option<String>,
}

/// `alerts silences`: the silences in force.
pub fn silences(app: &App, format: crate::cli::OutputFormat) -> Result<ExitCode> {
    let list: Vec<SilenceView> = app
        .silences(Utc::now())?
        .into_iter()
        .map(|s| SilenceView {
            rule: s.rule,
            principal: s.principal,
            until: privtrail_model::format_time(s.until),
            reason: s.reason,
        })
        .collect();
    let rule = |s: &SilenceView| s.rule.clone();
    let who = |s: &SilenceView| s.principal.clone().unwrap_or_else(|| "*".into());
    let until = |s: &SilenceView| s.until.clone();
    let why = |s: &SilenceView| s.reason.clone().unwrap_or_default();
    let cols: [crate::output::Column<'_, SilenceView>; 4] = [
        ("rule", &rule),
        ("principal", &who),
        ("until", &until),
        ("reason", &why),
    ];
    crate::output::print(
        &mut std::io::stdout().lock(),
        format,
        &list,
        &cols,
        &cols,
        "no silences in force",
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Who runs this command, as the alert's history names them: `os:` and the login name (from the
/// environment, else the process's user id looked up in /etc/passwd).
pub(crate) fn os_user() -> String {
    let from_env = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()));
    let name = from_env.or_else(|| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))?
            .split_whitespace()
            .next()?
            .to_owned();
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        Some(
            passwd
                .lines()
                .find_map(|l| {
                    let mut f = l.split(':');
                    let name = f.next()?;
                    (f.nth(1)? == uid).then(|| name.to_owned())
                })
                .unwrap_or(format!("uid {uid}")),
        )
    });
    format!("os:{}", name.unwrap_or_else(|| "unknown".to_owned()))
}
