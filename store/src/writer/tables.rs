//! The writer's methods for what is stored beside the events: checkpoints, PIM snapshots,
//! directory users, elevations, alerts and the rules cursor, the outbox's state changes, silences
//! and the rules' partial index. Each is one transaction, and each commits an open group of
//! batches first (`Writer::conn`, see `group.rs`).

use chrono::{DateTime, Utc};
use privtrail_model::Event;
use rusqlite::{OptionalExtension, TransactionBehavior};

use super::{ElevationWrite, Input, Writer};
use crate::sqlite::{directory, events, meta, outbox, state};
use crate::{
    AlertRow, DirectoryUser, ElevationRow, OutboxEntry, SilenceRow, Snapshot, StoreError,
    WriteStats,
};

impl Writer {
    /// The last checkpoint saved for `collector`.
    pub fn checkpoint(&self, collector: &str) -> Result<Option<String>, StoreError> {
        meta::checkpoint(&self.conn, collector)
    }

    /// Saves a PIM snapshot (kept beside the events; not part of the hash chain).
    pub fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StoreError> {
        directory::save_snapshot(self.conn(), snapshot)
    }

    /// Records directory users looked up in Entra ID (insert or update), in one transaction.
    pub fn save_users(&mut self, tenant: &str, users: &[DirectoryUser]) -> Result<(), StoreError> {
        let now = meta::now_nanos(&Utc::now());
        let tx = self
            .conn()
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("begin users"))?;
        for u in users {
            directory::upsert_user(&tx, tenant, u, now)?;
        }
        tx.commit().map_err(StoreError::sqlite("commit users"))
    }

    /// Replaces the stored elevations (they are recomputed from the events) in one transaction.
    pub fn replace_elevations(&mut self, rows: &[ElevationRow]) -> Result<(), StoreError> {
        let tx = self
            .conn()
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("begin elevations"))?;
        state::replace_elevations(&tx, rows)?;
        tx.commit().map_err(StoreError::sqlite("commit elevations"))
    }

    /// Inserts or updates alerts, in one transaction.
    pub fn save_alerts(&mut self, rows: &[AlertRow]) -> Result<(), StoreError> {
        let tx = self
            .conn()
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("begin alerts"))?;
        for a in rows {
            state::upsert_alert(&tx, a)?;
        }
        tx.commit().map_err(StoreError::sqlite("commit alerts"))
    }

    /// Inserts or updates alerts and enqueues their messages, in one transaction: either all of
    /// it is stored or none of it. An entry whose `(channel, idempotency_key)` is already in the
    /// outbox (in any status) is skipped. Returns how many entries were newly enqueued.
    pub fn save_alerts_with_outbox(
        &mut self,
        alerts: &[AlertRow],
        outbox: &[OutboxEntry],
    ) -> Result<u64, StoreError> {
        let now = outbox::nanos(&Utc::now());
        let tx = self
            .conn()
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("begin alerts and outbox"))?;
        for a in alerts {
            state::upsert_alert(&tx, a)?;
        }
        let added = outbox::enqueue(&tx, outbox, now)?;
        tx.commit()
            .map_err(StoreError::sqlite("commit alerts and outbox"))?;
        Ok(added)
    }

    /// Stores the outcome of one rules judgement in one transaction: the recomputed elevations
    /// (when given: they replace the stored ones), the alerts, their outbox entries, and the rules
    /// cursor moved to `cursor` (the last event seq judged). Either all of it is stored or none of
    /// it, so an event is judged exactly once. Returns how many outbox entries were newly enqueued.
    pub fn save_rules_result(
        &mut self,
        elevations: Option<ElevationWrite<'_>>,
        alerts: &[AlertRow],
        outbox: &[OutboxEntry],
        cursor: i64,
    ) -> Result<u64, StoreError> {
        let now = Utc::now();
        let tx = self
            .conn()
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("begin rules result"))?;
        match elevations {
            Some(ElevationWrite::All(rows)) => state::replace_elevations(&tx, rows)?,
            Some(ElevationWrite::Changed { rows, removed }) => {
                state::change_elevations(&tx, rows, removed)?;
            }
            None => {}
        }
        for a in alerts {
            state::upsert_alert(&tx, a)?;
        }
        let added = outbox::enqueue(&tx, outbox, outbox::nanos(&now))?;
        state::set_rules_cursor(&tx, cursor, meta::now_nanos(&now))?;
        tx.commit()
            .map_err(StoreError::sqlite("commit rules result"))?;
        Ok(added)
    }

    /// Saves a checkpoint on its own (a position that covers no events, e.g. a file read whole
    /// whose records were all duplicates, or a collector's run record).
    pub fn set_checkpoint(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        meta::set_checkpoint(self.conn(), key, value, meta::now_nanos(&Utc::now()))
            .map_err(StoreError::sqlite(format!("save checkpoint {key:?}")))
    }

    /// Makes sure the partial index `name` over the events whose action is one of `actions`
    /// exists with exactly that list (recreated when the list changed), so that
    /// [`crate::Store::events_with_actions`] with the same list reads through it.
    pub fn ensure_action_index(&mut self, name: &str, actions: &[&str]) -> Result<(), StoreError> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(StoreError::Sqlite {
                context: format!("index name {name:?}"),
                source: rusqlite::Error::InvalidParameterName(name.to_owned()),
            });
        }
        let want = format!(
            "CREATE INDEX {name} ON events(time) WHERE {}",
            events::action_list(actions)
        );
        let have: Option<String> = self
            .conn()
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(StoreError::sqlite("read index definition"))?;
        if have.as_deref() == Some(want.as_str()) {
            return Ok(());
        }
        let tx = self
            .conn()
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("begin index"))?;
        tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}; {want};"))
            .map_err(StoreError::sqlite(format!("create index {name}")))?;
        tx.commit().map_err(StoreError::sqlite("commit index"))?;
        tracing::info!(index = name, "partial index (re)built");
        Ok(())
    }

    /// Saves alerts and stores `events` (chained, e.g. a reviewer's `alert.acknowledged`) in one
    /// transaction: the alert's new state and the evidence of who changed it commit together.
    pub fn save_alerts_and_events(
        &mut self,
        alerts: &[AlertRow],
        events: &[Event],
    ) -> Result<WriteStats, StoreError> {
        let rows = alerts.to_vec();
        self.write_batch_with(Input::Borrowed(events), &[], None, None, None, &move |tx| {
            for a in &rows {
                state::upsert_alert(tx, a)?;
            }
            Ok(())
        })
    }

    /// Marks outbox messages delivered at `at` (in one transaction): they are never handed out
    /// again. Unknown ids are ignored; a message already delivered keeps its first time.
    pub fn outbox_delivered(&mut self, ids: &[i64], at: DateTime<Utc>) -> Result<(), StoreError> {
        let tx = self
            .conn()
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("begin outbox delivered"))?;
        outbox::delivered(&tx, ids, outbox::nanos(&at))?;
        tx.commit()
            .map_err(StoreError::sqlite("commit outbox delivered"))
    }

    /// Records a failed delivery attempt of a pending message: `attempts` + 1, `last_error`, and
    /// either due again at `next_attempt_at` (the caller's backoff, jitter and `Retry-After`) or,
    /// with `dead`, a dead letter. A message that is not pending (delivered, dead, unknown) is
    /// left alone.
    pub fn outbox_failed(
        &mut self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        dead: bool,
    ) -> Result<(), StoreError> {
        outbox::failed(
            self.conn(),
            id,
            error,
            outbox::nanos(&next_attempt_at),
            dead,
        )
    }

    /// Pauses `channel` until `until`: its pending messages due earlier become due then (with
    /// `note` as their last error when given), without counting an attempt. Returns how many.
    pub fn outbox_defer(
        &mut self,
        channel: &str,
        until: DateTime<Utc>,
        note: Option<&str>,
    ) -> Result<u64, StoreError> {
        outbox::defer(self.conn(), channel, outbox::nanos(&until), note)
    }

    /// Dead-letters the pending messages of `channel` created before `created_before` (past
    /// their age limit) with `error`; returns how many.
    pub fn outbox_expire(
        &mut self,
        channel: &str,
        created_before: DateTime<Utc>,
        error: &str,
    ) -> Result<u64, StoreError> {
        outbox::expire(self.conn(), channel, outbox::nanos(&created_before), error)
    }

    /// Puts a dead (or pending) message back to pending, due at `now`, with its attempt count
    /// reset to 0. Returns `false` when no such message exists (unknown id, or delivered).
    pub fn outbox_retry(&mut self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        outbox::retry(self.conn(), id, outbox::nanos(&now))
    }

    /// Puts every dead message back to pending, due at `now` (attempts reset to 0); returns how
    /// many.
    pub fn outbox_retry_dead(&mut self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        outbox::retry_dead(self.conn(), outbox::nanos(&now))
    }

    /// Adds a silence, with the events that record who set it (chained, in the same
    /// transaction).
    pub fn add_silence(
        &mut self,
        s: &SilenceRow,
        events: &[Event],
    ) -> Result<WriteStats, StoreError> {
        let row = s.clone();
        self.write_batch_with(Input::Borrowed(events), &[], None, None, None, &move |tx| {
            state::add_silence(tx, &row)
        })
    }
}
