//! The `events` table: encoding an [`Event`] into a row and back.

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, EventId, Outcome, Source};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, Statement, params};

use crate::chain::Hash;
use crate::{StoreError, timefmt};

/// Every column, in the order [`decode`] reads them (seq first, hash last).
/// `raw` is read through `raw_text` (it may be stored compressed, see [`super::raw`]).
pub const COLUMNS: &str = "seq, id, time, ingested_at, source, tenant, host, action, outcome, \
     actor, target, target_name, privilege, privilege_id, scope, expires_at, justification, \
     correlation_id, event_code, record_id, message, raw_text(raw), hash, via_pim, linked_to";

/// The same columns with `raw` and `hash` left out (read as empty): what indexing needs.
pub const COLUMNS_NO_RAW: &str = "seq, id, time, ingested_at, source, tenant, host, action, \
     outcome, actor, target, target_name, privilege, privilege_id, scope, expires_at, \
     justification, correlation_id, event_code, record_id, message, '' AS raw, x'' AS hash, \
     via_pim, linked_to";

/// [`COLUMNS_NO_RAW`] without the texts that say nothing about what changed for whom (`message`,
/// `justification`, `correlation_id`, `record_id`, read as empty): what rebuilding elevations
/// reads, for every input in the store.
pub const COLUMNS_INPUT: &str = "seq, id, time, ingested_at, source, tenant, host, action, \
     outcome, actor, target, target_name, privilege, privilege_id, scope, expires_at, \
     NULL AS justification, NULL AS correlation_id, event_code, NULL AS record_id, '' AS message, \
     '' AS raw, x'' AS hash, via_pim, linked_to";

/// `e` as a read through [`COLUMNS_INPUT`] returns it: the fields it selects as constants
/// emptied. For a caller that has an input it stored at hand and must see it as the rebuild does
/// (the app feeds the elevation tracker the inputs an import stores).
pub fn as_input_read(e: &mut Event) {
    e.justification = None;
    e.correlation_id = None;
    e.record_id = None;
    e.message = String::new();
    e.raw = String::new();
}

/// The columns `list` (one of [`COLUMNS`]' variants, column for column) selects as constants
/// (`NULL AS …`, `'' AS …`, `x'' AS …`), bit `i` for its `i`th: what [`decode_selected`] leaves
/// empty without asking SQLite for them. Derived from the list itself, so the two cannot part.
pub fn placeholders(list: &str) -> u32 {
    list.split(',')
        .enumerate()
        .filter(|(_, c)| {
            let c = c.trim_start();
            ["NULL AS ", "'' AS ", "x'' AS "]
                .iter()
                .any(|p| c.starts_with(p))
        })
        .fold(0, |mask, (i, _)| mask | 1 << i)
}

/// What pairing the two records of one PIM change reads of the stored ones (`app::link`, on the
/// writer thread, for every Entra batch): [`COLUMNS_NO_RAW`] without the texts the pairing never
/// compares (actor, target name, scope, expiry, justification, record id, message, read as empty).
pub const COLUMNS_PAIRING: &str = "seq, id, time, ingested_at, source, tenant, host, action, \
     outcome, NULL AS actor, target, NULL AS target_name, privilege, privilege_id, NULL AS scope, \
     NULL AS expires_at, NULL AS justification, correlation_id, event_code, NULL AS record_id, \
     '' AS message, '' AS raw, x'' AS hash, via_pim, linked_to";

/// Dedupe on the id only (`ON CONFLICT(id)`, not `OR IGNORE`, so that any other constraint
/// failure is an error and not silently counted as a duplicate).
pub const INSERT: &str = "INSERT INTO events (seq, id, time, ingested_at, source, tenant, host, \
     action, outcome, actor, target, target_name, privilege, privilege_id, scope, expires_at, \
     justification, correlation_id, event_code, record_id, message, raw, hash, via_pim, linked_to) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
     ?19, ?20, ?21, ?22, ?23, ?24, ?25) ON CONFLICT(id) DO NOTHING";

