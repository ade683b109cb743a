//! [`CommitTap`]: what sees the events the writer stores, as they commit.

use privtrail_model::Event;

/// Sees every batch of events the [`crate::Writer`] stores once the batch is committed, in
/// commit (seq) order, on the indexing thread: the app keeps the elevation tracker's inputs of
/// an import this way instead of reading them back after it.
///
/// A batch's events come with their seqs, consecutive and ending at `last_seq`, `raw` emptied;
/// `None` when the writer did not hand them over (it built their search documents itself, for
/// events it only borrowed). Batches committed before the tap was installed
/// ([`crate::Writer::tap`]) are never shown, nor are those of a group whose commit failed.
///
/// To add one: implement `committed`, keep it short (the indexing thread waits for it, and the
/// writer once that thread's channel is full), and install it with [`crate::Writer::tap`].
pub trait CommitTap: Send {
    fn committed(&mut self, events: Option<&mut [(i64, Event)]>, last_seq: i64);
}
