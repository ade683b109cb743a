use std::time::Duration;

/// Why a batch (or part of it) was not delivered.
///
/// How the outbox reads it, for a batch `b`:
/// - `b[..accepted]` were delivered: mark them so.
/// - `rejected == Some(i)` (then `i == accepted`): the failure is about `b[i]` alone (e.g. Splunk
///   HEC's `invalid-event-number`, a webhook's `400`). If `retriable` is false, dead-letter `b[i]`,
///   else retry it later. `b[i + 1..]` were not tried: send them again without counting an attempt.
/// - `rejected == None`: the channel itself failed (connection refused, `503`, throttling, bad
///   credentials) while sending `b[accepted..]`. The outbox counts the attempt against
///   `b[accepted]` only and pauses the whole channel (after `retry_after`, or its backoff): the
///   other messages did nothing wrong. A permanent failure of a batch of several messages that
///   names none of them is narrowed down by sending them one by one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    /// Whether sending again later may succeed.
    pub retriable: bool,
    /// The receiver refused privtrail's credentials (SMTP `535`, HTTP `401`/`403`): the channel's
    /// configuration or the receiver is wrong, not the message. Always retriable: a fixed token
    /// must find every message still there (the outbox raises `delivery-failure` meanwhile).
    pub auth: bool,
    /// The receiver's `Retry-After`, when it sent one (already capped by
    /// [`privtrail_model::parse_retry_after`]).
    pub retry_after: Option<Duration>,
    /// What went wrong, for logs and the dead-letter list (never contains secrets).
    pub message: String,
    /// How many messages at the start of the batch were delivered before the failure.
    pub accepted: usize,
    /// The index of the one message the failure is about, when it is about one message.
    pub rejected: Option<usize>,
}

impl DeliveryError {
    /// A failure that may go away (network, `5xx`, `429`).
    pub fn retriable(message: impl Into<String>) -> Self {
        DeliveryError {
            retriable: true,
            auth: false,
            retry_after: None,
            message: message.into(),
            accepted: 0,
            rejected: None,
        }
    }

    /// A failure that will not go away by sending the same thing again.
    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            retriable: false,
            ..DeliveryError::retriable(message)
        }
    }

    /// The receiver refused the channel's credentials: retried, and reported as the channel's
    /// failure (see [`DeliveryError::auth`]).
    pub fn auth(message: impl Into<String>) -> Self {
        DeliveryError {
            auth: true,
            ..DeliveryError::retriable(message)
        }
    }

    /// Sets the delay the receiver asked for.
    pub fn with_retry_after(mut self, delay: Option<Duration>) -> Self {
        self.retry_after = delay;
        self
    }

    /// Places a failure met while sending the message at index `i` of a batch sent one by one:
    /// the earlier messages were accepted; a permanent failure is about this message only, any
    /// other is the channel's.
    pub(crate) fn at(mut self, i: usize) -> Self {
        self.accepted = i;
        if !self.retriable {
            self.rejected = Some(i);
        }
        self
    }
}