/// The times of an event as stored, or why the event cannot be stored.
#[derive(Debug)]
pub struct EncodedTimes {
    pub time: i64,
    pub ingested_at: i64,
    pub expires_at: Option<String>,
}

impl EncodedTimes {
    pub fn new(e: &Event) -> Result<Self, String> {
        let range = |what: &str, t: &DateTime<Utc>| {
            format!(
                "{what} {} is outside the storable range (1677-09-21 .. 2262-04-11)",
                timefmt::fixed(t)
            )
        };
        Ok(EncodedTimes {
            time: timefmt::to_nanos(&e.time).ok_or_else(|| range("time", &e.time))?,
            ingested_at: timefmt::to_nanos(&e.ingested_at)
                .ok_or_else(|| range("ingested_at", &e.ingested_at))?,
            expires_at: e.expires_at.as_ref().map(timefmt::fixed),
        })
    }
}

/// Inserts one event with the given seq; returns `false` if its id was already stored.
pub fn insert(
    stmt: &mut Statement<'_>,
    seq: i64,
    e: &Event,
    raw: &super::raw::Encoded<'_>,
    t: &EncodedTimes,
    hash: &Hash,
) -> rusqlite::Result<bool> {
    let n = stmt.execute(params![
        seq,
        e.id.as_str(),
        t.time,
        t.ingested_at,
        e.source.as_str(),
        e.tenant,
        e.host,
        e.action.as_str(),
        e.outcome.as_str(),
        e.actor,
        e.target,
        e.target_name,
        e.privilege,
        e.privilege_id,
        e.scope,
        t.expires_at,
        e.justification,
        e.correlation_id,
        e.event_code,
        e.record_id,
        e.message,
        raw,
        &hash[..],
        e.via_pim,
        e.linked_to.as_ref().map(|l| l.as_str()),
    ])?;
    Ok(n == 1)
}

/// A row read back: seq, event, stored hash.
pub type StoredRow = (i64, Event, Vec<u8>);

/// Decodes a row selected with [`COLUMNS`] (or [`COLUMNS_NO_RAW`]).
pub fn decode(row: &Row<'_>) -> Result<StoredRow, StoreError> {
    decode_selected(row, 0)
}

/// Decodes a row selected with a list of [`COLUMNS`]' columns of which those in `placeholders`
/// (bit `i`: column `i`; see [`placeholders`]) are constants: they are left empty without being
/// read.
///
/// Hot: the rules run decodes every new event (a million after a large import) on the thread
/// that keeps it fed, and PIM linking the stored records near each Entra batch on the writer's, so
/// the columns that are parsed (source, action, outcome, expiry) are read in place rather than
/// copied into a `String` first, and the id is moved into the event, not copied. Each column read
/// is several calls into SQLite (its type, its text, its length): a placeholder read cost about
/// what a short text does.
pub fn decode_selected(row: &Row<'_>, placeholders: u32) -> Result<StoredRow, StoreError> {
    let placeholder = |i: usize| placeholders & (1 << i) != 0;
    let cols = Cols::of(row);
    let text = |i: usize| -> Result<Option<String>, StoreError> {
        if placeholder(i) {
            return Ok(None);
        }
        row.get::<_, Option<String>>(i)
            .map_err(|e| cols.corrupt(format!("column {i}: {e}")))
    };
    let req = |i: usize, name: &str| -> Result<String, StoreError> {
        if placeholder(i) {
            return Ok(String::new());
        }
        text(i)?.ok_or_else(|| cols.corrupt(format!("{name} is NULL")))
    };
    let corrupt = |reason: String| cols.corrupt(reason);
    let (source, action, outcome) = cols.kinds()?;
    let expires_at = match (!placeholder(15))
        .then(|| cols.text_ref(15))
        .transpose()?
        .flatten()
    {
        None => None,
        Some(s) => {
            Some(timefmt::parse_fixed(s).ok_or_else(|| corrupt(format!("expires_at {s:?}")))?)
        }
    };
    // An empty blob (left out, `x''`) becomes an empty vector without allocating.
    let hash: Vec<u8> = if placeholder(22) {
        Vec::new()
    } else {
        row.get(22).map_err(|e| corrupt(format!("hash: {e}")))?
    };
    let mut event = Event {
        id: EventId::from_stored(String::new()),
        time: timefmt::from_nanos(cols.int(2)?),
        ingested_at: timefmt::from_nanos(cols.int(3)?),
        source,
        tenant: text(5)?,
        host: text(6)?,
        action,
        outcome,
        actor: text(9)?,
        target: text(10)?,
        target_name: text(11)?,
        privilege: text(12)?,
        privilege_id: text(13)?,
        scope: text(14)?,
        expires_at,
        justification: text(16)?,
        correlation_id: text(17)?,
        event_code: req(18, "event_code")?,
        record_id: text(19)?,
        message: req(20, "message")?,
        raw: req(21, "raw")?,
        via_pim: row
            .get::<_, Option<bool>>(23)
            .map_err(|e| corrupt(format!("via_pim: {e}")))?,
        linked_to: text(24)?.map(EventId::from_stored),
    };
    // Last: every error above names the id.
    let (seq, id) = (cols.seq, cols.id);
    event.id = EventId::from_stored(id);
    Ok((seq, event, hash))
}

