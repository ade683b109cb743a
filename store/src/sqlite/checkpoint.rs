//! WAL checkpoints on their own thread, off the writer's.
//!
//! A checkpoint copies the pages a bulk import wrote to the WAL back into the database file;
//! run by the writer (SQLite's auto-checkpoint) it was 7–10 % of the writer thread, the one
//! thread every event waits for. Here a second connection runs `PASSIVE` checkpoints, nudged
//! after commits and at most once per [`INTERVAL`], on whichever core is free: a passive
//! checkpoint never blocks the writer (nor readers). The writer keeps SQLite's auto-checkpoint
//! (64 MB of WAL, `sqlite::open`): it then finds most frames already copied, and it is what
//! restarts the WAL and keeps it bounded. (Tried and measured worse: leaving restarts to this
//! thread — with PASSIVE only the WAL grew and reads slowed; a blocking RESTART held the writer
//! back while readers such as the rules job finished.)

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::StoreError;

/// At most one checkpoint per interval: pages rewritten many times within it are copied once.
const INTERVAL: Duration = Duration::from_millis(250);

/// The checkpointing thread; stops (after a last checkpoint) when dropped.
#[derive(Debug)]
pub struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    join: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub fn spawn(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = super::open(path, false)?;
        // Never wait for a lock: a checkpoint that would have to wait gives up at once and is
        // tried again next round.
        conn.busy_timeout(Duration::ZERO)
            .map_err(StoreError::sqlite("set the checkpointer's busy timeout"))?;
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        let join = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                let mut last = Instant::now();
                loop {
                    let stop = match rx.recv_timeout(INTERVAL) {
                        Ok(()) => false,
                        Err(RecvTimeoutError::Timeout) => false,
                        Err(RecvTimeoutError::Disconnected) => true,
                    };
                    if !stop && last.elapsed() < INTERVAL {
                        std::thread::sleep(INTERVAL.saturating_sub(last.elapsed()));
                    }
                    // PASSIVE never waits for a lock; at the end, TRUNCATE leaves no WAL.
                    let mode = if stop { "TRUNCATE" } else { "PASSIVE" };
                    let sql = format!("PRAGMA wal_checkpoint({mode})");
                    match conn.query_row(&sql, [], |r| r.get::<_, i64>(0)) {
                        Ok(_) => {}
                        // Someone is in the way; the next round tries again.
                        Err(rusqlite::Error::SqliteFailure(f, _))
                            if f.code == rusqlite::ErrorCode::DatabaseBusy => {}
                        Err(e) => tracing::warn!(error = %e, mode, "WAL checkpoint failed"),
                    }
                    last = Instant::now();
                    if stop {
                        break;
                    }
                }
            })
            .map_err(StoreError::io("start the WAL checkpoint thread for", path))?;
        Ok(Checkpointer {
            nudge: Some(tx),
            join: Some(join),
        })
    }

    /// A transaction committed: checkpoint soon (never blocks).
    pub fn nudge(&self) {
        if let Some(tx) = &self.nudge {
            let _ = tx.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudge.take();
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}
