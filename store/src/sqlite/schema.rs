//! Versioned migrations, applied in order on open.
//!
//! `PRAGMA user_version` holds the number of steps applied. A step is never edited once
//! released: changes are new steps appended to [`MIGRATIONS`].

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

/// The ordered migration steps; step `i` brings the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: events, rejects, checkpoints, chain head.
    r#"
    -- The source of truth. seq is the chain order (rowid); id is the dedupe key.
    -- time/ingested_at: INTEGER unix nanoseconds (sortable, exact for 100 ns EVTX ticks).
    -- expires_at: TEXT fixed RFC 3339 with 9 fractional digits (may lie beyond 2262).
    CREATE TABLE events (
        seq            INTEGER PRIMARY KEY,
        id             TEXT    NOT NULL UNIQUE,
        time           INTEGER NOT NULL,
        ingested_at    INTEGER NOT NULL,
        source         TEXT    NOT NULL,
        tenant         TEXT,
        host           TEXT,
        action         TEXT    NOT NULL,
        outcome        TEXT    NOT NULL,
        actor          TEXT,
        target         TEXT,
        target_name    TEXT,
        privilege      TEXT,
        privilege_id   TEXT,
        scope          TEXT,
        expires_at     TEXT,
        justification  TEXT,
        correlation_id TEXT,
        event_code     TEXT    NOT NULL,
        record_id      TEXT,
        message        TEXT    NOT NULL,
        raw            TEXT    NOT NULL,
        hash           BLOB    NOT NULL,
        via_pim        INTEGER,
        linked_to      TEXT
    );
    CREATE INDEX events_time ON events(time);

    CREATE TABLE rejects (
        id          INTEGER PRIMARY KEY,
        received_at INTEGER NOT NULL,
        origin      TEXT    NOT NULL,
        location    TEXT    NOT NULL,
        reason      TEXT    NOT NULL,
        raw         TEXT    NOT NULL
    );

    CREATE TABLE checkpoints (
        collector  TEXT    PRIMARY KEY,
        value      TEXT    NOT NULL,
        updated_at INTEGER NOT NULL
    );

    -- One row. base_*: where the chain starts (seq before the first row and the hash it links
    -- to; 0 and zeros until retention purges old rows). head_*: the last link written.
    CREATE TABLE chain (
        id        INTEGER PRIMARY KEY CHECK (id = 1),
        base_seq  INTEGER NOT NULL,
        base_hash BLOB    NOT NULL,
        head_seq  INTEGER NOT NULL,
        head_hash BLOB    NOT NULL
    );
    INSERT INTO chain (id, base_seq, base_hash, head_seq, head_hash)
        VALUES (1, 0, zeroblob(32), 0, zeroblob(32));
    "#,
    // 2: Entra state. PIM snapshots as fetched (JSON, one row per tenant + kind + time) and
    // the directory users looked up for identity joins.
    r#"
    CREATE TABLE pim_snapshots (
        id       INTEGER PRIMARY KEY,
        tenant   TEXT    NOT NULL,
        kind     TEXT    NOT NULL,
        taken_at INTEGER NOT NULL,
        body     TEXT    NOT NULL
    );
    CREATE INDEX pim_snapshots_latest ON pim_snapshots(tenant, kind, taken_at);

    CREATE TABLE directory_users (
        tenant       TEXT    NOT NULL,
        id           TEXT    NOT NULL,
        upn          TEXT,
        display_name TEXT,
        on_prem_sid  TEXT,
        fetched_at   INTEGER NOT NULL,
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX directory_users_sid ON directory_users(on_prem_sid);
    "#,
    // 3: derived state: elevations (recomputed from the events), alerts and silences. Bodies are
    // JSON written by the rules engine; the columns are what selection needs. The partial index
    // finds the events that open and close elevations without an index entry for every event.
    r#"
    CREATE TABLE elevations (
        id           TEXT    PRIMARY KEY,
        principal    TEXT    NOT NULL,
        privilege    TEXT    NOT NULL,
        scope        TEXT    NOT NULL,
        started_at   INTEGER NOT NULL,
        ended_at     INTEGER,
        expected_end INTEGER,
        body         TEXT    NOT NULL
    );
    CREATE INDEX elevations_open ON elevations(ended_at, started_at);

    CREATE TABLE alerts (
        id         TEXT    PRIMARY KEY,
        rule       TEXT    NOT NULL,
        subject    TEXT    NOT NULL,
        status     TEXT    NOT NULL,
        severity   TEXT    NOT NULL,
        opened_at  INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        body       TEXT    NOT NULL
    );
    CREATE INDEX alerts_status ON alerts(status, opened_at);

    CREATE TABLE silences (
        id        INTEGER PRIMARY KEY,
        rule      TEXT    NOT NULL,
        principal TEXT,
        until     INTEGER NOT NULL,
        reason    TEXT
    );

    CREATE INDEX events_rule_input ON events(time) WHERE action IN (
        'role.activated', 'role.deactivated', 'role.activation.expired', 'role.assigned',
        'role.unassigned', 'group.member.added', 'group.member.removed', 'endpoint.admin_tag');
    "#,
    // 4: the durable outbox (SPEC §5): one row per message to deliver, written in the transaction
    // that creates it. (channel, idempotency_key) is unique, so enqueuing again is a no-op and a
    // delivered message is never sent again. Times are INTEGER unix nanoseconds; payload is JSON
    // the store does not interpret. The partial index serves "when is the next message due".
    r#"
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        channel         TEXT    NOT NULL CHECK (channel <> ''),
        idempotency_key TEXT    NOT NULL CHECK (idempotency_key <> ''),
        payload         TEXT    NOT NULL,
        created_at      INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        status          TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'delivered', 'dead')),
        delivered_at    INTEGER,
        UNIQUE (channel, idempotency_key)
    );
    CREATE INDEX outbox_due ON outbox(status, channel, next_attempt_at);
    CREATE INDEX outbox_pending_next ON outbox(next_attempt_at) WHERE status = 'pending';
    "#,
    // 5: the rules cursor (the last event seq the rules job judged), committed with the
    // elevations, alerts and outbox entries of that judgement. A store judged by an earlier
    // version (which judged every event it stored) starts past its last event. The partial index
    // over elevation inputs moves to the app, which builds it from the rules crate's list
    // (`Writer::ensure_action_index`).
    r#"
    CREATE TABLE rules_cursor (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        seq        INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    INSERT INTO rules_cursor (id, seq, updated_at)
        SELECT 1, coalesce(max(seq), 0), 0 FROM events;
    DROP INDEX IF EXISTS events_rule_input;
    "#,
    // 6: conflicting duplicates (SPEC §6): a record with the id of a stored event but other
    // content is kept here with both bodies and where it came from (never dropped silently); a
    // chained `evidence.conflict` event records it in the trail too.
    r#"
    CREATE TABLE conflicts (
        id          INTEGER PRIMARY KEY,
        received_at INTEGER NOT NULL,
        event_id    TEXT    NOT NULL,
        origin      TEXT    NOT NULL,
        fields      TEXT    NOT NULL,
        stored      TEXT    NOT NULL,
        incoming    TEXT    NOT NULL
    );
    CREATE INDEX conflicts_event ON conflicts(event_id);
    "#,
    // 7: keyed chains and anchors (SPEC §6). `keyed_from`: the first seq whose link is an
    // HMAC (NULL: never keyed). `anchors`: the chain heads privtrail published outside the store
    // (an anchor file, channels), kept here too as the store's own record of them.
    r#"
    ALTER TABLE chain ADD COLUMN keyed_from INTEGER;
    CREATE TABLE anchors (
        id   INTEGER PRIMARY KEY,
        seq  INTEGER NOT NULL,
        hash BLOB    NOT NULL,
        at   INTEGER NOT NULL
    );
    "#,
    // 8: elevations kept readable after retention purged the events they were built from (the
    // rules rebuild the live table from the events that remain).
    r#"
    CREATE TABLE elevations_archive (
        id           TEXT    PRIMARY KEY,
        principal    TEXT    NOT NULL,
        privilege    TEXT    NOT NULL,
        scope        TEXT    NOT NULL,
        started_at   INTEGER NOT NULL,
        ended_at     INTEGER,
        expected_end INTEGER,
        body         TEXT    NOT NULL
    );
    "#,
    // 9: what the events say each SID is called (`sqlite::names`); filled from the stored events
    // by `names::backfill` in the same transaction.
    r#"
    CREATE TABLE principal_names (
        sid         TEXT    NOT NULL,
        name        TEXT    NOT NULL,
        rank        INTEGER NOT NULL,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        first_event TEXT    NOT NULL,
        PRIMARY KEY (sid, name)
    ) WITHOUT ROWID;
    "#,
    // 10: compression dictionaries of the `raw` column (`sqlite::raw`): one per record shape,
    // written in the transaction of the first row compressed with it, never changed.
    r#"
    CREATE TABLE dictionaries (
        id         INTEGER PRIMARY KEY,
        shape      TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        body       BLOB    NOT NULL
    );
    "#,
    // 11: Entra events get ids that sort by time (`EventId::entra`). The events stored before
    // keep the ids they had (their links hash them); `legacy_entra_upto` is the last seq that
    // may hold one (NULL: none can), and the writer checks an incoming Entra record against its
    // old id too while it is set, so that a record read again is still stored once.
    r#"
    ALTER TABLE chain ADD COLUMN legacy_entra_upto INTEGER;
    UPDATE chain SET legacy_entra_upto = (SELECT max(seq) FROM events) WHERE id = 1;
    "#,
    // 12: the time index in spans of 2^20 seqs (`sqlite::events::IN_SPANS`). One B-tree over
    // every event's time took each new event whose time lay among stored ones at a random page
    // of all of them: into 10M stored events covering the same days, every commit rewrote
    // thousands of that index's pages (3.7 KB written per event, the import's limit). Within a
    // span, new events land only among the last million, whose pages stay in the writer's cache
    // and are fewer per commit. Rebuilt once, when a store opens with this step to apply.
    r#"
    DROP INDEX events_time;
    CREATE INDEX events_span_time ON events(seq >> 20, time);
    "#,
];

