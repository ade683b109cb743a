//! The durable outbox (SPEC §5): enqueued in the creating transaction, idempotent, scheduled by
//! the caller, dead letters retryable, nothing lost across a reopen or a kill.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use privtrail_model::Event;
use privtrail_store::{AlertRow, OutboxEntry, OutboxMessage, OutboxStatus, Store, StoreError};

fn entry(channel: &str, key: &str) -> OutboxEntry {
    OutboxEntry {
        channel: channel.into(),
        idempotency_key: key.into(),
        payload: format!(r#"{{"key":"{key}"}}"#),
    }
}

fn alert(id: &str) -> AlertRow {
    AlertRow {
        id: id.into(),
        rule: "standing-admin".into(),
        subject: "Kiran@contoso.com".into(),
        status: "open".into(),
        severity: "high".into(),
        opened_at: t("2024-05-01T10:00:00Z"),
        updated_at: t("2024-05-01T10:00:00Z"),
        body: "{}".into(),
    }
}

fn keys(msgs: &[OutboxMessage]) -> Vec<&str> {
    msgs.iter().map(|m| m.idempotency_key.as_str()).collect()
}

/// The message with `key` on any channel (tests use keys unique across channels).
fn by_key(store: &Store, key: &str) -> OutboxMessage {
    let mut found: Vec<_> = store
        .outbox_list(None, 1000)
        .unwrap()
        .into_iter()
        .filter(|m| m.idempotency_key == key)
        .collect();
    assert_eq!(found.len(), 1, "{key}");
    found.remove(0)
}

fn by_channel_key(store: &Store, channel: &str, key: &str) -> OutboxMessage {
    store
        .outbox_list(None, 1000)
        .unwrap()
        .into_iter()
        .find(|m| m.channel == channel && m.idempotency_key == key)
        .unwrap()
}

fn far_future() -> DateTime<Utc> {
    Utc::now() + Duration::days(3650)
}

#[test]
fn status_names_round_trip() {
    for s in [
        OutboxStatus::Pending,
        OutboxStatus::Delivered,
        OutboxStatus::Dead,
    ] {
        assert_eq!(OutboxStatus::parse(s.as_str()), Some(s));
        assert_eq!(s.to_string(), s.as_str());
    }
    assert_eq!(OutboxStatus::parse("Pending"), None);
}

#[test]
fn alerts_and_their_messages_are_stored_together_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();

    let n = w
        .save_alerts_with_outbox(
            &[alert("a1"), alert("a2")],
            &[entry("teams", "a1/teams"), entry("email", "a1/email")],
        )
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(store.alerts(None).unwrap().len(), 2);
    let m = by_key(&store, "a1/teams");
    assert_eq!(m.channel, "teams");
    assert_eq!(m.payload, r#"{"key":"a1/teams"}"#);
    assert_eq!(m.status, OutboxStatus::Pending);
    assert_eq!(m.attempts, 0);
    assert_eq!(m.next_attempt_at, m.created_at);
    assert!(m.last_error.is_none() && m.delivered_at.is_none());

    // The last entry violates a constraint (empty channel): the new alert, the update of a1 and
    // the valid entry before it are all rolled back.
    let mut changed = alert("a1");
    changed.status = "closed".into();
    let err = w
        .save_alerts_with_outbox(
            &[alert("a3"), changed],
            &[entry("teams", "a3/teams"), entry("", "a3/bad")],
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Sqlite { .. }), "{err}");
    assert!(err.to_string().contains("outbox"), "{err}");
    assert!(store.alert("a3").unwrap().is_none());
    assert_eq!(store.alert("a1").unwrap().unwrap().status, "open");
    assert_eq!(store.outbox_list(None, 100).unwrap().len(), 2);

    // An empty key is refused the same way.
    assert!(
        w.save_alerts_with_outbox(&[], &[entry("teams", "")])
            .is_err()
    );
    assert_eq!(store.outbox_list(None, 100).unwrap().len(), 2);

    // Alerts alone, or messages alone, work too.
    assert_eq!(w.save_alerts_with_outbox(&[alert("a4")], &[]).unwrap(), 0);
    assert_eq!(
        w.save_alerts_with_outbox(&[], &[entry("teams", "x")])
            .unwrap(),
        1
    );
}

