//! Evidence for an auditor: `export` writes a period's events (with `raw`), elevations and alerts
//! and a `manifest.json` to a folder; `verify_export` checks such a folder offline, without the
//! store.
//!
//! Every exported event line carries its `seq`, its stored link `hash` and the `prev_hash` it links
//! to, so each line is checked on its own (the link recomputed from the event), consecutive seqs
//! are checked to chain, every anchor the manifest (or `--anchors`) names for an exported seq must
//! match, and the manifest's SHA-256 of every file must hold. With the chain key, keyed links are
//! checked as HMACs: without the key nobody can forge them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use privtrail_model::Event;
use privtrail_store::{Anchor, ChainKey, Hash, SearchCursor, SearchRequest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::App;
use crate::error::{AppError, Result};
use crate::export::{EVENT_FIELDS, csv_safe, event_values};

/// How events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    fn file(self) -> &'static str {
        match self {
            Format::Jsonl => "events.jsonl",
            Format::Csv => "events.csv",
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Only events matching this query (search syntax); `None`: all of the period.
    pub query: Option<String>,
    pub format: Format,
    pub out: PathBuf,
}

/// One file of an export.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub sha256: String,
    pub bytes: u64,
    pub lines: u64,
}

/// An anchor as the manifest lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestAnchor {
    pub seq: i64,
    pub hash: String,
    #[serde(with = "privtrail_model::serde_time")]
    pub at: DateTime<Utc>,
    pub source: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub privtrail_version: String,
    #[serde(with = "privtrail_model::serde_time")]
    pub created_at: DateTime<Utc>,
    pub store: String,
    pub query: Option<String>,
    #[serde(with = "privtrail_model::serde_time")]
    pub since: DateTime<Utc>,
    #[serde(with = "privtrail_model::serde_time")]
    pub until: DateTime<Utc>,
    pub format: Format,
    pub events: u64,
    pub elevations: u64,
    pub alerts: u64,
    /// Earliest and latest event time exported.
    pub time_range: Option<(String, String)>,
    /// First and last seq exported.
    pub seq_range: Option<(i64, i64)>,
    /// The link the first exported event follows, and the last exported event's link (hex).
    pub chain_before_first: Option<String>,
    pub chain_after_last: Option<String>,
    /// From which seq links are keyed (HMAC-SHA256), if any.
    pub keyed_from: Option<i64>,
    /// Anchors at or after the first exported seq: published points of the chain that cover it.
    pub anchors: Vec<ManifestAnchor>,
    pub files: BTreeMap<String, FileEntry>,
}

/// One line of `events.jsonl`: the chain position and the event (SPEC §2 names, with `raw`).
#[derive(Debug, Serialize, Deserialize)]
struct Line<E> {
    seq: i64,
    prev_hash: String,
    hash: String,
    event: E,
}

/// Writes `text` to `path` with mode 0600 (exports are evidence: not for every user).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(AppError::io("create", path))?;
    f.write_all(bytes).map_err(AppError::io("write", path))?;
    f.sync_all().map_err(AppError::io("sync", path))?;
    Ok(())
}

fn entry(bytes: &[u8]) -> FileEntry {
    FileEntry {
        sha256: hex::encode(Sha256::digest(bytes)),
        bytes: bytes.len() as u64,
        lines: bytes.iter().filter(|b| **b == b'\n').count() as u64,
    }
}

/// Verifies the store's chain from its start against every anchor privtrail knows: the
/// configured anchor file, `extra` (an anchor file from elsewhere, e.g. a SIEM's), and those
/// recorded in the store. Also says where the anchors came from, for the report.
pub fn verify_store(
    app: &App,
    extra: Option<&Path>,
) -> Result<(privtrail_store::VerifyReport, Vec<String>)> {
    let mut anchors = Vec::new();
    let mut sources = Vec::new();
    let configured = app.config().integrity.anchor_file.clone();
    for f in configured.iter().map(|p| p.as_path()).chain(extra) {
        let list = crate::anchor::read_file(f, Some(app.data_dir()))?;
        sources.push(format!("{} anchors in {}", list.len(), f.display()));
        anchors.extend(list);
    }
    let recorded = app.store().recorded_anchors()?.len();
    sources.push(format!("{recorded} recorded in the store"));
    Ok((app.store().verify_with(&anchors)?, sources))
}

