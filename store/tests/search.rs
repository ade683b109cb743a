//! Search: the query language, time windows, order, limits, counts and errors.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use privtrail_model::{Action, Event, Outcome};
use privtrail_store::{SearchRequest, Store, StoreError};

/// Ten events with distinct, known properties.
fn fixture() -> Vec<Event> {
    let mut v = Vec::new();
    // 1..=4: local Administrators additions on WIN-03DLIIOFRRA; targets ...1001..1004.
    for n in 1..=4 {
        v.push(win_event(n, &format!("2016-07-08T18:15:2{n}.4292263Z")));
    }
    // 5: the same host, a Backup Operators addition.
    let mut e = win_event(5, "2016-07-08T18:15:25.0000001Z");
    e.privilege = Some("Backup Operators".into());
    e.privilege_id = Some("S-1-5-32-551".into());
    e.message = "S-1-5-21-1-2-3-1005 was added to Backup Operators".into();
    v.push(e);
    // 6: removal on another host.
    let mut e = win_event(6, "2016-07-08T18:15:26Z");
    e.id = privtrail_model::EventId::windows("SRV-DB01", "Security", 6);
    e.host = Some("SRV-DB01".into());
    e.action = Action::GroupMemberRemoved;
    e.event_code = "4733".into();
    e.actor = Some("CORP\\svc-deploy".into());
    e.message = "S-1-5-21-1-2-3-1006 was removed from Administrators".into();
    v.push(e);
    // 7: a failed logon with explicit credentials.
    let mut e = win_event(7, "2016-07-08T18:15:27Z");
    e.action = Action::LogonExplicitCredentials;
    e.event_code = "4648".into();
    e.outcome = Outcome::Failure;
    e.privilege = None;
    e.privilege_id = None;
    e.message = "Explicit credentials used".into();
    v.push(e);
    // 8..=10: Entra activations; 9 and 10 share a timestamp (tie).
    v.push(entra_event("A8", "2024-05-01T09:00:00Z"));
    let mut e = entra_event("A9", "2024-05-01T10:00:00Z");
    e.actor = Some("Admin.Amir@contoso.com".into());
    v.push(e);
    v.push(entra_event("A10", "2024-05-01T10:00:00Z"));
    v
}

fn open_fixture() -> (tempfile::TempDir, Store, Vec<Event>) {
    let dir = tempfile::tempdir().unwrap();
    let events = fixture();
    let store = store_with(dir.path(), &events);
    (dir, store, events)
}

fn idx(events: &[Event], ns: &[usize]) -> Vec<String> {
    ns.iter().map(|n| events[n - 1].id.to_string()).collect()
}

