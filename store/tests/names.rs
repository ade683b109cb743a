//! What the events say SIDs are called: learned on write (and by the migration for stores that
//! predate it), chosen by rank and time, followed by `principal:` searches and `identities`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{t, win_event};
use privtrail_model::{Action, Event, EventId, Outcome, Source};
use privtrail_store::{DirectoryUser, Store};

const SID: &str = "S-1-5-21-1-2-3-1601";

fn logon(n: u64, time: &str, sid: &str, name: &str, outcome: Outcome) -> Event {
    let mut e = Event::new(
        EventId::windows("WS-0158", "Security", n),
        Source::Windows,
        Action::Logon,
        t(time),
        if outcome == Outcome::Failure {
            "4625"
        } else {
            "4624"
        },
    );
    e.outcome = outcome;
    e.host = Some("WS-0158".into());
    e.target = Some(sid.into());
    e.target_name = Some(name.into());
    e.message = format!("logon of {name}");
    e
}

fn events() -> Vec<Event> {
    let mut add = win_event(601, "2026-11-01T09:00:00Z");
    add.target = Some(SID.to_lowercase());
    add.target_name = Some("CN=Nina Patel,OU=Staff,DC=contoso,DC=local".into());
    vec![
        add,
        logon(
            1,
            "2026-11-01T09:20:00Z",
            SID,
            "CONTOSO\\nina.patel",
            Outcome::Success,
        ),
        logon(
            2,
            "2026-11-02T09:20:00Z",
            SID,
            "CONTOSO\\nina.patel",
            Outcome::Success,
        ),
        // Renamed after her marriage.
        logon(
            3,
            "2026-11-20T09:20:00Z",
            SID,
            "CONTOSO\\nina.shah",
            Outcome::Success,
        ),
        // A failed logon names whatever was typed: never a name.
        logon(
            4,
            "2026-11-21T09:20:00Z",
            SID,
            "CONTOSO\\administrator",
            Outcome::Failure,
        ),
        logon(
            5,
            "2026-11-21T09:21:00Z",
            "S-1-0-0",
            "admin",
            Outcome::Success,
        ),
    ]
}

#[test]
fn names_are_learned_on_write_ranked_and_chosen_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::store_with(dir.path(), &events());
    let names = store.principal_names(&SID.to_lowercase()).unwrap();
    let got: Vec<(&str, u8)> = names.iter().map(|n| (n.name.as_str(), n.rank)).collect();
    assert_eq!(
        got,
        vec![
            ("CONTOSO\\nina.shah", 0),
            ("CONTOSO\\nina.patel", 0),
            ("Nina Patel", 2)
        ]
    );
    let patel = &names[1];
    assert_eq!(patel.first_seen, t("2026-11-01T09:20:00Z"));
    assert_eq!(patel.last_seen, t("2026-11-02T09:20:00Z"));
    assert_eq!(
        patel.first_event,
        EventId::windows("WS-0158", "Security", 1).to_string()
    );
    // The name in use at a time; before any logon, the oldest logon name.
    let at = |s: &str| store.name_of(SID, Some(t(s))).unwrap();
    assert_eq!(
        at("2026-11-10T00:00:00Z").as_deref(),
        Some("CONTOSO\\nina.patel")
    );
    assert_eq!(
        at("2026-11-25T00:00:00Z").as_deref(),
        Some("CONTOSO\\nina.shah")
    );
    assert_eq!(
        at("2026-10-01T00:00:00Z").as_deref(),
        Some("CONTOSO\\nina.patel")
    );
    // Well-known SIDs have fixed names; the NULL SID learns nothing from "admin".
    assert_eq!(
        store.name_of("S-1-5-18", None).unwrap().as_deref(),
        Some("NT AUTHORITY\\SYSTEM")
    );
    assert!(store.principal_names("S-1-0-0").unwrap().is_empty());
    assert_eq!(
        store.name_of("S-1-5-21-9-9-9-4242", None).unwrap(),
        None,
        "nothing known"
    );
}

#[test]
fn principal_searches_follow_names_directory_users_and_the_identity_map() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::store_with(dir.path(), &events());
    {
        let mut w = store.writer().unwrap();
        w.save_users(
            "contoso",
            &[DirectoryUser {
                id: "0b1c2d3e-0000-4000-8000-000000001601".into(),
                upn: Some("Nina.Patel@contoso.com".into()),
                display_name: Some("Nina Patel".into()),
                on_prem_sid: Some(SID.into()),
            }],
        )
        .unwrap();
    }
    let count = |q: &str| store.count(&common::req(q)).unwrap();
    let by_sid = count(&format!("target:\"{SID}\""));
    // Add, two logons, the renamed logon and the failed one are recorded under her SID.
    assert_eq!(by_sid, 5);
    for q in [
        "principal:nina.patel",
        "principal:\"CONTOSO\\\\nina.patel\"",
        "principal:NINA.SHAH",
        "principal:nina.patel@contoso.com",
        "principal:0b1c2d3e-0000-4000-8000-000000001601",
        &format!("principal:\"{SID}\""),
    ] {
        assert_eq!(count(q), by_sid, "{q}");
    }
    assert_eq!(count("principal:nina.patel AND action:logon"), 4);
    assert_eq!(
        count("principal:*1601"),
        by_sid,
        "wildcards look in the three fields"
    );
    assert_eq!(count("principal:nobody.here"), 0);
    // The identity map: an alias finds its canonical principal's events and back.
    store.set_identity_map(&[("legacy\\npatel".into(), "nina.patel@contoso.com".into())]);
    let ids = store.identities("legacy\\npatel").unwrap();
    assert!(ids.iter().any(|i| i == SID), "{ids:?}");
    assert_eq!(count("principal:\"legacy\\\\npatel\""), by_sid);
    // Read all at once (the rules job) or one by one (a page), the answer is the same.
    let all = store.all_known_names().unwrap();
    for p in [
        SID,
        "0b1c2d3e-0000-4000-8000-000000001601",
        "S-1-5-21-9-9-9-4242",
    ] {
        let one = store.known_names(p).unwrap();
        let bulk = all.get(&p.to_lowercase()).cloned().unwrap_or_default();
        assert_eq!(bulk.at(None), one.at(None), "{p}");
    }
    // The directory names an object id by its UPN.
    assert_eq!(
        store
            .name_of("0B1C2D3E-0000-4000-8000-000000001601", None)
            .unwrap()
            .as_deref(),
        Some("Nina.Patel@contoso.com")
    );
}

#[test]
fn a_store_from_before_names_learns_them_from_its_events_when_migrated() {
    let dir = tempfile::tempdir().unwrap();
    drop(common::store_with(dir.path(), &events()));
    {
        // What a store written by the previous version looks like: no table, version 8.
        let c = rusqlite::Connection::open(dir.path().join(privtrail_store::DB_FILE)).unwrap();
        c.execute_batch(
            "DROP TABLE principal_names; DROP TABLE dictionaries; \
             ALTER TABLE chain DROP COLUMN legacy_entra_upto; \
             DROP INDEX events_span_time; CREATE INDEX events_time ON events(time); \
             PRAGMA user_version = 8;",
        )
        .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let names: Vec<String> = store
        .principal_names(SID)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(
        names,
        vec!["CONTOSO\\nina.shah", "CONTOSO\\nina.patel", "Nina Patel"]
    );
}
