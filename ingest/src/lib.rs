//! `privtrail-ingest`: Windows Security events from files (SPEC §1.2) into the shared event model.
//! Entra ID audit records (SPEC §1.1) come from Graph, Log Analytics and Azure Monitor exports
//! ([`entra`]: `read_file` detects and dispatches them like the Windows formats).
//! Endpoint elevation tags (SPEC §1.3: `reg query` text or JSON tags) are [`Format::Regtag`]
//! ([`tags`]); the host of a file that names none is [`Options::host`].
//!
//! # Main types
//! - [`read_file`] reads one file and hands [`Batch`]es of normalized [`Event`]s and [`Reject`]s to a
//!   sink, returning a [`FileReport`] (what was read, skipped, rejected, and any damage). It fails
//!   ([`IngestError`]) only when the file cannot be read at all; damage inside a file is counted.
//! - [`expand_inputs`] turns the command line's files, folders and globs into files.
//! - [`Options`] selects the [`Format`] (detected per file by default), the channels, extra
//!   privileged group names and the batch size.
//! - [`normalize_json_line`] normalizes one JSON record of any supported shape (the push endpoint).
//! - [`read_lines`] reads a run of complete JSON lines from the middle of a file (the watcher's
//!   appended lines); [`is_appendable_jsonl`] says whether a file is such a file.
//!
//! # How it fits together
//! `read_file` opens the file, undoes gzip/UTF-16, detects the format (`detect.rs`) and runs the
//! reader for it: `windows::evtx` (the `evtx` crate), `windows::jsonl` (Winlogbeat 6/7/8,
//! Elastic Agent, NXLog) or `windows::xml` (Event XML). Every reader builds source-independent
//! [`windows::record::WinRecord`]s and passes them to an internal emitter, which drops records of
//! channels not selected (counted as skipped), normalizes the rest with the pure
//! [`windows::normalize::normalize`] and batches them for the sink.
//!
//! # Adding a format (the seam)
//! Add a [`Format`] variant (with its name in `FromStr`/`Display`), teach `detect.rs` to recognize
//! it, and write a reader that turns the input into `WinRecord`s and calls the emitter's `record`
//! (or `reject`/`damage`); dispatch to it in [`read_file`]. A JSON shape only needs a case in
//! `windows::jsonl::shape_of` and a function building the `WinRecord`. Normalization is shared and
//! needs no change unless the format carries new event ids.

mod detect;
mod emit;
pub mod entra;
mod error;
pub mod graph;
mod input;
pub mod tags;
pub mod windows;

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::str::FromStr;

use privtrail_model::{Event, Reject};

use detect::Sniffed;
use emit::Emitter;
pub use error::IngestError;
pub use input::expand_inputs;

/// An input format. `Auto` detects it per file from the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    #[default]
    Auto,
    Evtx,
    /// Winlogbeat 6, 7 and 8 and Elastic Agent JSON lines.
    Winlogbeat,
    /// NXLog `im_msvistalog` JSON lines.
    Nxlog,
    /// Event XML (`wevtutil qe … /f:xml`, Windows Event Forwarding).
    EventXml,
    /// Microsoft Graph `directoryAudit` JSON: `{"value":[…]}` pages, arrays, JSON lines of either.
    Graph,
    /// The Log Analytics `AuditLogs` table exported as JSON (rows, JSON lines, query API `tables`)
    /// or CSV.
    LogAnalytics,
    /// Azure Monitor diagnostic records of category `AuditLogs`, one per line or in
    /// `{"records":[…]}`.
    AzureMonitor,
    /// Endpoint elevation tags ([`tags`]): `reg query` text of the tag key, or JSON tags.
    Regtag,
}

impl Format {
    pub const ALL: [Format; 9] = [
        Format::Auto,
        Format::Evtx,
        Format::Winlogbeat,
        Format::Nxlog,
        Format::EventXml,
        Format::Graph,
        Format::LogAnalytics,
        Format::AzureMonitor,
        Format::Regtag,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Evtx => "evtx",
            Format::Winlogbeat => "winlogbeat",
            Format::Nxlog => "nxlog",
            Format::EventXml => "event-xml",
            Format::Graph => "graph",
            Format::LogAnalytics => "loganalytics",
            Format::AzureMonitor => "azure-monitor",
            Format::Regtag => "regtag",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = IngestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| IngestError::UnknownFormatName(s.to_owned()))
    }
}