/// One stored row's columns, read with errors that name the row (its seq and id).
struct Cols<'r, 's> {
    row: &'r Row<'s>,
    seq: i64,
    id: String,
}

impl<'r, 's> Cols<'r, 's> {
    fn of(row: &'r Row<'s>) -> Self {
        let id = match row.get_ref(1) {
            // Lossy only for a damaged id (so that errors can name it): the lossy conversion's
            // own scan cost twice the plain check, for every event the rules run reads back.
            Ok(ValueRef::Text(t)) => match std::str::from_utf8(t) {
                Ok(id) => id.to_owned(),
                Err(_) => String::from_utf8_lossy(t).into_owned(),
            },
            _ => String::new(),
        };
        Cols {
            row,
            seq: row.get(0).unwrap_or(-1),
            id,
        }
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt {
            table: "events",
            seq: self.seq,
            id: self.id.clone(),
            reason,
        }
    }

    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.row
            .get::<_, i64>(i)
            .map_err(|e| self.corrupt(format!("column {i}: {e}")))
    }

    /// A text column read in place (`None` when NULL).
    fn text_ref(&self, i: usize) -> Result<Option<&'r str>, StoreError> {
        match self.row.get_ref(i) {
            Ok(ValueRef::Null) => Ok(None),
            Ok(ValueRef::Text(t)) => std::str::from_utf8(t)
                .map(Some)
                .map_err(|e| self.corrupt(format!("column {i}: {e}"))),
            Ok(other) => Err(self.corrupt(format!(
                "column {i}: {} where text belongs",
                other.data_type()
            ))),
            Err(e) => Err(self.corrupt(format!("column {i}: {e}"))),
        }
    }

    /// The stored source, action and outcome (columns 4, 7, 8), parsed: a value privtrail does
    /// not know is corruption.
    fn kinds(&self) -> Result<(Source, Action, Outcome), StoreError> {
        let required = |i: usize, name: &str| {
            self.text_ref(i)?
                .ok_or_else(|| self.corrupt(format!("{name} is NULL")))
        };
        let (source, action, outcome) = (
            required(4, "source")?,
            required(7, "action")?,
            required(8, "outcome")?,
        );
        Ok((
            Source::parse(source).ok_or_else(|| self.corrupt(format!("source {source:?}")))?,
            action
                .parse()
                .map_err(|_| self.corrupt(format!("action {action:?}")))?,
            Outcome::parse(outcome).ok_or_else(|| self.corrupt(format!("outcome {outcome:?}")))?,
        ))
    }
}

