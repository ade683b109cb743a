//! One writing process per data directory: an advisory lock on `privtrail.lock`.
//!
//! The lock is `flock`-style (`File::try_lock`): the kernel releases it when the process dies, so a
//! killed daemon never leaves a stale lock behind. The file's content names the holder (pid, what
//! it is, since when) so that a refused process can say who is in the way; the content is only a
//! message, the lock itself is what counts.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "privtrail.lock";

/// Who holds the data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// `daemon` for `privtrail run`, else the command (`ingest`, `alerts ack`, …).
    pub role: String,
    pub since: String,
}

/// The data directory is owned by another process, or the lock cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}", busy_message(dir, holder.as_ref()))]
    Busy {
        dir: PathBuf,
        holder: Option<Holder>,
    },
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn busy_message(dir: &Path, holder: Option<&Holder>) -> String {
    match holder {
        Some(h) if h.role == "daemon" => format!(
            "the data directory {} is owned by the privtrail daemon (pid {}, running since {}): \
             stop it first, or use a read-only command (search, elevations, alerts list, verify, outbox list)",
            dir.display(),
            h.pid,
            h.since
        ),
        Some(h) => format!(
            "the data directory {} is in use by another privtrail process (pid {}, `{}`, since {}): \
             wait for it to finish",
            dir.display(),
            h.pid,
            h.role,
            h.since
        ),
        None => format!(
            "the data directory {} is in use by another privtrail process",
            dir.display()
        ),
    }
}

/// Held for as long as this process may write to the data directory; dropping it releases it.
#[derive(Debug)]
pub struct DataDirLock {
    file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Takes the lock of `dir` (created 0700 if missing) for `role`, or says who holds it.
    pub fn acquire(dir: &Path, role: &str) -> Result<DataDirLock, LockError> {
        create_private_dir(dir).map_err(|source| LockError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        // Not truncated on open: the holder's note must stay readable for the refused process.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Busy {
                    dir: dir.to_owned(),
                    holder: parse_holder(&text),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let note = format!(
            "pid={}\nrole={}\nsince={}\n",
            std::process::id(),
            role,
            Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(note.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(DataDirLock { file, path })
    }

    /// Who holds `dir` now, if anyone (read from the lock file; a lock nobody holds is `None`).
    pub fn holder(dir: &Path) -> Option<Holder> {
        let path = dir.join(LOCK_FILE);
        let mut file = File::open(&path).ok()?;
        // If we can take it, nobody holds it.
        if file.try_lock_shared().is_ok() {
            let _ = file.unlock();
            return None;
        }
        let mut text = String::new();
        file.read_to_string(&mut text).ok()?;
        parse_holder(&text)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        // Leave an empty note (the lock is released with the file handle).
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

fn parse_holder(text: &str) -> Option<Holder> {
    let mut pid = None;
    let mut role = String::new();
    let mut since = String::new();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("pid", v)) => pid = v.trim().parse().ok(),
            Some(("role", v)) => role = v.trim().to_owned(),
            Some(("since", v)) => since = v.trim().to_owned(),
            _ => {}
        }
    }
    Some(Holder {
        pid: pid?,
        role,
        since,
    })
}

/// Creates `dir` (and parents) with mode 0700 for the last component when it does not exist yet
/// (SPEC §8: the data dir holds evidence and tokens). An existing directory keeps its mode.
pub use privtrail_store::create_private_dir;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_with_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = DataDirLock::acquire(dir.path(), "daemon").expect("first");
        let err = DataDirLock::acquire(dir.path(), "ingest").expect_err("second must fail");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("daemon"), "{msg}");
        let LockError::Busy { holder, .. } = err else {
            panic!("not busy")
        };
        assert_eq!(holder.map(|h| h.role), Some("daemon".to_owned()));
        assert_eq!(
            DataDirLock::holder(dir.path()).map(|h| h.pid),
            Some(std::process::id())
        );
        drop(first);
        assert_eq!(DataDirLock::holder(dir.path()), None);
        DataDirLock::acquire(dir.path(), "ingest").expect("free again");
    }

    #[cfg(unix)]
    #[test]
    fn a_new_data_dir_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("a/b");
        let _l = DataDirLock::acquire(&data, "test").expect("lock");
        let mode = std::fs::metadata(&data).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