#[test]
fn field_queries_and_boolean_operators() {
    let (_d, store, ev) = open_fixture();
    assert_eq!(ids(&store, "event_code:4732"), idx(&ev, &[5, 4, 3, 2, 1]));
    assert_eq!(
        ids(
            &store,
            r#"action:group.member.added AND privilege_id:"S-1-5-32-544""#
        ),
        idx(&ev, &[4, 3, 2, 1])
    );
    assert_eq!(ids(&store, "privilege_id:S-1-5-32-551"), idx(&ev, &[5]));
    assert_eq!(
        ids(&store, "event_code:4733 OR event_code:4648"),
        idx(&ev, &[7, 6])
    );
    assert_eq!(
        ids(&store, "source:windows AND NOT event_code:4732"),
        idx(&ev, &[7, 6])
    );
    assert_eq!(ids(&store, "NOT source:windows"), idx(&ev, &[10, 9, 8]));
    assert_eq!(ids(&store, "-source:windows"), idx(&ev, &[10, 9, 8]));
    assert_eq!(ids(&store, "outcome:failure"), idx(&ev, &[7]));
    assert_eq!(
        ids(
            &store,
            r#"privilege:"Global Administrator" AND -actor:admin.amir@contoso.com"#
        ),
        idx(&ev, &[10, 8])
    );
    assert_eq!(ids(&store, "tenant:contoso.onmicrosoft.com").len(), 3);
    assert_eq!(
        ids(&store, r#"justification:"ticket inc-4711: rotate keys""#).len(),
        3
    );
}

#[test]
fn phrases_and_free_text() {
    let (_d, store, ev) = open_fixture();
    assert_eq!(
        ids(&store, r#"message:"removed from administrators""#),
        idx(&ev, &[6])
    );
    assert_eq!(ids(&store, r#""backup operators""#), idx(&ev, &[5]));
    // Free text: message words and whole keyword values, ANDed.
    assert_eq!(ids(&store, "removed"), idx(&ev, &[6]));
    assert_eq!(
        ids(&store, "kiran@contoso.com activated"),
        idx(&ev, &[10, 9, 8])
    );
    assert_eq!(
        ids(&store, "admin.amir@contoso.com activated"),
        idx(&ev, &[9])
    );
    assert_eq!(ids(&store, "srv-db01"), idx(&ev, &[6]));
}

#[test]
fn case_insensitive_keywords_and_wildcards() {
    let (_d, store, ev) = open_fixture();
    let on_win = idx(&ev, &[7, 5, 4, 3, 2, 1]);
    assert_eq!(ids(&store, "host:WIN-03DLIIOFRRA"), on_win);
    assert_eq!(ids(&store, "host:win-03dliiofrra"), on_win);
    assert_eq!(ids(&store, "host:win*"), on_win);
    assert_eq!(ids(&store, "host:WIN*"), on_win);
    assert_eq!(ids(&store, "target:*1001"), idx(&ev, &[1]));
    assert_eq!(
        ids(&store, "target:*100?"),
        Vec::<String>::new(),
        "? is literal"
    );
    assert_eq!(ids(&store, "actor:*ir*"), idx(&ev, &[10, 9, 8]));
    assert_eq!(ids(&store, "actor:*AMIR*"), idx(&ev, &[9]));
    assert_eq!(
        ids(&store, "privilege_id:s-1-5-32-5*"),
        idx(&ev, &[6, 5, 4, 3, 2, 1])
    );
    // Wildcard without a field: default fields.
    assert_eq!(ids(&store, "*amir*"), idx(&ev, &[9]));
    // field:* = has a value.
    assert_eq!(ids(&store, "privilege:*").len(), 9);
    // Combined with boolean operators.
    assert_eq!(
        ids(&store, "host:win* AND NOT target:*1001 AND event_code:4732"),
        idx(&ev, &[5, 4, 3, 2])
    );
    // Explicit regexes run on lowercased terms.
    assert_eq!(ids(&store, "host:/srv-db0[0-9]/"), idx(&ev, &[6]));
}

#[test]
fn star_matches_all_newest_first_with_deterministic_ties() {
    let (_d, store, ev) = open_fixture();
    // 9 and 10 have the same time: the later-stored (10) comes first.
    let all = idx(&ev, &[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(ids(&store, "*"), all);
    assert_eq!(ids(&store, ""), all);
    assert_eq!(ids(&store, "  "), all);
    assert_eq!(store.count(&req("*")).unwrap(), 10);
    let results = store.search(&req("*")).unwrap();
    assert_eq!(results, {
        let mut v = ev.clone();
        v.reverse();
        v
    });
}

#[test]
fn time_window_limit_and_count() {
    let (_d, store, ev) = open_fixture();
    let window = |since: Option<&str>, until: Option<&str>, limit: usize| SearchRequest {
        query: "source:windows".into(),
        since: since.map(t),
        until: until.map(t),
        limit,
        after: None,
    };
    // since is inclusive, until exclusive, at 100 ns precision.
    let r = window(
        Some("2016-07-08T18:15:22.4292263Z"),
        Some("2016-07-08T18:15:25.0000001Z"),
        100,
    );
    let got: Vec<_> = store
        .search(&r)
        .unwrap()
        .iter()
        .map(|e| e.id.to_string())
        .collect();
    assert_eq!(got, idx(&ev, &[4, 3, 2]));
    assert_eq!(store.count(&r).unwrap(), 3);
    let r = window(Some("2016-07-08T18:15:22.4292264Z"), None, 100);
    assert_eq!(store.count(&r).unwrap(), 5);
    let r = window(None, Some("2016-07-08T18:15:22.4292263Z"), 100);
    assert_eq!(store.count(&r).unwrap(), 1);
    // Limit keeps the newest.
    let r = window(None, None, 2);
    let got: Vec<_> = store
        .search(&r)
        .unwrap()
        .iter()
        .map(|e| e.id.to_string())
        .collect();
    assert_eq!(got, idx(&ev, &[7, 6]));
    assert_eq!(store.count(&r).unwrap(), 7, "count ignores the limit");
    assert!(store.search(&window(None, None, 0)).unwrap().is_empty());
    assert_eq!(
        store.search(&window(None, None, usize::MAX)).unwrap().len(),
        7
    );
    // A window alone.
    let r = SearchRequest {
        query: "*".into(),
        since: Some(t("2024-01-01T00:00:00Z")),
        until: None,
        limit: 10,
        after: None,
    };
    assert_eq!(store.count(&r).unwrap(), 3);
}

/// `id` and `time` are not terms of the index (SQLite finds ids, `time` is a fast field): the
/// queries on them still match as they did when they were.
#[test]
fn ids_and_exact_times_match_without_being_indexed() {
    let (_d, store, ev) = open_fixture();
    let id5 = ev[4].id.to_string();
    let id9 = ev[8].id.to_string();
    assert_eq!(ids(&store, &format!("id:{id5}")), idx(&ev, &[5]));
    assert_eq!(
        ids(&store, &format!("id:\"{}\"", id5.to_uppercase())),
        idx(&ev, &[5])
    );
    assert_eq!(
        ids(&store, &format!("id:IN [{id5} {id9} 00ff]")),
        idx(&ev, &[9, 5])
    );
    assert_eq!(
        ids(&store, &format!("id:{id5} OR host:SRV-DB01")),
        idx(&ev, &[6, 5])
    );
    assert_eq!(
        ids(&store, &format!("event_code:4732 AND NOT id:{id5}")),
        idx(&ev, &[4, 3, 2, 1])
    );
    assert!(ids(&store, "id:0123456789abcdef").is_empty());
    assert_eq!(store.count(&req("id:*")).unwrap(), 10);
    // 9 and 10 share a time; newest first, ties by seq.
    assert_eq!(
        ids(&store, "time:\"2024-05-01T10:00:00Z\""),
        idx(&ev, &[10, 9])
    );
    assert_eq!(
        ids(&store, "time:\"2016-07-08T18:15:25.0000001Z\""),
        idx(&ev, &[5])
    );
    assert!(ids(&store, "time:\"2016-07-08T18:15:25Z\"").is_empty());
    assert_eq!(
        ids(
            &store,
            r#"time:IN ["2016-07-08T18:15:25.0000001Z" "2024-05-01T09:00:00Z"]"#
        ),
        idx(&ev, &[8, 5])
    );
    assert_eq!(store.count(&req("time:* AND source:entra")).unwrap(), 3);
    for (q, says) in [
        ("id:7ac*", "whole event id"),
        ("id:/7ac.*/", "whole event id"),
        ("id:[a TO b]", "whole event id"),
        ("time:2016*", "time takes a time or a range"),
    ] {
        match store.search(&req(q)) {
            Err(StoreError::InvalidQuery { reason, .. }) => {
                assert!(reason.contains(says), "{q}: {reason}")
            }
            other => panic!("{q}: expected InvalidQuery, got {other:?}"),
        }
    }
}

#[test]
fn malformed_queries_are_invalid() {
    let (_d, store, _ev) = open_fixture();
    for q in [
        r#"message:"unclosed"#,
        "(event_code:4732 AND host:x",
        "nosuchfield:x",
        "event_code:4732 AND",
        "host:/unclosed[/",
    ] {
        match store.search(&req(q)) {
            Err(StoreError::InvalidQuery { query, reason }) => {
                assert_eq!(query, q);
                assert!(!reason.is_empty());
            }
            other => panic!("{q}: expected InvalidQuery, got {other:?}"),
        }
        assert!(matches!(
            store.count(&req(q)),
            Err(StoreError::InvalidQuery { .. })
        ));
    }
    let Err(StoreError::InvalidQuery { reason, .. }) = store.search(&req("nosuchfield:x")) else {
        panic!("expected InvalidQuery");
    };
    assert!(reason.contains("unknown field"), "{reason}");
}

#[test]
fn cursor_pages_cover_everything_once_while_events_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    // 230 events; every 10 share one second (ties broken by seq).
    let events: Vec<Event> = (0..230)
        .map(|n| win_event(n, &format!("2020-01-01T00:{:02}:00Z", n / 10)))
        .collect();
    w.write_batch(&events, &[]).unwrap();
    w.commit().unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    let mut next_record = 1000;
    loop {
        let page = store
            .search_page(&SearchRequest {
                after,
                ..SearchRequest::new("action:group.member.added", 40)
            })
            .unwrap();
        let Some((seq, last)) = page.last() else {
            break;
        };
        after = Some(privtrail_store::SearchCursor {
            time: last.time,
            seq: *seq,
        });
        seen.extend(page.iter().map(|(_, e)| e.id.to_string()));
        // New events arrive between pages, newer than everything: they do not disturb the paging.
        let newer: Vec<Event> = (0..5)
            .map(|i| win_event(next_record + i, "2021-01-01T00:00:00Z"))
            .collect();
        next_record += 5;
        w.write_batch(&newer, &[]).unwrap();
        w.commit().unwrap();
    }
    let want: Vec<String> = {
        let mut v: Vec<_> = events.iter().collect();
        v.reverse();
        v.into_iter().map(|e| e.id.to_string()).collect()
    };
    assert_eq!(seen.len(), 230, "every event once");
    assert_eq!(seen, want, "newest first, ties by seq");
}

#[test]
fn queries_are_bounded() {
    let (_d, store, _) = open_fixture();
    let many: Vec<String> = (0..70).map(|i| format!("host:h{i}")).collect();
    let err = store.count(&req(&many.join(" OR "))).unwrap_err();
    assert!(err.to_string().contains("at most 64"), "{err}");
    // A set counts each element: every id in one is a lookup in SQLite.
    let ids: Vec<String> = (0..70).map(|i| format!("{i:032x}")).collect();
    let err = store
        .count(&req(&format!("id:IN [{}]", ids.join(" "))))
        .unwrap_err();
    assert!(err.to_string().contains("70 terms; at most 64"), "{err}");
    assert!(
        store
            .count(&req(&format!("id:IN [{}]", ids[..64].join(" "))))
            .is_ok()
    );
    let long = format!("actor:{}*", "a".repeat(300));
    let err = store.count(&req(&long)).unwrap_err();
    assert!(err.to_string().contains("at most 256"), "{err}");
    let huge = "x ".repeat(3000);
    let err = store.count(&req(&huge)).unwrap_err();
    assert!(err.to_string().contains("at most 4096"), "{err}");
    assert!(store.count(&req("host:win* AND NOT actor:x")).is_ok());
}
