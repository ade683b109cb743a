//! Alert delivery (SPEC §5): the channels behind one [`Notifier`] trait.
//!
//! The binary turns the rules crate's alerts (and forwarded events) into [`Message`]s — a [`Payload`]
//! ([`AlertNotice`] or [`privtrail_model::Event`]) with the outbox row id and an idempotency key —
//! and hands batches of at most [`Notifier::max_batch`] messages to a notifier built by [`build`] from
//! a [`ChannelConfig`] (one `[[channels]]` table of the config file). A notifier delivers or returns a
//! [`DeliveryError`] that says whether to retry, after how long, and which messages of the batch were
//! already accepted (see its docs: the outbox marks those delivered and dead-letters only the one the
//! receiver named).
//!
//! The seam is [`Notifier`] + [`ChannelKind`]: **a new channel is one module, one `ChannelKind`
//! variant (its config struct) and its tests**; nothing else changes. Channels: [`email`] (SMTP via
//! lettre), [`teams`] (Workflows webhook, Adaptive Card), [`syslog`] (RFC 5424 over UDP, TCP or TLS,
//! CEF via [`cef`] or JSON), [`hec`] (Splunk HTTP Event Collector), [`webhook`] (signed JSON) and
//! [`file`] (JSON lines).
//!
//! This crate does no scheduling, rate limiting or retrying: the outbox in the binary does, using
//! [`ChannelConfig::rate_per_sec`], [`ChannelConfig::max_attempts`], [`ChannelConfig::max_age`] and
//! [`DeliveryError::retry_after`]. Secrets (passwords, tokens, webhook URLs) live in [`Secret`],
//! whose `Debug` prints `[redacted]`. Every network call has a time-out (`timeout`, default 10 s).
//! TLS is rustls with the aws-lc-rs provider only (the one reqwest uses): no ring, no OpenSSL.

pub mod cef;
mod config;
pub mod email;
mod error;
pub mod file;
pub mod hec;
mod http;
mod message;
pub mod syslog;
pub mod teams;
mod tls;
pub mod webhook;

pub use config::{ChannelConfig, ChannelKind, ConfigError, DEFAULT_TIMEOUT, build};
pub use error::DeliveryError;
pub use message::{AlertNotice, AnchorNotice, Message, Payload, clip};
pub use privtrail_model::Secret;

/// A delivery channel. Implementations are cheap to share (`Send + Sync`) and keep no per-message
/// state: the outbox owns retries.
#[async_trait::async_trait]
pub trait Notifier: Send + Sync {
    /// The channel's configured name (`[[channels]] name`).
    fn name(&self) -> &str;

    /// Delivers `batch` (at most [`Notifier::max_batch`] messages, in outbox order). On error,
    /// `batch[..err.accepted]` were delivered; see [`DeliveryError`] for the rest.
    async fn send(&self, batch: &[Message]) -> Result<(), DeliveryError>;

    /// The largest batch [`Notifier::send`] takes.
    fn max_batch(&self) -> usize {
        1
    }
}

/// Sends the messages one by one with `f`, stopping at the first failure and recording in the error
/// how many went out before it (and, for a permanent failure, which message it was about).
pub(crate) async fn send_each<'a, F, Fut>(batch: &'a [Message], f: F) -> Result<(), DeliveryError>
where
    F: Fn(&'a Message) -> Fut,
    Fut: std::future::Future<Output = Result<(), DeliveryError>>,
{
    for (i, m) in batch.iter().enumerate() {
        f(m).await.map_err(|e| e.at(i))?;
    }
    Ok(())
}