/// The migration after which [`super::names::backfill`] runs.
const NAMES_VERSION: i64 = 9;

/// The schema version of a database (`PRAGMA user_version`).
pub fn version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(StoreError::sqlite("read user_version"))
}

/// Applies the missing steps, each in its own immediate transaction (so that two processes
/// opening the same new database do not both apply a step).
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let supported = MIGRATIONS.len() as i64;
    // Up to date: no write transaction at all (opening beside a busy writer must not wait).
    if version(conn)? == supported {
        return Ok(());
    }
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("begin migration"))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(StoreError::sqlite("read user_version"))?;
        if version > supported {
            return Err(StoreError::SchemaTooNew {
                path: path.to_owned(),
                found: version,
                supported,
            });
        }
        if version == supported {
            return Ok(());
        }
        let step = MIGRATIONS[version as usize];
        tx.execute_batch(step).map_err(StoreError::sqlite(format!(
            "migration to version {}",
            version + 1
        )))?;
        if version + 1 == NAMES_VERSION {
            super::names::backfill(&tx)?;
        }
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(StoreError::sqlite("write user_version"))?;
        tx.commit()
            .map_err(StoreError::sqlite("commit migration"))?;
        tracing::info!(path = %path.display(), version = version + 1, "database migrated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_reject_newer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let mut c = crate::sqlite::open(&path, true).expect("open");
        migrate(&mut c, &path).expect("migrate");
        migrate(&mut c, &path).expect("idempotent");
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, MIGRATIONS.len() as i64);
        c.pragma_update(None, "user_version", 99).expect("set");
        assert!(matches!(
            migrate(&mut c, &path),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
    }

    #[test]
    fn migration_11_marks_a_store_that_held_events_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let upto = |c: &Connection| -> Option<i64> {
            c.query_row(
                "SELECT legacy_entra_upto FROM chain WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .expect("read")
        };
        // A new store: no event can have an old id.
        let path = dir.path().join("new.db");
        let mut c = crate::sqlite::open(&path, true).expect("open");
        migrate(&mut c, &path).expect("migrate");
        assert_eq!(upto(&c), None);
        // A store of version 10 holding events: up to its last seq.
        let path = dir.path().join("old.db");
        let mut c = crate::sqlite::open(&path, true).expect("open");
        for step in &MIGRATIONS[..10] {
            c.execute_batch(step).expect("step");
        }
        c.pragma_update(None, "user_version", 10).expect("version");
        for seq in [1, 2] {
            c.execute(
                "INSERT INTO events (seq, id, time, ingested_at, source, action, outcome, \
                 event_code, message, raw, hash) \
                 VALUES (?1, ?2, 0, 0, 'entra', 'role.activated', 'success', 'x', '', '{}', x'')",
                rusqlite::params![seq, format!("id{seq}")],
            )
            .expect("insert");
        }
        migrate(&mut c, &path).expect("migrate");
        assert_eq!(upto(&c), Some(2));
    }
}
