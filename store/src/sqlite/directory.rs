//! Entra state kept beside the events: PIM snapshots (as the collector fetched them, JSON) and
//! the directory users it looked up (to join Windows SIDs with Entra identities).

use rusqlite::{Connection, OptionalExtension, params};

use crate::{DirectoryUser, Snapshot, StoreError, timefmt};

pub fn save_snapshot(conn: &Connection, s: &Snapshot) -> Result<(), StoreError> {
    let taken = timefmt::to_nanos(&s.taken_at).unwrap_or_default();
    conn.prepare_cached(
        "INSERT INTO pim_snapshots (tenant, kind, taken_at, body) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut st| st.execute(params![s.tenant, s.kind, taken, s.body]))
    .map_err(StoreError::sqlite(format!(
        "insert into pim_snapshots (tenant {:?})",
        s.tenant
    )))?;
    Ok(())
}

pub fn latest_snapshot(
    conn: &Connection,
    tenant: &str,
    kind: &str,
) -> Result<Option<Snapshot>, StoreError> {
    conn.prepare_cached(
        "SELECT taken_at, body FROM pim_snapshots WHERE tenant = ?1 AND kind = ?2 \
         ORDER BY taken_at DESC, id DESC LIMIT 1",
    )
    .and_then(|mut st| {
        st.query_row(params![tenant, kind], |r| {
            Ok(Snapshot {
                tenant: tenant.to_owned(),
                kind: kind.to_owned(),
                taken_at: timefmt::from_nanos(r.get(0)?),
                body: r.get(1)?,
            })
        })
        .optional()
    })
    .map_err(StoreError::sqlite(format!(
        "read pim_snapshots (tenant {tenant:?})"
    )))
}

pub fn upsert_user(
    conn: &Connection,
    tenant: &str,
    u: &DirectoryUser,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO directory_users (tenant, id, upn, display_name, on_prem_sid, fetched_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(tenant, id) DO UPDATE SET \
         upn = excluded.upn, display_name = excluded.display_name, \
         on_prem_sid = excluded.on_prem_sid, fetched_at = excluded.fetched_at",
    )
    .and_then(|mut st| {
        st.execute(params![
            tenant,
            u.id,
            u.upn,
            u.display_name,
            u.on_prem_sid,
            now
        ])
    })
    .map_err(StoreError::sqlite(format!(
        "upsert directory_users (tenant {tenant:?}, id {:?})",
        u.id
    )))?;
    Ok(())
}

pub fn users(conn: &Connection, tenant: &str) -> Result<Vec<DirectoryUser>, StoreError> {
    let ctx = || format!("read directory_users (tenant {tenant:?})");
    let mut st = conn
        .prepare_cached(
            "SELECT id, upn, display_name, on_prem_sid FROM directory_users \
             WHERE tenant = ?1 ORDER BY id",
        )
        .map_err(StoreError::sqlite(ctx()))?;
    let rows = st
        .query_map([tenant], user_row)
        .map_err(StoreError::sqlite(ctx()))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::sqlite(ctx()))
}

/// The directory users (any tenant) that `who` names: by UPN (or the part before its `@`),
/// object id or on-premises SID, without regard to case.
pub fn users_matching(conn: &Connection, who: &str) -> Result<Vec<DirectoryUser>, StoreError> {
    let who = who.trim();
    if who.is_empty() {
        return Ok(Vec::new());
    }
    let local = like_escape(who);
    let mut st = conn
        .prepare_cached(
            "SELECT id, upn, display_name, on_prem_sid FROM directory_users \
             WHERE upn = ?1 COLLATE NOCASE OR id = ?1 COLLATE NOCASE \
             OR on_prem_sid = ?1 COLLATE NOCASE OR upn LIKE ?2 ESCAPE '^' LIMIT 16",
        )
        .map_err(StoreError::sqlite("find directory users"))?;
    st.query_map(params![who, format!("{local}@%")], user_row)
        .and_then(|rows| rows.collect())
        .map_err(StoreError::sqlite("find directory users"))
}

/// Every directory user with an on-premises SID, any tenant: the SID → UPN joins.
pub fn synced_users(conn: &Connection) -> Result<Vec<DirectoryUser>, StoreError> {
    let ctx = "read directory_users (synced)";
    let mut st = conn
        .prepare_cached(
            "SELECT id, upn, display_name, on_prem_sid FROM directory_users \
             WHERE on_prem_sid IS NOT NULL AND upn IS NOT NULL ORDER BY tenant, id",
        )
        .map_err(StoreError::sqlite(ctx))?;
    let rows = st
        .query_map([], user_row)
        .map_err(StoreError::sqlite(ctx))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::sqlite(ctx))
}

/// Every directory user of every tenant.
pub fn all_users(conn: &Connection) -> Result<Vec<DirectoryUser>, StoreError> {
    let ctx = "read directory_users";
    let mut st = conn
        .prepare(
            "SELECT id, upn, display_name, on_prem_sid FROM directory_users ORDER BY tenant, id",
        )
        .map_err(StoreError::sqlite(ctx))?;
    let rows = st
        .query_map([], user_row)
        .map_err(StoreError::sqlite(ctx))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::sqlite(ctx))
}

/// A `directory_users` row (`id, upn, display_name, on_prem_sid`).
fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DirectoryUser> {
    Ok(DirectoryUser {
        id: r.get(0)?,
        upn: r.get(1)?,
        display_name: r.get(2)?,
        on_prem_sid: r.get(3)?,
    })
}

/// Text for a `LIKE … ESCAPE '^'` pattern that matches it literally.
pub(crate) fn like_escape(text: &str) -> String {
    text.chars()
        .flat_map(|ch| match ch {
            '%' | '_' | '^' => vec!['^', ch],
            ch => vec![ch],
        })
        .collect()
}
