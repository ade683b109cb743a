//! End to end: delivery that degrades and never drops (issue 11, item 3). Receivers that refuse
//! the token, throttle absurdly or reject one message of a batch, a channel removed from the
//! config, and a 200 KB alert over UDP syslog and to Teams — against stand-ins on 127.0.0.1.
#![allow(clippy::unwrap_used)]

mod common;

use common::http::Scripted;
use common::{Env, data, member_added};

#[test]
fn a_refused_hec_token_is_retried_and_raises_delivery_failure_on_the_other_channels() {
    let env = Env::new();
    // The token is refused once (a rotation in progress), then accepted.
    let hec = Scripted::start(vec![(401, "", r#"{"text":"Token is required","code":2}"#)]);
    let file = env.dir.path().join("audit.jsonl");
    let cfg = env.config(
        "hec.toml",
        &format!(
            "[delivery]\nbackoff_base = \"200ms\"\nbackoff_max = \"1s\"\n\n\
             [[channels]]\nname = \"siem\"\ntype = \"splunk_hec\"\nurl = \"{}\"\ntoken = \"rotated\"\n\n\
             [[channels]]\nname = \"audit-file\"\ntype = \"file\"\npath = \"{}\"\n\n\
             [[routes]]\nmin_severity = \"high\"\nchannels = [\"siem\", \"audit-file\"]\n",
            hec.url,
            file.display()
        ),
    );
    let out = env.run(&[
        "--config",
        &cfg,
        "ingest",
        "--json",
        &data("evtx/ID4719-Audit policy deactivation.evtx"),
    ]);
    assert!(out.status.success());

    // First run: the HEC refuses the token. Nothing is dead; the other channel hears about it.
    let first = env.run(&["--config", &cfg, "outbox", "deliver"]);
    let text = String::from_utf8_lossy(&first.stdout);
    assert_eq!(first.status.code(), Some(0), "{text}");
    assert!(text.contains("dead 0"), "{text}");
    let siem = env
        .outbox(&cfg)
        .into_iter()
        .find(|m| m["channel"] == "siem")
        .unwrap();
    assert_eq!(siem["status"], "pending", "{siem}");
    assert_eq!(siem["attempts"], 1);
    assert!(
        siem["last_error"].as_str().unwrap().contains("401"),
        "{siem}"
    );
    let told: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["payload"].clone())
        .collect();
    let failure = told
        .iter()
        .find(|m| m["rule"] == "delivery-failure")
        .unwrap_or_else(|| panic!("no delivery-failure alert in {told:?}"));
    assert_eq!(failure["scope"], "siem");
    assert_eq!(failure["severity"], "high");
    assert!(
        failure["summary"]
            .as_str()
            .unwrap()
            .contains("refuses the credentials"),
        "{failure}"
    );
    assert!(
        !env.outbox(&cfg)
            .iter()
            .any(|m| m["channel"] == "siem" && m["payload"]["rule"] == "delivery-failure"),
        "not queued behind the failure it reports"
    );

    // The token works again: the same message goes through, and the alert resolves itself.
    let r = env.ok(&["--config", &cfg, "outbox", "deliver", "--wait", "10s"]);
    assert!(
        env.outbox(&cfg).iter().all(|m| m["status"] == "delivered"),
        "{r}"
    );
    let statuses: Vec<u16> = hec.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [401, 200]);
    let key = |r: &common::http::Request| {
        let v: serde_json::Value = serde_json::from_str(r.body.lines().next().unwrap()).unwrap();
        v["event"]["idempotency_key"].as_str().unwrap().to_owned()
    };
    let reqs = hec.requests();
    assert_eq!(key(&reqs[0]), key(&reqs[1]), "the same message, resent");
    let alerts = env.alerts();
    let failure = alerts
        .iter()
        .find(|a| a["rule"] == "delivery-failure")
        .unwrap();
    assert_eq!(failure["status"], "resolved", "{failure}");
}

#[test]
fn a_retry_after_of_10_to_the_20_seconds_is_capped_and_other_channels_deliver() {
    let env = Env::new();
    let hook = Scripted::start(vec![(429, "Retry-After: 100000000000000000000\r\n", "{}")]);
    let file = env.dir.path().join("other.jsonl");
    let cfg = env.config(
        "throttled.toml",
        &format!(
            "[delivery]\nbackoff_base = \"100ms\"\nbackoff_max = \"1s\"\n\n\
             [[channels]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}/in\"\nsecret = \"s\"\n\n\
             [[channels]]\nname = \"other\"\ntype = \"file\"\npath = \"{}\"\n\n\
             [[routes]]\nmin_severity = \"critical\"\nchannels = [\"hook\", \"other\"]\n",
            hook.url,
            file.display()
        ),
    );
    let out = env.run(&[
        "--config",
        &cfg,
        "ingest",
        "--json",
        &data("evtx/ID4719-Audit policy deactivation.evtx"),
    ]);
    assert!(out.status.success());
    let before = chrono::Utc::now();
    let first = env.ok(&["--config", &cfg, "outbox", "deliver"]);
    assert!(first.contains("delivered 1"), "the other channel: {first}");
    let waiting = env
        .outbox(&cfg)
        .into_iter()
        .find(|m| m["channel"] == "hook")
        .unwrap();
    assert_eq!(waiting["status"], "pending");
    let next: chrono::DateTime<chrono::Utc> = waiting["next_attempt_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        next <= chrono::Utc::now() + chrono::Duration::seconds(1),
        "capped at backoff_max: {next} (ran at {before})"
    );
    let started = std::time::Instant::now();
    env.ok(&["--config", &cfg, "outbox", "deliver", "--wait", "10s"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    assert!(env.outbox(&cfg).iter().all(|m| m["status"] == "delivered"));
    assert_eq!(
        hook.requests().iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 200]
    );
}

#[test]
fn one_rejected_event_costs_its_batch_mates_nothing_and_deliver_exits_non_zero() {
    let env = Env::new();
    let hec = Scripted::start(vec![(
        400,
        "",
        r#"{"text":"Invalid data format","code":6,"invalid-event-number":1}"#,
    )]);
    let cfg = env.config(
        "batch.toml",
        &format!(
            "[[channels]]\nname = \"siem\"\ntype = \"splunk_hec\"\nurl = \"{}\"\ntoken = \"t\"\n\n\
             [[forward]]\ncategories = [\"group_management\"]\nchannels = [\"siem\"]\n",
            hec.url
        ),
    );
    let lines: Vec<String> = (1..=3)
        .map(|i| member_added(i, "CONTOSO", "admin", "Administrators", "WS-1"))
        .collect();
    env.ingest_lines(&cfg, &lines);
    let out = env.run(&["--config", &cfg, "outbox", "deliver", "--wait", "5s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "a message went dead: {text}");
    assert!(
        text.contains("delivered 2") && text.contains("dead 1"),
        "{text}"
    );
    let mut msgs = env.outbox(&cfg);
    msgs.sort_by_key(|m| m["id"].as_i64());
    let states: Vec<(String, u64)> = msgs
        .iter()
        .map(|m| {
            (
                m["status"].as_str().unwrap().to_owned(),
                m["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("delivered".to_owned(), 1),
            ("dead".to_owned(), 1),
            ("delivered".to_owned(), 1)
        ],
        "the third was not tried with the bad one, so it was not charged"
    );
    let sizes: Vec<usize> = hec
        .requests()
        .iter()
        .map(|r| r.body.lines().count())
        .collect();
    assert_eq!(sizes, [3, 1], "the batch, then the one not yet tried");
}

#[test]
fn messages_for_a_channel_removed_from_the_config_are_reported_then_expire() {
    let env = Env::new();
    let old = env.config(
        "old.toml",
        &format!(
            "[[channels]]\nname = \"retired-siem\"\ntype = \"file\"\npath = \"{}\"\n\n\
             [[routes]]\nchannels = [\"retired-siem\"]\n",
            env.dir.path().join("retired.jsonl").display()
        ),
    );
    let out = env.run(&[
        "--config",
        &old,
        "ingest",
        "--json",
        &data("evtx/ID4719-Audit policy deactivation.evtx"),
    ]);
    assert!(out.status.success());
    let new = env.config(
        "new.toml",
        &format!(
            "[delivery]\nbackoff_max = \"1s\"\nmax_age = \"3s\"\n\n\
             [[channels]]\nname = \"siem\"\ntype = \"file\"\npath = \"{}\"\n",
            env.dir.path().join("siem.jsonl").display()
        ),
    );
    let table = env.ok(&["--config", &new, "outbox", "list"]);
    assert!(
        table.contains("retired-siem: 1 pending (channel not in the config"),
        "{table}"
    );
    let listed = env.outbox(&new);
    assert_eq!(listed[0]["channel_configured"], false, "{listed:?}");
    let check = env.run(&["--config", &new, "config", "check"]);
    let text = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "{text}");
    assert!(
        text.contains("warning: the outbox holds 1 pending messages for channel \"retired-siem\""),
        "{text}"
    );
    // Delivering keeps it (it waits for the channel) and says why…
    let first = env.run(&["--config", &new, "outbox", "deliver"]);
    assert_eq!(first.status.code(), Some(0));
    let m = &env.outbox(&new)[0];
    assert_eq!(m["status"], "pending");
    assert!(
        m["last_error"]
            .as_str()
            .unwrap()
            .contains("not in the config"),
        "{m}"
    );
    // …until its age limit: then it is dead, and the run says so by its exit status.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let late = env.run(&["--config", &new, "outbox", "deliver"]);
    assert_eq!(
        late.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&late.stdout)
    );
    assert_eq!(env.outbox(&new)[0]["status"], "dead");
}

#[test]
fn a_200_kb_alert_is_shortened_for_udp_syslog_and_teams_and_marked_truncated() {
    let env = Env::new();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let teams = Scripted::start(vec![]);
    let cfg = env.config(
        "big.toml",
        &format!(
            "[[channels]]\nname = \"siem-udp\"\ntype = \"syslog\"\ntransport = \"udp\"\nhost = \"127.0.0.1\"\nport = {}\n\n\
             [[channels]]\nname = \"teams\"\ntype = \"teams\"\nurl = \"{}/workflows/x?sig=s\"\n\n\
             [[routes]]\nmin_severity = \"high\"\nchannels = [\"siem-udp\", \"teams\"]\n",
            udp.local_addr().unwrap().port(),
            teams.url
        ),
    );
    // The actor's name (and so the alert's summary) is 200 KB.
    let huge = "x".repeat(200 * 1024);
    env.ingest_lines(
        &cfg,
        &[member_added(7, "CONTOSO", &huge, "Administrators", "WS-1")],
    );
    let alerts = env.alerts();
    let big = alerts
        .iter()
        .find(|a| a["rule"] == "unapproved-local-admin")
        .unwrap();
    assert!(big["summary"].as_str().unwrap().len() > 200 * 1024);

    let out = env.run(&["--config", &cfg, "outbox", "deliver"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        env.outbox(&cfg).iter().all(|m| m["status"] == "delivered"),
        "{text}"
    );

    let mut buf = vec![0u8; 65_536];
    let n = udp.recv(&mut buf).unwrap();
    let datagram = String::from_utf8(buf[..n].to_vec()).unwrap();
    assert!(n <= 8192, "{n}");
    assert!(
        datagram.contains("[privtrail@32473 truncated=\"true\" id="),
        "{}",
        &datagram[..300]
    );
    assert!(datagram.contains("CEF:0|privtrail|privtrail|") && datagram.contains("xxxxx"));

    let reqs = teams.requests();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].body.len() <= privtrail_alerts::teams::MAX_CARD_BYTES);
    assert!(
        reqs[0].body.contains("truncated=true"),
        "marked for the reader"
    );
    assert!(reqs[0].body.contains("xxxxx"), "shortened, not emptied");
}
