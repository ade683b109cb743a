//! The outbox worker: [`deliver_due`] sends what is due, channel by channel, and reads each
//! [`DeliveryError`] so that a failure costs only what it is about.
//!
//! - A failure about **one message** (a `400`, HEC's `invalid-event-number`) counts an attempt
//!   against that message alone; the rest of its batch goes on without one. A permanent failure
//!   of a batch that names no message is narrowed down by sending its messages one by one.
//! - A failure of the **channel** (network, `5xx`, throttling, refused credentials) counts an
//!   attempt against the message that met it and pauses the whole channel until its `Retry-After`
//!   or its backoff: its other messages wait without being charged, and other channels go on.
//!   Such messages are dead-lettered only when older than `max_age`, never by the failures of the
//!   channel. Its state ([`ChannelState`]) feeds `delivery-failure`.
//! - Every delay (a `Retry-After` too) is capped by `backoff_max` and the channel's `max_age`.
//! - Messages for a channel no longer in the config wait (rechecked every `backoff_max`), are
//!   reported, and expire at `max_age` like any undelivered message.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use privtrail_alerts::{DeliveryError, Message};
use privtrail_store::{OutboxMessage, Store};
use serde::Serialize;
use tokio::runtime::Handle;

use super::channel::{Channel, std_to_chrono};
use super::health::ChannelState;
use crate::config::DeliveryConfig;
use crate::error::Result;
use crate::writer::WriteHandle;

/// What one delivery round did.
#[derive(Debug, Default, Serialize)]
pub struct DeliveryReport {
    pub delivered: u64,
    /// Messages that wait for a later attempt (rescheduled, or held while their channel is paused).
    pub retried: u64,
    /// Messages dead-lettered (refused for good, out of attempts, or older than `max_age`).
    pub dead: u64,
    pub errors: Vec<String>,
    /// A channel started or stopped failing (or failed differently): `delivery-failure` has
    /// something new to judge.
    pub health_changed: bool,
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
    let mut report = DeliveryReport::default();
    for name in store.outbox_channels_pending()? {
        if stop() {
            break;
        }
        match channels.get(&name) {
            Some(ch) => {
                let round = Round {
                    rt,
                    writer,
                    ch,
                    name: &name,
                    policy,
                    now,
                    stop,
                    last_send: None,
                    reached: false,
                    failure: None,
                };
                round.run(store, &mut report)?;
            }
            None => orphaned(store, writer, &name, policy, now, &mut report)?,
        }
    }
    Ok(report)
}

/// Messages of a channel that left the config: they cannot be sent, but are not dropped either.
/// They wait (rechecked every `backoff_max`, so a worker does not spin on them), say why in their
/// last error, and expire at `max_age` like any undelivered message.
fn orphaned(
    store: &Store,
    writer: &WriteHandle,
    name: &str,
    policy: &DeliveryConfig,
    now: DateTime<Utc>,
    report: &mut DeliveryReport,
) -> Result<()> {
    if store.outbox_due(name, now, 1)?.is_empty() {
        return Ok(());
    }
    let why = format!("channel {name:?} is not in the config");
    let expired = match now.checked_sub_signed(policy.max_age.0) {
        Some(before) => {
            let (n, w) = (name.to_owned(), why.clone());
            writer.call(move |wr| wr.outbox_expire(&n, before, &w))??
        }
        None => 0,
    };
    let until = now
        .checked_add_signed(policy.backoff_max.0)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let (n, w) = (name.to_owned(), why.clone());
    let waiting = writer.call(move |wr| wr.outbox_defer(&n, until, Some(&w)))??;
    tracing::warn!(channel = %name, waiting, expired, "outbox holds messages for a channel that is not configured");
    report.dead += expired;
    report.retried += waiting;
    report.errors.push(format!(
        "{why}: {waiting} messages wait for it to come back (dead after max_age {}), {expired} expired",
        policy.max_age
    ));
    Ok(())
}

/// What settling one send left to do.
enum Flow<'m> {
    /// Go on with the next batch.
    Next,
    /// A permanent failure named no message of several: send these one by one.
    Narrow(Vec<&'m OutboxMessage>),
    /// The channel failed: it is paused; stop sending to it this round.
    Down,
}