/// Decodes only the identity of a row selected with [`COLUMNS`] or the like: `id`, `time`,
/// `ingested_at`, `source`, `action` and `outcome`, every other field empty. For readers that
/// need no more of most events (the rules run's, when its rules ask only whether an event is
/// new): the full decoding was most of reading a million events back after an import.
pub fn decode_identity(row: &Row<'_>) -> Result<(i64, Event), StoreError> {
    let cols = Cols::of(row);
    let (source, action, outcome) = cols.kinds()?;
    let (time, ingested_at) = (cols.int(2)?, cols.int(3)?);
    let mut event = Event::new(
        EventId::from_stored(cols.id),
        source,
        action,
        timefmt::from_nanos(time),
        String::new(),
    );
    event.ingested_at = timefmt::from_nanos(ingested_at);
    event.outcome = outcome;
    Ok((cols.seq, event))
}

/// Loads one event by seq.
pub fn by_seq(conn: &Connection, seq: i64) -> Result<Option<Event>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE seq = ?1"))
        .map_err(StoreError::sqlite("prepare events by seq"))?;
    let mut rows = stmt
        .query([seq])
        .map_err(StoreError::sqlite("select events by seq"))?;
    match rows.next().map_err(StoreError::sqlite("read events"))? {
        Some(row) => Ok(Some(decode(row)?.1)),
        None => Ok(None),
    }
}

/// Loads one event by id.
pub fn by_id(conn: &Connection, id: &str) -> Result<Option<Event>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE id = ?1"))
        .map_err(StoreError::sqlite("prepare events by id"))?;
    let mut rows = stmt
        .query([id])
        .map_err(StoreError::sqlite("select events by id"))?;
    match rows.next().map_err(StoreError::sqlite("read events"))? {
        Some(row) => Ok(Some(decode(row)?.1)),
        None => Ok(None),
    }
}

/// The highest seq stored (0 when empty).
pub fn max_seq(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))
        .map_err(StoreError::sqlite("select max(seq) from events"))
}

/// Calls `f` for every row with `after < seq <= upto`, in seq order. `columns` is [`COLUMNS`] or
/// [`COLUMNS_NO_RAW`]. Rows that cannot be decoded are passed as errors; `f` returns `false`
/// to stop.
pub fn for_each_after(
    conn: &Connection,
    after: i64,
    upto: i64,
    columns: &str,
    mut f: impl FnMut(Result<StoredRow, StoreError>) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {columns} FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq"
        ))
        .map_err(StoreError::sqlite("prepare events scan"))?;
    let mut rows = stmt
        .query([after, upto])
        .map_err(StoreError::sqlite("scan events"))?;
    while let Some(row) = rows.next().map_err(StoreError::sqlite("scan events"))? {
        if !f(decode(row))? {
            break;
        }
    }
    Ok(())
}

/// How far the oldest events are all expired: walks from the first row in seq order while
/// `expired(time_ns, source)` holds and `seq <= max_seq`; returns the last such seq (0: none), how
/// many rows that is, and their oldest and newest time (ns).
pub fn expired_prefix(
    conn: &Connection,
    max_seq: i64,
    expired: &dyn Fn(i64, &str) -> bool,
) -> Result<(i64, u64, i64, i64), StoreError> {
    let mut stmt = conn
        .prepare("SELECT seq, time, source FROM events WHERE seq <= ?1 ORDER BY seq")
        .map_err(StoreError::sqlite("prepare retention scan"))?;
    let mut rows = stmt
        .query([max_seq])
        .map_err(StoreError::sqlite("retention scan"))?;
    let (mut last, mut n, mut oldest, mut newest) = (0i64, 0u64, i64::MAX, i64::MIN);
    while let Some(r) = rows.next().map_err(StoreError::sqlite("retention scan"))? {
        let seq: i64 = r.get(0).map_err(StoreError::sqlite("retention scan"))?;
        let time: i64 = r.get(1).map_err(StoreError::sqlite("retention scan"))?;
        let source: String = r.get(2).map_err(StoreError::sqlite("retention scan"))?;
        if !expired(time, &source) {
            break;
        }
        last = seq;
        n += 1;
        oldest = oldest.min(time);
        newest = newest.max(time);
    }
    Ok((last, n, oldest, newest))
}

