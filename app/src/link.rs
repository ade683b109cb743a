//! Linking the two records Entra writes for one PIM change (PIM's own record and Core Directory's
//! `MS-PIM` record) so that the change counts once (SPEC §1.1).
//!
//! Stored events are immutable (they are hash-chained), so the link is set on whichever record is
//! stored second: its `linked_to` names the first. The partner is looked for earlier in the same
//! batch and among stored Entra events within a minute of the batch (one read per batch).

use std::collections::{HashMap, HashSet};

use chrono::Duration;
use privtrail_ingest::entra::same_change;
use privtrail_model::{Event, EventId, Source};
use privtrail_store::{Store, StoreError};

/// How far apart the two records of one change can be.
const WINDOW_SECS: i64 = 60;

/// Stored events read per batch at most; a denser window falls back to fewer links, never to
/// wrong ones.
const MAX_STORED: usize = 200_000;

/// Only Entra role changes have a partner record.
fn candidate(e: &Event) -> bool {
    e.source == Source::Entra && e.linked_to.is_none() && e.action.as_str().starts_with("role.")
}

/// Partners share tenant and target: comparing only within that group keeps a batch linear.
fn group_key(e: &Event) -> (String, String) {
    let lower = |v: &Option<String>| v.as_deref().unwrap_or("").to_lowercase();
    (lower(&e.tenant), lower(&e.target))
}

/// Sets `linked_to` on events of `batch` whose partner is already stored or earlier in the batch.
/// Returns how many were linked.
///
/// The batch is first put in time order (stable): Graph pages come newest first, and the record
/// written first (PIM's, for an activation) should be stored first and be the one linked to.
pub fn link_pim_pairs(store: &Store, batch: &mut [Event]) -> Result<usize, StoreError> {
    batch.sort_by_key(|e| e.time);
    let times = batch.iter().filter(|e| candidate(e)).map(|e| e.time);
    let (Some(first), Some(last)) = (times.clone().min(), times.max()) else {
        return Ok(0);
    };
    let w = Duration::seconds(WINDOW_SECS);
    let (Some(from), Some(to)) = (first.checked_sub_signed(w), last.checked_add_signed(w)) else {
        return Ok(0);
    };
    let stored = store.events_near(Source::Entra, from, to, MAX_STORED)?;
    let stored_ids: HashSet<&EventId> = stored.iter().map(|e| &e.id).collect();
    let mut groups: HashMap<(String, String), Vec<&Event>> = HashMap::new();
    for e in stored.iter().filter(|e| candidate(e)) {
        groups.entry(group_key(e)).or_default().push(e);
    }
    // Earlier events of this batch that may be partners, by index (they are not stored yet).
    let mut batch_groups: HashMap<(String, String), Vec<usize>> = HashMap::new();
    let mut linked = 0;
    for i in 0..batch.len() {
        // An event already stored is a duplicate: it will not be written again.
        if !candidate(&batch[i]) || stored_ids.contains(&batch[i].id) {
            continue;
        }
        let key = group_key(&batch[i]);
        let e = &batch[i];
        let in_batch = batch_groups.get(&key).and_then(|idx| {
            idx.iter()
                .map(|&j| &batch[j])
                .find(|p| p.id != e.id && same_change(p, e))
        });
        let partner = in_batch.map(|p| p.id.clone()).or_else(|| {
            groups
                .get(&key)
                .and_then(|ps| ps.iter().find(|p| p.id != e.id && same_change(p, e)))
                .map(|p| p.id.clone())
        });
        match partner {
            Some(p) => {
                batch[i].linked_to = Some(p);
                linked += 1;
            }
            None => batch_groups.entry(key).or_default().push(i),
        }
    }
    Ok(linked)
}
