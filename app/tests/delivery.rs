//! The outbox worker's reading of failures, with a scripted channel: a failure costs only what it
//! is about (one message, or the channel's time), a receiver cannot park messages past their age
//! limit, a refused login is retried and reported, and messages of a removed channel are kept,
//! reported and expire like any other.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use privtrail_alerts::{AlertNotice, DeliveryError, Message, Notifier, Payload};
use privtrail_app::deliver::{
    Channel, ChannelState, DeliveryReport, channel_health, channels, deliver_due,
};
use privtrail_app::{App, Config};
use privtrail_store::{OutboxEntry, OutboxMessage, OutboxStatus};

/// A channel whose answers are scripted (then `Ok`), recording the keys of every batch it got.
#[derive(Debug, Clone)]
struct Scripted {
    batch: usize,
    answers: Arc<Mutex<VecDeque<Result<(), DeliveryError>>>>,
    sent: Arc<Mutex<Vec<Vec<String>>>>,
}

impl Scripted {
    fn new(batch: usize, answers: Vec<Result<(), DeliveryError>>) -> Scripted {
        Scripted {
            batch,
            answers: Arc::new(Mutex::new(answers.into())),
            sent: Arc::default(),
        }
    }

    fn sent(&self) -> Vec<Vec<String>> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Notifier for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn send(&self, batch: &[Message]) -> Result<(), DeliveryError> {
        self.sent
            .lock()
            .unwrap()
            .push(batch.iter().map(|m| m.idempotency_key.clone()).collect());
        self.answers.lock().unwrap().pop_front().unwrap_or(Ok(()))
    }

    fn max_batch(&self) -> usize {
        self.batch
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    app: App,
    chans: HashMap<String, Channel>,
}

/// An app whose config has file channels `a` and `b` (replaced by scripts as needed) and the
/// `[delivery]` settings `delivery`.
fn setup(delivery: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let file = |n: &str| dir.path().join(n).display().to_string();
    let config = Config::parse(
        &format!(
            "[delivery]\n{delivery}\n\
             [[channels]]\nname = \"a\"\ntype = \"file\"\npath = {:?}\n\
             [[channels]]\nname = \"b\"\ntype = \"file\"\npath = {:?}\n",
            file("a.jsonl"),
            file("b.jsonl")
        ),
        |_| None,
    )
    .unwrap();
    let app = App::open_writer(&dir.path().join("data"), config, "test").unwrap();
    let chans = channels(rt.handle(), &app.config().channels, &app.config().delivery).unwrap();
    Setup {
        _dir: dir,
        rt,
        app,
        chans,
    }
}

impl Setup {
    fn script(&mut self, channel: &str, s: &Scripted) {
        self.chans.get_mut(channel).unwrap().notifier = Box::new(s.clone());
    }

    fn enqueue(&self, channel: &str, keys: &[&str]) {
        let entries: Vec<OutboxEntry> = keys
            .iter()
            .map(|k| OutboxEntry {
                channel: channel.into(),
                idempotency_key: (*k).into(),
                payload: serde_json::to_string(&Payload::Alert(notice(k))).unwrap(),
            })
            .collect();
        self.app
            .writer()
            .unwrap()
            .call(move |w| w.save_alerts_with_outbox(&[], &entries))
            .unwrap()
            .unwrap();
    }

    fn deliver(&self, now: DateTime<Utc>) -> DeliveryReport {
        deliver_due(
            self.rt.handle(),
            self.app.store(),
            self.app.writer().unwrap(),
            &self.chans,
            &self.app.config().delivery,
            now,
            &|| false,
        )
        .unwrap()
    }

    fn message(&self, key: &str) -> OutboxMessage {
        self.app
            .store()
            .outbox_list(None, 1000)
            .unwrap()
            .into_iter()
            .find(|m| m.idempotency_key == key)
            .unwrap()
    }

