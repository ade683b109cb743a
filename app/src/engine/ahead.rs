//! Reading one piece ahead: the rules job reads its inputs from SQLite in pieces and works on
//! each; [`read_ahead`] reads the next piece on a thread of its own while the job works on the
//! current one, so that a large run (a million new events after an import) uses the second core.
//! Decoding rows was ~40 % of such a run, done while the other core idled.

use std::sync::mpsc;

use privtrail_model::Event;
use privtrail_store::Store;

use crate::error::Result;

/// The events with `after < seq <= upto` (of `actions` when given), in pieces of at most
/// `chunk`: each piece with the seq it reaches (`upto` for the last, which may be empty — there is
/// always one), then `None`. A reader for [`read_ahead`], or to call in a loop.
pub(crate) fn pieces_after<'a>(
    store: &'a Store,
    mut after: i64,
    upto: i64,
    actions: Option<&'a [&'a str]>,
    chunk: usize,
) -> impl FnMut() -> Result<Option<(Vec<Event>, i64)>> + Send + 'a {
    let mut done = false;
    move || {
        if done {
            return Ok(None);
        }
        let piece = store.events_after_seq(after, upto, actions, chunk)?;
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
pub(crate) fn read_ahead<T: Send, R>(
    mut read: impl FnMut() -> Result<Option<T>> + Send,
    consume: impl FnOnce(&mut dyn FnMut() -> Result<Option<T>>) -> Result<R>,
) -> Result<R> {
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<Result<T>>(1);
        s.spawn(move || {
            loop {
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
        // Disconnected: the reader returned after its last piece.
        let mut next = || rx.recv().map_or(Ok(None), |item| item.map(Some));
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

    fn all(next: &mut dyn FnMut() -> Result<Option<i32>>) -> Result<Vec<i32>> {
        let mut got = Vec::new();
        while let Some(p) = next()? {
            got.push(p);
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
            |next| Ok([next()?, next()?]),
        )
        .expect("stopped");
        assert_eq!(two, [Some(1), Some(2)]);
    }
}
