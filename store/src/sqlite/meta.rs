//! The small tables: rejects, checkpoints, chain head; and store statistics.

use chrono::{DateTime, Utc};
use privtrail_model::Reject;
use rusqlite::{Connection, OptionalExtension, params};

use crate::chain::Hash;
use crate::{StoreError, StoreStats, StoredReject, timefmt};

pub const INSERT_REJECT: &str = "INSERT INTO rejects (received_at, origin, location, reason, raw) \
     VALUES (?1, ?2, ?3, ?4, ?5)";

pub const UPSERT_CHECKPOINT: &str = "INSERT INTO checkpoints (collector, value, updated_at) \
     VALUES (?1, ?2, ?3) ON CONFLICT(collector) DO UPDATE SET value = excluded.value, \
     updated_at = excluded.updated_at";

pub const UPDATE_HEAD: &str = "UPDATE chain SET head_seq = ?1, head_hash = ?2 WHERE id = 1";

/// Stores one reject; `received_at` is nanoseconds since the epoch.
pub fn insert_reject(conn: &Connection, received_at: i64, r: &Reject) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(INSERT_REJECT)?;
    stmt.execute(params![received_at, r.origin, r.location, r.reason, r.raw])?;
    Ok(())
}

/// Saves a collector's checkpoint.
pub fn set_checkpoint(
    conn: &Connection,
    collector: &str,
    value: &str,
    now: i64,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(UPSERT_CHECKPOINT)?;
    stmt.execute(params![collector, value, now])?;
    Ok(())
}

pub fn checkpoint(conn: &Connection, collector: &str) -> Result<Option<String>, StoreError> {
    conn.prepare_cached("SELECT value FROM checkpoints WHERE collector = ?1")
        .and_then(|mut s| s.query_row([collector], |r| r.get(0)).optional())
        .map_err(StoreError::sqlite(format!(
            "read checkpoints for collector {collector:?}"
        )))
}

/// Every checkpoint whose key starts with `prefix`, in key order.
pub fn checkpoints_with_prefix(
    conn: &Connection,
    prefix: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let ctx = || format!("read checkpoints starting with {prefix:?}");
    let mut stmt = conn
        .prepare_cached(
            "SELECT collector, value FROM checkpoints WHERE substr(collector, 1, length(?1)) = ?1 \
             ORDER BY collector",
        )
        .map_err(StoreError::sqlite(ctx()))?;
    let rows = stmt
        .query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(StoreError::sqlite(ctx()))?;
    rows.collect::<Result<_, _>>()
        .map_err(StoreError::sqlite(ctx()))
}

/// A position in the chain: a seq and the hash of the link at that seq.
pub type Link = (i64, Hash);

/// The chain's recorded base and head: `((base_seq, base_hash), (head_seq, head_hash))`.
pub fn chain_ends(conn: &Connection) -> Result<(Link, Link), StoreError> {
    let row: (i64, Vec<u8>, i64, Vec<u8>) = conn
        .query_row(
            "SELECT base_seq, base_hash, head_seq, head_hash FROM chain WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .map_err(StoreError::sqlite("read chain"))?;
    let to_hash = |v: &[u8]| -> Result<Hash, StoreError> {
        v.try_into().map_err(|_| StoreError::Corrupt {
            table: "chain",
            seq: row.2,
            id: String::new(),
            reason: format!("hash of {} bytes", v.len()),
        })
    };
    Ok(((row.0, to_hash(&row.1)?), (row.2, to_hash(&row.3)?)))
}

/// Records the last link written.
pub fn set_head(conn: &Connection, seq: i64, hash: &Hash) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(UPDATE_HEAD)?;
    stmt.execute(params![seq, &hash[..]])?;
    Ok(())
}

/// The newest rejects first.
pub fn rejects(conn: &Connection, limit: usize) -> Result<Vec<StoredReject>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, received_at, origin, location, reason, raw FROM rejects \
             ORDER BY id DESC LIMIT ?1",
        )
        .map_err(StoreError::sqlite("prepare rejects"))?;
    let rows = stmt
        .query_map([limit], |r| {
            Ok(StoredReject {
                id: r.get(0)?,
                received_at: timefmt::from_nanos(r.get(1)?),
                origin: r.get(2)?,
                location: r.get(3)?,
                reason: r.get(4)?,
                raw: r.get(5)?,
            })
        })
        .map_err(StoreError::sqlite("select rejects"))?;
    rows.collect::<Result<_, _>>()
        .map_err(StoreError::sqlite("read rejects"))
}

