//! privtrail's application core: the pipeline jobs, the typed configuration, the single writer,
//! the daemon and the read-side services that the CLI and the HTTP API share.
//!
//! # Main types and how they relate
//!
//! ```text
//!  Config ──(typed once: Span, Schedule, Severity, Secret)──┐
//!                                                          ▼
//!  DataDirLock ◄── App::open_writer(dir, config, role) ──► App { Store (reads), WriteHandle (the one
//!                   App::open_reader(dir, config)               writer thread), Engine (policy + rules) }
//!                                                          │
//!      jobs (free functions over &App / its parts):        │       services (impl App):
//!      import::import, collect::collect_tenant,            │       search, elevations, alerts,
//!      App::rules (engine::evaluate), deliver::deliver_due │       ack/resolve, outbox
//!                                                          ▼
//!                                        daemon::run — schedules, Watchers, rules and delivery loops
//! ```
//!
//! - [`Config`] is the TOML file parsed and validated once ([`config`]).
//! - [`App`] is an open data directory. A writing `App` holds the directory's [`DataDirLock`]
//!   (one writing process per data dir; the holder is named to whoever is refused) and the
//!   process's one [`WriteHandle`]: every write of every job is a closure run on the writer thread,
//!   in arrival order, so jobs run concurrently without ever contending for SQLite.
//! - [`engine`] is the rules job: it judges every event past the **rules cursor** stored in the
//!   store and commits the cursor with the elevations, alerts and outbox entries it produced, so
//!   no event is ever judged twice or skipped, whichever process stored it.
//! - [`import`], [`collect`], [`deliver`] are the other jobs; [`daemon`] runs them all on
//!   schedules and [`daemon::Watcher`]s follow watched folders with stored per-file positions.
//!
//! # Invariants
//!
//! - No I/O on the async executor: jobs are blocking code (SQLite, parsing, `Handle::block_on`
//!   for HTTP) run on blocking threads by the daemon.
//! - Every position (collector watermark, watched file offset, rules cursor) commits in the
//!   transaction of what it covers.
//! - This crate never prints and never exits: it returns [`AppError`]s; the binary formats.

pub mod anchor;
mod app;
pub mod collect;
pub mod config;
pub mod daemon;
pub mod deliver;
pub mod engine;
mod error;
pub mod evidence;
pub mod export;
pub mod import;
mod link;
pub mod lock;
pub mod names;
pub mod noisy;
pub mod push;
pub mod remediate;
pub mod report;
pub mod retention;
pub mod services;
pub mod telemetry;
pub mod time;
pub mod tokens;
pub mod views;
pub mod writer;

pub use app::App;

/// The data types the services hand out, for the API and the binary (which need not depend on the
/// crates that define them).
pub mod types {
    pub use privtrail_model::{Action, Event, EventId, Source, format_time};
    pub use privtrail_rules::{Alert, AlertAction, AlertStatus, Elevation, Severity};
    pub use privtrail_store::{OutboxMessage, OutboxStatus, SearchCursor, SearchRequest};
}
pub use config::Config;
pub use engine::{Engine, Evaluation};
pub use error::{AppError, Result};
pub use lock::{DataDirLock, LockError};
pub use writer::WriteHandle;
