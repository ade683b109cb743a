//! EVTX files, through the `evtx` crate. Records are rendered to JSON by the crate, deserialized into
//! typed structs ([`super::evtx_json`]) and normalized inside the crate's per-chunk workers; damaged
//! chunks and records are counted and reported, never fatal.

use std::io::{Read, Seek};
use std::sync::Arc;

use chrono::Utc;
use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings};
use privtrail_model::Event;

use super::evtx_json::parse_record_json;
use super::normalize::{channel_selected, normalize};
use crate::emit::Emitter;

const HEADER_BLOCK: u64 = 4096;
const CHUNK_SIZE: u64 = 65536;

/// What a worker makes of one record.
enum Item {
    Event(Box<Event>),
    Skipped,
    Bad {
        record_id: u64,
        reason: String,
        raw: String,
    },
}

struct Parsed {
    /// The first record id of the record's chunk: changes when the walk moves to another chunk.
    chunk_first_id: u64,
    item: Item,
}

/// Threads for parsing chunks. Parsing is a small part of an ingest's cost (storage and indexing
/// dominate, on other threads), so one thread keeps a core free for them.
const PARSE_THREADS: usize = 1;

/// Read every record of an EVTX file into `em`. `file_len` is the (decompressed) size of the file.
/// Errors only when the file header cannot be read.
pub(crate) fn read<T: Read + Seek>(
    parser: Result<EvtxParser<T>, EvtxError>,
    file_len: u64,
    em: &mut Emitter<'_>,
    progress: &dyn Fn(u64),
) -> Result<(), String> {
    let parser = parser.map_err(|e| error_chain(&e))?;
    check_size(&parser, file_len, em);
    let settings = ParserSettings::new()
        .num_threads(PARSE_THREADS)
        .indent(false)
        .separate_json_attributes(false);
    let mut parser = parser.with_configuration(settings);

    let channels = Arc::new(em.opts().channels.clone());
    let extra = Arc::new(em.opts().extra_privileged_groups.clone());
    let work = move |record: Result<evtx::EvtxRecord<'_>, EvtxError>| {
        let record = record?;
        let chunk_first_id = record.chunk.header.first_event_record_id;
        let rendered = record.into_json()?;
        let record_id = rendered.event_record_id;
        let raw = rendered.data;
        let selected = |c: &str| channel_selected(&channels, c);
        let result = parse_record_json(&raw, Some(record_id), &selected)
            .map(|rec| rec.map(|rec| normalize(rec, &extra, Utc::now())));
        let item = match result {
            Err(reason) => Item::Bad {
                record_id,
                reason,
                raw,
            },
            Ok(None) => Item::Skipped,
            Ok(Some(e)) => Item::Event(Box::new(e)),
        };
        Ok(Parsed {
            chunk_first_id,
            item,
        })
    };

    // The `evtx` crate is defensive, but a panic on some unforeseen input must not take the run
    // down: it ends this file as damage, keeping what was read.
    let walk = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut chunks_done: u64 = 0;
        let mut current_chunk = None;
        for result in parser.serialized_records(work) {
            match result {
                Ok(p) => {
                    if current_chunk != Some(p.chunk_first_id) {
                        if current_chunk.is_some() {
                            chunks_done += 1;
                            progress((HEADER_BLOCK + chunks_done * CHUNK_SIZE).min(file_len));
                        }
                        current_chunk = Some(p.chunk_first_id);
                    }
                    match p.item {
                        Item::Event(e) => em.event(*e),
                        Item::Skipped => em.skipped(),
                        Item::Bad {
                            record_id,
                            reason,
                            raw,
                        } => em.reject(format!("record {record_id}"), reason, &raw),
                    }
                }
                Err(e) => record_error(&e, em),
            }
            if em.stopped() {
                return;
            }
        }
    }));
    if walk.is_err() {
        em.damage(
            "record",
            "the EVTX parser failed (panicked); the rest of the file is lost",
        );
    }
    progress(file_len);
    Ok(())
}

/// A file shorter than its header says, or ending inside a chunk, has lost records.
fn check_size<T: Read + Seek>(parser: &EvtxParser<T>, file_len: u64, em: &mut Emitter<'_>) {
    let header = parser.header();
    let block = u64::from(header.header_block_size).max(HEADER_BLOCK);
    let data = file_len.saturating_sub(block);
    let whole = data / CHUNK_SIZE;
    let partial = data % CHUNK_SIZE;
    if partial != 0 {
        em.damage(
            &format!("offset {}", block + whole * CHUNK_SIZE),
            format_args!(
                "file is truncated: it ends {partial} bytes into chunk {whole}, whose records are lost"
            ),
        );
    } else if u64::from(header.chunk_count) > whole {
        em.damage(
            &format!("offset {file_len}"),
            format_args!(
                "file is truncated: its header names {} chunks, the file holds {whole}",
                header.chunk_count
            ),
        );
    }
}

fn record_error(e: &EvtxError, em: &mut Emitter<'_>) {
    let msg = error_chain(e);
    match e {
        EvtxError::FailedToParseChunk { chunk_id, .. } => em.damage(
            &format!(
                "chunk {chunk_id} (offset {})",
                HEADER_BLOCK + chunk_id * CHUNK_SIZE
            ),
            msg,
        ),
        EvtxError::FailedToParseRecord { record_id, .. } => {
            em.damage(&format!("record {record_id}"), &msg);
            em.reject(format!("record {record_id}"), msg, "");
        }
        _ => em.damage("record", msg),
    }
}

/// An error and its sources, `: `-separated.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let m = src.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = src.source();
    }
    s
}