pub fn stats(conn: &Connection) -> Result<StoreStats, StoreError> {
    let one = |sql: &str| -> Result<Option<i64>, StoreError> {
        conn.query_row(sql, [], |r| r.get(0))
            .map_err(StoreError::sqlite(format!("stats: {sql}")))
    };
    let events = one("SELECT count(*) FROM events")?.unwrap_or(0);
    let (oldest, newest): (Option<i64>, Option<i64>) = conn
        .query_row(super::events::TIME_BOUNDS, [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(StoreError::sqlite("stats: the oldest and newest event"))?;
    let rejects = one("SELECT count(*) FROM rejects")?.unwrap_or(0);
    let t = |v: Option<i64>| v.map(timefmt::from_nanos);
    Ok(StoreStats {
        events: events.max(0) as u64,
        rejects: rejects.max(0) as u64,
        oldest: t(oldest),
        newest: t(newest),
    })
}

/// Nanoseconds since the epoch for "now" (saturating; the clock is within range in practice).
pub fn now_nanos(now: &DateTime<Utc>) -> i64 {
    timefmt::to_nanos(now).unwrap_or(i64::MAX)
}

/// A stored conflict (see migration 6).
pub fn insert_conflict(
    conn: &Connection,
    received_at: i64,
    event_id: &str,
    origin: &str,
    fields: &str,
    stored: &str,
    incoming: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO conflicts (received_at, event_id, origin, fields, stored, incoming) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        received_at,
        event_id,
        origin,
        fields,
        stored,
        incoming
    ])?;
    Ok(())
}

/// Conflicts, newest first, at most `limit`.
pub fn conflicts(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<crate::StoredConflict>, StoreError> {
    let ctx = "read conflicts";
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, received_at, event_id, origin, fields, stored, incoming FROM conflicts \
             ORDER BY id DESC LIMIT ?1",
        )
        .map_err(StoreError::sqlite(ctx))?;
    let rows = stmt
        .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(crate::StoredConflict {
                id: r.get(0)?,
                received_at: timefmt::from_nanos(r.get(1)?),
                event_id: r.get(2)?,
                origin: r.get(3)?,
                fields: r.get(4)?,
                stored: r.get(5)?,
                incoming: r.get(6)?,
            })
        })
        .map_err(StoreError::sqlite(ctx))?;
    rows.collect::<Result<_, _>>()
        .map_err(StoreError::sqlite(ctx))
}

/// From which seq the chain's links are keyed (HMAC).
pub fn keyed_from(conn: &Connection) -> Result<Option<i64>, StoreError> {
    conn.query_row("SELECT keyed_from FROM chain WHERE id = 1", [], |r| {
        r.get(0)
    })
    .map_err(StoreError::sqlite("read chain keyed_from"))
}

/// The last seq that may hold an Entra event with an id of the old form (migration 11), if any.
pub fn legacy_entra_upto(conn: &Connection) -> Result<Option<i64>, StoreError> {
    conn.query_row(
        "SELECT legacy_entra_upto FROM chain WHERE id = 1",
        [],
        |r| r.get(0),
    )
    .map_err(StoreError::sqlite("read chain legacy_entra_upto"))
}

pub fn set_keyed_from(conn: &Connection, seq: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE chain SET keyed_from = ?1 WHERE id = 1", [seq])?;
    Ok(())
}

pub fn insert_anchor(conn: &Connection, seq: i64, hash: &Hash, at: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO anchors (seq, hash, at) VALUES (?1, ?2, ?3)")?
        .execute(params![seq, &hash[..], at])?;
    Ok(())
}

/// The anchors recorded in the store, oldest first.
pub fn anchors(conn: &Connection) -> Result<Vec<crate::chain::Anchor>, StoreError> {
    let ctx = "read anchors";
    let mut stmt = conn
        .prepare_cached("SELECT seq, hash, at FROM anchors ORDER BY id")
        .map_err(StoreError::sqlite(ctx))?;
    let rows = stmt
        .query_map([], |r| {
            let hash: Vec<u8> = r.get(1)?;
            Ok((r.get::<_, i64>(0)?, hash, r.get::<_, i64>(2)?))
        })
        .map_err(StoreError::sqlite(ctx))?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, hash, at) = row.map_err(StoreError::sqlite(ctx))?;
        // An anchor whose hash is not 32 bytes was edited: it cannot match, and verify says so.
        let hash: Hash = hash.as_slice().try_into().unwrap_or([0xff; 32]);
        out.push(crate::chain::Anchor {
            seq,
            hash,
            at: timefmt::from_nanos(at),
            source: "recorded in the store".to_owned(),
        });
    }
    Ok(out)
}

/// The latest `store.purged` record's base: `(last purged seq, its hash)`.
pub fn purge_base(conn: &Connection) -> Result<Option<(i64, Hash)>, StoreError> {
    let raw: Option<String> = conn
        .query_row(
            "SELECT raw_text(raw) FROM events WHERE action = 'store.purged' ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(StoreError::sqlite("read the last purge record"))?;
    let Some(raw) = raw else { return Ok(None) };
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap_or_default();
    let seq = v["through_seq"].as_i64();
    let mut hash = [0u8; 32];
    let ok = v["last_hash"]
        .as_str()
        .is_some_and(|h| hex::decode_to_slice(h, &mut hash).is_ok());
    match (seq, ok) {
        (Some(seq), true) => Ok(Some((seq, hash))),
        // A purge record that does not say where the chain restarts: walk from the genesis (the
        // missing rows are then reported as a gap).
        _ => Ok(None),
    }
}
