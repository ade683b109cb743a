//! Conflicting duplicates (SPEC §6): an incoming record whose id is stored already is compared with
//! the stored event on what the record says — when, what, who, to whom, where. The same record read
//! through another format (EVTX and an agent's JSON) agrees on all of it and is a quiet duplicate;
//! a record that says something else under a stored id is a conflict: kept, never dropped.
//!
//! Not compared: `raw` (formats differ), `message` and `target_name` (derived, and richer in some
//! formats), `ingested_at`, `linked_to`/`via_pim` (set at storage), and time below the second
//! (agents round it).

use privtrail_model::{Action, Event, EventId, Source};

/// The fields in which `incoming` says something other than `stored` (empty: a true duplicate).
pub fn differing_fields(stored: &Event, incoming: &Event) -> Vec<&'static str> {
    let lower = |v: &Option<String>| v.as_deref().map(str::to_lowercase);
    let mut out = Vec::new();
    if stored.time.timestamp() != incoming.time.timestamp() {
        out.push("time");
    }
    if stored.source != incoming.source {
        out.push("source");
    }
    if lower(&stored.tenant) != lower(&incoming.tenant) {
        out.push("tenant");
    }
    if lower(&stored.host) != lower(&incoming.host) {
        out.push("host");
    }
    if stored.action != incoming.action {
        out.push("action");
    }
    if stored.outcome != incoming.outcome {
        out.push("outcome");
    }
    if lower(&stored.actor) != lower(&incoming.actor) {
        out.push("actor");
    }
    if lower(&stored.target) != lower(&incoming.target) {
        out.push("target");
    }
    if lower(&stored.privilege_id) != lower(&incoming.privilege_id) {
        out.push("privilege_id");
    }
    if lower(&stored.scope) != lower(&incoming.scope) {
        out.push("scope");
    }
    if stored.event_code != incoming.event_code {
        out.push("event_code");
    }
    if stored.expires_at.map(|t| t.timestamp()) != incoming.expires_at.map(|t| t.timestamp()) {
        out.push("expires_at");
    }
    out
}

/// The chained `evidence.conflict` event that records a conflict in the trail.
pub fn conflict_event(
    stored: &Event,
    incoming: &Event,
    origin: &str,
    fields: &[&str],
    now: chrono::DateTime<chrono::Utc>,
) -> Event {
    let digest = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(incoming.id.as_str().as_bytes());
        h.update(serde_json::to_vec(incoming).unwrap_or_default());
        hex::encode(&h.finalize()[..8])
    };
    // The same conflicting record twice is one conflict.
    let id = EventId::native(
        Source::Privtrail,
        "conflict",
        &format!("{}:{digest}", incoming.id),
    );
    let mut e = Event::new(
        id,
        Source::Privtrail,
        Action::EvidenceConflict,
        now,
        "evidence.conflict",
    );
    e.host = incoming.host.clone().or_else(|| stored.host.clone());
    e.tenant = incoming.tenant.clone().or_else(|| stored.tenant.clone());
    e.target = Some(incoming.id.to_string());
    e.actor = Some(origin.to_owned());
    e.message = format!(
        "a record with the id of stored event {} arrived from {origin} saying something else ({}); both are kept",
        incoming.id,
        fields.join(", ")
    );
    e.raw = serde_json::json!({
        "event_id": incoming.id.to_string(),
        "origin": origin,
        "fields": fields,
    })
    .to_string();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> Event {
        let t = chrono::DateTime::parse_from_rfc3339("2020-07-12T05:14:30.9766127Z")
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        let mut e = Event::new(
            EventId::windows("jump01", "Security", 42),
            Source::Windows,
            Action::GroupMemberAdded,
            t,
            "4732",
        );
        e.host = Some("jump01.offsec.lan".into());
        e.target = Some("S-1-5-21-1-2-3-1001".into());
        e.privilege_id = Some("S-1-5-32-544".into());
        e.raw = "{\"evtx\":1}".into();
        e
    }

    #[test]
    fn the_same_record_in_another_format_is_no_conflict() {
        let a = ev();
        let mut b = ev();
        b.raw = "{\"winlogbeat\":1}".into();
        b.message = "another wording".into();
        b.time = a.time + chrono::Duration::milliseconds(1);
        b.host = Some("JUMP01.offsec.lan".into());
        assert!(differing_fields(&a, &b).is_empty());
    }

    #[test]
    fn a_record_saying_something_else_is() {
        let a = ev();
        let mut b = ev();
        b.target = Some("S-1-5-21-1-2-3-666".into());
        b.action = Action::GroupMemberRemoved;
        assert_eq!(differing_fields(&a, &b), ["action", "target"]);
        let c = conflict_event(&a, &b, "file x.evtx", &["action", "target"], a.time);
        assert_eq!(c.action, Action::EvidenceConflict);
        assert!(c.message.contains("action, target"), "{}", c.message);
    }
}
