//! Batches compressed by the producer ([`privtrail_store::RawEncoder::prepare`]) and handed over
//! with [`privtrail_store::Writer::write_prepared`]: stored records are each event's own, even
//! when the batch was reordered after it was prepared, across the training of a dictionary.
#![allow(clippy::unwrap_used)]

mod common;

use common::win_event;
use privtrail_store::{Commit, SearchRequest, Store};

fn records(from: u64, n: u64) -> Vec<privtrail_model::Event> {
    (from..from + n)
        .map(|i| {
            let mut e = win_event(i, "2024-05-01T10:00:00Z");
            // Long, similar records: compressed, and enough of them to train a dictionary.
            e.raw = format!(
                r#"{{"EventRecordID":{i},"Channel":"Security","Computer":"WIN-03DLIIOFRRA","EventData":{{"TargetSid":"S-1-5-32-544","MemberSid":"S-1-5-21-1-2-3-{}","SubjectUserName":"Administrator","padding":"{}"}}}}"#,
                1000 + i,
                "x".repeat((i % 50) as usize)
            );
            e
        })
        .collect()
}

#[test]
fn prepared_records_stay_with_their_events_even_when_the_batch_is_reordered() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    let enc = w.raw_encoder();
    let mut expected = std::collections::BTreeMap::new();
    for (k, n) in [(1u64, 700u64), (701, 700), (1401, 700)] {
        let mut batch = records(k, n);
        let raws = enc.prepare(&batch);
        // Reordered after preparing (as Entra linking does): the writer must notice.
        if k == 701 {
            batch.reverse();
        }
        for e in &batch {
            expected.insert(e.id.to_string(), e.raw.clone());
        }
        let stats = w
            .write_prepared(batch, raws, &[], None, &|_| Vec::new(), Commit::Own)
            .unwrap();
        assert_eq!(stats.stored, n);
    }
    w.commit().unwrap();
    drop(w);
    let report = store.verify().unwrap();
    assert!(report.first_broken.is_none(), "{report:?}");
    assert_eq!(report.checked, 2100);
    let found = store
        .search(&SearchRequest {
            query: "*".into(),
            since: None,
            until: None,
            limit: 10_000,
            after: None,
        })
        .unwrap();
    assert_eq!(found.len(), expected.len());
    for e in found {
        assert_eq!(Some(&e.raw), expected.get(e.id.as_str()), "{}", e.id);
    }
    // Reopened (a new process): the dictionary trained on the way is read from the store.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let one = store
        .get_event(&privtrail_model::EventId::windows(
            "WIN-03DLIIOFRRA",
            "Security",
            2000,
        ))
        .unwrap()
        .unwrap();
    assert_eq!(Some(&one.raw), expected.get(one.id.as_str()));
}
