//! Reading one piece ahead: the rules job reads its inputs from SQLite in pieces and works on
//! each; [`read_ahead`] reads the next piece on a thread of its own while the job works on the
//! current one, so that a large run (a million new events after an import) uses the second core.
//! Decoding rows was ~40 % of such a run, done while the other core idled.

use std::sync::mpsc;

use privtrail_model::Event;
use privtrail_store::Store;

use crate::error::Result;

/// The events with `after < seq <= upto` (of `actions` when given; with `raw` when of `raw_of`;
/// whole when of `whole` or when it is `None`, else with only their identity), in pieces of at
/// most `chunk`: each piece with the seq it reaches (`upto` for the last, which may be empty —
/// there is always one), then `None`. A reader for [`read_ahead`], or to call in a loop.
pub(crate) fn pieces_after<'a>(
    store: &'a Store,
    mut after: i64,
    upto: i64,
    actions: Option<&'a [&'a str]>,
    (raw_of, whole): (&'a [&'a str], Option<&'a [&'a str]>),
    chunk: usize,
) -> impl FnMut() -> Result<Option<(Vec<Event>, i64)>> + Send + 'a {
    let mut done = false;
    move || {
        if done {
            return Ok(None);
        }
        let piece = store.events_after_seq(after, upto, actions, raw_of, whole, chunk)?;
        let full = piece.len() == chunk;
        // A partial piece is everything up to `upto` (events of other actions included: whoever
        // asked does not look at them).
        let reached = if full {
            piece.last().map_or(upto, |(s, _)| *s)
        } else {
            upto
        };
        done = !full;
        after = reached;
        Ok(Some((piece.into_iter().map(|(_, e)| e).collect(), reached)))
    }
}

/// Runs `read` on a scoped thread, one piece ahead of `consume`, which pulls the pieces in order
/// with the function it is given (`Ok(None)` after the last). When `consume` returns, the reading
/// stops (a piece read ahead is dropped). An error of `read` reaches `consume` in its place.
///
/// `consume` hands each piece it is done with back with its next call (`next(Some(done))`): the
/// reading thread frees it before reading another. Freeing a million events' pieces was ~8 % of
/// the consuming thread after an import, and the thread that allocated a piece frees it fastest
/// (mimalloc's own free list, no cross-thread hand-off).
pub(crate) fn read_ahead<T: Send, R>(
    mut read: impl FnMut() -> Result<Option<T>> + Send,
    consume: impl FnOnce(&mut dyn FnMut(Option<T>) -> Result<Option<T>>) -> Result<R>,
) -> Result<R> {
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<Result<T>>(1);
        let (done_tx, done_rx) = mpsc::channel::<T>();
        s.spawn(move || {
            loop {
                while let Ok(done) = done_rx.try_recv() {
                    drop(done);
                }
                let item = match read() {
                    Ok(Some(piece)) => Ok(piece),
                    Ok(None) => return,
                    Err(e) => Err(e),
                };
                let failed = item.is_err();
                // A failed send: `consume` returned.
                if tx.send(item).is_err() || failed {
                    return;
                }
            }
        });
        // Disconnected: the reader returned after its last piece (then a piece handed back is
        // freed here: the send fails and returns it).
        let mut next = |done: Option<T>| {
            if let Some(done) = done {
                drop(done_tx.send(done));
            }
            rx.recv().map_or(Ok(None), |item| item.map(Some))
        };
        let out = consume(&mut next);
        // The receiver goes before the scope joins the reader, so that a reader blocked on a
        // full channel returns.
        drop(rx);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;

    fn all(next: &mut dyn FnMut(Option<i32>) -> Result<Option<i32>>) -> Result<Vec<i32>> {
        let mut got = Vec::new();
        let mut done = None;
        while let Some(p) = next(done.take())? {
            got.push(p);
            done = Some(p);
        }
        Ok(got)
    }

    #[test]
    fn pieces_arrive_in_order_and_errors_and_stops_end_the_reading() {
        let mut n = 0;
        let got = read_ahead(
            || {
                n += 1;
                Ok((n <= 5).then_some(n))
            },
            all,
        )
        .expect("read");
        assert_eq!(got, [1, 2, 3, 4, 5]);

        let mut n = 0;
        let err = read_ahead(
            || {
                n += 1;
                if n == 3 {
                    return Err(AppError::Usage("piece 3 is unreadable".into()));
                }
                Ok(Some(n))
            },
            all,
        )
        .expect_err("the read error");
        assert!(err.to_string().contains("piece 3"), "{err}");

        // `consume` stops after two pieces of an endless reader: the call returns.
        let mut reads = 0;
        let two = read_ahead(
            || {
                reads += 1;
                Ok(Some(reads))
            },
            |next| Ok([next(None)?, next(None)?]),
        )
        .expect("stopped");
        assert_eq!(two, [Some(1), Some(2)]);
    }

    /// A piece that records the thread it is dropped on.
    struct Piece(std::sync::Arc<std::sync::Mutex<Vec<std::thread::ThreadId>>>);

    impl Drop for Piece {
        fn drop(&mut self) {
            if let Ok(mut on) = self.0.lock() {
                on.push(std::thread::current().id());
            }
        }
    }

    #[test]
    fn pieces_handed_back_are_freed_on_the_reading_thread() {
        let dropped_on = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut n = 0;
        let consumed = read_ahead(
            || {
                n += 1;
                Ok((n <= 5).then(|| Piece(std::sync::Arc::clone(&dropped_on))))
            },
            |next| {
                let mut done = None;
                let mut count = 0;
                while let Some(p) = next(done.take())? {
                    count += 1;
                    done = Some(p);
                }
                Ok(count)
            },
        )
        .expect("read");
        assert_eq!(consumed, 5);
        let on = dropped_on.lock().expect("lock").clone();
        assert_eq!(on.len(), 5);
        // Pieces 1–3 are back before the reader sends 4 and 5 (the channel holds one): it
        // frees them. The last two are freed by whichever thread holds them when the reader ends.
        let here = std::thread::current().id();
        assert!(on[..3].iter().all(|t| *t != here), "{on:?}");
    }
}