/// The seq of the event with this id.
pub fn seq_of(conn: &Connection, id: &str) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT seq FROM events WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(StoreError::sqlite("read a seq"))
}

/// The stored link hash of `seq`, if that row exists.
pub fn hash_of(conn: &Connection, seq: i64) -> Result<Option<crate::chain::Hash>, StoreError> {
    let h: Option<Vec<u8>> = conn
        .prepare_cached("SELECT hash FROM events WHERE seq = ?1")
        .and_then(|mut s| s.query_row([seq], |r| r.get(0)).optional())
        .map_err(StoreError::sqlite("read a link hash"))?;
    Ok(h.map(|v| v.as_slice().try_into().unwrap_or([0xff; 32])))
}

/// Whether an event with this id is stored.
pub fn contains(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT 1 FROM events WHERE id = ?1")
        .and_then(|mut st| st.exists([id]))
        .map_err(StoreError::sqlite("look up event id"))
}

/// The spans of the time index from the first stored seq to the last, as a `spans(s)` CTE.
macro_rules! spans {
    () => {
        "WITH RECURSIVE spans(s) AS (SELECT (SELECT min(seq) FROM events) >> 20 \
         UNION ALL SELECT s + 1 FROM spans WHERE s < (SELECT max(seq) FROM events) >> 20)"
    };
}

/// The condition that lets a query on `time` use the time index, which is kept per span of
/// 2^20 seqs (migration 12 says why): every span from the first stored seq to the last, each
/// searched by time. Spans are few (ten at 10M events), and each is one seek; the matches come
/// out span by span, so a query that wants them in time order sorts them.
pub const IN_SPANS: &str = concat!("(seq >> 20) IN (", spans!(), " SELECT s FROM spans)");

/// The oldest and newest event time: the least of each span's first and the greatest of each
/// span's last, one seek each (a lone `min(time)` would read the whole index now that time is
/// not its first column).
pub const TIME_BOUNDS: &str = concat!(
    spans!(),
    " SELECT min((SELECT min(time) FROM events WHERE (seq >> 20) = s)), \
     max((SELECT max(time) FROM events WHERE (seq >> 20) = s)) FROM spans"
);

/// Events of one source with `from <= time < to`, oldest first, at most `limit`, with the columns
/// of [`COLUMNS_PAIRING`]: what linking two records of one change needs, once per imported batch.
pub fn near(
    conn: &Connection,
    source: Source,
    from: &DateTime<Utc>,
    to: &DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let (Some(from), Some(to)) = (timefmt::to_nanos(from), timefmt::to_nanos(to)) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS_PAIRING} FROM events WHERE {IN_SPANS} AND time >= ?1 \
             AND time < ?2 AND source = ?3 ORDER BY time, seq LIMIT ?4"
        ))
        .map_err(StoreError::sqlite("prepare events near"))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = stmt
        .query(params![from, to, source.as_str(), limit])
        .map_err(StoreError::sqlite("select events near"))?;
    let constants = placeholders(COLUMNS_PAIRING);
    let mut out = Vec::new();
    while let Some(row) = rows
        .next()
        .map_err(StoreError::sqlite("read events near"))?
    {
        out.push(decode_selected(row, constants)?.1);
    }
    Ok(out)
}

