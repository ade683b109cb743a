//! Pushed batches (the HTTP ingest endpoints) share transactions when they arrive together (group
//! commit): every request still gets its own outcomes, in order, and every document is stored once.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Barrier};

use privtrail_app::push::{PushOutcome, push_documents};
use privtrail_app::{App, Config};

/// A Winlogbeat 8 logon record (`record_id` makes the event id).
fn doc(record: u64) -> String {
    serde_json::json!({
        "@timestamp": "2026-11-30T10:00:00.000Z",
        "event": {"code": "4624", "provider": "Microsoft-Windows-Security-Auditing"},
        "host": {"name": "ws-1"},
        "winlog": {
            "channel": "Security", "computer_name": "WS-1", "event_id": "4624",
            "provider_name": "Microsoft-Windows-Security-Auditing", "record_id": record,
            "event_data": {"TargetUserName": format!("user{record}"), "TargetDomainName": "CONTOSO",
                           "TargetUserSid": "S-1-5-21-1-2-3-1104", "LogonType": "3"}
        }
    })
    .to_string()
}

#[test]
fn concurrent_pushes_get_their_own_outcomes_and_store_each_document_once() {
    let dir = tempfile::tempdir().unwrap();
    let app =
        Arc::new(App::open_writer(&dir.path().join("data"), Config::default(), "test").unwrap());
    // Eight requests of 300 documents at once; neighbours overlap by 100 records, and each request
    // has one line that is not a record.
    const CLIENTS: u64 = 8;
    let barrier = Arc::new(Barrier::new(CLIENTS as usize));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (app, barrier) = (Arc::clone(&app), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let mut texts: Vec<String> = (c * 200..c * 200 + 300).map(doc).collect();
                texts.insert(150, "{\"not\": \"an event\"".to_owned());
                let docs: Vec<(u64, &str)> = texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (i as u64 + 1, t.as_str()))
                    .collect();
                barrier.wait();
                let out = push_documents(&app, &docs, "http:_bulk (test)").unwrap();
                (c, out)
            })
        })
        .collect();
    let mut stored = std::collections::HashMap::new();
    for t in threads {
        let (c, out) = t.join().unwrap();
        assert_eq!(out.len(), 301, "one outcome per line");
        assert!(
            matches!(out[150], PushOutcome::Rejected(_)),
            "{:?}",
            out[150]
        );
        for (i, o) in out.iter().enumerate().filter(|(i, _)| *i != 150) {
            let record = c * 200 + if i < 150 { i as u64 } else { i as u64 - 1 };
            match o {
                PushOutcome::Stored(id) => {
                    assert!(
                        stored.insert(record, id.clone()).is_none(),
                        "{record} stored twice"
                    );
                }
                PushOutcome::Duplicate(_) => {}
                other => panic!("record {record}: {other:?}"),
            }
        }
    }
    // Records 0..1700 (the last client ends at 7*200+300), each stored by exactly one request.
    assert_eq!(stored.len(), 1700);
    let some = stored.values().next().unwrap();
    assert!(
        app.event(some.as_str()).unwrap().is_some(),
        "stored in SQLite"
    );
    let report = app.store().verify().unwrap();
    assert!(report.first_broken.is_none(), "{report:?}");
    assert_eq!(report.head.0, 1700, "{report:?}");
}
