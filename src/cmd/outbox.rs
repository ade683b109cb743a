//! `privtrail outbox [list|retry|deliver]`

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use chrono::Utc;
use privtrail_app::deliver::{DeliveryReport, channels, deliver_due};
use privtrail_app::{App, AppError};
use privtrail_store::{OutboxMessage, OutboxStatus};

use crate::cli::OutboxArgs;
use crate::output::{self, Column};

/// `outbox list` (read-only).
pub fn list(app: &App, args: &OutboxArgs, limit: usize) -> Result<ExitCode> {
    let status = match args.status.as_deref() {
        None => None,
        Some(s) => Some(OutboxStatus::parse(s).ok_or_else(|| {
            AppError::Usage(format!("--status {s:?}: use pending, delivered or dead"))
        })?),
    };
    let msgs = app.outbox(status, limit)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.format == crate::cli::OutputFormat::Table {
        for (ch, st, n, known) in app.outbox_counts()? {
            let note = if known {
                ""
            } else {
                " (channel not in the config: these messages wait until it is added back)"
            };
            writeln_safe(&mut out, &format!("{ch}: {n} {}{note}", st.as_str()))?;
        }
    }
    let view: Vec<Row> = msgs.into_iter().map(Row::from).collect();
    let id = |m: &Row| m.id.to_string();
    let channel = |m: &Row| m.channel.clone();
    let status = |m: &Row| m.status.clone();
    let tries = |m: &Row| m.attempts.to_string();
    let created = |m: &Row| m.created.clone();
    let key = |m: &Row| m.idempotency_key.clone();
    let err = |m: &Row| m.last_error.clone().unwrap_or_default();
    let table: [Column<'_, Row>; 7] = [
        ("id", &id),
        ("channel", &channel),
        ("status", &status),
        ("tries", &tries),
        ("created (UTC)", &created),
        ("key", &key),
        ("last error", &err),
    ];
    output::print(&mut out, args.format, &view, &table, &table, "")?;
    Ok(ExitCode::SUCCESS)
}

fn writeln_safe(out: &mut dyn std::io::Write, s: &str) -> std::io::Result<()> {
    writeln!(out, "{}", output::terminal_safe(s))
}

/// One message as `outbox list` shows it (JSON: every field, `payload` as JSON).
#[derive(serde::Serialize)]
struct Row {
    id: i64,
    channel: String,
    idempotency_key: String,
    status: String,
    attempts: u32,
    created_at: String,
    next_attempt_at: String,
    delivered_at: Option<String>,
    last_error: Option<String>,
    payload: serde_json::Value,
    #[serde(skip)]
    created: String,
}

impl From<OutboxMessage> for Row {
    fn from(m: OutboxMessage) -> Row {
        Row {
            id: m.id,
            channel: m.channel,
            idempotency_key: m.idempotency_key,
            status: m.status.as_str().to_owned(),
            attempts: m.attempts,
            created: output::time(m.created_at),
            created_at: output::rfc3339(m.created_at),
            next_attempt_at: output::rfc3339(m.next_attempt_at),
            delivered_at: m.delivered_at.map(output::rfc3339),
            last_error: m.last_error,
            payload: serde_json::from_str(&m.payload).unwrap_or_default(),
        }
    }
}

/// `outbox retry ID|--dead`.
pub fn retry(app: &App, id: Option<i64>, dead: bool) -> Result<ExitCode> {
    match (id, dead) {
        (Some(id), false) => {
            if !app.outbox_retry(id, Utc::now())? {
                return Err(
                    AppError::Usage(format!("no pending or dead message with id {id}")).into(),
                );
            }
            println!("message {id} queued again");
        }
        (None, true) => println!(
            "{} dead letters queued again",
            app.outbox_retry_dead(Utc::now())?
        ),
        _ => return Err(AppError::Usage("give a message id or --dead".into()).into()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `outbox deliver [--wait D]`.
pub fn deliver(app: &App, wait: Option<&str>) -> Result<ExitCode> {
    let wait = wait
        .map(privtrail_app::time::parse_duration)
        .transpose()
        .map_err(|e| AppError::Usage(format!("--wait: {e}")))?
        .map(|d| d.to_std().unwrap_or_default());
    let rt = super::runtime()?;
    let config = app.config();
    let chans = channels(rt.handle(), &config.channels, &config.delivery)?;
    let started = Instant::now();
    let mut total = DeliveryReport::default();
    loop {
        let r = deliver_due(
            rt.handle(),
            app.store(),
            app.writer()?,
            &chans,
            &config.delivery,
            Utc::now(),
            &|| false,
        )?;
        total.delivered += r.delivered;
        total.retried += r.retried;
        total.dead += r.dead;
        total.errors.extend(r.errors);
        let pending = app
            .store()
            .outbox_counts()?
            .iter()
            .filter(|(_, s, _)| *s == OutboxStatus::Pending)
            .map(|(_, _, n)| n)
            .sum::<u64>();
        let Some(limit) = wait else { break };
        if pending == 0 || started.elapsed() >= limit {
            break;
        }
        // Sleep until the next message is due (bounded by the time left).
        let next = app
            .store()
            .outbox_next_due()?
            .map(|t| (t - Utc::now()).to_std().unwrap_or_default());
        let left = limit.saturating_sub(started.elapsed());
        std::thread::sleep(
            next.unwrap_or(left)
                .min(left)
                .max(std::time::Duration::from_millis(50)),
        );
    }
    println!(
        "delivered {}, retrying {}, dead {}",
        total.delivered, total.retried, total.dead
    );
    for e in total.errors.iter().take(20) {
        println!("  error: {}", output::terminal_safe(e));
    }
    Ok(ExitCode::SUCCESS)
}
