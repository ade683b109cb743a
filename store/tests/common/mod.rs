//! Shared fixtures for the store's integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, EventId, Outcome, Source};
use privtrail_store::{SearchRequest, Store};

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A Windows "member added to a group" event with record id `n`.
pub fn win_event(n: u64, time: &str) -> Event {
    let mut e = Event::new(
        EventId::windows("WIN-03DLIIOFRRA", "Security", n),
        Source::Windows,
        Action::GroupMemberAdded,
        t(time),
        "4732",
    );
    e.host = Some("WIN-03DLIIOFRRA".into());
    e.actor = Some("WIN-03DLIIOFRRA\\Administrator".into());
    e.target = Some(format!("S-1-5-21-1-2-3-{}", 1000 + n));
    e.privilege = Some("Administrators".into());
    e.privilege_id = Some("S-1-5-32-544".into());
    e.scope = Some("WIN-03DLIIOFRRA".into());
    e.record_id = Some(n.to_string());
    e.message = format!("S-1-5-21-1-2-3-{} was added to Administrators", 1000 + n);
    e.raw = format!(r#"{{"EventRecordID":{n},"Channel":"Security"}}"#);
    e
}

/// A fully populated Entra event (every optional field set).
pub fn entra_event(native: &str, time: &str) -> Event {
    let mut e = Event::new(
        EventId::native(Source::Entra, "contoso", native),
        Source::Entra,
        Action::RoleActivated,
        t(time),
        "Add member to role completed (PIM activation)",
    );
    e.ingested_at = t("2024-05-01T10:00:00.123456789Z");
    e.tenant = Some("contoso.onmicrosoft.com".into());
    e.outcome = Outcome::Success;
    e.actor = Some("Kiran@contoso.com".into());
    e.target = Some("Kiran@contoso.com".into());
    e.target_name = Some("Kiran Patel".into());
    e.privilege = Some("Global Administrator".into());
    e.privilege_id = Some("62e90394-69f5-4237-9190-012177145e10".into());
    e.scope = Some("/".into());
    e.expires_at = Some(t("9999-12-31T23:59:59.9999999Z"));
    e.justification = Some("Ticket INC-4711: rotate keys".into());
    e.correlation_id = Some("3f2a9c1e-0000-4000-8000-000000000001".into());
    e.record_id = Some(native.into());
    e.message = "Kiran Patel activated Global Administrator".into();
    e.raw = r#"{"id":"Directory_ABC","activityDisplayName":"Add member to role completed (PIM activation)","nested":{"ü":[1,2.5,null,true]}}"#.into();
    e
}

pub fn req(q: &str) -> SearchRequest {
    SearchRequest::new(q, 1000)
}

/// Ids of the search results, in result order.
pub fn ids(store: &Store, q: &str) -> Vec<String> {
    store
        .search(&req(q))
        .unwrap()
        .into_iter()
        .map(|e| e.id.to_string())
        .collect()
}

/// Opens a store in `dir`, writes `events`, commits the index.
pub fn store_with(dir: &std::path::Path, events: &[Event]) -> Store {
    let store = Store::open(dir).unwrap();
    {
        let mut w = store.writer().unwrap();
        w.write_batch(events, &[]).unwrap();
        w.commit().unwrap();
    }
    store
}