#[test]
fn enqueuing_a_key_again_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    assert_eq!(
        w.save_alerts_with_outbox(&[], &[entry("teams", "k1")])
            .unwrap(),
        1
    );
    let first = by_channel_key(&store, "teams", "k1");

    // Same key, other payload: skipped, the stored message is unchanged; a duplicate inside one
    // call is skipped too; the same key on another channel is a different message.
    let mut other = entry("teams", "k1");
    other.payload = r#"{"changed":true}"#.into();
    let n = w
        .save_alerts_with_outbox(
            &[],
            &[
                other,
                entry("teams", "k2"),
                entry("teams", "k2"),
                entry("email", "k1"),
            ],
        )
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(by_channel_key(&store, "teams", "k1"), first);
    assert_eq!(store.outbox_list(None, 100).unwrap().len(), 3);

    // Once delivered, enqueuing the key again does not make it due again.
    w.outbox_delivered(&[first.id], Utc::now()).unwrap();
    assert_eq!(
        w.save_alerts_with_outbox(&[], &[entry("teams", "k1")])
            .unwrap(),
        0
    );
    assert_eq!(
        by_channel_key(&store, "teams", "k1").status,
        OutboxStatus::Delivered
    );
    assert_eq!(
        keys(&store.outbox_due("teams", far_future(), 100).unwrap()),
        ["k2"]
    );
}

#[test]
fn due_respects_channel_time_order_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    assert!(store.outbox_next_due().unwrap().is_none());
    assert!(store.outbox_channels_pending().unwrap().is_empty());

    let before = Utc::now();
    w.save_alerts_with_outbox(
        &[],
        &[
            entry("siem", "a"),
            entry("siem", "b"),
            entry("email", "e"),
            entry("siem", "c"),
        ],
    )
    .unwrap();
    let now = Utc::now();
    // Due at enqueue time: not before, yes now.
    assert!(
        store
            .outbox_due("siem", before - Duration::seconds(1), 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        keys(&store.outbox_due("siem", now, 10).unwrap()),
        ["a", "b", "c"]
    );
    assert_eq!(keys(&store.outbox_due("siem", now, 2).unwrap()), ["a", "b"]);
    assert_eq!(keys(&store.outbox_due("email", now, 10).unwrap()), ["e"]);
    assert!(store.outbox_due("teams", now, 10).unwrap().is_empty());
    assert_eq!(store.outbox_channels_pending().unwrap(), ["email", "siem"]);
    let next = store.outbox_next_due().unwrap().unwrap();
    assert!(before <= next && next <= now, "{next}");

    // a fails and is rescheduled a minute later: b, c are due first, a only after its time.
    let a = by_key(&store, "a");
    let later = now + Duration::seconds(60);
    w.outbox_failed(a.id, "HTTP 503", later, false).unwrap();
    let a = by_key(&store, "a");
    assert_eq!(a.status, OutboxStatus::Pending);
    assert_eq!(a.attempts, 1);
    assert_eq!(a.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(a.next_attempt_at, later);
    assert_eq!(
        keys(&store.outbox_due("siem", now, 10).unwrap()),
        ["b", "c"]
    );
    assert_eq!(
        keys(
            &store
                .outbox_due("siem", later - Duration::nanoseconds(1), 10)
                .unwrap()
        ),
        ["b", "c"]
    );
    assert_eq!(
        keys(&store.outbox_due("siem", later, 10).unwrap()),
        ["b", "c", "a"]
    );

    // A second failure counts again.
    let later2 = later + Duration::seconds(120);
    w.outbox_failed(a.id, "timeout", later2, false).unwrap();
    let a = by_key(&store, "a");
    assert_eq!((a.attempts, a.next_attempt_at), (2, later2));
    assert_eq!(a.last_error.as_deref(), Some("timeout"));

    // Once everything else is delivered, the next due time is a's.
    let others: Vec<i64> = ["b", "c", "e"]
        .iter()
        .map(|k| by_key(&store, k).id)
        .collect();
    w.outbox_delivered(&others, now).unwrap();
    assert_eq!(store.outbox_next_due().unwrap(), Some(later2));
    assert_eq!(store.outbox_channels_pending().unwrap(), ["siem"]);
}

#[test]
fn delivered_messages_are_never_due_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    w.save_alerts_with_outbox(&[], &[entry("webhook", "d"), entry("webhook", "p")])
        .unwrap();
    let d = by_key(&store, "d");
    let at = t("2030-01-01T00:00:00.123456789Z");
    w.outbox_delivered(&[d.id, 9999], at).unwrap();
    let d = by_key(&store, "d");
    assert_eq!(d.status, OutboxStatus::Delivered);
    assert_eq!(d.delivered_at, Some(at));
    assert_eq!(d.attempts, 1);
    assert_eq!(
        keys(&store.outbox_due("webhook", far_future(), 10).unwrap()),
        ["p"]
    );

    // Late reports do not resurrect it: a failure, a retry, a second delivery.
    w.outbox_failed(d.id, "late failure", Utc::now(), false)
        .unwrap();
    w.outbox_failed(d.id, "late failure", Utc::now(), true)
        .unwrap();
    assert!(!w.outbox_retry(d.id, Utc::now()).unwrap());
    w.outbox_delivered(&[d.id], far_future()).unwrap();
    assert_eq!(by_key(&store, "d"), d);
    assert_eq!(
        keys(&store.outbox_due("webhook", far_future(), 10).unwrap()),
        ["p"]
    );
}

