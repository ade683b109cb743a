//! The durable outbox (SPEC §5): messages to deliver, written in the transaction that creates
//! them, handed to delivery workers when due, marked delivered, failed (rescheduled) or dead.
//!
//! Times are INTEGER unix nanoseconds ([`crate::timefmt`]); a time outside 1677..2262 is clamped
//! to the nearest end, which keeps "due" comparisons right.

use chrono::{DateTime, Utc};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, params};

use crate::{OutboxEntry, OutboxMessage, OutboxStatus, StoreError, timefmt};

/// `t` in nanoseconds, clamped to the representable range.
pub fn nanos(t: &DateTime<Utc>) -> i64 {
    match timefmt::to_nanos(t) {
        Some(n) => n,
        None if t.timestamp() < 0 => i64::MIN,
        None => i64::MAX,
    }
}

const INSERT: &str = "INSERT INTO outbox (channel, idempotency_key, payload, created_at, attempts, \
     next_attempt_at, status) VALUES (?1, ?2, ?3, ?4, 0, ?4, 'pending') \
     ON CONFLICT (channel, idempotency_key) DO NOTHING";

/// Inserts `entries` (due at once); an entry whose key is already in the outbox is skipped.
/// Returns how many were newly enqueued. Runs in the caller's transaction.
pub fn enqueue<'a>(
    conn: &Connection,
    entries: impl IntoIterator<Item = &'a OutboxEntry>,
    now: i64,
) -> Result<u64, StoreError> {
    let mut st = conn
        .prepare_cached(INSERT)
        .map_err(StoreError::sqlite("prepare insert into outbox"))?;
    let mut added = 0;
    for e in entries {
        added += st
            .execute(params![e.channel, e.idempotency_key, e.payload, now])
            .map_err(StoreError::sqlite(format!(
                "insert into outbox (channel {:?}, key {:?})",
                e.channel, e.idempotency_key
            )))? as u64;
    }
    Ok(added)
}

/// Marks messages delivered (one attempt more); a message already delivered keeps its first
/// `delivered_at`.
pub fn delivered(conn: &Connection, ids: &[i64], at: i64) -> Result<(), StoreError> {
    let mut st = conn
        .prepare_cached(
            "UPDATE outbox SET status = 'delivered', delivered_at = ?2, attempts = attempts + 1 \
             WHERE id = ?1 AND status <> 'delivered'",
        )
        .map_err(StoreError::sqlite("prepare outbox delivered"))?;
    for id in ids {
        st.execute(params![id, at])
            .map_err(StoreError::sqlite(format!(
                "mark outbox message {id} delivered"
            )))?;
    }
    Ok(())
}

/// Records a failed attempt of a pending message: one attempt more, the error, when to try
/// again, and whether it is now dead. Does nothing to a message that is not pending.
pub fn failed(
    conn: &Connection,
    id: i64,
    error: &str,
    next_attempt_at: i64,
    dead: bool,
) -> Result<(), StoreError> {
    let status = if dead {
        OutboxStatus::Dead
    } else {
        OutboxStatus::Pending
    };
    conn.prepare_cached(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3, \
         status = ?4 WHERE id = ?1 AND status = 'pending'",
    )
    .and_then(|mut st| st.execute(params![id, error, next_attempt_at, status.as_str()]))
    .map_err(StoreError::sqlite(format!(
        "record failed attempt of outbox message {id}"
    )))?;
    Ok(())
}

/// Pauses a channel: its pending messages due before `until` become due at `until`, with
/// `note` as their last error when given. Attempts are not counted: the messages did nothing
/// wrong. Returns how many moved.
pub fn defer(
    conn: &Connection,
    channel: &str,
    until: i64,
    note: Option<&str>,
) -> Result<u64, StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE outbox SET next_attempt_at = ?2, last_error = coalesce(?3, last_error) \
             WHERE channel = ?1 AND status = 'pending' AND next_attempt_at < ?2",
        )
        .and_then(|mut st| st.execute(params![channel, until, note]))
        .map_err(StoreError::sqlite(format!(
            "defer outbox messages of {channel:?}"
        )))?;
    Ok(n as u64)
}

/// Dead-letters the pending messages of `channel` created before `created_before` (past their
/// age limit), with `error` as their last error. Returns how many.
pub fn expire(
    conn: &Connection,
    channel: &str,
    created_before: i64,
    error: &str,
) -> Result<u64, StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE outbox SET status = 'dead', last_error = ?3 \
             WHERE channel = ?1 AND status = 'pending' AND created_at < ?2",
        )
        .and_then(|mut st| st.execute(params![channel, created_before, error]))
        .map_err(StoreError::sqlite(format!(
            "expire outbox messages of {channel:?}"
        )))?;
    Ok(n as u64)
}

/// Puts a dead or pending message back to pending, due at `now`, with a fresh attempt count.
/// Returns whether such a message was found.
pub fn retry(conn: &Connection, id: i64, now: i64) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?2, attempts = 0 \
             WHERE id = ?1 AND status IN ('pending', 'dead')",
        )
        .and_then(|mut st| st.execute(params![id, now]))
        .map_err(StoreError::sqlite(format!("retry outbox message {id}")))?;
    Ok(n > 0)
}

/// Puts every dead message back to pending, due at `now`; returns how many.
pub fn retry_dead(conn: &Connection, now: i64) -> Result<u64, StoreError> {
    let n = conn
        .execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?1, attempts = 0 \
             WHERE status = 'dead'",
            [now],
        )
        .map_err(StoreError::sqlite("retry dead outbox messages"))?;
    Ok(n as u64)
}

const COLUMNS: &str = "id, channel, idempotency_key, payload, created_at, attempts, \
     next_attempt_at, last_error, status, delivered_at";

