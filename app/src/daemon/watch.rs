//! The watcher of one `[[windows]]` entry: new files, JSON lines appended to, files rewritten.
//!
//! Every file has a **position** stored as a checkpoint (`watch:<path>`) in the transaction of the
//! events it covers, so a restart neither re-reads nor skips:
//! - **lines** (Winlogbeat/NXLog JSON lines, the files agents append to): the byte offset after the
//!   last complete line stored. A scan reads from there to the last `\n` (a line still being
//!   written waits for its end), at most [`WINDOW`] bytes per transaction. A file that shrinks, or
//!   whose first bytes or inode changed, was replaced: it is read again from the start (the store's
//!   dedupe keeps what was already stored once).
//! - **whole files** (EVTX rewritten by WEF or `wevtutil epl`, Event XML, gzip, tags, exports): the
//!   size, modification time and inode read last. A changed file is read again in full once it
//!   has stopped changing for one scan interval; records already stored are duplicates. Its
//!   position is saved after its last batch, so a crash in between reads it once more (and stores
//!   nothing twice).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use privtrail_ingest::{Batch, Format, Options};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::App;
use crate::config::WindowsConfig;
use crate::error::{AppError, Result};
use crate::import::{Commit, Progress, import_file, settle, store_batch};

/// Bytes of JSON lines read and stored per transaction at most.
pub const WINDOW: usize = 4 << 20;

/// Bytes at the start of a file whose hash tells a replaced file from a grown one.
const HEAD: usize = 1024;

/// Checkpoint keys of watched files start with this.
pub const WATCH_PREFIX: &str = "watch:";

/// A file's stored position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    pub mode: Mode,
    /// Lines: bytes consumed. Whole files: the size read.
    pub offset: u64,
    /// Lines: complete lines consumed (for line numbers in rejects).
    #[serde(default)]
    pub line: u64,
    pub mtime_ns: i128,
    pub ino: u64,
    /// SHA-256 (hex) of the first `head_len` bytes.
    pub head: String,
    pub head_len: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Lines,
    Whole,
}

/// What one scan did.
#[derive(Debug, Default, Clone)]
pub struct ScanReport {
    pub files: usize,
    pub read: u64,
    pub stored: u64,
    pub rejected: u64,
    pub errors: Vec<String>,
}

/// Follows one `[[windows]]` entry.
#[derive(Debug)]
pub struct Watcher {
    spec: WindowsConfig,
    opts: Options,
    states: HashMap<PathBuf, FileState>,
    /// Whole files seen changed at the previous scan (size, mtime): read once they are stable.
    pending: HashMap<PathBuf, (u64, i128)>,
}

struct Stat {
    len: u64,
    mtime_ns: i128,
    ino: u64,
}

fn stat(path: &Path) -> std::io::Result<Stat> {
    let m = std::fs::metadata(path)?;
    let mtime_ns = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128);
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Ok(Stat {
        len: m.len(),
        mtime_ns,
        ino,
    })
}

fn head_hash(path: &Path, len: u64) -> std::io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let n = len.min(HEAD as u64);
    let mut buf = vec![0u8; n as usize];
    f.read_exact(&mut buf)?;
    Ok((hex::encode(Sha256::digest(&buf)), n))
}

impl Watcher {
    pub fn new(app: &App, spec: WindowsConfig) -> Result<Watcher> {
        let mut opts = app.config().ingest_options(&spec.channels);
        opts.format = spec.format()?;
        Ok(Watcher {
            spec,
            opts,
            states: HashMap::new(),
            pending: HashMap::new(),
        })
    }

    /// The path spec this watcher follows.
    pub fn path(&self) -> &str {
        &self.spec.path
    }