/// What to read and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `Auto` detects per file; anything else forces that format.
    pub format: Format,
    /// Channels to keep (compared case-insensitively); records of others are counted as skipped.
    /// Empty keeps every channel.
    pub channels: Vec<String>,
    /// `[policy] privileged_groups`: group names treated as privileged besides the defaults, and
    /// `!name` entries switching an optional default off (see `privtrail_model::privilege`).
    pub extra_privileged_groups: Vec<String>,
    /// Events plus rejects per [`Batch`].
    pub batch_size: usize,
    /// The tenant label of Entra records (the scope of their ids). `None`: the record's own tenant
    /// id (Log Analytics `TenantId`, Azure Monitor `tenantId`), else [`entra::DEFAULT_TENANT`].
    pub tenant: Option<String>,
    /// The host of endpoint tags ([`Format::Regtag`]) whose file names none (no `# host:` line, no
    /// `\\HOST\…` key path, no `host` key). A host in the file wins.
    pub host: Option<String>,
    /// How much one input may make privtrail read and hold.
    pub limits: Limits,
}

/// How much one input may make privtrail read, hold and work through (SPEC §8: files and bodies
/// come from machines an attacker may control). A limit that is hit is damage in the
/// [`FileReport`] naming the limit and its `[ingest]` key; the rest of the file is not lost unless
/// the limit is about the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// One record: a JSON line, an `<Event>` element, a line of a tag file or an Entra export.
    /// Longer ones are rejected (`[ingest] max_record_bytes`, 4 MiB).
    pub max_record_bytes: usize,
    /// Files that are read whole (Event XML, UTF-16 text, Entra documents, tag files, EVTX inside
    /// gzip): past this, the rest is ignored (`max_whole_file_bytes`, 1 GiB).
    pub max_whole_file_bytes: u64,
    /// What one gzipped input may expand to (`max_decompressed_bytes`, 16 GiB)…
    pub max_decompressed_bytes: u64,
    /// …and how many times its compressed size, past the first MiB (`max_compression_ratio`,
    /// 200; agents' logs compress 10–40×, a deflate bomb ~1000×).
    pub max_compression_ratio: u64,
    /// Element nesting in Event XML (`max_xml_depth`, 64; real events nest 4 deep).
    pub max_xml_depth: usize,
    /// Bytes of events and rejects in one batch (`max_batch_bytes`, 16 MiB): with the records per
    /// batch this bounds what is in flight between readers and the store.
    pub max_batch_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: windows::jsonl::MAX_LINE,
            max_whole_file_bytes: 1 << 30,
            max_decompressed_bytes: 16 << 30,
            max_compression_ratio: 200,
            max_xml_depth: 64,
            max_batch_bytes: 16 << 20,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: Format::Auto,
            channels: vec![
                "Security".to_owned(),
                "System".to_owned(),
                "ForwardedEvents".to_owned(),
            ],
            extra_privileged_groups: Vec::new(),
            batch_size: 8192,
            tenant: None,
            host: None,
            limits: Limits::default(),
        }
    }
}

/// Normalized events and rejected records, handed to the sink together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub events: Vec<Event>,
    pub rejects: Vec<Reject>,
}

/// What reading one file did.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub path: PathBuf,
    /// The format read (detected or forced).
    pub format: Option<Format>,
    /// Records read: events + skipped + rejected.
    pub records: u64,
    /// Records of channels not selected.
    pub skipped: u64,
    /// Records that could not be parsed or normalized (each one a [`Reject`]).
    pub rejected: u64,
    /// Damage: unreadable chunks or records, a truncated stream or record.
    pub error_count: u64,
    /// The first few damage messages, each naming the file and where.
    pub errors: Vec<String>,
}

/// Counts the bytes read from the file, for progress.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

const HEAD: usize = 64 * 1024;

