//! `privtrail collect entra`

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use privtrail_app::collect::{CollectOptions, CollectReport, collect_tenant};
use privtrail_app::{App, AppError};

use crate::cli::{CollectCommand, CollectEntraArgs};

pub fn run(app: &App, cmd: CollectCommand) -> Result<ExitCode> {
    match cmd {
        CollectCommand::Entra(args) => entra(app, &args),
    }
}

fn entra(app: &App, args: &CollectEntraArgs) -> Result<ExitCode> {
    let tenants: Vec<_> = app
        .config()
        .tenants
        .iter()
        .filter(|t| {
            args.tenant
                .as_deref()
                .is_none_or(|n| t.name.eq_ignore_ascii_case(n))
        })
        .cloned()
        .collect();
    if tenants.is_empty() {
        return Err(AppError::Usage(match &args.tenant {
            Some(n) => format!("no tenant named {n:?} in the config ([[tenants]] name)"),
            None => "no tenants configured: add a [[tenants]] section to the config file".into(),
        })
        .into());
    }
    let since = args
        .since
        .as_deref()
        .map(|s| privtrail_app::time::parse_time(s, Utc::now()))
        .transpose()
        .map_err(|e| AppError::Usage(format!("--since: {e}")))?;
    let opts = CollectOptions {
        since,
        no_audit: false,
        no_pim: args.no_pim,
    };
    let rt = super::runtime()?;
    let mut failed = false;
    for t in &tenants {
        let report = collect_tenant(
            rt.handle(),
            app.store(),
            app.writer()?,
            t,
            &opts,
            app.forward(),
            &|| false,
        )?;
        failed |= !report.errors.is_empty();
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            print_report(&report);
        }
    }
    // Rules run after every collection (SPEC §4).
    let ev = app.rules(Utc::now())?;
    if !args.json {
        super::print_evaluation(&ev);
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn print_report(r: &CollectReport) {
    println!(
        "tenant {}: {} pages, {} records, {} stored, {} duplicates, {} rejected, {} PIM pairs linked",
        r.tenant, r.pages, r.records, r.stored, r.duplicates, r.rejected, r.linked
    );
    if let Some(w) = r.watermark {
        println!("  watermark {}", privtrail_model::format_time(w));
    }
    if let (Some(a), Some(e)) = (r.assignments, r.eligibilities) {
        println!(
            "  PIM snapshot: {a} active assignments, {e} eligibilities, {} users looked up",
            r.users.unwrap_or(0)
        );
    }
    for e in &r.errors {
        println!("  error: {}", crate::output::terminal_safe(e));
    }
}
