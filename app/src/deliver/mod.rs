//! Delivery through the durable outbox (SPEC §5).
//!
//! Enqueueing: alerts to notify become one outbox entry per routed channel, saved in the
//! transaction that saves the alerts; forwarded events become entries in the transaction that
//! stores the events. The idempotency key is per (alert notification or event, channel), so
//! enqueueing twice stores once and a receiver can recognise a resend.
//!
//! Delivering: [`deliver_due`] sends what is due per channel in batches, marks what was accepted,
//! reschedules retriable failures with exponential backoff and jitter (`Retry-After` wins) and
//! dead-letters the rest after the attempt or age limit. Sending happens on a tokio runtime
//! (`Handle::block_on`: call it from a blocking thread); state changes go through the writer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use privtrail_alerts::{AlertNotice, ChannelConfig, Message, Notifier, Payload};
use privtrail_model::Event;
use privtrail_rules::Alert;
use privtrail_store::{OutboxEntry, OutboxMessage, Store};
use serde::Serialize;
use tokio::runtime::Handle;

use crate::config::{Config, DeliveryConfig, RouteConfig};
use crate::engine::ForwardFn;
use crate::error::{AppError, Result};
use crate::writer::WriteHandle;

/// What an alert looks like to a channel.
pub fn notice(a: &Alert, ui_url: Option<&str>) -> AlertNotice {
    AlertNotice {
        id: a.id.clone(),
        rule: a.rule.clone(),
        severity: a.severity.as_str().to_owned(),
        status: a.status.as_str().to_owned(),
        principal: a.principal.clone(),
        privilege: a.privilege.clone(),
        scope: a.scope.clone(),
        opened_at: a.opened_at,
        updated_at: a.updated_at,
        summary: a.summary.clone(),
        event_ids: a.event_ids.iter().map(|e| e.to_string()).collect(),
        elevation_id: a.elevation_id.clone(),
        link: ui_url.map(|u| format!("{}/alerts/{}", u.trim_end_matches('/'), a.id)),
    }
}

/// Outbox entries for the alerts to notify now, by the configured routes.
pub fn alert_entries(
    routes: &[RouteConfig],
    ui_url: Option<&str>,
    alerts: &[&Alert],
) -> Result<Vec<OutboxEntry>> {
    let mut out = Vec::new();
    for a in alerts {
        // One notification per (alert, moment): a re-notification gets a new key.
        let moment = a.last_notified_at.unwrap_or(a.updated_at);
        let key = format!("alert:{}:{}", a.id, privtrail_model::format_time(moment));
        let payload = serde_json::to_string(&Payload::Alert(notice(a, ui_url)))
            .map_err(AppError::json("alert notification"))?;
        let mut channels: Vec<&str> = routes
            .iter()
            .filter(|r| r.takes(&a.rule, a.severity))
            .flat_map(|r| r.channels.iter().map(String::as_str))
            .collect();
        channels.sort_unstable();
        channels.dedup();
        for ch in channels {
            out.push(OutboxEntry {
                channel: ch.to_owned(),
                idempotency_key: key.clone(),
                payload: payload.clone(),
            });
        }
    }
    Ok(out)
}

/// The forwarding function of a configuration, for the writers that store events.
pub fn forward_fn(config: &Arc<Config>) -> ForwardFn {
    let config = Arc::clone(config);
    Arc::new(move |e: &Event| event_entries(&config, e))
}

/// The outbox entries of one stored event (`[[forward]]`).
pub fn event_entries(config: &Config, e: &Event) -> Vec<OutboxEntry> {
    let mut channels: Vec<&str> = config
        .forward
        .iter()
        .filter(|f| f.takes(e))
        .flat_map(|f| f.channels.iter().map(String::as_str))
        .collect();
    if channels.is_empty() {
        return Vec::new();
    }
    channels.sort_unstable();
    channels.dedup();
    let Ok(payload) = serde_json::to_string(&Payload::Event(e.clone())) else {
        return Vec::new();
    };
    channels
        .into_iter()
        .map(|ch| OutboxEntry {
            channel: ch.to_owned(),
            idempotency_key: format!("event:{}", e.id),
            payload: payload.clone(),
        })
        .collect()
}