/// Events with `from <= time < to` (nanoseconds) matching the filter, oldest first.
pub fn between(
    conn: &Connection,
    from: i64,
    to: i64,
    filter: &crate::EventFilter,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            // SQLite sorts only the matches' (time, seq) to apply the limit; the rows come in
            // seq order and are put in time order here, so no sort carries (or decompresses)
            // their `raw`.
            "SELECT {COLUMNS} FROM events WHERE seq IN (SELECT seq FROM events \
             WHERE {IN_SPANS} AND time >= ?1 AND time < ?2 \
             AND (?4 IS NULL OR source = ?4) AND (?5 IS NULL OR tenant = ?5) \
             AND (?6 IS NULL OR host = ?6) AND (?7 IS NULL OR target = ?7) \
             ORDER BY time, seq LIMIT ?3)"
        ))
        .map_err(StoreError::sqlite("prepare events by time"))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = stmt
        .query(params![
            from,
            to,
            limit,
            filter.source.map(|s| s.as_str()),
            filter.tenant,
            filter.host,
            filter.target
        ])
        .map_err(StoreError::sqlite("select events by time"))?;
    let mut out = Vec::new();
    while let Some(row) = rows
        .next()
        .map_err(StoreError::sqlite("read events by time"))?
    {
        let (seq, e, _) = decode(row)?;
        out.push((seq, e));
    }
    out.sort_unstable_by_key(|(seq, e)| (e.time, *seq));
    Ok(out.into_iter().map(|(_, e)| e).collect())
}

/// The SQL condition "action is one of these" for a list of action names (quoted for SQL; the
/// names come from the code, never from input, but are quoted all the same).
///
/// Written as `(action = 'a' OR action = 'b' …)`, not `action IN (…)`: SQLite evaluates a partial
/// index's predicate on every INSERT, and an IN list of more than two constants is built into an
/// ephemeral B-tree each time a statement runs — measured at 22 % of the writer thread (plus the
/// malloc/free around it) on a bulk import. The read side must use the same text, so the planner
/// sees that its WHERE implies the index's.
pub fn action_list(actions: &[&str]) -> String {
    let list: Vec<String> = actions
        .iter()
        .map(|x| format!("action = '{}'", x.replace('\'', "''")))
        .collect();
    format!("({})", list.join(" OR "))
}

/// Every event whose action is one of `actions`, oldest first, without `raw`. A partial index made
/// with [`crate::Writer::ensure_action_index`] for the same list serves it.
pub fn with_actions(conn: &Connection, actions: &[&str]) -> Result<Vec<Event>, StoreError> {
    let all = with_actions_after(conn, COLUMNS_NO_RAW, actions, None, None, usize::MAX)?;
    Ok(all.into_iter().map(|(_, e)| e).collect())
}

/// The most rows a paged read makes room for before reading: its pieces (the rules job reads
/// 50,000) arrive in a vector of their final size instead of one that doubles — each doubling
/// copied the events read so far into memory faulted in anew (these two reads' reallocations were
/// ~4 % of the CPU samples of a rules run after a 1M-record Graph import).
const PRESIZE: usize = 50_000;

/// Where an event stands in time order: its time column and seq.
pub type TimeSeq = (i64, i64);

/// [`with_actions`] in pieces: at most `limit` events after `after` (the time column and seq of
/// the last one read) in the same order, each with that position. Keyset pagination through the
/// partial index, so a rebuild never holds every input twice. `columns`: [`COLUMNS_NO_RAW`] or
/// [`COLUMNS_INPUT`] (the constants it selects are not read back: [`placeholders`]). `skip`:
/// `(a, b)` leaves out the events with `a < seq <= b` (the seq is in the index: their rows are
/// not read).
pub fn with_actions_after(
    conn: &Connection,
    columns: &str,
    actions: &[&str],
    after: Option<TimeSeq>,
    skip: Option<(i64, i64)>,
    limit: usize,
) -> Result<Vec<(TimeSeq, Event)>, StoreError> {
    if actions.is_empty() {
        return Ok(Vec::new());
    }
    let constants = placeholders(columns);
    let (time, seq) = after.unwrap_or((i64::MIN, i64::MIN));
    let (skip_from, skip_to) = skip.unwrap_or((i64::MAX, i64::MAX));
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {columns} FROM events WHERE {} AND (time, seq) > (?1, ?2) \
             AND (seq <= ?4 OR seq > ?5) ORDER BY time, seq LIMIT ?3",
            action_list(actions)
        ))
        .map_err(StoreError::sqlite("prepare events by action"))?;
    let capacity = limit.min(PRESIZE);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = stmt
        .query(params![time, seq, limit, skip_from, skip_to])
        .map_err(StoreError::sqlite("select events by action"))?;
    let mut out = Vec::with_capacity(capacity);
    while let Some(row) = rows
        .next()
        .map_err(StoreError::sqlite("read events by action"))?
    {
        let time: i64 = row
            .get(2)
            .map_err(StoreError::sqlite("read events by action"))?;
        let (seq, e, _) = decode_selected(row, constants)?;
        out.push(((time, seq), e));
    }
    Ok(out)
}

