use std::time::Duration;

/// Why a batch (or part of it) was not delivered.
///
/// How the outbox reads it, for a batch `b`:
/// - `b[..accepted]` were delivered: mark them so.
/// - `rejected == Some(i)` (then `i == accepted`): the receiver refused `b[i]` for a reason of its own
///   (e.g. Splunk HEC's `invalid-event-number`, a webhook's `400`). If `retriable` is false, dead-letter
///   `b[i]`. `b[i + 1..]` were not tried: send them again without counting an attempt.
/// - `rejected == None`: the failure applies to every message of `b[accepted..]` (connection refused,
///   `503`, bad credentials): retry them after `retry_after` (or the backoff) if `retriable`,
///   otherwise dead-letter them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    /// Whether sending again later may succeed.
    pub retriable: bool,
    /// The receiver's `Retry-After`, when it sent one.
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

    /// Sets the delay the receiver asked for.
    pub fn with_retry_after(mut self, delay: Option<Duration>) -> Self {
        self.retry_after = delay;
        self
    }

    /// Places a failure of the single message at index `i` of a batch sent one by one: the earlier
    /// messages were accepted; a permanent failure is about this message only.
    pub(crate) fn at(mut self, i: usize) -> Self {
        self.accepted = i;
        if !self.retriable {
            self.rejected = Some(i);
        }
        self
    }
}