#[test]
fn dead_letters_are_listed_counted_and_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    w.save_alerts_with_outbox(
        &[],
        &[
            entry("teams", "x"),
            entry("teams", "y"),
            entry("email", "z"),
            entry("email", "ok"),
        ],
    )
    .unwrap();
    let now = Utc::now();
    for k in ["x", "y", "z"] {
        let m = by_key(&store, k);
        w.outbox_failed(m.id, "HTTP 400", now, true).unwrap();
    }
    w.outbox_delivered(&[by_key(&store, "ok").id], now).unwrap();
    let x = by_key(&store, "x");
    assert_eq!(x.status, OutboxStatus::Dead);
    assert_eq!(x.attempts, 1);
    assert!(
        store
            .outbox_due("teams", far_future(), 10)
            .unwrap()
            .is_empty()
    );
    assert!(store.outbox_channels_pending().unwrap().is_empty());
    assert!(store.outbox_next_due().unwrap().is_none());

    // Listed newest first, by status or all.
    assert_eq!(
        keys(&store.outbox_list(Some(OutboxStatus::Dead), 10).unwrap()),
        ["z", "y", "x"]
    );
    assert_eq!(
        keys(&store.outbox_list(Some(OutboxStatus::Dead), 2).unwrap()),
        ["z", "y"]
    );
    assert_eq!(
        keys(
            &store
                .outbox_list(Some(OutboxStatus::Delivered), 10)
                .unwrap()
        ),
        ["ok"]
    );
    assert!(
        store
            .outbox_list(Some(OutboxStatus::Pending), 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.outbox_list(None, 10).unwrap().len(), 4);
    assert_eq!(
        store.outbox_counts().unwrap(),
        [
            ("email".to_owned(), OutboxStatus::Dead, 1),
            ("email".to_owned(), OutboxStatus::Delivered, 1),
            ("teams".to_owned(), OutboxStatus::Dead, 2),
        ]
    );
    // A dead letter ignores further failure reports.
    w.outbox_failed(x.id, "again", now, false).unwrap();
    assert_eq!(by_key(&store, "x"), x);

    // Retry one: pending, due at the given time, fresh attempt count, last error kept.
    let retry_at = now + Duration::seconds(5);
    assert!(w.outbox_retry(x.id, retry_at).unwrap());
    let x = by_key(&store, "x");
    assert_eq!(x.status, OutboxStatus::Pending);
    assert_eq!(x.attempts, 0);
    assert_eq!(x.next_attempt_at, retry_at);
    assert_eq!(x.last_error.as_deref(), Some("HTTP 400"));
    assert!(store.outbox_due("teams", now, 10).unwrap().is_empty());
    assert_eq!(
        keys(&store.outbox_due("teams", retry_at, 10).unwrap()),
        ["x"]
    );
    // Retrying a pending message reschedules it; unknown ids are reported.
    assert!(w.outbox_retry(x.id, now).unwrap());
    assert_eq!(keys(&store.outbox_due("teams", now, 10).unwrap()), ["x"]);
    assert!(!w.outbox_retry(424_242, now).unwrap());

    // Retry all dead: y and z.
    assert_eq!(w.outbox_retry_dead(now).unwrap(), 2);
    assert_eq!(w.outbox_retry_dead(now).unwrap(), 0);
    assert_eq!(
        keys(&store.outbox_due("teams", now, 10).unwrap()),
        ["x", "y"]
    );
    assert_eq!(keys(&store.outbox_due("email", now, 10).unwrap()), ["z"]);
    assert_eq!(store.outbox_channels_pending().unwrap(), ["email", "teams"]);
}

/// Messages in every status, written and then reported on.
fn populate(store: &Store, now: DateTime<Utc>) {
    let mut w = store.writer().unwrap();
    w.save_alerts_with_outbox(
        &[alert("a1")],
        &[
            entry("teams", "pending"),
            entry("teams", "failed"),
            entry("teams", "dead"),
            entry("teams", "delivered"),
        ],
    )
    .unwrap();
    w.outbox_failed(
        by_key(store, "failed").id,
        "HTTP 429",
        now + Duration::seconds(30),
        false,
    )
    .unwrap();
    w.outbox_failed(by_key(store, "dead").id, "HTTP 400", now, true)
        .unwrap();
    w.outbox_delivered(&[by_key(store, "delivered").id], now)
        .unwrap();
}

