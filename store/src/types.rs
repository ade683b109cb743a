//! Plain data exchanged with the store's callers.

use chrono::{DateTime, Utc};

/// What one `write_batch` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Events newly stored (each extended the hash chain).
    pub stored: u64,
    /// Events whose id was already stored (in an earlier batch or earlier in this one).
    pub duplicates: u64,
    /// Rejects stored: the batch's rejects plus events the store could not keep (a time outside
    /// the storable range, see [`crate::Writer::write_batch`]).
    pub rejected: u64,
    /// Records with the id of a stored event but other content (kept in `conflicts`).
    pub conflicts: u64,
}

impl WriteStats {
    /// Adds another batch's figures to these.
    pub fn add(&mut self, other: WriteStats) {
        self.stored += other.stored;
        self.duplicates += other.duplicates;
        self.rejected += other.rejected;
        self.conflicts += other.conflicts;
    }
}

/// A search: tantivy query syntax plus a time window.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// Query text; empty or `*` matches everything.
    pub query: String,
    /// Inclusive lower bound on the event time.
    pub since: Option<DateTime<Utc>>,
    /// Exclusive upper bound on the event time.
    pub until: Option<DateTime<Utc>>,
    /// At most this many events are returned by `search` (ignored by `count`).
    pub limit: usize,
    /// Only events after this one in the result order (newest first): the next page.
    pub after: Option<SearchCursor>,
}

/// A position in a search's result order (time, then seq, both descending): the last event of a
/// page. Events stored later with an older time land after it; nothing before it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchCursor {
    pub time: DateTime<Utc>,
    pub seq: i64,
}

impl SearchRequest {
    /// A request for `query` with no time window and the given limit.
    pub fn new(query: impl Into<String>, limit: usize) -> Self {
        SearchRequest {
            query: query.into(),
            since: None,
            until: None,
            limit,
            after: None,
        }
    }
}

/// The result of walking the hash chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Links checked (rows read) before the walk ended.
    pub checked: u64,
    /// The first link that does not verify, or `None` when the chain is intact.
    pub first_broken: Option<BrokenLink>,
    /// Anchors whose seq was reached and whose hash matched.
    pub anchors_matched: usize,
    /// From which seq links are keyed (HMAC), if any.
    pub keyed_from: Option<i64>,
    /// The last seq walked and its hash.
    pub head: (i64, [u8; 32]),
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The seq of the row whose link fails (for rows missing at the end: the last seq recorded
    /// in the chain head).
    pub seq: i64,
    /// The id of that row (empty when the row itself is gone).
    pub event_id: String,
    /// Human-readable cause: edited row, deleted rows (gap), truncated tail.
    pub reason: String,
}

/// Size and time range of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStats {
    pub events: u64,
    pub rejects: u64,
    /// The earliest event time stored.
    pub oldest: Option<DateTime<Utc>>,
    /// The latest event time stored.
    pub newest: Option<DateTime<Utc>>,
}

/// A reject as stored (SPEC §8): the record's text with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReject {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub origin: String,
    pub location: String,
    pub reason: String,
    pub raw: String,
}

/// A conflicting duplicate as stored: the event id, where the record came from, the fields that
/// differ, and both bodies (JSON of the stored and of the incoming event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConflict {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub event_id: String,
    pub origin: String,
    pub fields: String,
    pub stored: String,
    pub incoming: String,
}

/// A PIM state snapshot as the collector fetched it: `kind` names what it holds (the binary uses
/// `pim`), `body` is JSON the store does not interpret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub tenant: String,
    pub kind: String,
    pub taken_at: DateTime<Utc>,
    pub body: String,
}

/// A directory user looked up in Entra ID.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryUser {
    pub id: String,
    pub upn: Option<String>,
    pub display_name: Option<String>,
    /// `onPremisesSecurityIdentifier`: the Windows SID of a synced account.
    pub on_prem_sid: Option<String>,
}

/// Exact-match conditions for [`crate::Store::events_between`]; `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub source: Option<privtrail_model::Source>,
    pub tenant: Option<String>,
    pub host: Option<String>,
    pub target: Option<String>,
}

/// An elevation as stored: `body` is the rules engine's JSON, the other fields select it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElevationRow {
    pub id: String,
    pub principal: String,
    pub privilege: String,
    pub scope: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub expected_end: Option<DateTime<Utc>>,
    pub body: String,
}

/// An alert as stored: `body` is the rules engine's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub id: String,
    pub rule: String,
    pub subject: String,
    pub status: String,
    pub severity: String,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub body: String,
}

/// A silence: findings of `rule` (for `principal`, or all when `None`) open no alert until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceRow {
    pub rule: String,
    pub principal: Option<String>,
    pub until: DateTime<Utc>,
    pub reason: Option<String>,
}

/// A message to put in the durable outbox (SPEC §5). Enqueuing a `(channel, idempotency_key)`
/// that is already in the outbox (in any status) is a no-op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The delivery channel, as the caller names it (e.g. `teams:secops`); not empty.
    pub channel: String,
    /// Unique per channel: one per (alert or event, channel); not empty.
    pub idempotency_key: String,
    /// What to deliver: JSON the store does not interpret.
    pub payload: String,
}

/// Where a message of the outbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutboxStatus {
    /// Waiting for delivery (first attempt or a retry) at `next_attempt_at`.
    Pending,
    /// Delivered; never handed out again.
    Delivered,
    /// Given up (attempt or age limit); kept, listed and retryable.
    Dead,
}

impl OutboxStatus {
    /// The stored (and displayed) name: `pending`, `delivered`, `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Delivered => "delivered",
            OutboxStatus::Dead => "dead",
        }
    }

    /// The status named by [`OutboxStatus::as_str`] (exactly), or `None`.
    pub fn parse(s: &str) -> Option<OutboxStatus> {
        match s {
            "pending" => Some(OutboxStatus::Pending),
            "delivered" => Some(OutboxStatus::Delivered),
            "dead" => Some(OutboxStatus::Dead),
            _ => None,
        }
    }
}

impl std::fmt::Display for OutboxStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message of the outbox as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    pub channel: String,
    pub idempotency_key: String,
    pub payload: String,
    /// When it was enqueued (the time of the transaction that created it).
    pub created_at: DateTime<Utc>,
    /// Delivery attempts made: failures plus the successful one, if any. A manual retry
    /// ([`crate::Writer::outbox_retry`]) resets it to 0.
    pub attempts: u32,
    /// When it is due (again); set to `created_at` on enqueue, by the caller after a failure.
    pub next_attempt_at: DateTime<Utc>,
    /// The error of the last failed attempt (kept after a later success or retry).
    pub last_error: Option<String>,
    pub status: OutboxStatus,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One host's Windows events in a period ([`crate::Store::windows_volume`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVolume {
    /// As first read (hosts differing only in case are merged).
    pub host: String,
    /// Every Windows event of the host in the period.
    pub total: u64,
    /// Per event code, the most frequent first; at most the `max_codes` asked for (the events of
    /// the others count in `total` only).
    pub codes: Vec<CodeVolume>,
}

/// The events of one event code, by outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeVolume {
    pub code: String,
    pub success: u64,
    pub failure: u64,
}
