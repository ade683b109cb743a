//! Derived state kept beside the events: elevations and alerts (as JSON bodies the store does not
//! interpret, with the columns needed to select them) and silences.

use rusqlite::{Connection, OptionalExtension, params};

use crate::{AlertRow, ElevationRow, SilenceRow, StoreError, timefmt};

fn nanos(t: &chrono::DateTime<chrono::Utc>) -> i64 {
    timefmt::to_nanos(t).unwrap_or(i64::MAX)
}

/// Replaces every stored elevation with `rows` (elevations are recomputed from the events).
pub fn replace_elevations(conn: &Connection, rows: &[ElevationRow]) -> Result<(), StoreError> {
    conn.execute("DELETE FROM elevations", [])
        .map_err(StoreError::sqlite("clear elevations"))?;
    upsert_elevations(conn, rows)
}

/// Stores `rows` over the rows of their ids and deletes the rows of `removed`.
pub fn change_elevations(
    conn: &Connection,
    rows: &[ElevationRow],
    removed: &[String],
) -> Result<(), StoreError> {
    let mut st = conn
        .prepare_cached("DELETE FROM elevations WHERE id = ?1")
        .map_err(StoreError::sqlite("prepare delete from elevations"))?;
    for id in removed {
        st.execute([id])
            .map_err(StoreError::sqlite(format!("delete elevation {id}")))?;
    }
    upsert_elevations(conn, rows)
}

fn upsert_elevations(conn: &Connection, rows: &[ElevationRow]) -> Result<(), StoreError> {
    let mut st = conn
        .prepare_cached(
            "INSERT OR REPLACE INTO elevations (id, principal, privilege, scope, started_at, ended_at, \
             expected_end, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(StoreError::sqlite("prepare insert into elevations"))?;
    for r in rows {
        st.execute(params![
            r.id,
            r.principal,
            r.privilege,
            r.scope,
            nanos(&r.started_at),
            r.ended_at.as_ref().map(nanos),
            r.expected_end.as_ref().map(nanos),
            r.body
        ])
        .map_err(StoreError::sqlite(format!("insert elevation {}", r.id)))?;
    }
    Ok(())
}

pub fn elevations(conn: &Connection) -> Result<Vec<ElevationRow>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT id, principal, privilege, scope, started_at, ended_at, expected_end, body \
             FROM elevations UNION ALL \
             SELECT id, principal, privilege, scope, started_at, ended_at, expected_end, body \
             FROM elevations_archive WHERE id NOT IN (SELECT id FROM elevations) \
             ORDER BY started_at, id",
        )
        .map_err(StoreError::sqlite("prepare select elevations"))?;
    let rows = st
        .query_map([], |r| {
            Ok(ElevationRow {
                id: r.get(0)?,
                principal: r.get(1)?,
                privilege: r.get(2)?,
                scope: r.get(3)?,
                started_at: timefmt::from_nanos(r.get(4)?),
                ended_at: r.get::<_, Option<i64>>(5)?.map(timefmt::from_nanos),
                expected_end: r.get::<_, Option<i64>>(6)?.map(timefmt::from_nanos),
                body: r.get(7)?,
            })
        })
        .map_err(StoreError::sqlite("select elevations"))?;
    rows.collect::<Result<_, _>>()
        .map_err(StoreError::sqlite("read elevations"))
}

pub fn upsert_alert(conn: &Connection, a: &AlertRow) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO alerts (id, rule, subject, status, severity, opened_at, updated_at, body) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO UPDATE SET \
         rule = excluded.rule, subject = excluded.subject, status = excluded.status, \
         severity = excluded.severity, opened_at = excluded.opened_at, \
         updated_at = excluded.updated_at, body = excluded.body",
    )
    .and_then(|mut st| {
        st.execute(params![
            a.id,
            a.rule,
            a.subject,
            a.status,
            a.severity,
            nanos(&a.opened_at),
            nanos(&a.updated_at),
            a.body
        ])
    })
    .map_err(StoreError::sqlite(format!("upsert alert {}", a.id)))?;
    Ok(())
}

fn alert_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRow> {
    Ok(AlertRow {
        id: r.get(0)?,
        rule: r.get(1)?,
        subject: r.get(2)?,
        status: r.get(3)?,
        severity: r.get(4)?,
        opened_at: timefmt::from_nanos(r.get(5)?),
        updated_at: timefmt::from_nanos(r.get(6)?),
        body: r.get(7)?,
    })
}

const ALERT_COLUMNS: &str = "id, rule, subject, status, severity, opened_at, updated_at, body";

pub fn alerts(conn: &Connection, status: Option<&str>) -> Result<Vec<AlertRow>, StoreError> {
    let mut st = conn
        .prepare_cached(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE (?1 IS NULL OR status = ?1) \
             ORDER BY opened_at DESC, id"
        ))
        .map_err(StoreError::sqlite("prepare select alerts"))?;
    let rows = st
        .query_map([status], alert_from_row)
        .map_err(StoreError::sqlite("select alerts"))?;
    rows.collect::<Result<_, _>>()
        .map_err(StoreError::sqlite("read alerts"))
}

pub fn alert(conn: &Connection, id: &str) -> Result<Option<AlertRow>, StoreError> {
    conn.prepare_cached(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"))
        .and_then(|mut st| st.query_row([id], alert_from_row).optional())
        .map_err(StoreError::sqlite(format!("select alert {id}")))
}

pub fn add_silence(conn: &Connection, s: &SilenceRow) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO silences (rule, principal, until, reason) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut st| st.execute(params![s.rule, s.principal, nanos(&s.until), s.reason]))
    .map_err(StoreError::sqlite("insert silence"))?;
    Ok(())
}

pub fn silences(conn: &Connection) -> Result<Vec<SilenceRow>, StoreError> {
    let mut st = conn
        .prepare_cached("SELECT rule, principal, until, reason FROM silences ORDER BY id")
        .map_err(StoreError::sqlite("prepare select silences"))?;
    let rows = st
        .query_map([], |r| {
            Ok(SilenceRow {
                rule: r.get(0)?,
                principal: r.get(1)?,
                until: timefmt::from_nanos(r.get(2)?),
                reason: r.get(3)?,
            })
        })
        .map_err(StoreError::sqlite("select silences"))?;
    rows.collect::<Result<_, _>>()
        .map_err(StoreError::sqlite("read silences"))
}

/// The rules cursor (0 before any judgement).
pub fn rules_cursor(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("SELECT seq FROM rules_cursor WHERE id = 1", [], |r| {
        r.get(0)
    })
    .optional()
    .map(|v| v.unwrap_or(0))
    .map_err(StoreError::sqlite("read rules cursor"))
}

/// Moves the rules cursor to `seq`.
pub fn set_rules_cursor(conn: &Connection, seq: i64, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO rules_cursor (id, seq, updated_at) VALUES (1, ?1, ?2) \
         ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at",
        rusqlite::params![seq, now],
    )
    .map(|_| ())
    .map_err(StoreError::sqlite("save rules cursor"))
}

/// Copies every elevation that started before `before` (nanoseconds) into the archive, where it
/// stays readable after the events it was built from are purged.
pub fn archive_elevations(conn: &Connection, before: i64) -> Result<u64, StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO elevations_archive \
         SELECT id, principal, privilege, scope, started_at, ended_at, expected_end, body \
         FROM elevations WHERE started_at <= ?1",
        [before],
    )
    .map(|n| n as u64)
    .map_err(StoreError::sqlite("archive elevations"))
}
