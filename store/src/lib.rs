//! The privtrail store: SQLite as the source of truth, a tantivy index derived from it.
//!
//! # Main types
//!
//! * [`Store`] opens a data directory (`privtrail.db` + `index/`; [`Store::open_reader`] beside a
//!   writer in another process, without migrating or indexing), serves searches
//!   ([`Store::search`], [`Store::count`]), integrity checks ([`Store::verify`]) and maintenance
//!   ([`Store::reindex`], [`Store::stats`], [`Store::rejects`]). It is `Send + Sync`.
//! * [`Writer`], from [`Store::writer`], is the only writer: each batch of events, rejects and an
//!   optional collector checkpoint is one SQLite transaction (an import's batches may share one:
//!   [`Commit::Grouped`]); new events are then indexed by a background thread that
//!   commits tantivy every few seconds.
//! * [`CommitTap`], installed with [`Writer::tap`], is shown each committed batch's events on the
//!   indexing thread, in seq order (the app feeds its first rules run's tracker this way).
//! * [`SearchRequest`] is a query in tantivy syntax (plus wildcards, see [`query`](crate::query))
//!   with a time window and a limit; [`VerifyReport`] is the result of walking the hash chain.
//!
//! # Invariants
//!
//! * **SQLite is the source of truth, the tantivy index is derived.** Everything can be rebuilt
//!   from SQLite ([`Store::reindex`]); the index never holds an event SQLite does not. Searches
//!   find seqs in tantivy and load the events from SQLite.
//! * The index records the last SQLite `seq` it covers in its commit payload; opening the store
//!   or a writer indexes whatever is missing, so a crash (or a writer dropped without
//!   [`Writer::commit`]) loses nothing from search.
//! * `events.seq` is the chain order; `events.id` is the dedupe key. Each stored event's hash
//!   covers the previous hash and its canonical form ([`chain`](crate::chain) documents it); a
//!   duplicate does not advance the chain.
//! * A checkpoint is written in the same transaction as the events it covers.
//! * **The rules cursor** (the last event seq the rules judged) is written in the transaction of the
//!   elevations, alerts and outbox entries of that judgement ([`Writer::save_rules_result`]).
//! * The store does not know which actions matter to elevations: the caller names them, for the
//!   partial index ([`Writer::ensure_action_index`]) and the read ([`Store::events_with_actions`]).
//! * **The outbox is durable** (SPEC §5): a message to deliver is enqueued in the transaction
//!   that creates it ([`Writer::save_alerts_with_outbox`], [`Writer::write_batch_with_outbox`]),
//!   keyed by `(channel, idempotency_key)` so enqueuing again is a no-op. Workers read due
//!   messages ([`Store::outbox_due`]) and report back through the writer (delivered, failed with
//!   the next attempt time, dead); a delivered message is never handed out again, dead letters
//!   stay listed and retryable. The store computes no backoff: callers pass the times.
//!
//! # Layout
//!
//! `sqlite/` (connections, migrations, row codecs, `outbox.rs`), `index/` (schema, indexing thread, search),
//! `query.rs` (query language), `chain.rs` (hashing and verification), `timefmt.rs` (time
//! encodings), `store.rs` and `writer.rs` (the public types).

pub mod chain;
mod conflict;
mod error;
mod index;
mod private;
mod purge;
pub mod query;
pub mod reference;
mod sqlite;
mod store;
mod tap;
pub mod timefmt;
mod types;
mod writer;

pub use chain::{Anchor, ChainKey, Hash};
pub use error::StoreError;
pub use index::indexer::IndexCommit;
pub use private::{create_private_dir, create_private_file};
pub use purge::PurgePlan;
pub use sqlite::events::as_input_read;
pub use sqlite::names::{KnownNames, PrincipalName};
pub use sqlite::raw::{PreparedRaws, RawEncoder};
pub use store::{DB_FILE, Store};
pub use tap::CommitTap;
pub use types::{
    AlertRow, BrokenLink, CodeVolume, DirectoryUser, ElevationRow, EventFilter, HostVolume,
    OutboxEntry, OutboxMessage, OutboxStatus, SearchCursor, SearchRequest, SilenceRow, Snapshot,
    StoreStats, StoredConflict, StoredReject, VerifyReport, WriteStats,
};
pub use writer::{Commit, ElevationWrite, EventOutcome, Writer};

#[cfg(test)]
mod tests {
    #[test]
    fn store_is_send_sync_and_writer_is_send() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<crate::Store>();
        send::<crate::Writer>();
    }
}
