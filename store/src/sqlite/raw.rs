//! The `raw` column, compressed: zstd with a dictionary trained per source shape.
//!
//! A raw record (a Winlogbeat document, an EVTX record's JSON, a Graph audit entry) is most of an
//! event's bytes, and records of one shape repeat the same keys and boilerplate. Compressed one
//! by one they would keep most of that; with a dictionary trained on the first records of their
//! shape they shrink ~10× and each row still decompresses on its own.
//!
//! Stored values, by SQLite type:
//! - TEXT: the record as it came (rows written before compression, and records too short to gain);
//! - BLOB `[1][dictionary id: u32 LE][zstd frame]`: compressed with the dictionary of that id
//!   (a row of the `dictionaries` table, written in the transaction of the first row using it);
//! - BLOB `[2][zstd frame]`: compressed without a dictionary (a shape still collecting samples).
//!
//! Readers never see the encoding: every connection has the SQL function `raw_text(raw)`, which
//! gives the record back as TEXT, byte for byte ([`register`]). The chain hashes the record
//! itself, so a damaged blob or dictionary is caught by `verify` like any edited row.
//!
//! [`Encoder`] is the writer's half (shapes, samples, training); [`Dictionaries`] the decoding
//! dictionaries a connection has loaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use zstd::zstd_safe::{self, CCtx, CDict, DCtx, DDict};

use crate::StoreError;

const TAG_DICT: u8 = 1;
const TAG_PLAIN: u8 = 2;
/// zstd level. 1, not zstd's default 3: on 300,000 generated Winlogbeat lines level 3 cost 2–4 µs
/// more CPU per event (of 26–34) for 10 bytes less on disk per event (604 against 614, index
/// included), and Graph records stored 1 % smaller (ARCHITECTURE.md, performance notes).
const LEVEL: i32 = 1;
/// Records shorter than this stay text: the frame header would eat the gain.
const MIN_COMPRESS: usize = 96;
/// Records of one shape collected before its dictionary is trained.
const TRAIN_SAMPLES: usize = 1024;
/// Bytes of samples held for all shapes together (hostile input cannot make this grow).
const MAX_SAMPLE_BYTES: usize = 16 << 20;
/// At most this many shapes get a dictionary; records of further shapes compress without one.
const MAX_SHAPES: usize = 64;
/// Size of a trained dictionary.
const DICT_BYTES: usize = 64 << 10;
/// A frame declaring more than this is refused (a damaged or hostile database).
const MAX_DECODED: u64 = 512 << 20;

/// Decoding dictionaries by id, loaded on first use from the database at `path`.
pub struct Dictionaries {
    path: PathBuf,
    by_id: RwLock<HashMap<u32, Arc<DDict<'static>>>>,
}

impl std::fmt::Debug for Dictionaries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dictionaries")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Dictionaries {
    pub fn new(path: &Path) -> Arc<Self> {
        Arc::new(Dictionaries {
            path: path.to_owned(),
            by_id: RwLock::default(),
        })
    }

    /// Makes dictionary `id` known without reading it back (the writer, for a dictionary its
    /// open transaction has just written).
    fn insert(&self, id: u32, body: &[u8]) {
        if let Ok(mut map) = self.by_id.write() {
            map.insert(id, Arc::new(DDict::create(body)));
        }
    }

    fn get(&self, id: u32) -> Result<Arc<DDict<'static>>, String> {
        if let Some(d) = self.by_id.read().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(d);
        }
        // A dictionary is committed with (or before) the first row that uses it, so a fresh
        // connection sees every dictionary a visible row needs.
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("open {} for dictionary {id}: {e}", self.path.display()))?;
        let body: Option<Vec<u8>> = conn
            .query_row(
                "SELECT body FROM dictionaries WHERE id = ?1",
                [i64::from(id)],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| format!("read dictionary {id}: {e}"))?;
        let body = body.ok_or_else(|| format!("dictionary {id} is not stored"))?;
        let d = Arc::new(DDict::create(&body));
        if let Ok(mut map) = self.by_id.write() {
            map.insert(id, d.clone());
        }
        Ok(d)
    }

    /// The record a stored BLOB holds.
    pub fn decode(&self, blob: &[u8]) -> Result<String, String> {
        let (dict, frame) = match blob.split_first() {
            Some((&TAG_DICT, rest)) if rest.len() >= 4 => {
                let (id, frame) = rest.split_at(4);
                let id = u32::from_le_bytes([id[0], id[1], id[2], id[3]]);
                (Some(self.get(id)?), frame)
            }
            Some((&TAG_PLAIN, frame)) => (None, frame),
            Some((tag, _)) => return Err(format!("unknown raw encoding {tag}")),
            None => return Err("empty raw value".to_owned()),
        };
        let size = match zstd_safe::get_frame_content_size(frame) {
            Ok(Some(n)) if n <= MAX_DECODED => n as usize,
            Ok(Some(n)) => return Err(format!("raw frame declares {n} bytes")),
            Ok(None) | Err(_) => return Err("raw frame without a valid size".to_owned()),
        };
        let mut out: Vec<u8> = Vec::with_capacity(size);
        DCTX.with(|cell| {
            let mut dctx = cell.borrow_mut();
            match &dict {
                Some(d) => dctx.decompress_using_ddict(&mut out, frame, d),
                None => dctx.decompress(&mut out, frame),
            }
        })
        .map_err(|code| format!("raw frame: {}", zstd_safe::get_error_name(code)))?;
        String::from_utf8(out).map_err(|_| "raw record is not UTF-8".to_owned())
    }
}