/// One channel's share of a round.
struct Round<'a> {
    rt: &'a Handle,
    writer: &'a WriteHandle,
    ch: &'a Channel,
    name: &'a str,
    policy: &'a DeliveryConfig,
    now: DateTime<Utc>,
    stop: &'a dyn Fn() -> bool,
    last_send: Option<Instant>,
    /// The receiver answered at least once.
    reached: bool,
    /// The channel failure that paused it.
    failure: Option<DeliveryError>,
}

impl Round<'_> {
    fn run(mut self, store: &Store, report: &mut DeliveryReport) -> Result<()> {
        let due = store.outbox_due(self.name, self.now, 10_000)?;
        if due.is_empty() {
            return Ok(());
        }
        // Digest mode: wait until the oldest message has waited a whole interval, then send all.
        if let Some(interval) = self.ch.digest
            && due
                .iter()
                .map(|m| m.created_at)
                .min()
                .is_some_and(|t| self.now - t < interval)
        {
            return Ok(());
        }
        let state = ChannelState::load(store, self.name)?;
        'batches: for chunk in due.chunks(self.ch.notifier.max_batch().max(1)) {
            if (self.stop)() {
                break;
            }
            let chunk: Vec<&OutboxMessage> = chunk.iter().collect();
            match self.send(&chunk, &state, report)? {
                Flow::Next => {}
                Flow::Down => break,
                Flow::Narrow(rest) => {
                    for m in rest {
                        if (self.stop)() {
                            break 'batches;
                        }
                        if let Flow::Down = self.send(&[m], &state, report)? {
                            break 'batches;
                        }
                    }
                }
            }
        }
        let next = match &self.failure {
            Some(e) => {
                let (next, changed) = state.failed(e, self.now);
                report.health_changed |= changed;
                Some(next)
            }
            None if self.reached => {
                let next = state.reached(self.now);
                report.health_changed |= next.is_some();
                next
            }
            None => None,
        };
        if let Some(next) = next {
            next.save(self.writer, self.name)?;
        }
        Ok(())
    }

    /// Sends `batch` (pacing the channel) and settles the outcome in the outbox.
    fn send<'m>(
        &mut self,
        batch: &[&'m OutboxMessage],
        state: &ChannelState,
        report: &mut DeliveryReport,
    ) -> Result<Flow<'m>> {
        // A message that cannot be read cannot be sent, ever: it is dead-lettered on its own
        // rather than stopping its channel (and every channel after it) round after round.
        let mut chunk: Vec<&'m OutboxMessage> = Vec::with_capacity(batch.len());
        let mut messages = Vec::with_capacity(batch.len());
        for m in batch {
            match serde_json::from_str(&m.payload) {
                Ok(payload) => {
                    chunk.push(m);
                    messages.push(Message {
                        outbox_id: m.id,
                        idempotency_key: m.idempotency_key.clone(),
                        payload,
                    });
                }
                Err(err) => {
                    let e = DeliveryError::permanent(format!(
                        "the stored message is unreadable: {err}"
                    ));
                    self.message_failed(m, &e, report)?;
                }
            }
        }
        if chunk.is_empty() {
            return Ok(Flow::Next);
        }
        if let (Some(gap), Some(t)) = (self.ch.min_gap, self.last_send) {
            let elapsed = t.elapsed();
            if elapsed < gap {
                std::thread::sleep(gap - elapsed);
            }
        }
        self.last_send = Some(Instant::now());
        let e = match self.rt.block_on(self.ch.notifier.send(&messages)) {
            Ok(()) => {
                self.delivered(&chunk.iter().map(|m| m.id).collect::<Vec<_>>())?;
                report.delivered += chunk.len() as u64;
                self.reached = true;
                return Ok(Flow::Next);
            }
            Err(e) => e,
        };
        let name = self.name;
        tracing::warn!(channel = %name, error = %e, auth = e.auth, "delivery failed");
        self.writer.telemetry().delivery_failed(name, 1);
        report.errors.push(format!("{name}: {e}"));
        let accepted = e.accepted.min(chunk.len());
        if accepted > 0 {
            self.delivered(&chunk[..accepted].iter().map(|m| m.id).collect::<Vec<_>>())?;
            report.delivered += accepted as u64;
            self.reached = true;
        }
        let rest = &chunk[accepted..];
        let Some(head) = rest.first() else {
            return Ok(Flow::Next);
        };
        // The failure is about one message: it alone takes it.
        if let Some(i) = e.rejected.filter(|i| *i < chunk.len()) {
            self.reached = true;
            self.message_failed(chunk[i], &e, report)?;
            return Ok(Flow::Next);
        }
        if !e.retriable && !e.auth {
            self.reached = true;
            if rest.len() > 1 {
                return Ok(Flow::Narrow(rest.to_vec()));
            }
            self.message_failed(head, &e, report)?;
            return Ok(Flow::Next);
        }
        self.channel_failed(head, &e, state, report)?;
        Ok(Flow::Down)
    }

    fn delivered(&self, ids: &[i64]) -> Result<()> {
        let ids = ids.to_vec();
        self.writer
            .call(move |w| w.outbox_delivered(&ids, Utc::now()))??;
        Ok(())
    }

    fn too_old(&self, m: &OutboxMessage) -> bool {
        self.now - m.created_at > self.ch.max_age
    }

    /// How long to wait: the receiver's `Retry-After` (already capped at
    /// [`privtrail_model::MAX_RETRY_AFTER`]) or `fallback`, never more than `backoff_max` or the
    /// channel's `max_age`: a receiver cannot park a message past its age limit.
    fn delay(&self, e: &DeliveryError, fallback: chrono::Duration) -> chrono::Duration {
        let cap = self.policy.backoff_max.0.min(self.ch.max_age);
        e.retry_after
            .map(std_to_chrono)
            .unwrap_or(fallback)
            .min(cap)
            .max(chrono::Duration::zero())
    }

    fn at(&self, delay: chrono::Duration) -> DateTime<Utc> {
        self.now
            .checked_add_signed(delay)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// `m` failed on its own: one attempt more; dead when refused for good, out of attempts or
    /// too old.
    fn message_failed(
        &self,
        m: &OutboxMessage,
        e: &DeliveryError,
        report: &mut DeliveryReport,
    ) -> Result<()> {
        let dead = !e.retriable || m.attempts + 1 >= self.ch.max_attempts || self.too_old(m);
        let fallback = backoff(
            self.policy.backoff_base.0,
            self.policy.backoff_max.0,
            m.attempts,
            m.id,
        );
        let at = self.at(self.delay(e, fallback));
        let (id, message) = (m.id, e.message.clone());
        self.writer
            .call(move |w| w.outbox_failed(id, &message, at, dead))??;
        if dead {
            report.dead += 1;
        } else {
            report.retried += 1;
        }
        Ok(())
    }

    /// The channel failed while sending `head`: `head` takes the attempt, the channel is paused
    /// (every pending message waits, uncharged), and what is older than `max_age` expires.
    fn channel_failed(
        &mut self,
        head: &OutboxMessage,
        e: &DeliveryError,
        state: &ChannelState,
        report: &mut DeliveryReport,
    ) -> Result<()> {
        let seed = self.name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let fallback = backoff(
            self.policy.backoff_base.0,
            self.policy.backoff_max.0,
            state.failures,
            seed as i64,
        );
        let until = self.at(self.delay(e, fallback));
        let (id, message, dead) = (head.id, e.message.clone(), self.too_old(head));
        self.writer
            .call(move |w| w.outbox_failed(id, &message, until, dead))??;
        let expired = match self.now.checked_sub_signed(self.ch.max_age) {
            Some(before) => {
                let (n, m) = (self.name.to_owned(), e.message.clone());
                self.writer
                    .call(move |w| w.outbox_expire(&n, before, &m))??
            }
            None => 0,
        };
        let (n, m) = (self.name.to_owned(), format!("waiting: {}", e.message));
        let waiting = self
            .writer
            .call(move |w| w.outbox_defer(&n, until, Some(&m)))??;
        report.dead += u64::from(dead) + expired;
        report.retried += u64::from(!dead) + waiting;
        self.failure = Some(e.clone());
        Ok(())
    }
}

/// `base * 2^attempts`, capped, plus up to 50 % jitter (derived from the message id and attempt,
/// so it is spread across messages without a random source).
pub(crate) fn backoff(
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
