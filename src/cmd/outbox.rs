//! `privtrail outbox [list|retry|deliver]`

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, anyhow};
use chrono::Utc;
use privtrail_store::{OutboxStatus, Store};

use super::table;
use crate::UsageError;
use crate::cli::{OutboxArgs, OutboxCommand, OutputFormat};
use crate::config::Config;
use crate::deliver::{DeliveryReport, channels, deliver_due};

pub fn run(store: &Store, args: &OutboxArgs, config: &Config) -> Result<ExitCode> {
    match args
        .command
        .as_ref()
        .unwrap_or(&OutboxCommand::List { limit: 100 })
    {
        OutboxCommand::List { limit } => list(store, args, *limit),
        OutboxCommand::Retry { id, dead } => {
            let mut w = store.writer()?;
            match (id, dead) {
                (Some(id), false) => {
                    if !w.outbox_retry(*id, Utc::now())? {
                        return Err(anyhow!(UsageError(format!(
                            "no pending or dead message with id {id}"
                        ))));
                    }
                    println!("message {id} queued again");
                }
                (None, true) => println!(
                    "{} dead letters queued again",
                    w.outbox_retry_dead(Utc::now())?
                ),
                _ => return Err(anyhow!(UsageError("give a message id or --dead".into()))),
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxCommand::Deliver { wait } => deliver(store, config, wait.as_deref()),
    }
}

fn list(store: &Store, args: &OutboxArgs, limit: usize) -> Result<ExitCode> {
    let status = match args.status.as_deref() {
        None => None,
        Some(s) => Some(OutboxStatus::parse(s).ok_or_else(|| {
            anyhow!(UsageError(format!(
                "--status {s:?}: use pending, delivered or dead"
            )))
        })?),
    };
    let msgs = store.outbox_list(status, limit)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.format == OutputFormat::Json {
        for m in &msgs {
            let v = serde_json::json!({
                "id": m.id, "channel": m.channel, "idempotency_key": m.idempotency_key,
                "status": m.status.as_str(), "attempts": m.attempts,
                "created_at": privtrail_model::format_time(m.created_at),
                "next_attempt_at": privtrail_model::format_time(m.next_attempt_at),
                "delivered_at": m.delivered_at.map(privtrail_model::format_time),
                "last_error": m.last_error,
                "payload": serde_json::from_str::<serde_json::Value>(&m.payload).unwrap_or_default(),
            });
            writeln!(out, "{v}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    for (ch, st, n) in store.outbox_counts()? {
        writeln!(out, "{ch}: {n} {}", st.as_str())?;
    }
    let rows: Vec<Vec<String>> = msgs
        .iter()
        .map(|m| {
            vec![
                m.id.to_string(),
                m.channel.clone(),
                m.status.as_str().to_owned(),
                m.attempts.to_string(),
                table::time(m.created_at),
                m.idempotency_key.clone(),
                m.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        table::write(
            &mut out,
            &[
                "id",
                "channel",
                "status",
                "tries",
                "created (UTC)",
                "key",
                "last error",
            ],
            &rows,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn deliver(store: &Store, config: &Config, wait: Option<&str>) -> Result<ExitCode> {
    let wait = wait
        .map(crate::time::parse_duration)
        .transpose()
        .map_err(|e| anyhow!(UsageError(format!("--wait: {e}"))))?
        .map(|d| d.to_std())
        .transpose()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let chans = channels(&rt, &config.channels, &config.delivery)?;
    let started = Instant::now();
    let mut total = DeliveryReport::default();
    loop {
        let r = deliver_due(&rt, store, &chans, &config.delivery, Utc::now())?;
        total.delivered += r.delivered;
        total.retried += r.retried;
        total.dead += r.dead;
        total.errors.extend(r.errors);
        let pending = store
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
        let next = store
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
        println!("  error: {e}");
    }
    Ok(ExitCode::SUCCESS)
}
