//! The read side of the derived state kept beside the events: PIM snapshots, directory users,
//! elevations, alerts, silences, the outbox, and the time- and seq-ordered reads the engine needs.

use chrono::{DateTime, Utc};
use privtrail_model::{Event, EventId};

use super::Store;
use crate::sqlite::{directory, events, meta, outbox, state};
use crate::{
    AlertRow, DirectoryUser, ElevationRow, EventFilter, OutboxMessage, OutboxStatus, SilenceRow,
    Snapshot, StoreError, timefmt,
};

impl Store {
    /// The newest snapshot of `kind` for `tenant`.
    pub fn latest_snapshot(
        &self,
        tenant: &str,
        kind: &str,
    ) -> Result<Option<Snapshot>, StoreError> {
        self.readers
            .with(|c| directory::latest_snapshot(c, tenant, kind))
    }

    /// The directory users recorded for `tenant`.
    pub fn directory_users(&self, tenant: &str) -> Result<Vec<DirectoryUser>, StoreError> {
        self.readers.with(|c| directory::users(c, tenant))
    }

    /// Events with `from <= time < to` that match `filter` (exactly, on the stored values),
    /// oldest first, at most `limit`.
    pub fn events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let (Some(a), Some(b)) = (timefmt::to_nanos(&from), timefmt::to_nanos(&to)) else {
            return Ok(Vec::new());
        };
        self.readers
            .with(|c| events::between(c, a, b, filter, limit))
    }

    /// Whether an event with this id is stored (cheaper than [`Store::get_event`]).
    pub fn contains(&self, id: &EventId) -> Result<bool, StoreError> {
        self.readers.with(|c| events::contains(c, id.as_str()))
    }

    /// Events of `source` with `from <= time < to`, oldest first, at most `limit`, **with `raw`
    /// left empty**: for comparing records with each other, not for display.
    pub fn events_near(
        &self,
        source: privtrail_model::Source,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let (Some(a), Some(b)) = (timefmt::to_nanos(&from), timefmt::to_nanos(&to)) else {
            return Ok(Vec::new());
        };
        self.readers
            .with(|c| events::near(c, source.as_str(), a, b, limit))
    }

    /// Every stored elevation, oldest start first.
    pub fn elevations(&self) -> Result<Vec<ElevationRow>, StoreError> {
        self.readers.with(state::elevations)
    }

    /// Alerts, newest first; only those with `status` when given.
    pub fn alerts(&self, status: Option<&str>) -> Result<Vec<AlertRow>, StoreError> {
        self.readers.with(|c| state::alerts(c, status))
    }

    /// One alert by id.
    pub fn alert(&self, id: &str) -> Result<Option<AlertRow>, StoreError> {
        self.readers.with(|c| state::alert(c, id))
    }

    /// Pending outbox messages of `channel` with `next_attempt_at <= now`, at most `limit`: the
    /// longest due first, then in enqueue order.
    pub fn outbox_due(
        &self,
        channel: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let now = outbox::nanos(&now);
        self.readers.with(|c| outbox::due(c, channel, now, limit))
    }

    /// The channels with pending outbox messages (due or not), in name order.
    pub fn outbox_channels_pending(&self) -> Result<Vec<String>, StoreError> {
        self.readers.with(outbox::channels_pending)
    }

    /// Outbox messages, newest first, at most `limit`; only those with `status` when given.
    pub fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.readers.with(|c| outbox::list(c, status, limit))
    }

    /// The number of outbox messages per channel and status (only non-zero counts), ordered by
    /// channel, then status name.
    pub fn outbox_counts(&self) -> Result<Vec<(String, OutboxStatus, u64)>, StoreError> {
        self.readers.with(outbox::counts)
    }

    /// When the earliest pending outbox message is due (possibly in the past), or `None` when
    /// nothing is pending: how long a delivery worker may sleep.
    pub fn outbox_next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.readers.with(outbox::next_due)
    }

    /// Every silence (expired ones too; the rules engine ignores those).
    pub fn silences(&self) -> Result<Vec<SilenceRow>, StoreError> {
        self.readers.with(state::silences)
    }

    /// Every event whose action is one of `actions` (e.g. the rules crate's elevation inputs),
    /// oldest first, without `raw`.
    pub fn events_with_actions(&self, actions: &[&str]) -> Result<Vec<Event>, StoreError> {
        self.readers.with(|c| events::with_actions(c, actions))
    }

    /// The sequence number of the newest stored event (0 when empty).
    pub fn last_seq(&self) -> Result<i64, StoreError> {
        self.readers.with(|c| {
            c.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))
                .map_err(StoreError::sqlite("read last seq"))
        })
    }

    /// The rules cursor: the last event seq the rules job judged (committed with its results by
    /// [`crate::Writer::save_rules_result`]).
    pub fn rules_cursor(&self) -> Result<i64, StoreError> {
        self.readers.with(state::rules_cursor)
    }

    /// Events with `seq < s <= upto`, with their seq, in storage order, at most `limit`, **with
    /// `raw` left empty**; only events whose action is one of `actions` when given.
    pub fn events_after_seq(
        &self,
        seq: i64,
        upto: i64,
        actions: Option<&[&str]>,
        limit: usize,
    ) -> Result<Vec<(i64, Event)>, StoreError> {
        self.readers
            .with(|c| events::after_with_seq(c, seq, upto, actions, limit))
    }

    /// Every checkpoint whose key starts with `prefix`, as `(key, value)`, in key order.
    pub fn checkpoints_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.readers
            .with(|c| meta::checkpoints_with_prefix(c, prefix))
    }
}
