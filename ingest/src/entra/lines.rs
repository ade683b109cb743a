//! JSON lines of an Entra import, parsed on a thread of their own ([`read_lines`]).
//!
//! A Graph export as JSON lines is a page of up to 999 records per line; parsing a line into
//! `serde_json::Value`, finding each record's text and normalizing them was three quarters of the
//! reading thread, which was the import's bottleneck (the writer idled half the time). Lines are
//! read here, parsed and normalized on a second thread one or two lines ahead, and handed back in
//! order, so what the caller sees is what a single thread would have produced.

use std::io::BufRead;
use std::sync::mpsc;

use super::imports::Rec;
use super::pages::parse_records;
use crate::windows::jsonl::read_line_limited;

/// What one line became, in line order.
pub(super) enum Line {
    /// The records of a line that parsed.
    Records { no: usize, recs: Vec<Rec> },
    /// A line that is not JSON: why, and its text.
    Invalid {
        no: usize,
        why: String,
        text: String,
    },
    /// A line over `max` bytes (its text as far as it was read).
    TooLong { no: usize, text: String },
    /// Reading failed before line `no`: the rest of the input is lost.
    ReadError { no: usize, error: String },
}

/// Parsed lines' buffers waiting to be read into again. No more can be in use at once: one line
/// is being read, two are queued and one is being parsed.
const SPARE_BUFFERS: usize = 3;

/// What the reading thread hands to the parsing one: a line to parse, or an item to pass on in
/// its place in the order.
enum Work {
    Parse(usize, String),
    Pass(Line),
}

/// Reads the lines after `line_no` from `r` (each at most `max` bytes), parses and normalizes them
/// on a scoped thread (`reading`: the options' tenant, and whether the file is Graph JSON, as
/// [`parse_records`] takes them), and gives each [`Line`] to `take` in order on the calling thread; `take`
/// returns `false` to stop. `progress` is called every 1,024 lines read.
pub(super) fn read_lines(
    r: &mut dyn BufRead,
    mut line_no: usize,
    max: usize,
    reading: (Option<String>, bool),
    progress: &dyn Fn(),
    mut take: impl FnMut(Line) -> bool,
) {
    std::thread::scope(|s| {
        // Two lines waiting at most (a Graph page is ~1.3 MB of text).
        let (work_tx, work_rx) = mpsc::sync_channel::<Work>(2);
        // Unbounded, but never more than the lines handed over and not yet taken.
        let (done_tx, done_rx) = mpsc::channel::<Line>();
        // Parsed lines' buffers, back for the next lines: a fresh megabyte per line cost page
        // faults, and a copy of each line out of the reading buffer a memcpy of the whole input.
        let (spare_tx, spare_rx) = mpsc::sync_channel::<String>(SPARE_BUFFERS);
        let (tenant, graph) = reading;
        let parser = std::thread::Builder::new()
            .name("entra-parse".into())
            .spawn_scoped(s, move || {
                for work in work_rx {
                    let line = match work {
                        Work::Pass(line) => line,
                        Work::Parse(no, text) => {
                            let parsed = parse_records(text.trim(), tenant.as_deref(), graph);
                            match parsed {
                                Ok(recs) => {
                                    // Full (the reader has enough) or gone: dropped.
                                    let _ = spare_tx.try_send(text);
                                    Line::Records { no, recs }
                                }
                                Err(e) => Line::Invalid {
                                    no,
                                    why: format!("invalid JSON: {e}"),
                                    text: text.trim().to_owned(),
                                },
                            }
                        }
                    };
                    // The caller stopped taking.
                    if done_tx.send(line).is_err() {
                        return;
                    }
                }
            });
        if let Err(e) = parser {
            // No thread to be had: the lines are not read (the caller sees a damaged input).
            take(Line::ReadError {
                no: line_no + 1,
                error: format!("cannot start the parsing thread: {e}"),
            });
            return;
        }
        let mut buf = Vec::new();
        let mut stopped = false;
        loop {
            for line in done_rx.try_iter() {
                if !take(line) {
                    stopped = true;
                    break;
                }
            }
            if stopped {
                break;
            }
            let work = match read_line_limited(r, &mut buf, max) {
                Ok((0, _)) => break,
                Ok((_, too_long)) => {
                    line_no += 1;
                    if too_long {
                        let text = String::from_utf8_lossy(&buf).into_owned();
                        Work::Pass(Line::TooLong { no: line_no, text })
                    } else {
                        // `from_utf8` checks ASCII a word at a time; the lossy form byte by byte.
                        let text = String::from_utf8(std::mem::take(&mut buf))
                            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                        if text.trim().is_empty() {
                            buf = text.into_bytes();
                            continue;
                        }
                        buf = spare_rx
                            .try_recv()
                            .map(String::into_bytes)
                            .unwrap_or_default();
                        Work::Parse(line_no, text)
                    }
                }
                Err(e) => {
                    let error = e.to_string();
                    // In its place after the lines before it; nothing is read after it.
                    let _ = work_tx.send(Work::Pass(Line::ReadError {
                        no: line_no + 1,
                        error,
                    }));
                    break;
                }
            };
            if work_tx.send(work).is_err() {
                break;
            }
            if line_no.is_multiple_of(1024) {
                progress();
            }
        }
        drop(work_tx);
        if !stopped {
            for line in done_rx.iter() {
                if !take(line) {
                    break;
                }
            }
        }
    });
}