fn check_after_restart(store: &Store, now: DateTime<Utc>) {
    assert_eq!(store.alerts(None).unwrap().len(), 1);
    let due = store.outbox_due("teams", now, 10).unwrap();
    assert_eq!(keys(&due), ["pending"]);
    let failed = by_key(store, "failed");
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.next_attempt_at, now + Duration::seconds(30));
    assert_eq!(by_key(store, "dead").status, OutboxStatus::Dead);
    assert_eq!(by_key(store, "delivered").status, OutboxStatus::Delivered);
    assert_eq!(
        keys(&store.outbox_due("teams", far_future(), 10).unwrap()),
        ["pending", "failed"]
    );
    // Enqueuing everything again after the restart sends nothing twice.
    let mut w = store.writer().unwrap();
    let again = ["pending", "failed", "dead", "delivered"].map(|k| entry("teams", k));
    assert_eq!(w.save_alerts_with_outbox(&[], &again).unwrap(), 0);
    assert_eq!(
        keys(&store.outbox_due("teams", far_future(), 10).unwrap()),
        ["pending", "failed"]
    );
}

#[test]
fn the_outbox_survives_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let now = t("2030-06-01T12:00:00.5Z");
    let store = Store::open(dir.path()).unwrap();
    populate(&store, now);
    let before = store.outbox_list(None, 100).unwrap();
    drop(store);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.outbox_list(None, 100).unwrap(), before);
    check_after_restart(&store, now);
}

const KILL_DIR: &str = "PRIVTRAIL_STORE_OUTBOX_KILL_DIR";

/// Child half of `the_outbox_survives_kill_9`: writes, says so, and waits to be killed.
#[test]
fn outbox_kill_child() {
    let Ok(dir) = std::env::var(KILL_DIR) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let store = Store::open(&dir).unwrap();
    populate(&store, t("2030-06-01T12:00:00.5Z"));
    std::fs::write(dir.join("ready"), b"").unwrap();
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[test]
fn the_outbox_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "outbox_kill_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(KILL_DIR, dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = dir.path().join("ready");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !ready.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited before it was killed: {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "child never got ready"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();

    let store = Store::open(dir.path()).unwrap();
    check_after_restart(&store, t("2030-06-01T12:00:00.5Z"));
}

/// One entry per forwarded event on `siem`, keyed by the event id.
fn forward(e: &Event) -> Vec<OutboxEntry> {
    vec![OutboxEntry {
        channel: "siem".into(),
        idempotency_key: e.id.to_string(),
        payload: format!(r#"{{"id":"{}"}}"#, e.id),
    }]
}

fn siem_keys(store: &Store) -> Vec<String> {
    let mut v: Vec<String> = store
        .outbox_list(None, 1000)
        .unwrap()
        .into_iter()
        .map(|m| m.idempotency_key)
        .collect();
    v.sort();
    v
}

fn ev(n: u64) -> Event {
    win_event(n, &format!("2016-07-08T18:15:{n:02}Z"))
}

#[test]
fn forwarded_events_are_enqueued_only_when_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();

    let stats = w
        .write_batch_with_outbox(&[ev(1), ev(2), ev(2)], &[], Some(("c", "v1")), &forward)
        .unwrap();
    assert_eq!((stats.stored, stats.duplicates), (2, 1));
    assert_eq!(store.checkpoint("c").unwrap().as_deref(), Some("v1"));
    let mut expected = vec![ev(1).id.to_string(), ev(2).id.to_string()];
    expected.sort();
    assert_eq!(siem_keys(&store), expected);

    // Re-reading overlapping input: only the new events are forwarded.
    let calls = std::cell::Cell::new(0);
    let counting = |e: &Event| {
        calls.set(calls.get() + 1);
        forward(e)
    };
    let stats = w
        .write_batch_with_outbox(&[ev(2), ev(3), ev(1)], &[], None, &counting)
        .unwrap();
    assert_eq!((stats.stored, stats.duplicates), (1, 2));
    assert_eq!(calls.get(), 1);
    let mut expected = [1, 2, 3].map(|n| ev(n).id.to_string()).to_vec();
    expected.sort();
    assert_eq!(siem_keys(&store), expected);

    // An event kept as a reject (time out of range) is not forwarded.
    let mut bad = ev(4);
    bad.time = t("2300-01-01T00:00:00Z");
    let stats = w
        .write_batch_with_outbox(&[bad], &[], None, &forward)
        .unwrap();
    assert_eq!((stats.stored, stats.rejected), (0, 1));
    assert_eq!(siem_keys(&store).len(), 3);

    // Several entries per event (or none) are fine.
    let two = |e: &Event| {
        if e.id == ev(6).id {
            return Vec::new();
        }
        let mut v = forward(e);
        v.push(OutboxEntry {
            channel: "splunk".into(),
            idempotency_key: e.id.to_string(),
            payload: "{}".into(),
        });
        v
    };
    w.write_batch_with_outbox(&[ev(5), ev(6)], &[], None, &two)
        .unwrap();
    let splunk = store.outbox_due("splunk", far_future(), 10).unwrap();
    assert_eq!(keys(&splunk), [ev(5).id.as_str()]);
    assert_eq!(store.outbox_due("siem", far_future(), 10).unwrap().len(), 4);

    // The plain write paths still forward nothing.
    w.write_batch(&[ev(7)], &[]).unwrap();
    assert_eq!(store.outbox_list(None, 100).unwrap().len(), 5);
}