/// Exports the period to `req.out` (created; it must not hold files yet).
pub fn export(app: &App, req: &ExportRequest) -> Result<Manifest> {
    if req.until <= req.since {
        return Err(AppError::Usage("--until must be after --since".into()));
    }
    if req.out.exists()
        && std::fs::read_dir(&req.out)
            .map_err(AppError::io("read", &req.out))?
            .next()
            .is_some()
    {
        return Err(AppError::Usage(format!(
            "{} is not empty: an export goes to a new folder",
            req.out.display()
        )));
    }
    crate::lock::create_private_dir(&req.out).map_err(AppError::io("create", &req.out))?;

    // The matching events' seqs (the search, paged), then the events in chain order.
    let mut seqs = Vec::new();
    let mut search = SearchRequest {
        query: req.query.clone().unwrap_or_else(|| "*".into()),
        since: Some(req.since),
        until: Some(req.until),
        limit: 10_000,
        after: None,
    };
    loop {
        let page = app.store().search_page(&search)?;
        let full = page.len() == search.limit;
        seqs.extend(page.iter().map(|(s, _)| *s));
        match page.last() {
            Some((seq, e)) if full => {
                search.after = Some(SearchCursor {
                    time: e.time,
                    seq: *seq,
                })
            }
            _ => break,
        }
    }
    seqs.sort_unstable();
    seqs.dedup();
    let mut events_out = Vec::new();
    if req.format == Format::Csv {
        let mut w = csv::Writer::from_writer(&mut events_out);
        let mut header: Vec<&str> = EVENT_FIELDS.to_vec();
        header.extend(["raw", "via_pim", "linked_to", "seq", "prev_hash", "hash"]);
        w.write_record(&header)
            .map_err(|e| AppError::failed("export", e))?;
        w.flush().map_err(|e| AppError::failed("export", e))?;
    }
    let (mut first, mut last) = (None, None);
    let (mut tmin, mut tmax): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) = (None, None);
    let mut n = 0u64;
    for chunk in seqs.chunks(5000) {
        let rows = app.store().events_by_seqs(chunk)?;
        for (seq, e, hash, prev) in rows {
            if first.is_none() {
                first = Some((seq, prev));
            }
            last = Some((seq, hash));
            tmin = Some(tmin.map_or(e.time, |t| t.min(e.time)));
            tmax = Some(tmax.map_or(e.time, |t| t.max(e.time)));
            n += 1;
            match req.format {
                Format::Jsonl => {
                    serde_json::to_writer(
                        &mut events_out,
                        &Line {
                            seq,
                            prev_hash: hex::encode(prev),
                            hash: hex::encode(hash),
                            event: &e,
                        },
                    )
                    .map_err(AppError::json("export"))?;
                    events_out.push(b'\n');
                }
                Format::Csv => {
                    let mut w = csv::WriterBuilder::new()
                        .has_headers(false)
                        .from_writer(&mut events_out);
                    let mut row: Vec<String> =
                        event_values(&e).iter().map(|v| csv_safe(v)).collect();
                    row.push(e.raw.clone());
                    row.push(e.via_pim.map(|b| b.to_string()).unwrap_or_default());
                    row.push(
                        e.linked_to
                            .as_ref()
                            .map(|l| l.to_string())
                            .unwrap_or_default(),
                    );
                    row.push(seq.to_string());
                    row.push(hex::encode(prev));
                    row.push(hex::encode(hash));
                    w.write_record(&row)
                        .map_err(|e| AppError::failed("export", e))?;
                    w.flush().map_err(|e| AppError::failed("export", e))?;
                }
            }
        }
    }
    let mut files = BTreeMap::new();
    write_private(&req.out.join(req.format.file()), &events_out)?;
    files.insert(req.format.file().to_owned(), entry(&events_out));

    // Elevations that overlap the period, alerts opened in it or still active in it.
    let elevations: Vec<_> = crate::engine::load_elevations(app.store())?
        .into_iter()
        .filter(|e| e.started_at < req.until && e.ended_at.is_none_or(|end| end >= req.since))
        .collect();
    let alerts: Vec<_> = app
        .alerts(None)?
        .into_iter()
        .filter(|a| a.opened_at < req.until && a.resolved_at.is_none_or(|r| r >= req.since))
        .collect();
    for (name, bytes) in [
        ("elevations.jsonl", jsonl(&elevations)?),
        ("alerts.jsonl", jsonl(&alerts)?),
    ] {
        write_private(&req.out.join(name), &bytes)?;
        files.insert(name.to_owned(), entry(&bytes));
    }

    let keyed_from = app.store().verify_keyed_from()?;
    let anchors = match first {
        Some((f, _)) => app
            .store()
            .recorded_anchors()?
            .into_iter()
            .chain(match &app.config().integrity.anchor_file {
                Some(p) if p.exists() => crate::anchor::read_file(p, Some(app.data_dir()))?,
                _ => Vec::new(),
            })
            .filter(|a| a.seq >= f)
            .map(|a| ManifestAnchor {
                seq: a.seq,
                hash: hex::encode(a.hash),
                at: a.at,
                source: a.source,
            })
            .collect(),
        None => Vec::new(),
    };
    let manifest = Manifest {
        privtrail_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: Utc::now(),
        store: app.data_dir().display().to_string(),
        query: req.query.clone(),
        since: req.since,
        until: req.until,
        format: req.format,
        events: n,
        elevations: elevations.len() as u64,
        alerts: alerts.len() as u64,
        time_range: tmin.zip(tmax).map(|(a, b)| {
            (
                privtrail_model::format_time(a),
                privtrail_model::format_time(b),
            )
        }),
        seq_range: first.map(|(f, _)| f).zip(last.map(|(l, _)| l)),
        chain_before_first: first.map(|(_, p)| hex::encode(p)),
        chain_after_last: last.map(|(_, h)| hex::encode(h)),
        keyed_from,
        anchors,
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(AppError::json("manifest"))?;
    write_private(&req.out.join("manifest.json"), &text)?;
    Ok(manifest)
}

