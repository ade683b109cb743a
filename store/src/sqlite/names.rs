//! `principal_names`: what the events said each SID is called, and from when (see
//! [`privtrail_model::names`]). Written by the writer in the transaction of the events that taught
//! it; a purge leaves it alone (what a SID was called stays true after its events expire).

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use privtrail_model::names::{NameClaim, claim, claim_parts};
use privtrail_model::{Action, Event, Outcome};
use rusqlite::{Connection, Transaction, params};

use crate::StoreError;
use crate::timefmt;

/// One name of a SID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalName {
    pub sid: String,
    pub name: String,
    /// See [`NameClaim::rank`]: lower is better.
    pub rank: u8,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The first event that said so.
    pub first_event: String,
}

/// What is known about a principal's names ([`crate::Store::known_names`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownNames {
    /// A well-known SID's name, or the directory's UPN for an object id or on-premises SID.
    pub fixed: Option<String>,
    /// What the events called a SID, best rank first.
    pub learned: Vec<PrincipalName>,
}

impl KnownNames {
    /// The name to print at time `at`: the fixed one, else of the best-ranked learned names the
    /// one in use at `at` (the newest first seen by then), else the oldest of them.
    pub fn at(&self, at: Option<DateTime<Utc>>) -> Option<&str> {
        if let Some(f) = &self.fixed {
            return Some(f);
        }
        let best = self.learned.iter().map(|n| n.rank).min()?;
        let ranked = || self.learned.iter().filter(move |n| n.rank == best);
        at.and_then(|t| {
            ranked()
                .filter(|n| n.first_seen <= t)
                .max_by_key(|n| n.first_seen)
        })
        .or_else(|| ranked().min_by_key(|n| n.first_seen))
        .map(|n| n.name.as_str())
    }
}

const UPSERT: &str = "INSERT INTO principal_names (sid, name, rank, first_seen, last_seen, first_event) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(sid, name) DO UPDATE SET \
     rank = min(rank, excluded.rank), \
     first_event = CASE WHEN excluded.first_seen < first_seen THEN excluded.first_event ELSE first_event END, \
     first_seen = min(first_seen, excluded.first_seen), \
     last_seen = max(last_seen, excluded.last_seen)";

/// The claims of one write batch, one row per (SID, name): a busy host logs the same account on
/// thousands of times, and one upsert per batch is enough.
#[derive(Debug, Default)]
pub struct Learned {
    rows: HashMap<(String, String), (u8, i64, i64, String)>,
}

impl Learned {
    /// Notes what a stored event says (`time` is its stored nanoseconds).
    pub fn note(&mut self, e: &Event, time: i64) {
        if let Some(c) = claim(e) {
            self.add(c, time, e.id.as_str());
        }
    }

    fn add(&mut self, c: NameClaim, time: i64, event: &str) {
        let row = self
            .rows
            .entry((c.sid, c.name))
            .or_insert_with(|| (c.rank, time, time, event.to_owned()));
        row.0 = row.0.min(c.rank);
        if time < row.1 {
            row.1 = time;
            row.3 = event.to_owned();
        }
        row.2 = row.2.max(time);
    }

    /// Writes the batch's names in its transaction.
    pub fn save(self, tx: &Connection) -> Result<(), StoreError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let mut up = tx
            .prepare_cached(UPSERT)
            .map_err(StoreError::sqlite("prepare principal_names upsert"))?;
        for ((sid, name), (rank, first, last, event)) in self.rows {
            up.execute(params![sid, name, rank, first, last, event])
                .map_err(StoreError::sqlite("save principal names"))?;
        }
        Ok(())
    }
}

/// Fills the table from the events already stored (the migration that creates it).
pub fn backfill(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let mut learned = Learned::default();
    {
        let mut stmt = tx
            .prepare(
                "SELECT id, time, action, outcome, target, target_name, scope FROM events \
                 WHERE target LIKE 'S-1-%' AND target_name IS NOT NULL AND action IN \
                 ('logon', 'logoff', 'logon.special_privileges', 'account.created', \
                  'group.member.added', 'group.member.removed')",
            )
            .map_err(StoreError::sqlite("read events for names"))?;
        let mut rows = stmt
            .query([])
            .map_err(StoreError::sqlite("read events for names"))?;
        while let Some(r) = rows
            .next()
            .map_err(StoreError::sqlite("read events for names"))?
        {
            let get = |i: usize| r.get::<_, Option<String>>(i);
            let (Ok(Some(id)), Ok(time), Ok(Some(action)), Ok(Some(outcome))) =
                (get(0), r.get::<_, i64>(1), get(2), get(3))
            else {
                continue;
            };
            let (Ok(action), Some(outcome)) = (Action::from_str(&action), Outcome::parse(&outcome))
            else {
                continue;
            };
            let (target, name, scope) = (
                get(4).ok().flatten(),
                get(5).ok().flatten(),
                get(6).ok().flatten(),
            );
            if let Some(c) = claim_parts(
                action,
                outcome,
                target.as_deref(),
                name.as_deref(),
                scope.as_deref(),
            ) {
                learned.add(c, time, &id);
            }
        }
    }
    learned.save(tx)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PrincipalName> {
    Ok(PrincipalName {
        sid: r.get(0)?,
        name: r.get(1)?,
        rank: r.get(2)?,
        first_seen: timefmt::from_nanos(r.get(3)?),
        last_seen: timefmt::from_nanos(r.get(4)?),
        first_event: r.get(5)?,
    })
}

const COLUMNS: &str = "sid, name, rank, first_seen, last_seen, first_event";

/// Every name of `sid`, best rank first, then the most recently seen.
pub fn of_sid(c: &Connection, sid: &str) -> Result<Vec<PrincipalName>, StoreError> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM principal_names WHERE sid = ?1 \
             ORDER BY rank, last_seen DESC LIMIT 32"
        ))
        .map_err(StoreError::sqlite("read principal names"))?;
    stmt.query_map([sid.trim().to_ascii_uppercase()], row)
        .and_then(|rows| rows.collect())
        .map_err(StoreError::sqlite("read principal names"))
}

/// The SIDs called `name`: the whole name (`CONTOSO\nina.patel`, `Oscar Wu`) or the account
/// part after the backslash (`nina.patel`), without regard to case.
pub fn sids_named(c: &Connection, name: &str) -> Result<Vec<String>, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = c
        .prepare_cached(
            "SELECT DISTINCT sid FROM principal_names \
             WHERE name = ?1 COLLATE NOCASE OR name LIKE ?2 ESCAPE '^' LIMIT 16",
        )
        .map_err(StoreError::sqlite("find principal names"))?;
    let escaped = super::directory::like_escape(name);
    stmt.query_map(params![name, format!("%\\{escaped}")], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(StoreError::sqlite("find principal names"))
}

/// Every name of every SID, best rank first per SID (for a pass over many principals).
pub fn all(c: &Connection) -> Result<Vec<PrincipalName>, StoreError> {
    let mut stmt = c
        .prepare(&format!(
            "SELECT {COLUMNS} FROM principal_names ORDER BY sid, rank, last_seen DESC"
        ))
        .map_err(StoreError::sqlite("read principal names"))?;
    stmt.query_map([], row)
        .and_then(|rows| rows.collect())
        .map_err(StoreError::sqlite("read principal names"))
}
