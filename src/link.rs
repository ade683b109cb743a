//! Linking the two records Entra writes for one PIM change (PIM's own record and Core Directory's
//! `MS-PIM` record) so that the change counts once (SPEC §1.1).
//!
//! Stored events are immutable (they are hash-chained), so the link is set on whichever record is
//! stored second: its `linked_to` names the first. The partner is looked for earlier in the same
//! batch and in the store within a minute either side.

use chrono::Duration;
use privtrail_ingest::entra::same_change;
use privtrail_model::{Event, Source};
use privtrail_store::{Store, StoreError};

/// How far apart the two records of one change can be.
const WINDOW_SECS: i64 = 60;

/// Only Entra role changes have a partner record.
fn candidate(e: &Event) -> bool {
    e.source == Source::Entra && e.linked_to.is_none() && e.action.as_str().starts_with("role.")
}

/// Sets `linked_to` on events of `batch` whose partner is already stored or earlier in the batch.
/// Returns how many were linked.
pub fn link_pim_pairs(store: &Store, batch: &mut [Event]) -> Result<usize, StoreError> {
    let mut linked = 0;
    for i in 0..batch.len() {
        // An event already stored is a duplicate: it will not be written again.
        if !candidate(&batch[i]) || store.get_event(&batch[i].id)?.is_some() {
            continue;
        }
        let (earlier, rest) = batch.split_at_mut(i);
        let e = &mut rest[0];
        let partner = earlier
            .iter()
            .find(|p| p.linked_to.is_none() && p.id != e.id && same_change(p, e))
            .map(|p| p.id.clone());
        let partner = match partner {
            Some(p) => Some(p),
            None => {
                let w = Duration::seconds(WINDOW_SECS);
                let (Some(from), Some(to)) =
                    (e.time.checked_sub_signed(w), e.time.checked_add_signed(w))
                else {
                    continue;
                };
                store
                    .events_between(from, to, 10_000)?
                    .into_iter()
                    .find(|p| p.linked_to.is_none() && p.id != e.id && same_change(p, e))
                    .map(|p| p.id)
            }
        };
        if let Some(p) = partner {
            e.linked_to = Some(p);
            linked += 1;
        }
    }
    Ok(linked)
}