fn jsonl<T: Serialize>(items: &[T]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for i in items {
        serde_json::to_writer(&mut out, i).map_err(AppError::json("export"))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// What checking an export found.
#[derive(Debug, Clone)]
pub struct ExportVerdict {
    pub manifest: Manifest,
    pub events_checked: u64,
    pub anchors_matched: usize,
    /// The first problem, naming the file and the line.
    pub problem: Option<String>,
}

/// Checks the export in `dir` offline: file digests, every event's link, the chain between
/// consecutive seqs, and every anchor (the manifest's and `extra`) at an exported seq.
pub fn verify_export(
    dir: &Path,
    key: Option<&ChainKey>,
    extra: &[Anchor],
) -> Result<ExportVerdict> {
    let mpath = dir.join("manifest.json");
    let text = std::fs::read(&mpath).map_err(AppError::io("read", &mpath))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| {
        AppError::Usage(format!(
            "{} is not a privtrail export manifest: {e}",
            mpath.display()
        ))
    })?;
    let mut verdict = ExportVerdict {
        manifest: manifest.clone(),
        events_checked: 0,
        anchors_matched: 0,
        problem: None,
    };
    for (name, want) in &manifest.files {
        let path = dir.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                verdict.problem = Some(format!("{name}: cannot be read: {e}"));
                return Ok(verdict);
            }
        };
        let got = entry(&bytes);
        if got.sha256 != want.sha256 {
            verdict.problem = Some(format!(
                "{name}: its SHA-256 is {}, the manifest says {} (the file was changed)",
                got.sha256, want.sha256
            ));
            // Go on to name the line, when it is the events file.
        }
    }
    let mut anchors: BTreeMap<i64, Vec<(Hash, String)>> = BTreeMap::new();
    for a in &manifest.anchors {
        let mut h = [0u8; 32];
        if hex::decode_to_slice(&a.hash, &mut h).is_ok() {
            anchors.entry(a.seq).or_default().push((
                h,
                format!(
                    "manifest anchor of {} ({})",
                    privtrail_model::format_time(a.at),
                    a.source
                ),
            ));
        }
    }
    for a in extra {
        anchors.entry(a.seq).or_default().push((
            a.hash,
            format!("{} of {}", a.source, privtrail_model::format_time(a.at)),
        ));
    }
    let file = manifest.format.file();
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(AppError::io("read", &path))?;
    let rows: Vec<(usize, Row)> = match manifest.format {
        Format::Jsonl => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, parse_jsonl(l)))
            .collect(),
        Format::Csv => parse_csv(&text),
    };
    let mut prev_line: Option<(i64, Hash)> = None;
    for (line, row) in rows {
        let (seq, prev, hash, event) = match row {
            Ok(r) => r,
            Err(why) => {
                verdict.problem = Some(format!("{file} line {line}: {why}"));
                return Ok(verdict);
            }
        };
        let keyed = manifest.keyed_from.is_some_and(|k| seq >= k);
        if keyed && key.is_none() {
            verdict.problem = Some(format!(
                "{file} line {line} (seq {seq}): the link is keyed (HMAC-SHA256): give the chain key to check it"
            ));
            return Ok(verdict);
        }
        let computed =
            privtrail_store::chain::link_hash_with(if keyed { key } else { None }, &prev, &event);
        if computed != hash {
            verdict.problem = Some(format!(
                "{file} line {line} (seq {seq}, event {}): the event does not match its link hash (changed after export)",
                event.id
            ));
            return Ok(verdict);
        }
        if let Some((pseq, phash)) = prev_line
            && pseq + 1 == seq
            && phash != prev
        {
            verdict.problem = Some(format!(
                "{file} line {line} (seq {seq}): does not link to the line before it"
            ));
            return Ok(verdict);
        }
        for (ah, source) in anchors.get(&seq).into_iter().flatten() {
            if *ah != hash {
                verdict.problem = Some(format!(
                    "{file} line {line} (seq {seq}): differs from the {source} (the chain was rewritten)"
                ));
                return Ok(verdict);
            }
            verdict.anchors_matched += 1;
        }
        prev_line = Some((seq, hash));
        verdict.events_checked += 1;
    }
    if verdict.problem.is_none() && verdict.events_checked != manifest.events {
        verdict.problem = Some(format!(
            "{file} holds {} events, the manifest says {}",
            verdict.events_checked, manifest.events
        ));
    }
    Ok(verdict)
}