thread_local! {
    static DCTX: std::cell::RefCell<DCtx<'static>> = std::cell::RefCell::new(DCtx::create());
}

/// Registers `raw_text(raw)` on `conn`: TEXT as it is, a compressed BLOB decoded.
pub fn register(conn: &Connection, dicts: Arc<Dictionaries>) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "raw_text",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| match ctx.get_raw(0) {
            ValueRef::Blob(b) => dicts
                .decode(b)
                .map(rusqlite::types::Value::Text)
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into())),
            ValueRef::Text(t) => Ok(rusqlite::types::Value::Text(
                String::from_utf8_lossy(t).into_owned(),
            )),
            ValueRef::Null => Ok(rusqlite::types::Value::Null),
            ValueRef::Integer(i) => Ok(rusqlite::types::Value::Text(i.to_string())),
            ValueRef::Real(f) => Ok(rusqlite::types::Value::Text(f.to_string())),
        },
    )
}

/// A record as bound to the `raw` column.
#[derive(Debug)]
pub enum Encoded<'a> {
    Text(&'a str),
    Blob(&'a [u8]),
}

impl ToSql for Encoded<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Encoded::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Encoded::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

enum Shape {
    Sampling(Vec<Vec<u8>>),
    Trained {
        id: u32,
        cdict: CDict<'static>,
        body: Vec<u8>,
        /// Written to `dictionaries` by a committed transaction.
        persisted: bool,
    },
    /// Training failed (too few distinct samples): compress without a dictionary.
    Untrainable,
}

/// The writer's half: picks the shape of each record, collects samples, trains a dictionary per
/// shape once it has [`TRAIN_SAMPLES`], and compresses.
pub struct Encoder {
    dicts: Arc<Dictionaries>,
    /// Few (at most [`MAX_SHAPES`]) and looked up for every record: foldhash, not SipHash.
    shapes: foldhash::HashMap<String, Shape>,
    /// The current record's shape, in a buffer kept between records.
    key: String,
    next_id: u32,
    sample_bytes: usize,
    cctx: CCtx<'static>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("shapes", &self.shapes.len())
            .field("next_id", &self.next_id)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Loads the stored dictionaries (a shape keeps its dictionary across restarts).
    pub fn load(conn: &Connection, dicts: Arc<Dictionaries>) -> Result<Encoder, StoreError> {
        let mut shapes = foldhash::HashMap::default();
        let mut next_id = 1u32;
        let mut stmt = conn
            .prepare("SELECT id, shape, body FROM dictionaries ORDER BY id")
            .map_err(StoreError::sqlite("read dictionaries"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(StoreError::sqlite("read dictionaries"))?;
        for row in rows {
            let (id, shape, body) = row.map_err(StoreError::sqlite("read dictionaries"))?;
            let Ok(id) = u32::try_from(id) else { continue };
            next_id = next_id.max(id.saturating_add(1));
            dicts.insert(id, &body);
            let cdict = CDict::create(&body, LEVEL);
            shapes.insert(
                shape,
                Shape::Trained {
                    id,
                    cdict,
                    body,
                    persisted: true,
                },
            );
        }
        Ok(Encoder {
            dicts,
            shapes,
            key: String::new(),
            next_id,
            sample_bytes: 0,
            cctx: CCtx::create(),
            scratch: Vec::new(),
        })
    }

    /// The compressed value to store for `raw`, a record of `source`; `None`: store it as text.
    pub fn encode(&mut self, source: &str, raw: &str) -> Option<Vec<u8>> {
        if raw.len() < MIN_COMPRESS {
            return None;
        }
        let mut key = std::mem::take(&mut self.key);
        shape_into(&mut key, source, raw);
        let out = self.encode_shaped(&key, raw);
        self.key = key;
        out
    }

    /// [`Encoder::encode`] of a record of shape `key`.
    fn encode_shaped(&mut self, key: &str, raw: &str) -> Option<Vec<u8>> {
        if !self.shapes.contains_key(key) && self.shapes.len() < MAX_SHAPES {
            self.shapes
                .insert(key.to_owned(), Shape::Sampling(Vec::new()));
        }
        let mut trained = None;
        if let Some(Shape::Sampling(samples)) = self.shapes.get_mut(key)
            && self.sample_bytes + raw.len() <= MAX_SAMPLE_BYTES
        {
            samples.push(raw.as_bytes().to_vec());
            self.sample_bytes += raw.len();
            if samples.len() >= TRAIN_SAMPLES {
                let taken = std::mem::take(samples);
                self.sample_bytes -= taken.iter().map(Vec::len).sum::<usize>();
                trained = Some(train(&taken));
            }
        }
        if let Some(result) = trained {
            let state = match result {
                Ok(body) => {
                    let id = self.next_id;
                    self.next_id = self.next_id.saturating_add(1);
                    self.dicts.insert(id, &body);
                    tracing::debug!(shape = %key, id, bytes = body.len(), "raw dictionary trained");
                    Shape::Trained {
                        id,
                        cdict: CDict::create(&body, LEVEL),
                        body,
                        persisted: false,
                    }
                }
                Err(e) => {
                    tracing::debug!(shape = %key, error = %e, "no raw dictionary for this shape");
                    Shape::Untrainable
                }
            };
            self.shapes.insert(key.to_owned(), state);
        }
        // zstd writes from the start of the buffer: compress into the scratch buffer, then put
        // the tag (and dictionary id) in front.
        let bound = zstd_safe::compress_bound(raw.len());
        self.scratch.clear();
        self.scratch.reserve(bound);
        let (res, header) = match self.shapes.get(key) {
            Some(Shape::Trained { id, cdict, .. }) => {
                let mut h = [TAG_DICT, 0, 0, 0, 0];
                h[1..].copy_from_slice(&id.to_le_bytes());
                let r = self
                    .cctx
                    .compress_using_cdict(&mut self.scratch, raw.as_bytes(), cdict);
                (r, h.to_vec())
            }
            _ => (
                self.cctx.compress(&mut self.scratch, raw.as_bytes(), LEVEL),
                vec![TAG_PLAIN],
            ),
        };
        match res {
            Ok(n) if n + header.len() < raw.len() => {
                let mut out = Vec::with_capacity(header.len() + n);
                out.extend_from_slice(&header);
                out.extend_from_slice(&self.scratch[..n]);
                Some(out)
            }
            _ => None,
        }
    }

    /// Writes the dictionaries trained and not yet committed (in the caller's transaction);
    /// returns their ids, for [`Encoder::committed`].
    pub fn save_new(&self, tx: &rusqlite::Connection, now: i64) -> Result<Vec<u32>, StoreError> {
        let mut saved = Vec::new();
        for (shape, state) in &self.shapes {
            if let Shape::Trained {
                id,
                body,
                persisted: false,
                ..
            } = state
            {
                tx.execute(
                    "INSERT OR IGNORE INTO dictionaries (id, shape, created_at, body) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![i64::from(*id), shape, now, body],
                )
                .map_err(StoreError::sqlite("insert into dictionaries"))?;
                saved.push(*id);
            }
        }
        Ok(saved)
    }

    /// The transaction that wrote dictionaries `ids` ([`Encoder::save_new`]) committed. Only
    /// those: one trained meanwhile by a producer is still to be written.
    pub fn committed(&mut self, ids: &[u32]) {
        for state in self.shapes.values_mut() {
            if let Shape::Trained { id, persisted, .. } = state
                && ids.contains(id)
            {
                *persisted = true;
            }
        }
    }
}

/// The writer's [`Encoder`], shared: producers compress their batches on their own threads
/// ([`RawEncoder::prepare`]) while the writer stores earlier ones. The lock is held for one
/// batch's compression, never across a transaction.
#[derive(Debug, Clone)]
pub struct RawEncoder(Arc<std::sync::Mutex<Encoder>>);

/// The compressed `raw` of each event of a batch, in order ([`RawEncoder::prepare`]). Each
/// remembers its event (id and `raw` length): should the batch be reordered or changed before
/// it is written, the writer compresses the events that no longer match again instead of
/// storing another event's record.
#[derive(Debug, Default)]
pub struct PreparedRaws(pub(crate) Vec<Prepared>);

impl PreparedRaws {
    /// Appends `other`'s records (for the events appended after this batch's).
    pub fn append(&mut self, other: PreparedRaws) {
        self.0.extend(other.0);
    }
}

#[derive(Debug)]
pub(crate) struct Prepared {
    id: privtrail_model::EventId,
    raw_len: usize,
    pub(crate) blob: Option<Vec<u8>>,
}

impl Prepared {
    /// Whether this was prepared from `e` as it is now.
    pub(crate) fn is_for(&self, e: &privtrail_model::Event) -> bool {
        self.raw_len == e.raw.len() && self.id == e.id
    }
}

impl RawEncoder {
    pub(crate) fn new(encoder: Encoder) -> Self {
        RawEncoder(Arc::new(std::sync::Mutex::new(encoder)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Encoder> {
        // A panic while compressing leaves nothing half-done that matters: go on.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Compresses the `raw` of each event (training a shape's dictionary when it has enough
    /// samples), for [`crate::Writer::write_prepared`] with the same events.
    pub fn prepare(&self, events: &[privtrail_model::Event]) -> PreparedRaws {
        let blobs = self.encode_all(events);
        PreparedRaws(
            events
                .iter()
                .zip(blobs)
                .map(|(e, blob)| Prepared {
                    id: e.id.clone(),
                    raw_len: e.raw.len(),
                    blob,
                })
                .collect(),
        )
    }

    pub(crate) fn encode_all(&self, events: &[privtrail_model::Event]) -> Vec<Option<Vec<u8>>> {
        let mut enc = self.lock();
        events
            .iter()
            .map(|e| enc.encode(e.source.as_str(), &e.raw))
            .collect()
    }

    pub(crate) fn save_new(
        &self,
        tx: &rusqlite::Connection,
        now: i64,
    ) -> Result<Vec<u32>, StoreError> {
        self.lock().save_new(tx, now)
    }

    pub(crate) fn committed(&self, ids: &[u32]) {
        if !ids.is_empty() {
            self.lock().committed(ids);
        }
    }
}

fn train(samples: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    zstd::dict::from_samples(samples, DICT_BYTES).map_err(|e| e.to_string())
}

/// [`shape_into`] as a new string.
#[cfg(test)]
fn shape(source: &str, raw: &str) -> String {
    let mut out = String::new();
    shape_into(&mut out, source, raw);
    out
}

/// The shape of a record: its source and how it begins (a Winlogbeat document's first key, an
/// EVTX record's root element), so that records with the same layout share a dictionary. Written
/// into `out` (cleared first): no allocation per record.
fn shape_into(out: &mut String, source: &str, raw: &str) {
    out.clear();
    out.push_str(source);
    out.push('/');
    out.extend(
        raw.chars()
            .skip_while(|c| c.is_whitespace())
            .take(40)
            .take_while(|&c| c != ':' && c != '>' && c != ',')
            .filter(|c| c.is_ascii_graphic()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Connection, Arc<Dictionaries>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "CREATE TABLE dictionaries (id INTEGER PRIMARY KEY, shape TEXT NOT NULL, \
             created_at INTEGER NOT NULL, body BLOB NOT NULL); CREATE TABLE t (raw TEXT);",
        )
        .expect("schema");
        let dicts = Dictionaries::new(&path);
        register(&conn, dicts.clone()).expect("register");
        (dir, conn, dicts)
    }

    fn record(i: usize) -> String {
        format!(
            "{{\"@timestamp\":\"2026-01-05T00:{:02}:03.144Z\",\"event\":{{\"code\":\"4624\",\
             \"provider\":\"Microsoft-Windows-Security-Auditing\"}},\"winlog\":{{\"record_id\":{i},\
             \"event_data\":{{\"TargetUserName\":\"user{}\",\"LogonType\":\"3\"}}}},\"message\":\
             \"An account was successfully logged on. \\u00e9 ✓\"}}",
            i % 60,
            i * 7919 % 1000
        )
    }

    #[test]
    fn records_round_trip_before_and_after_training_and_across_restarts() {
        let (_dir, mut conn, dicts) = db();
        let mut enc = Encoder::load(&conn, dicts.clone()).expect("load");
        let records: Vec<String> = (0..TRAIN_SAMPLES + 50).map(record).collect();
        let tx = conn.transaction().expect("tx");
        for r in &records {
            let blob = enc.encode("windows", r);
            let v = match &blob {
                Some(b) => Encoded::Blob(b),
                None => Encoded::Text(r),
            };
            tx.execute("INSERT INTO t (raw) VALUES (?1)", [&v])
                .expect("insert");
        }
        // Short records stay text.
        assert!(enc.encode("windows", "{}").is_none());
        tx.execute("INSERT INTO t (raw) VALUES (?1)", [&Encoded::Text("{}")])
            .expect("insert short");
        let saved = enc.save_new(&tx, 0).expect("save");
        assert_eq!(saved.len(), 1);
        tx.commit().expect("commit");
        enc.committed(&saved);

        let mut stmt = conn
            .prepare("SELECT raw_text(raw), typeof(raw), length(raw) FROM t ORDER BY rowid")
            .expect("prepare");
        let rows: Vec<(String, String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .map(|r| r.expect("row"))
            .collect();
        for (i, r) in records.iter().enumerate() {
            assert_eq!(&rows[i].0, r, "row {i}");
            assert_eq!(rows[i].1, "blob", "row {i}");
        }
        assert_eq!(rows.last().map(|r| r.0.as_str()), Some("{}"));
        assert_eq!(rows.last().map(|r| r.1.as_str()), Some("text"));
        // Records after training are far smaller than before it.
        let before = rows[10].2;
        let after = rows[TRAIN_SAMPLES + 10].2;
        assert!(after * 2 < before, "{after} vs {before}");

        // A new connection (another process) loads the dictionary from the table.
        let other = Connection::open(conn.path().expect("path")).expect("open");
        register(
            &other,
            Dictionaries::new(Path::new(conn.path().expect("path"))),
        )
        .expect("reg");
        let last: String = other
            .query_row(
                "SELECT raw_text(raw) FROM t WHERE rowid = ?1",
                [(TRAIN_SAMPLES + 50) as i64],
                |r| r.get(0),
            )
            .expect("read");
        assert_eq!(last, records[TRAIN_SAMPLES + 49]);
        // A restarted writer keeps using the stored dictionary.
        let mut enc2 = Encoder::load(&conn, Dictionaries::new(Path::new("unused"))).expect("load");
        let b = enc2.encode("windows", &records[3]).expect("compressed");
        assert_eq!(b[0], TAG_DICT);
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let (_dir, conn, dicts) = db();
        for bad in [
            &[][..],
            &[9, 1, 2][..],
            &[TAG_PLAIN, 0x28, 0xb5][..],
            &[TAG_DICT, 7, 0, 0, 0, 1, 2, 3][..],
        ] {
            assert!(dicts.decode(bad).is_err(), "{bad:?}");
            conn.execute("INSERT INTO t (raw) VALUES (?1)", [bad])
                .expect("insert");
        }
        let err = conn
            .query_row("SELECT raw_text(raw) FROM t WHERE rowid = 4", [], |r| {
                r.get::<_, String>(0)
            })
            .expect_err("missing dictionary");
        assert!(err.to_string().contains("dictionary 7"), "{err}");
    }

    #[test]
    fn shapes_follow_the_record_layout() {
        assert_eq!(
            shape("windows", "{\"@timestamp\":1}"),
            "windows/{\"@timestamp\""
        );
        assert_eq!(
            shape("windows", "  <Event xmlns='x'>"),
            "windows/<Eventxmlns='x'"
        );
        assert_ne!(shape("entra", "{\"id\":1}"), shape("windows", "{\"id\":1}"));
    }
}
