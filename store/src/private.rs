//! Files and folders only their owner may read (SPEC §8): the data directory holds the evidence
//! trail, and everything in it is the owner's business.

use std::fs::{DirBuilder, OpenOptions};
use std::path::Path;

/// Creates `dir` (and parents) with mode 0700 for the last component when it does not exist yet.
/// An existing directory keeps its mode: an administrator may have chosen it.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut b = DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    match b.create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `path` empty with mode 0600 unless it exists. SQLite gives the files it creates the
/// process umask's mode (usually 0644) and its `-wal`/`-shm` files the database's, so the
/// database is created here first.
pub fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    match o.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