#[test]
fn a_failing_forward_fails_the_whole_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    w.write_batch_with_outbox(&[ev(1)], &[], Some(("c", "v1")), &forward)
        .unwrap();

    // Event 3's entry violates a constraint: events 2 and 3, event 2's entry and the checkpoint
    // are all rolled back.
    let broken = |e: &Event| {
        let mut v = forward(e);
        if e.id == ev(3).id {
            v[0].channel.clear();
        }
        v
    };
    let err = w
        .write_batch_with_outbox(&[ev(2), ev(3)], &[], Some(("c", "v2")), &broken)
        .unwrap_err();
    assert!(matches!(err, StoreError::Sqlite { .. }), "{err}");
    assert!(!store.contains(&ev(2).id).unwrap());
    assert!(!store.contains(&ev(3).id).unwrap());
    assert_eq!(store.checkpoint("c").unwrap().as_deref(), Some("v1"));
    assert_eq!(siem_keys(&store), [ev(1).id.to_string()]);

    // The writer goes on from where the last committed batch left the chain.
    let stats = w
        .write_batch_with_outbox(&[ev(2), ev(3)], &[], Some(("c", "v2")), &forward)
        .unwrap();
    assert_eq!(stats.stored, 2);
    assert_eq!(siem_keys(&store).len(), 3);
    w.commit().unwrap();
    let report = store.verify().unwrap();
    assert_eq!(report.first_broken, None);
    assert_eq!(report.checked, 3);
}

#[test]
fn a_paused_channel_waits_without_counting_attempts_and_only_old_messages_expire() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.writer().unwrap();
    w.save_alerts_with_outbox(
        &[],
        &[entry("hec", "a"), entry("hec", "b"), entry("mail", "m")],
    )
    .unwrap();
    let now = Utc::now();
    let a = by_key(&store, "a");
    let later = now + Duration::seconds(30);
    w.outbox_failed(a.id, "HTTP 401", now + Duration::seconds(90), false)
        .unwrap();

    // Pausing moves what is due earlier, leaves what is due later, and counts no attempt.
    let moved = w.outbox_defer("hec", later, Some("paused")).unwrap();
    assert_eq!(moved, 1, "b moved; a was already due later");
    assert!(store.outbox_due("hec", now, 10).unwrap().is_empty());
    let b = by_key(&store, "b");
    assert_eq!((b.attempts, b.next_attempt_at), (0, later));
    assert_eq!(b.last_error.as_deref(), Some("paused"));
    assert_eq!(
        by_key(&store, "a").next_attempt_at,
        now + Duration::seconds(90)
    );
    assert_eq!(
        keys(&store.outbox_due("mail", now, 10).unwrap()),
        ["m"],
        "other channels untouched"
    );

    // Expiry takes only the channel's messages created before the bound.
    assert_eq!(
        w.outbox_expire("hec", now - Duration::days(1), "too old")
            .unwrap(),
        0
    );
    assert_eq!(
        w.outbox_expire("hec", now + Duration::seconds(1), "too old")
            .unwrap(),
        2
    );
    assert_eq!(by_key(&store, "b").status, OutboxStatus::Dead);
    assert_eq!(by_key(&store, "b").last_error.as_deref(), Some("too old"));
    assert_eq!(by_key(&store, "m").status, OutboxStatus::Pending);
}