/// Events with `seq < s <= upto` in storage order with their seq, at most `limit`, without `raw`
/// but for those whose action is in `raw_of`; only those whose action is in `actions` when given
/// (the filters run in SQLite, before decoding).
pub fn after_with_seq(
    conn: &Connection,
    seq: i64,
    upto: i64,
    actions: Option<&[&str]>,
    raw_of: &[&str],
    whole: Option<&[&str]>,
    limit: usize,
) -> Result<Vec<(i64, Event)>, StoreError> {
    let filter = match actions {
        None => String::new(),
        Some([]) => return Ok(Vec::new()),
        Some(a) => format!(" AND {}", action_list(a)),
    };
    // The few records a rule reads come with the scan: one lookup by id each was a tenth of
    // the rules run's reading thread after a million-record Graph import.
    let columns = if raw_of.is_empty() {
        COLUMNS_NO_RAW.to_owned()
    } else {
        COLUMNS_NO_RAW.replace(
            "'' AS raw",
            &format!(
                "CASE WHEN {} THEN raw_text(raw) ELSE '' END AS raw",
                action_list(raw_of)
            ),
        )
    };
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {columns} FROM events WHERE seq > ?1 AND seq <= ?3{filter} ORDER BY seq LIMIT ?2"
        ))
        .map_err(StoreError::sqlite("prepare events after"))?;
    let capacity = limit.min(PRESIZE);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = stmt
        .query(params![seq, limit, upto])
        .map_err(StoreError::sqlite("select events after"))?;
    let mut out = Vec::with_capacity(capacity);
    while let Some(row) = rows
        .next()
        .map_err(StoreError::sqlite("read events after"))?
    {
        let is_whole = match whole {
            None => true,
            // Column 7 is `action`; a row whose action is unreadable is decoded whole, which
            // names what is wrong with it.
            Some(w) => match row.get_ref(7) {
                Ok(ValueRef::Text(a)) => w.iter().any(|x| x.as_bytes() == a),
                _ => true,
            },
        };
        if is_whole {
            let (seq, e, _) = decode(row)?;
            out.push((seq, e));
        } else {
            out.push(decode_identity(row)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variants of [`COLUMNS`] select the same columns in the same places, and
    /// [`placeholders`] finds exactly the ones each selects as constants.
    #[test]
    fn placeholders_are_the_constants_of_each_list() {
        let names = |list: &str| -> Vec<String> {
            list.split(',')
                .map(|c| {
                    let name = c.trim().rsplit(' ').next().unwrap_or_default();
                    if name == "raw_text(raw)" { "raw" } else { name }.to_owned()
                })
                .collect()
        };
        let all = names(COLUMNS);
        assert_eq!(all.len(), 25);
        assert_eq!(placeholders(COLUMNS), 0);
        for (list, constants) in [
            (COLUMNS_NO_RAW, &["raw", "hash"][..]),
            (
                COLUMNS_INPUT,
                &[
                    "justification",
                    "correlation_id",
                    "record_id",
                    "message",
                    "raw",
                    "hash",
                ],
            ),
            (
                COLUMNS_PAIRING,
                &[
                    "actor",
                    "target_name",
                    "scope",
                    "expires_at",
                    "justification",
                    "record_id",
                    "message",
                    "raw",
                    "hash",
                ],
            ),
        ] {
            assert_eq!(names(list), all, "{list}");
            let mask = placeholders(list);
            let found: Vec<&str> = (0..all.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| all[i].as_str())
                .collect();
            assert_eq!(found, constants, "{list}");
        }
    }
}