    /// Looks at every file of the spec once and stores what is new. With `settle`, a changed
    /// whole file waits until it has not changed for one scan (it may still be being written);
    /// without (`run --once`), it is read now.
    pub fn scan(
        &mut self,
        app: &App,
        settle_files: bool,
        stop: &dyn Fn() -> bool,
    ) -> Result<ScanReport> {
        let (paths, errors) =
            privtrail_ingest::expand_inputs(std::slice::from_ref(&self.spec.path));
        let mut report = ScanReport {
            files: paths.len(),
            ..ScanReport::default()
        };
        // A spec matching nothing yet (an empty folder, a glob before the first file) is fine.
        report.errors.extend(
            errors
                .iter()
                .map(|e| e.to_string())
                .filter(|e| !e.contains("matches no file") && !e.contains("no such file")),
        );
        for path in paths {
            if stop() {
                return Err(AppError::Cancelled);
            }
            match self.scan_file(app, &path, settle_files, stop, &mut report) {
                Ok(()) => {}
                Err(AppError::Cancelled) => return Err(AppError::Cancelled),
                Err(e @ (AppError::Store(_) | AppError::WriterStopped(_))) => return Err(e),
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "watched file could not be read");
                    report.errors.push(format!("{}: {e}", path.display()));
                }
            }
        }
        Ok(report)
    }

    fn state(&mut self, app: &App, path: &Path) -> Result<Option<FileState>> {
        if let Some(s) = self.states.get(path) {
            return Ok(Some(s.clone()));
        }
        let Some(text) = app.store().checkpoint(&key(path))? else {
            return Ok(None);
        };
        match serde_json::from_str::<FileState>(&text) {
            Ok(s) => {
                self.states.insert(path.to_owned(), s.clone());
                Ok(Some(s))
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "stored position unreadable; reading the file again");
                Ok(None)
            }
        }
    }

    fn scan_file(
        &mut self,
        app: &App,
        path: &Path,
        settle_files: bool,
        stop: &dyn Fn() -> bool,
        report: &mut ScanReport,
    ) -> Result<()> {
        let st = stat(path).map_err(AppError::io("read", path))?;
        if st.len == 0 {
            return Ok(());
        }
        let state = self.state(app, path)?;
        let mode = match &state {
            Some(s) => s.mode,
            None => self.mode_of(path)?,
        };
        match mode {
            Mode::Lines => self.follow_lines(app, path, &st, state, stop, report),
            Mode::Whole => self.reread_whole(app, path, &st, state, settle_files, stop, report),
        }
    }

    /// JSON lines are followed by offset; everything else is read whole.
    fn mode_of(&self, path: &Path) -> Result<Mode> {
        if matches!(self.opts.format, Format::Winlogbeat | Format::Nxlog) {
            return Ok(Mode::Lines);
        }
        if self.opts.format != Format::Auto {
            return Ok(Mode::Whole);
        }
        let mut head = vec![0u8; 64 * 1024];
        let mut f = File::open(path).map_err(AppError::io("open", path))?;
        let n = read_up_to(&mut f, &mut head).map_err(AppError::io("read", path))?;
        head.truncate(n);
        Ok(if privtrail_ingest::is_appendable_jsonl(&head) {
            Mode::Lines
        } else {
            Mode::Whole
        })
    }

    fn follow_lines(
        &mut self,
        app: &App,
        path: &Path,
        st: &Stat,
        state: Option<FileState>,
        stop: &dyn Fn() -> bool,
        report: &mut ScanReport,
    ) -> Result<()> {
        let (head, head_len) = head_hash(path, st.len).map_err(AppError::io("read", path))?;
        let mut pos = match state {
            Some(s) if s.ino == st.ino && st.len >= s.offset && same_head(path, &s)? => s,
            previous => {
                if previous.is_some() {
                    tracing::info!(file = %path.display(), "watched file was replaced or truncated; reading it from the start");
                }
                FileState {
                    mode: Mode::Lines,
                    offset: 0,
                    line: 0,
                    mtime_ns: st.mtime_ns,
                    ino: st.ino,
                    head: head.clone(),
                    head_len,
                }
            }
        };
        let writer = app.writer()?;
        let mut file = File::open(path).map_err(AppError::io("open", path))?;
        let mut buf = vec![0u8; WINDOW];
        while pos.offset < st.len {
            if stop() {
                return Err(AppError::Cancelled);
            }
            file.seek(SeekFrom::Start(pos.offset))
                .map_err(AppError::io("seek", path))?;
            let want = ((st.len - pos.offset) as usize).min(WINDOW);
            let n = read_up_to(&mut file, &mut buf[..want]).map_err(AppError::io("read", path))?;
            let chunk = &buf[..n];
            let take = match chunk.iter().rposition(|b| *b == b'\n') {
                Some(i) => i + 1,
                // A line longer than the window: store it as a reject, move past it.
                None if n == WINDOW => n,
                // The last line is still being written.
                None => break,
            };
            let chunk = &chunk[..take];
            let mut batch = Batch::default();
            let file_report =
                privtrail_ingest::read_lines(path, chunk, pos.line, &self.opts, &mut |b: Batch| {
                    batch.events.extend(b.events);
                    batch.rejects.extend(b.rejects);
                    std::ops::ControlFlow::Continue(())
                });
            let lines = chunk.iter().filter(|b| **b == b'\n').count() as u64;
            let next = FileState {
                offset: pos.offset + take as u64,
                line: pos.line + lines,
                mtime_ns: st.mtime_ns,
                ino: st.ino,
                head: head.clone(),
                head_len,
                mode: Mode::Lines,
            };
            let value = serde_json::to_string(&next).map_err(AppError::json("file position"))?;
            let rx = store_batch(
                writer,
                batch,
                Some((key(path), value)),
                &format!("watched file {}", path.display()),
                Commit::Own,
                app.forward(),
            )?;
            let (stats, _) = settle(&rx)?;
            report.read += file_report.records;
            report.stored += stats.stored;
            report.rejected += stats.rejected;
            if stats.stored > 0 {
                writer.notify_stored();
            }
            self.states.insert(path.to_owned(), next.clone());
            pos = next;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn reread_whole(
        &mut self,
        app: &App,
        path: &Path,
        st: &Stat,
        state: Option<FileState>,
        settle_files: bool,
        stop: &dyn Fn() -> bool,
        report: &mut ScanReport,
    ) -> Result<()> {
        if state
            .as_ref()
            .is_some_and(|s| s.offset == st.len && s.mtime_ns == st.mtime_ns && s.ino == st.ino)
        {
            return Ok(());
        }
        if settle_files && self.pending.get(path) != Some(&(st.len, st.mtime_ns)) {
            // Changed since the last look: wait until it holds still for one interval.
            self.pending.insert(path.to_owned(), (st.len, st.mtime_ns));
            return Ok(());
        }
        self.pending.remove(path);
        let writer = app.writer()?;
        let stop_flag = stop;
        let progress = Progress {
            start: &|_| {},
            bytes: &|_, _| {},
            stop: stop_flag,
        };
        let (summary, result) =
            import_file(writer, path, &self.opts, &progress, 0, None, app.forward());
        result?;
        report.read += summary.records;
        report.stored += summary.stored;
        report.rejected += summary.rejected;
        if summary.stored > 0 {
            writer.notify_stored();
        }
        if let Some(why) = summary.failed {
            // Unreadable (e.g. not an event file): remember it as read, so that it is not tried
            // every second; a change to it is tried again.
            report.errors.push(why);
        }
        let (head, head_len) = head_hash(path, st.len).map_err(AppError::io("read", path))?;
        let next = FileState {
            mode: Mode::Whole,
            offset: st.len,
            line: 0,
            mtime_ns: st.mtime_ns,
            ino: st.ino,
            head,
            head_len,
        };
        let value = serde_json::to_string(&next).map_err(AppError::json("file position"))?;
        let k = key(path);
        writer.call(move |w| w.set_checkpoint(&k, &value))??;
        self.states.insert(path.to_owned(), next);
        Ok(())
    }
}

/// Whether the file still starts with the bytes recorded in `s`.
fn same_head(path: &Path, s: &FileState) -> Result<bool> {
    let mut f = File::open(path).map_err(AppError::io("open", path))?;
    let mut buf = vec![0u8; s.head_len as usize];
    if f.read_exact(&mut buf).is_err() {
        return Ok(false);
    }
    Ok(hex::encode(Sha256::digest(&buf)) == s.head)
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The checkpoint key of a watched file (its absolute path).
pub fn key(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    format!("{WATCH_PREFIX}{}", abs.display())
}

/// A shared watcher list for the daemon.
pub type Watchers = Vec<Arc<std::sync::Mutex<Watcher>>>;