/// Read up to `HEAD` bytes; a read error ends the head early and is returned beside it.
fn read_head(r: &mut dyn Read) -> (Vec<u8>, Option<std::io::Error>) {
    let mut head = Vec::with_capacity(HEAD);
    let mut buf = [0u8; 8192];
    while head.len() < HEAD {
        match r.read(&mut buf[..(HEAD - head.len()).min(8192)]) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (head, Some(e)),
        }
    }
    (head, None)
}

/// Read the rest of `r` after `head`, up to `[ingest] max_whole_file_bytes`; a read error or the
/// limit is damage (what was read is kept).
pub(crate) fn read_rest(mut head: Vec<u8>, r: &mut dyn Read, em: &mut Emitter<'_>) -> Vec<u8> {
    let cap = em.opts().limits.max_whole_file_bytes;
    let room = cap.saturating_sub(head.len() as u64);
    if let Err(e) = r.take(room.saturating_add(1)).read_to_end(&mut head) {
        em.damage(
            &format!("offset {}", head.len()),
            format_args!("read error, the rest of the file is lost: {e}"),
        );
    }
    if head.len() as u64 > cap {
        head.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
        em.damage(
            &format!("offset {cap}"),
            format_args!(
                "a file read whole may hold at most {cap} bytes ([ingest] max_whole_file_bytes): \
                 the rest is ignored"
            ),
        );
    }
    head
}

/// Decompressed bytes counted against `[ingest] max_decompressed_bytes` and, past the first MiB,
/// against `max_compression_ratio` times the compressed bytes read so far: a gzip bomb ends in a
/// clear read error instead of filling memory or disk.
struct Inflated<R> {
    inner: R,
    out: u64,
    compressed: Rc<Cell<u64>>,
    max_out: u64,
    ratio: u64,
}

impl<R: Read> Read for Inflated<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out = self.out.saturating_add(n as u64);
        let bomb = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
        if self.out > self.max_out {
            return Err(bomb(format!(
                "gzip expands past {} bytes ([ingest] max_decompressed_bytes): stopped",
                self.max_out
            )));
        }
        let allowed = self
            .ratio
            .saturating_mul(self.compressed.get().max(1 << 20));
        if self.out > allowed {
            return Err(bomb(format!(
                "gzip expands more than {}× its compressed size ([ingest] max_compression_ratio): \
                 stopped, a decompression bomb?",
                self.ratio
            )));
        }
        Ok(n)
    }
}

fn utf16_to_utf8(bytes: &[u8], little_endian: bool) -> Vec<u8> {
    let units = bytes.get(2..).unwrap_or(&[]).chunks_exact(2).map(|c| {
        if little_endian {
            u16::from_le_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], c[1]])
        }
    });
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect::<String>()
        .into_bytes()
}

