//! `privtrail rules list|check|test|sweep`

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use privtrail_app::{App, AppError, Config, Engine};
use privtrail_store::EventFilter;
use serde::Serialize;

use crate::cli::{OutputFormat, RulesTestArgs};
use crate::output::{self, Column};

/// `rules list`.
pub fn list(config: &Config, format: OutputFormat) -> Result<ExitCode> {
    let engine = Engine::from_config(config)?;
    #[derive(Serialize)]
    struct RuleRow {
        id: String,
        severity: &'static str,
        description: String,
    }
    let rows: Vec<RuleRow> = engine
        .rules
        .iter()
        .map(|r| RuleRow {
            id: r.id().to_owned(),
            severity: r.severity().as_str(),
            description: r.description(),
        })
        .collect();
    let id = |r: &RuleRow| r.id.clone();
    let sev = |r: &RuleRow| r.severity.to_owned();
    let desc = |r: &RuleRow| r.description.clone();
    let cols: [Column<'_, RuleRow>; 3] = [("rule", &id), ("severity", &sev), ("fires when", &desc)];
    output::print(
        &mut std::io::stdout().lock(),
        format,
        &rows,
        &cols,
        &cols,
        "no rules enabled",
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `rules check`.
pub fn check(config: &Config) -> Result<ExitCode> {
    let engine = Engine::from_config(config)?;
    println!("rules ok: {} enabled", engine.rules.len());
    Ok(ExitCode::SUCCESS)
}

/// `rules sweep`: the rules job now — every event past the cursor, and the conditions (overdue
/// elevations fire without new events).
pub fn sweep(app: &App) -> Result<ExitCode> {
    let ev = app.rules(Utc::now())?;
    super::print_evaluation(&ev);
    Ok(ExitCode::SUCCESS)
}

/// Replays stored history through the rules as if live; writes nothing.
pub fn test(app: &App, args: &RulesTestArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let usage = |what: &str, e: AppError| AppError::Usage(format!("{what}: {e}"));
    let since =
        privtrail_app::time::parse_time(&args.since, now).map_err(|e| usage("--since", e))?;
    let until = match &args.until {
        Some(u) => privtrail_app::time::parse_time(u, now).map_err(|e| usage("--until", e))?,
        None => now,
    };
    let step = privtrail_app::time::parse_duration(&args.step).map_err(|e| usage("--step", e))?;
    if until <= since {
        return Err(AppError::Usage("--until must be after --since".into()).into());
    }
    let engine = app.engine();
    let (policy, _) = privtrail_app::engine::joined_policy(app.store(), engine)?;
    // Elevations need their whole history (an add years ago can be overdue today); the other
    // events only within the window.
    let names: Vec<&str> = privtrail_rules::ELEVATION_INPUTS
        .iter()
        .map(|a| a.as_str())
        .collect();
    let mut events = app.store().events_with_actions(&names)?;
    let mut seen: std::collections::HashSet<_> = events.iter().map(|e| e.id.clone()).collect();
    for e in app
        .store()
        .events_between(since, until, &EventFilter::default(), usize::MAX)?
    {
        if seen.insert(e.id.clone()) {
            events.push(e);
        }
    }
    events.retain(|e| e.time < until);
    // The few records a rule reads (an activation's ticket, a setting change's old and new
    // values), as the live rules job gives them.
    let raw_wanted = privtrail_rules::raw_inputs_of(&engine.rules);
    for e in events
        .iter_mut()
        .filter(|e| e.raw.is_empty() && raw_wanted.contains(&e.action))
    {
        if let Some(full) = app.store().get_event(&e.id)? {
            e.raw = full.raw;
        }
    }
    events.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    // Alerts speak in names, as the live rules do (a failing lookup leaves the identifier).
    let namer = std::cell::RefCell::new(privtrail_app::names::Namer::preloaded(app.store())?);
    let name = |p: &str, at| namer.borrow_mut().name(p, Some(at)).ok().flatten();
    let alerts = privtrail_rules::backtest_named(
        &events,
        &policy,
        &engine.rules,
        (since, until),
        step,
        Some(&name),
    );
    if args.format == OutputFormat::Table {
        println!(
            "replayed {} events from {} to {} (sweeps every {}): {} alerts would have fired",
            events.len(),
            privtrail_model::format_time(since),
            privtrail_model::format_time(until),
            args.step,
            alerts.len()
        );
    }
    let code = super::alerts::print(&alerts, args.format)?;
    if args.format == OutputFormat::Table {
        print_remediation(app, &events, &policy, &alerts, now)?;
    }
    Ok(code)
}

/// What `[remediation]` would have done about the replayed alerts: each judged against its
/// elevation as it stood when the alert opened.
fn print_remediation(
    app: &App,
    events: &[privtrail_model::Event],
    policy: &privtrail_rules::Policy,
    alerts: &[privtrail_rules::Alert],
    now: chrono::DateTime<Utc>,
) -> Result<()> {
    use privtrail_app::remediate::plan::Decision;
    let mode = app.config().remediation.mode;
    if mode == privtrail_app::config::Mode::Off {
        println!("remediation: off ([remediation] mode), nothing would have been remediated");
        return Ok(());
    }
    let tracker = privtrail_rules::Tracker::from_events(policy.clone(), events);
    let cases: Vec<(privtrail_rules::Alert, Vec<privtrail_rules::Elevation>)> = alerts
        .iter()
        .map(|a| {
            let els = tracker
                .elevations()
                .iter()
                .filter(|e| a.elevation_id.as_deref() == Some(e.id.as_str()))
                .map(|e| {
                    let mut e = e.clone();
                    if e.ended_at.is_some_and(|t| t > a.opened_at) {
                        e.ended_at = None;
                        e.end_reason = None;
                    }
                    e
                })
                .collect();
            // Judged when it fired, even if it resolved later in the replay.
            let mut live = a.clone();
            live.status = privtrail_rules::AlertStatus::Open;
            live.resolved_at = None;
            (live, els)
        })
        .collect();
    let decisions = app.remediation_preview(&cases, now)?;
    let (mut enforce, mut propose, mut skip) = (0, 0, 0);
    let mut rows = Vec::new();
    for d in &decisions {
        match d {
            Decision::Act(r) => {
                let what = r.mode.as_str();
                if r.mode == privtrail_app::config::Mode::Enforce {
                    enforce += 1;
                } else {
                    propose += 1;
                }
                let why = r
                    .capped
                    .as_deref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default();
                rows.push(format!("  {}  {what:<8} {}{why}", r.alert_id, r.describe()));
            }
            Decision::Skip {
                alert_id, reason, ..
            } => {
                skip += 1;
                rows.push(format!("  {alert_id}  skip     {reason}"));
            }
        }
    }
    println!(
        "remediation ([remediation] mode = \"{}\"): {enforce} would have been enforced, {propose} proposed, {skip} skipped",
        mode.as_str()
    );
    for r in rows {
        println!("{}", crate::output::terminal_safe(&r));
    }
    Ok(())
}
