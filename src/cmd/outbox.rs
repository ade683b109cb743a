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
    let configured: std::collections::HashSet<&str> = app
        .config()
        .channels
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.format == crate::cli::OutputFormat::Table {
        for (ch, st, n, known) in app.outbox_counts()? {
            let note = if known {
                ""
            } else {
                " (channel not in the config: these messages wait for it to be added back, and expire at max_age)"
            };
            writeln_safe(&mut out, &format!("{ch}: {n} {}{note}", st.as_str()))?;
        }
    }
    let view: Vec<Row> = msgs
        .into_iter()
        .map(|m| {
            let known = configured.contains(m.channel.as_str());
            Row::new(m, known)
        })
        .collect();
    let id = |m: &Row| m.id.to_string();
    let channel = |m: &Row| {
        if m.channel_configured {
            m.channel.clone()
        } else {
            format!("{} (not configured)", m.channel)
        }
    };
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
    /// `false`: the channel left the config; the message waits for it, then expires at `max_age`.
    channel_configured: bool,
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

impl Row {
    fn new(m: OutboxMessage, channel_configured: bool) -> Row {
        Row {
            id: m.id,
            channel: m.channel,
            channel_configured,
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

/// `outbox deliver [--wait D]`. Exits 1 when messages went dead in it: a cron job running it
/// must notice.
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
    let mut raised = 0;
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
        if r.health_changed {
            // A channel started or stopped failing: let `delivery-failure` judge it now, and
            // deliver its alert to the other channels in this same run.
            let ev = app.rules(Utc::now())?;
            raised += ev.opened.len();
            if ev.enqueued > 0 {
                continue;
            }
        }
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
    if raised > 0 {
        println!("  {raised} alerts raised about failing channels (delivery-failure)");
    }
    for e in total.errors.iter().take(20) {
        println!("  error: {}", output::terminal_safe(e));
    }
    if total.dead > 0 {
        eprintln!(
            "{} messages went dead (see `privtrail outbox list --status dead`; `outbox retry --dead` sends them again)",
            total.dead
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