/// Read one file: detect its format (unless forced), read every record, normalize, and hand batches
/// to `sink` (which may stop the read with `ControlFlow::Break`). `progress` gets the bytes of the file
/// consumed so far. Errors only when the file cannot be read at all; damage inside it is counted in
/// the report and the readable records still come out.
pub fn read_file(
    path: &Path,
    opts: &Options,
    progress: &dyn Fn(u64),
    sink: &mut dyn FnMut(Batch) -> ControlFlow<()>,
) -> Result<FileReport, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let count = Rc::new(Cell::new(0u64));
    let mut reader = BufReader::with_capacity(
        HEAD,
        Counting {
            inner: file,
            count: Rc::clone(&count),
        },
    );
    let (head, err) = read_head(&mut reader);
    if let Some(e) = err {
        return Err(IngestError::io(path, e));
    }
    if head.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(IngestError::Empty {
            path: path.to_owned(),
        });
    }
    let complete = head.len() < HEAD;
    let forced = (opts.format != Format::Auto).then_some(opts.format);
    let unknown = |head: &[u8], what: &str| match detect::not_audit_log(head) {
        Some(what) => IngestError::NotAuditLog {
            path: path.to_owned(),
            what,
        },
        None => IngestError::UnknownFormat {
            path: path.to_owned(),
            head: format!("{what}{}", detect::describe_head(head)),
        },
    };
    let report = FileReport {
        path: path.to_owned(),
        ..FileReport::default()
    };
    let mut em = Emitter::new(report, opts, sink);
    let progress_bytes = || progress(count.get());

    match detect::sniff(&head, complete) {
        Some(Sniffed::Gzip) => {
            let rest = reader;
            let mut gz = Inflated {
                inner: flate2::read::MultiGzDecoder::new(Cursor::new(head.clone()).chain(rest)),
                out: 0,
                compressed: Rc::clone(&count),
                max_out: opts.limits.max_decompressed_bytes,
                ratio: opts.limits.max_compression_ratio.max(1),
            };
            let (inner_head, err) = read_head(&mut gz);
            if inner_head.is_empty() {
                return Err(match err {
                    Some(e) => IngestError::io(path, e),
                    None => IngestError::Empty {
                        path: path.to_owned(),
                    },
                });
            }
            let inner_complete = err.is_some() || inner_head.len() < HEAD;
            let format = match (forced, detect::sniff(&inner_head, inner_complete)) {
                (Some(f), _) => f,
                (None, Some(Sniffed::Format(f))) => f,
                (None, _) => return Err(unknown(&inner_head, "gzip holding ")),
            };
            em.report.format = Some(format);
            if let Some(e) = err {
                // Truncated within the first 64 KiB: read what there is.
                em.damage(
                    &format!("offset {} (decompressed)", inner_head.len()),
                    format_args!("gzip stream error: {e}"),
                );
                read_text(format, &mut Cursor::new(inner_head), &mut em, &|| {
                    progress_bytes()
                })?;
            } else if format == Format::Evtx {
                let all = read_rest(inner_head, &mut gz, &mut em);
                let len = all.len() as u64;
                let parser = evtx::EvtxParser::from_buffer(all);
                windows::evtx::read(parser, len, &mut em, &|_| progress_bytes())
                    .map_err(|reason| evtx_error(path, reason))?;
            } else {
                let mut text = BufReader::with_capacity(HEAD, Cursor::new(inner_head).chain(gz));
                read_text(format, &mut text, &mut em, &|| progress_bytes())?;
            }
        }
        Some(s @ (Sniffed::Utf16Le | Sniffed::Utf16Be)) => {
            let all = read_rest(head, &mut reader, &mut em);
            let utf8 = utf16_to_utf8(&all, s == Sniffed::Utf16Le);
            let format = match (forced, detect::sniff(&utf8, true)) {
                (Some(f), _) => f,
                (None, Some(Sniffed::Format(f))) if f != Format::Evtx => f,
                (None, _) => return Err(unknown(&utf8, "UTF-16 text ")),
            };
            em.report.format = Some(format);
            read_text(format, &mut Cursor::new(utf8), &mut em, &|| {
                progress_bytes()
            })?;
        }
        sniffed => {
            let format = match (forced, sniffed) {
                (Some(f), _) => f,
                (None, Some(Sniffed::Format(f))) => f,
                (None, _) => return Err(unknown(&head, "")),
            };
            em.report.format = Some(format);
            if format == Format::Evtx {
                drop(reader);
                let parser = evtx::EvtxParser::from_path(path);
                windows::evtx::read(parser, file_len, &mut em, progress)
                    .map_err(|reason| evtx_error(path, reason))?;
            } else {
                let mut text = BufReader::with_capacity(HEAD, Cursor::new(head).chain(reader));
                read_text(format, &mut text, &mut em, &|| progress_bytes())?;
            }
        }
    }
    progress(file_len.max(count.get()));
    Ok(em.finish())
}

fn evtx_error(path: &Path, reason: String) -> IngestError {
    IngestError::Evtx {
        path: path.to_owned(),
        reason,
    }
}

