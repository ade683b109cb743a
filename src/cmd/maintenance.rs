//! `privtrail verify` and `privtrail reindex`.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use privtrail_store::Store;

/// `privtrail verify [--anchors FILE]`: the chain from its genesis, its keyed links, and every
/// anchor (the configured anchor file, `--anchors`, and those recorded in the store).
pub fn verify(
    app: &privtrail_app::App,
    anchors_file: Option<&std::path::Path>,
) -> Result<ExitCode> {
    let started = Instant::now();
    let (report, sources) = privtrail_app::evidence::verify_store(app, anchors_file)?;
    let keyed = match report.keyed_from {
        Some(1) => ", every link keyed (HMAC-SHA256)".to_owned(),
        Some(k) => format!(", links keyed (HMAC-SHA256) from seq {k}"),
        None => String::new(),
    };
    match report.first_broken {
        None => {
            println!(
                "ok: {} events, hash chain intact from its start{keyed} ({:.2} s)",
                report.checked,
                started.elapsed().as_secs_f64()
            );
            println!(
                "anchors: {} matched ({})",
                report.anchors_matched,
                sources.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            let id = if b.event_id.is_empty() {
                String::new()
            } else {
                format!(" (event {})", b.event_id)
            };
            println!(
                "BROKEN: first broken link at seq {}{}: {}",
                b.seq,
                crate::output::terminal_safe(&id),
                crate::output::terminal_safe(&b.reason)
            );
            println!("{} events checked before it", report.checked);
            Ok(ExitCode::from(1))
        }
    }
}

/// `privtrail export`: a period as evidence for an auditor.
/// `privtrail report`: the access review of a period.
pub fn report(app: &privtrail_app::App, args: &crate::cli::ReportArgs) -> Result<ExitCode> {
    use privtrail_app::AppError;
    use privtrail_app::report::{Format, ReportRequest, build, render};
    let now = chrono::Utc::now();
    let usage = |what: &str, e: AppError| AppError::Usage(format!("{what}: {e}"));
    let since =
        privtrail_app::time::parse_time(&args.since, now).map_err(|e| usage("--since", e))?;
    let until = match &args.until {
        Some(u) => privtrail_app::time::parse_time(u, now).map_err(|e| usage("--until", e))?,
        None => now,
    };
    let format: Format = args
        .format
        .parse()
        .map_err(|e| AppError::Usage(format!("--format {e}")))?;
    let report = build(
        app,
        &ReportRequest {
            since,
            until,
            verify: !args.no_verify,
        },
    )?;
    let bytes = render(&report, format)?;
    match &args.out {
        Some(path) => {
            privtrail_app::evidence::write_private(path, &bytes)?;
            eprintln!(
                "report: {} elevations of {} principals, {} alerts; written to {}",
                report.totals.elevations,
                report.totals.principals,
                report.totals.alerts,
                path.display()
            );
        }
        None => {
            use std::io::Write;
            std::io::stdout().lock().write_all(&bytes)?;
        }
    }
    // A broken chain is stated in the report and in the exit code.
    Ok(match report.evidence.verified {
        Some(v) if !v.intact => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

pub fn export(app: &privtrail_app::App, args: &crate::cli::ExportArgs) -> Result<ExitCode> {
    use privtrail_app::AppError;
    use privtrail_app::evidence::{ExportRequest, Format};
    let now = chrono::Utc::now();
    let usage = |what: &str, e: AppError| AppError::Usage(format!("{what}: {e}"));
    let since =
        privtrail_app::time::parse_time(&args.since, now).map_err(|e| usage("--since", e))?;
    let until = match &args.until {
        Some(u) => privtrail_app::time::parse_time(u, now).map_err(|e| usage("--until", e))?,
        None => now,
    };
    let format = match args.format.as_str() {
        "jsonl" | "json" => Format::Jsonl,
        "csv" => Format::Csv,
        other => return Err(AppError::Usage(format!("--format {other:?}: jsonl or csv")).into()),
    };
    let m = privtrail_app::evidence::export(
        app,
        &ExportRequest {
            since,
            until,
            query: args.query.clone(),
            format,
            out: args.out.clone(),
        },
    )?;
    println!(
        "exported {} events, {} elevations, {} alerts to {}",
        m.events,
        m.elevations,
        m.alerts,
        args.out.display()
    );
    if let Some((a, b)) = m.seq_range {
        println!(
            "chain seq {a}..={b}, {} anchors cover it; check it with: privtrail verify --export {}",
            m.anchors.len(),
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `privtrail verify --export DIR`: an export checked offline.
pub fn verify_export(
    config: &privtrail_app::Config,
    dir: &std::path::Path,
    anchors_file: Option<&std::path::Path>,
) -> Result<ExitCode> {
    let key = config
        .integrity
        .key
        .as_ref()
        .map(|k| privtrail_store::ChainKey::new(k.expose().as_bytes()));
    let anchors = match anchors_file {
        Some(f) => privtrail_app::anchor::read_file(f, None)?,
        None => Vec::new(),
    };
    let v = privtrail_app::evidence::verify_export(dir, key.as_ref(), &anchors)?;
    match v.problem {
        None => {
            println!(
                "ok: export of {} events (seq {}) intact; {} anchors matched",
                v.events_checked,
                v.manifest
                    .seq_range
                    .map_or("-".to_owned(), |(a, b)| format!("{a}..={b}")),
                v.anchors_matched
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(p) => {
            println!("BROKEN: {}", crate::output::terminal_safe(&p.to_string()));
            Ok(ExitCode::from(1))
        }
    }
}

/// `privtrail purge [--dry-run]`.
pub fn purge(app: &privtrail_app::App, dry_run: bool) -> Result<ExitCode> {
    let now = chrono::Utc::now();
    if !app.config().retention.enabled() {
        println!("retention is off ([retention] events or [retention.sources]): nothing to purge");
        return Ok(ExitCode::SUCCESS);
    }
    let plan = if dry_run {
        privtrail_app::retention::plan(app, now)?
    } else {
        privtrail_app::retention::purge(app, now)?
    };
    let verb = if dry_run { "would purge" } else { "purged" };
    match plan {
        None => println!("nothing to purge: no oldest events past their retention"),
        Some(p) => println!(
            "{verb} {} events (seq 1..={}) from {} to {}",
            p.events,
            p.through_seq,
            p.oldest
                .map(privtrail_model::format_time)
                .unwrap_or_default(),
            p.newest
                .map(privtrail_model::format_time)
                .unwrap_or_default()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn reindex(store: &Store) -> Result<ExitCode> {
    let started = Instant::now();
    let n = store.reindex()?;
    println!(
        "reindexed {n} events in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
