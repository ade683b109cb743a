//! Retention (SPEC §6): the oldest part of the chain is dropped, never a part in the middle, so
//! that what stays still verifies — from the base the purge record names. The record is itself a
//! chained `store.purged` event: the range, how many events, and the hash of the last one dropped.

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, EventId, Source};

use crate::chain::Hash;

/// What a purge would drop: every event with `seq <= through_seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgePlan {
    pub through_seq: i64,
    pub events: u64,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
}

/// The `store.purged` event of a purge.
pub fn purge_event(plan: &PurgePlan, last_hash: &Hash, reason: &str, now: DateTime<Utc>) -> Event {
    let id = EventId::native(
        Source::Privtrail,
        "purge",
        &format!("{}:{}", plan.through_seq, hex::encode(last_hash)),
    );
    let mut e = Event::new(
        id,
        Source::Privtrail,
        Action::StorePurged,
        now,
        "store.purged",
    );
    let span = match (plan.oldest, plan.newest) {
        (Some(a), Some(b)) => format!(
            " from {} to {}",
            privtrail_model::format_time(a),
            privtrail_model::format_time(b)
        ),
        _ => String::new(),
    };
    e.message = format!(
        "retention purged {} events (seq 1..={}){span}: {reason}",
        plan.events, plan.through_seq
    );
    e.raw = serde_json::json!({
        "through_seq": plan.through_seq,
        "last_hash": hex::encode(last_hash),
        "events": plan.events,
        "oldest": plan.oldest.map(privtrail_model::format_time),
        "newest": plan.newest.map(privtrail_model::format_time),
        "reason": reason,
    })
    .to_string();
    e
}