/// A channel ready to send.
pub struct Channel {
    pub config: ChannelConfig,
    pub notifier: Box<dyn Notifier>,
    max_attempts: u32,
    max_age: chrono::Duration,
    min_gap: Option<Duration>,
    digest: Option<chrono::Duration>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

/// Builds every configured channel (inside the runtime: some clients need it).
pub fn channels(
    rt: &Handle,
    list: &[ChannelConfig],
    d: &DeliveryConfig,
) -> Result<HashMap<String, Channel>> {
    let _guard = rt.enter();
    let bad = |name: &str, e: &dyn std::fmt::Display| {
        AppError::Config(format!("[[channels]] {name:?}: {e}"))
    };
    let std_to_chrono =
        |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let mut out = HashMap::new();
    for c in list {
        let notifier = privtrail_alerts::build(c).map_err(|e| bad(&c.name, &e))?;
        let max_age = match c.max_age().map_err(|e| bad(&c.name, &e))? {
            Some(a) => std_to_chrono(a),
            None => d.max_age.0,
        };
        let digest = c
            .digest_interval()
            .map_err(|e| bad(&c.name, &e))?
            .map(std_to_chrono);
        out.insert(
            c.name.clone(),
            Channel {
                max_attempts: c.max_attempts.unwrap_or(d.max_attempts).max(1),
                max_age,
                min_gap: c.effective_rate().map(|r| Duration::from_secs_f64(1.0 / r)),
                digest,
                config: c.clone(),
                notifier,
            },
        );
    }
    Ok(out)
}

/// What one delivery round did.
#[derive(Debug, Default, Serialize)]
pub struct DeliveryReport {
    pub delivered: u64,
    pub retried: u64,
    pub dead: u64,
    pub errors: Vec<String>,
}

/// Sends everything due now on every channel, once. Returns what happened. `stop` is polled
/// between sends: a shutdown finishes the send in flight and leaves the rest pending.
pub fn deliver_due(
    rt: &Handle,
    store: &Store,
    writer: &WriteHandle,
    channels: &HashMap<String, Channel>,
    policy: &DeliveryConfig,
    now: DateTime<Utc>,
    stop: &dyn Fn() -> bool,
) -> Result<DeliveryReport> {
    let base = policy.backoff_base.0;
    let cap = policy.backoff_max.0;
    let mut report = DeliveryReport::default();
    for name in store.outbox_channels_pending()? {
        if stop() {
            break;
        }
        let Some(ch) = channels.get(&name) else {
            report.errors.push(format!(
                "outbox holds messages for unknown channel {name:?}"
            ));
            continue;
        };
        let due = store.outbox_due(&name, now, 10_000)?;
        if due.is_empty() {
            continue;
        }
        // Digest mode: wait until the oldest message has waited a whole interval, then send all.
        if let Some(interval) = ch.digest
            && due
                .iter()
                .map(|m| m.created_at)
                .min()
                .is_some_and(|t| now - t < interval)
        {
            continue;
        }
        let mut last_send: Option<Instant> = None;
        for chunk in due.chunks(ch.notifier.max_batch().max(1)) {
            if stop() {
                break;
            }
            if let (Some(gap), Some(t)) = (ch.min_gap, last_send) {
                let elapsed = t.elapsed();
                if elapsed < gap {
                    std::thread::sleep(gap - elapsed);
                }
            }
            last_send = Some(Instant::now());
            let messages: Vec<Message> = chunk
                .iter()
                .map(|m| {
                    Ok(Message {
                        outbox_id: m.id,
                        idempotency_key: m.idempotency_key.clone(),
                        payload: serde_json::from_str(&m.payload).map_err(AppError::json(
                            format!("outbox message {} is unreadable", m.id),
                        ))?,
                    })
                })
                .collect::<Result<_>>()?;
            match rt.block_on(ch.notifier.send(&messages)) {
                Ok(()) => {
                    let ids: Vec<i64> = chunk.iter().map(|m| m.id).collect();
                    writer.call(move |w| w.outbox_delivered(&ids, Utc::now()))??;
                    report.delivered += chunk.len() as u64;
                }
                Err(e) => {
                    tracing::warn!(channel = %name, error = %e, "delivery failed");
                    writer.telemetry().delivery_failed(&name, 1);
                    report.errors.push(format!("{name}: {e}"));
                    let accepted = e.accepted.min(chunk.len());
                    if accepted > 0 {
                        let ids: Vec<i64> = chunk[..accepted].iter().map(|m| m.id).collect();
                        writer.call(move |w| w.outbox_delivered(&ids, Utc::now()))??;
                        report.delivered += accepted as u64;
                    }
                    let failed: &[OutboxMessage] = match e.rejected {
                        // One message refused: only it takes the failure; the rest go next round.
                        Some(i) if i < chunk.len() => &chunk[i..=i],
                        _ => &chunk[accepted..],
                    };
                    for m in failed {
                        let too_old = now - m.created_at > ch.max_age;
                        let dead = !e.retriable || m.attempts + 1 >= ch.max_attempts || too_old;
                        let delay = e
                            .retry_after
                            .map(|d| chrono::Duration::from_std(d).unwrap_or(cap))
                            .unwrap_or_else(|| backoff(base, cap, m.attempts, m.id));
                        let (id, message) = (m.id, e.message.clone());
                        let at = now.checked_add_signed(delay).unwrap_or(now + cap);
                        writer.call(move |w| w.outbox_failed(id, &message, at, dead))??;
                        if dead {
                            report.dead += 1;
                        } else {
                            report.retried += 1;
                        }
                    }
                    if e.rejected.is_none() {
                        // The channel itself is failing: leave the rest for the next round.
                        break;
                    }
                }
            }
        }
    }
    Ok(report)
}

/// `base * 2^attempts`, capped, plus up to 50 % jitter (derived from the message id and attempt,
/// so it is spread across messages without a random source).
fn backoff(
    base: chrono::Duration,
    cap: chrono::Duration,
    attempts: u32,
    id: i64,
) -> chrono::Duration {
    let exp = base
        .checked_mul(1_i32.checked_shl(attempts.min(20)).unwrap_or(i32::MAX))
        .unwrap_or(cap)
        .min(cap);
    let mix = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(attempts).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    let jitter_ms = exp.num_milliseconds().max(0) as u64 / 2;
    let jitter = if jitter_ms == 0 { 0 } else { mix % jitter_ms };
    exp + chrono::Duration::milliseconds(jitter as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = chrono::Duration::seconds(5);
        let cap = chrono::Duration::hours(1);
        let b0 = backoff(base, cap, 0, 1);
        let b3 = backoff(base, cap, 3, 1);
        assert!(b0 >= base && b0 <= base + base / 2);
        assert!(b3 >= base * 8 && b3 <= base * 12);
        assert!(backoff(base, cap, 30, 1) <= cap + cap / 2);
        assert_ne!(
            backoff(base, cap, 2, 1),
            backoff(base, cap, 2, 2),
            "jitter spreads messages"
        );
    }
}