fn status_from(r: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<OutboxStatus> {
    let s: String = r.get(idx)?;
    OutboxStatus::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Text,
            format!("unknown outbox status {s:?}").into(),
        )
    })
}

fn message_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxMessage> {
    Ok(OutboxMessage {
        id: r.get(0)?,
        channel: r.get(1)?,
        idempotency_key: r.get(2)?,
        payload: r.get(3)?,
        created_at: timefmt::from_nanos(r.get(4)?),
        attempts: r.get(5)?,
        next_attempt_at: timefmt::from_nanos(r.get(6)?),
        last_error: r.get(7)?,
        status: status_from(r, 8)?,
        delivered_at: r.get::<_, Option<i64>>(9)?.map(timefmt::from_nanos),
    })
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Pending messages of `channel` due at `now`, longest due first (then in enqueue order).
pub fn due(
    conn: &Connection,
    channel: &str,
    now: i64,
    limit: usize,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE status = 'pending' AND channel = ?1 \
             AND next_attempt_at <= ?2 ORDER BY next_attempt_at, id LIMIT ?3"
        ))
        .map_err(StoreError::sqlite("prepare select due outbox messages"))?;
    let rows = st
        .query_map(params![channel, now, limit_param(limit)], message_from_row)
        .map_err(StoreError::sqlite(format!(
            "select due outbox messages of {channel:?}"
        )))?;
    rows.collect::<Result<_, _>>()
        .map_err(StoreError::sqlite("read outbox messages"))
}

/// The channels that have pending messages (due or not), in name order. Walks the index one
/// channel at a time, so a long backlog does not make it slow.
pub fn channels_pending(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "WITH RECURSIVE c(ch) AS ( \
               SELECT min(channel) FROM outbox WHERE status = 'pending' \
               UNION ALL \
               SELECT (SELECT min(channel) FROM outbox WHERE status = 'pending' AND channel > c.ch) \
               FROM c WHERE c.ch IS NOT NULL) \
             SELECT ch FROM c WHERE ch IS NOT NULL",
        )
        .map_err(StoreError::sqlite("prepare select outbox channels"))?;
    let rows = st
        .query_map([], |r| r.get(0))
        .map_err(StoreError::sqlite("select outbox channels"))?;
    rows.collect::<Result<_, _>>()
        .map_err(StoreError::sqlite("read outbox channels"))
}

/// Messages (only those with `status` when given), newest first, at most `limit`.
pub fn list(
    conn: &Connection,
    status: Option<OutboxStatus>,
    limit: usize,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE (?1 IS NULL OR status = ?1) \
             ORDER BY id DESC LIMIT ?2"
        ))
        .map_err(StoreError::sqlite("prepare select outbox"))?;
    let rows = st
        .query_map(
            params![status.map(OutboxStatus::as_str), limit_param(limit)],
            message_from_row,
        )
        .map_err(StoreError::sqlite("select outbox"))?;
    rows.collect::<Result<_, _>>()
        .map_err(StoreError::sqlite("read outbox messages"))
}

/// The number of messages per channel and status, ordered by channel then status name.
pub fn counts(conn: &Connection) -> Result<Vec<(String, OutboxStatus, u64)>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT channel, status, count(*) FROM outbox GROUP BY channel, status \
             ORDER BY channel, status",
        )
        .map_err(StoreError::sqlite("prepare count outbox"))?;
    let rows = st
        .query_map([], |r| {
            let n: i64 = r.get(2)?;
            Ok((r.get(0)?, status_from(r, 1)?, n.max(0).unsigned_abs()))
        })
        .map_err(StoreError::sqlite("count outbox"))?;
    rows.collect::<Result<_, _>>()
        .map_err(StoreError::sqlite("read outbox counts"))
}

const NEXT_DUE: &str = "SELECT next_attempt_at FROM outbox INDEXED BY outbox_pending_next \
     WHERE status = 'pending' ORDER BY next_attempt_at LIMIT 1";

/// When the earliest pending message is due (possibly in the past), or `None` when nothing is
/// pending.
pub fn next_due(conn: &Connection) -> Result<Option<DateTime<Utc>>, StoreError> {
    let n: Option<i64> = conn
        .prepare_cached(NEXT_DUE)
        .and_then(|mut st| st.query_row([], |r| r.get(0)).optional())
        .map_err(StoreError::sqlite("select next due outbox message"))?;
    Ok(n.map(timefmt::from_nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worker's queries walk an index, so a long backlog of delivered rows costs nothing.
    #[test]
    fn worker_queries_use_the_indexes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let mut c = crate::sqlite::open(&path, true).expect("open");
        crate::sqlite::schema::migrate(&mut c, &path).expect("migrate");
        let plan = |sql: &str| -> String {
            let mut st = c
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain");
            let rows = st
                .query_map([], |r| r.get::<_, String>(3))
                .expect("plan")
                .collect::<Result<Vec<_>, _>>()
                .expect("rows");
            rows.join("; ")
        };
        let due = plan(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE status = 'pending' AND channel = 'x' \
             AND next_attempt_at <= 5 ORDER BY next_attempt_at, id LIMIT 10"
        ));
        assert!(due.contains("USING INDEX outbox_due"), "{due}");
        assert!(!due.contains("TEMP B-TREE"), "{due}");
        let next = plan(NEXT_DUE);
        assert!(next.contains("outbox_pending_next"), "{next}");
        assert!(!next.contains("TEMP B-TREE"), "{next}");
        let channels =
            plan("SELECT min(channel) FROM outbox WHERE status = 'pending' AND channel > 'x'");
        assert!(
            channels.contains("USING COVERING INDEX outbox_due"),
            "{channels}"
        );
    }
}