    fn state(&self, channel: &str) -> (OutboxStatus, u32) {
        let m = self.message(channel);
        (m.status, m.attempts)
    }
}

fn notice(id: &str) -> AlertNotice {
    AlertNotice {
        id: id.into(),
        rule: "audit-tampering".into(),
        severity: "critical".into(),
        status: "open".into(),
        principal: None,
        privilege: None,
        scope: None,
        opened_at: Utc::now(),
        updated_at: Utc::now(),
        summary: "audit log cleared".into(),
        event_ids: vec![],
        elevation_id: None,
        link: None,
    }
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

#[test]
fn a_message_the_receiver_rejects_costs_its_batch_mates_no_attempt() {
    let mut s = setup("");
    // HEC style: events before the bad one indexed, the bad one named, the rest never tried.
    let hec = Scripted::new(
        10,
        vec![Err(DeliveryError {
            accepted: 1,
            rejected: Some(1),
            ..DeliveryError::permanent("event 1 refused")
        })],
    );
    s.script("a", &hec);
    s.enqueue("a", &["m0", "m1", "m2"]);
    let r = s.deliver(Utc::now());
    assert_eq!((r.delivered, r.dead), (1, 1));
    assert_eq!(s.state("m0"), (OutboxStatus::Delivered, 1));
    assert_eq!(s.state("m1"), (OutboxStatus::Dead, 1));
    assert_eq!(
        s.state("m2"),
        (OutboxStatus::Pending, 0),
        "never tried: no attempt"
    );
    s.deliver(Utc::now());
    assert_eq!(s.state("m2"), (OutboxStatus::Delivered, 1));
    assert_eq!(hec.sent(), [vec!["m0", "m1", "m2"], vec!["m2"]]);
}

#[test]
fn a_permanent_batch_failure_that_names_no_message_is_narrowed_down_one_by_one() {
    let mut s = setup("");
    let hec = Scripted::new(
        10,
        vec![
            Err(DeliveryError::permanent("400 invalid data format")),
            Ok(()),
            Err(DeliveryError::permanent("400 invalid data format")),
            Ok(()),
        ],
    );
    s.script("a", &hec);
    s.enqueue("a", &["m0", "m1", "m2"]);
    let r = s.deliver(Utc::now());
    assert_eq!((r.delivered, r.dead), (2, 1));
    assert_eq!(
        hec.sent(),
        [vec!["m0", "m1", "m2"], vec!["m0"], vec!["m1"], vec!["m2"]]
    );
    assert_eq!(s.state("m0"), (OutboxStatus::Delivered, 1));
    assert_eq!(s.state("m1"), (OutboxStatus::Dead, 1), "only the bad one");
    assert_eq!(s.state("m2"), (OutboxStatus::Delivered, 1));
}

#[test]
fn a_failing_channel_is_paused_without_charging_its_backlog_and_others_go_on() {
    let mut s = setup("backoff_base = \"10s\"\nbackoff_max = \"1m\"");
    let down = Scripted::new(1, vec![Err(DeliveryError::retriable("connection refused"))]);
    let up = Scripted::new(1, vec![]);
    s.script("a", &down);
    s.script("b", &up);
    s.enqueue("a", &["a0", "a1", "a2"]);
    s.enqueue("b", &["b0"]);
    let now = Utc::now();
    let r = s.deliver(now);
    assert_eq!(
        r.delivered, 1,
        "the other channel delivered in the same round"
    );
    assert_eq!(down.sent().len(), 1, "one try, then the channel is paused");
    assert_eq!(s.state("a0"), (OutboxStatus::Pending, 1));
    for k in ["a1", "a2"] {
        let m = s.message(k);
        assert_eq!(m.attempts, 0, "{k} waits uncharged");
        assert!(
            m.next_attempt_at >= now + secs(10),
            "{k} waits for the pause"
        );
        assert!(m.last_error.unwrap().contains("connection refused"));
    }
    // Within the pause nothing is tried again.
    s.deliver(now + secs(5));
    assert_eq!(down.sent().len(), 1);
    // After it, the channel works again and the backlog goes out.
    s.deliver(now + secs(120));
    assert_eq!(down.sent().len(), 4);
    assert!(
        ["a0", "a1", "a2"]
            .iter()
            .all(|k| s.state(k).0 == OutboxStatus::Delivered)
    );
}

#[test]
fn a_retry_after_of_10_to_the_20_seconds_waits_at_most_backoff_max_and_stops_nothing_else() {
    let mut s = setup("backoff_max = \"30s\"");
    // What `parse_retry_after("100000000000000000000")` gives, and a receiver's absurd value
    // that bypassed it: neither parks the channel past `backoff_max`.
    let parsed = privtrail_model::parse_retry_after("100000000000000000000", Utc::now());
    assert_eq!(parsed, Some(privtrail_model::MAX_RETRY_AFTER));
    for retry_after in [parsed, Some(Duration::MAX)] {
        let throttled = Scripted::new(
            1,
            vec![Err(
                DeliveryError::retriable("429").with_retry_after(retry_after)
            )],
        );
        let up = Scripted::new(1, vec![]);
        s.script("a", &throttled);
        s.script("b", &up);
        let key = format!("a-{}", retry_after.unwrap().as_secs());
        s.enqueue("a", &[&key]);
        s.enqueue("b", &[&format!("b-{key}")]);
        let now = Utc::now();
        let r = s.deliver(now);
        assert_eq!(r.delivered, 1, "the other channel went on");
        let m = s.message(&key);
        assert_eq!(m.status, OutboxStatus::Pending);
        assert!(m.next_attempt_at <= now + secs(30), "{}", m.next_attempt_at);
        assert!(
            m.next_attempt_at >= now + secs(29),
            "the receiver asked for long"
        );
    }
}

#[test]
fn a_wait_never_outlives_the_message_age_limit() {
    let mut s = setup("backoff_max = \"1h\"\nmax_age = \"20s\"");
    let throttled = Scripted::new(
        1,
        vec![Err(
            DeliveryError::retriable("429").with_retry_after(Some(Duration::from_secs(3600)))
        )],
    );
    s.script("a", &throttled);
    s.enqueue("a", &["m"]);
    let now = Utc::now();
    s.deliver(now);
    assert!(s.message("m").next_attempt_at <= now + secs(20));
}

#[test]
fn a_refused_login_is_retried_and_recorded_never_dead_before_max_age() {
    // One attempt allowed per message: an authentication failure must still not kill it.
    let mut s = setup("max_attempts = 1\nmax_age = \"1h\"\nbackoff_base = \"1s\"");
    let hec = Scripted::new(
        10,
        vec![
            Err(DeliveryError::auth("HTTP 401: token disabled")),
            Err(DeliveryError::auth("HTTP 401: token disabled")),
        ],
    );
    s.script("a", &hec);
    s.enqueue("a", &["m0", "m1"]);
    let now = Utc::now();
    let r = s.deliver(now);
    assert_eq!(r.dead, 0);
    assert!(r.health_changed, "the channel started failing");
    assert_eq!(s.state("m0"), (OutboxStatus::Pending, 1));
    assert_eq!(s.state("m1"), (OutboxStatus::Pending, 0));
    let health = channel_health(s.app.store(), &["a".into(), "b".into()]).unwrap();
    assert_eq!(health[0].failing_since, Some(now));
    assert!(health[0].auth_failure);
    assert_eq!(health[1].failing_since, None);
    let state = ChannelState::load(s.app.store(), "a").unwrap();
    assert_eq!(state.failures, 1);

    // Still refused after a while: still kept.
    let r = s.deliver(now + secs(600));
    assert_eq!(r.dead, 0);
    assert!(!r.health_changed, "the same failure");
    assert_eq!(ChannelState::load(s.app.store(), "a").unwrap().failures, 2);

    // The token is fixed: everything goes out, the channel is healthy again.
    let r = s.deliver(now + secs(1200));
    assert_eq!(r.delivered, 2);
    assert!(r.health_changed);
    let health = channel_health(s.app.store(), &["a".into()]).unwrap();
    assert_eq!(health[0].failing_since, None);
}

#[test]
fn a_refused_login_past_max_age_expires_the_old_messages_only() {
    let mut s = setup("max_age = \"1m\"");
    let hec = Scripted::new(10, vec![Err(DeliveryError::auth("HTTP 403"))]);
    s.script("a", &hec);
    s.enqueue("a", &["old0", "old1"]);
    let r = s.deliver(Utc::now() + secs(120));
    assert_eq!(r.dead, 2, "older than max_age: dead, counted");
    assert_eq!(s.state("old0").0, OutboxStatus::Dead);
    assert_eq!(s.state("old1"), (OutboxStatus::Dead, 0));
}

#[test]
fn messages_for_a_channel_that_left_the_config_wait_are_reported_and_expire() {
    let s = setup("backoff_max = \"1m\"\nmax_age = \"10m\"");
    s.enqueue("gone", &["g0"]);
    let now = Utc::now();
    let r = s.deliver(now);
    assert_eq!((r.delivered, r.dead), (0, 0));
    assert!(
        r.errors
            .iter()
            .any(|e| e.contains("\"gone\" is not in the config")),
        "{:?}",
        r.errors
    );
    let m = s.message("g0");
    assert_eq!(m.status, OutboxStatus::Pending);
    assert!(
        m.next_attempt_at >= now + secs(60),
        "rechecked later, not spun on"
    );
    assert!(m.last_error.unwrap().contains("not in the config"));
    // Past its age limit it is dead, like any undelivered message.
    let r = s.deliver(now + secs(11 * 60));
    assert_eq!(r.dead, 1);
    assert_eq!(s.state("g0").0, OutboxStatus::Dead);
    let counts = s.app.outbox_counts().unwrap();
    assert!(
        counts.contains(&("gone".into(), OutboxStatus::Dead, 1, false)),
        "{counts:?}"
    );
}

#[test]
fn an_unreadable_stored_message_is_dead_lettered_alone_and_stops_nothing() {
    let mut s = setup("");
    let hec = Scripted::new(10, vec![]);
    s.script("a", &hec);
    s.enqueue("a", &["m0"]);
    let broken = vec![OutboxEntry {
        channel: "a".into(),
        idempotency_key: "broken".into(),
        payload: "{\"kind\":\"alert\",\"id\":".into(),
    }];
    s.app
        .writer()
        .unwrap()
        .call(move |w| w.save_alerts_with_outbox(&[], &broken))
        .unwrap()
        .unwrap();
    s.enqueue("a", &["m2"]);
    s.enqueue("b", &["b0"]);
    let r = s.deliver(Utc::now());
    assert_eq!((r.delivered, r.dead), (3, 1));
    assert_eq!(hec.sent(), [vec!["m0", "m2"]]);
    let m = s.message("broken");
    assert_eq!(m.status, OutboxStatus::Dead);
    assert!(m.last_error.unwrap().contains("unreadable"));
}