/// One exported event as read back: `(seq, prev_hash, hash, event)`, or why the line is not one.
type Row = std::result::Result<(i64, Hash, Hash, Event), String>;

fn hash_of(s: &str) -> std::result::Result<Hash, String> {
    let mut h = [0u8; 32];
    hex::decode_to_slice(s, &mut h).map_err(|e| format!("bad hash {s:?}: {e}"))?;
    Ok(h)
}

fn parse_jsonl(l: &str) -> Row {
    let line: Line<Box<serde_json::value::RawValue>> =
        serde_json::from_str(l).map_err(|e| format!("not an export line: {e}"))?;
    let event: Event =
        serde_json::from_str(line.event.get()).map_err(|e| format!("not an event: {e}"))?;
    Ok((
        line.seq,
        hash_of(&line.prev_hash)?,
        hash_of(&line.hash)?,
        event,
    ))
}

fn parse_csv(text: &str) -> Vec<(usize, Row)> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = match r.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(e) => return vec![(1, Err(format!("no header: {e}")))],
    };
    r.records()
        .enumerate()
        .map(|(i, rec)| {
            let line = i + 2;
            let row = rec.map_err(|e| format!("not CSV: {e}")).and_then(|rec| {
                let get = |name: &str| {
                    header
                        .iter()
                        .position(|h| h == name)
                        .and_then(|p| rec.get(p))
                        .unwrap_or("")
                        .to_owned()
                };
                // Undo the formula guard, then rebuild the event as JSON (raw spliced in as text).
                let unguard = |v: String| {
                    if v.starts_with('\'') && v[1..].starts_with(['=', '+', '-', '@', '\t', '\r']) {
                        v[1..].to_owned()
                    } else {
                        v
                    }
                };
                let mut map = serde_json::Map::new();
                for f in EVENT_FIELDS {
                    let v = unguard(get(f));
                    let optional = !matches!(
                        f,
                        "id" | "time"
                            | "ingested_at"
                            | "source"
                            | "action"
                            | "outcome"
                            | "event_code"
                            | "message"
                    );
                    map.insert(
                        f.to_owned(),
                        if optional && v.is_empty() {
                            serde_json::Value::Null
                        } else {
                            serde_json::Value::String(v)
                        },
                    );
                }
                let via = get("via_pim");
                map.insert(
                    "via_pim".into(),
                    match via.as_str() {
                        "true" => serde_json::Value::Bool(true),
                        "false" => serde_json::Value::Bool(false),
                        _ => serde_json::Value::Null,
                    },
                );
                let linked = get("linked_to");
                map.insert(
                    "linked_to".into(),
                    if linked.is_empty() {
                        serde_json::Value::Null
                    } else {
                        serde_json::Value::String(linked)
                    },
                );
                let body = serde_json::to_string(&map).map_err(|e| e.to_string())?;
                let raw = get("raw");
                let json = format!("{},\"raw\":{raw}}}", &body[..body.len() - 1]);
                let event: Event =
                    serde_json::from_str(&json).map_err(|e| format!("not an event: {e}"))?;
                let seq: i64 = get("seq").parse().map_err(|_| "bad seq".to_owned())?;
                Ok((
                    seq,
                    hash_of(&get("prev_hash"))?,
                    hash_of(&get("hash"))?,
                    event,
                ))
            });
            (line, row)
        })
        .collect()
}