/// The text formats: JSON lines and Event XML. (EVTX never reaches here except when forced on a
/// text stream, which is reported as unreadable.)
fn read_text(
    format: Format,
    r: &mut dyn BufRead,
    em: &mut Emitter<'_>,
    progress: &dyn Fn(),
) -> Result<(), IngestError> {
    match format {
        Format::EventXml => {
            let all = read_rest(Vec::new(), r, em);
            let text = String::from_utf8_lossy(&all);
            windows::xml::read(&text, em);
            progress();
        }
        Format::Winlogbeat | Format::Nxlog => windows::jsonl::read(r, Some(format), em, progress),
        Format::Auto => windows::jsonl::read(r, None, em, progress),
        Format::Graph | Format::LogAnalytics | Format::AzureMonitor => {
            entra::imports::read(r, format, em, progress);
        }
        Format::Regtag => tags::read::read(r, em, progress)?,
        Format::Evtx => {
            let all = read_rest(Vec::new(), r, em);
            let len = all.len() as u64;
            windows::evtx::read(evtx::EvtxParser::from_buffer(all), len, em, &|_| progress())
                .map_err(|reason| evtx_error(&em.report.path, reason))?;
        }
    }
    Ok(())
}

/// Whether a file starting with `head` is Windows JSON lines (Winlogbeat 6/7/8, Elastic Agent,
/// NXLog): the files agents append to, which a watcher follows by offset. Everything else
/// (EVTX, gzip, UTF-16, Event XML, tags, Entra exports) is read whole.
pub fn is_appendable_jsonl(head: &[u8]) -> bool {
    // The last line of a head may be cut: detection reads the first complete one.
    matches!(
        detect::sniff(head, false),
        Some(detect::Sniffed::Format(Format::Winlogbeat | Format::Nxlog))
    )
}

/// Read complete JSON lines from `data`, a part of the file `path` whose first line is line
/// `first_line + 1` of the file (rejects name the file's line numbers). Every line's shape is
/// detected unless `opts.format` forces Winlogbeat or NXLog. Used by the watcher, which reads the
/// lines appended to a file since its stored position.
pub fn read_lines(
    path: &Path,
    data: &[u8],
    first_line: u64,
    opts: &Options,
    sink: &mut dyn FnMut(Batch) -> ControlFlow<()>,
) -> FileReport {
    let report = FileReport {
        path: path.to_owned(),
        format: Some(match opts.format {
            f @ (Format::Winlogbeat | Format::Nxlog) => f,
            _ => Format::Auto,
        }),
        ..FileReport::default()
    };
    let mut em = Emitter::new(report, opts, sink);
    let forced = matches!(opts.format, Format::Winlogbeat | Format::Nxlog).then_some(opts.format);
    windows::jsonl::read_from(&mut Cursor::new(data), forced, &mut em, &|| {}, first_line);
    em.finish()
}

/// Normalize one JSON record of any supported shape (Winlogbeat 6/7/8, Elastic Agent, NXLog, the
/// `evtx` crate's record JSON). `Ok(None)`: a record of a channel not selected. A forced
/// `opts.format` of Winlogbeat or NXLog makes other shapes an error.
pub fn normalize_json_line(line: &str, opts: &Options) -> Result<Option<Event>, IngestError> {
    let forced = matches!(opts.format, Format::Winlogbeat | Format::Nxlog).then_some(opts.format);
    let line = line.trim_start_matches('\u{feff}').trim();
    let rec =
        windows::jsonl::parse_line(line, forced).map_err(|reason| IngestError::Malformed {
            origin: "JSON record".to_owned(),
            location: "record".to_owned(),
            reason,
        })?;
    if !windows::normalize::channel_selected(&opts.channels, &rec.channel) {
        return Ok(None);
    }
    Ok(Some(windows::normalize::normalize(
        rec,
        &opts.extra_privileged_groups,
        chrono::Utc::now(),
    )))
}

/// Parses every record of the EVTX file at `path` to JSON with the `evtx` crate and nothing
/// else (the settings privtrail's reader uses): the parse-only ceiling `privtrail bench ingest
/// --reference` compares an import with. Returns how many records parsed.
pub fn evtx_parse_only(path: &Path) -> Result<u64, IngestError> {
    let parser = evtx::EvtxParser::from_path(path)
        .map_err(|e| IngestError::io(path, std::io::Error::other(e.to_string())))?;
    let mut parser = parser.with_configuration(
        evtx::ParserSettings::new()
            .num_threads(1)
            .indent(false)
            .separate_json_attributes(false),
    );
    Ok(parser.records_json().filter(|r| r.is_ok()).count() as u64)
}
