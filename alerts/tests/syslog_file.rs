#![allow(clippy::unwrap_used)]
//! Syslog over UDP and TCP to local sockets, and the file channel.
mod common;

use common::{alert_msg, channel, event_msg};
use privtrail_alerts::{build, cef, syslog};
use tokio::io::AsyncReadExt;

fn header() -> syslog::Header {
    syslog::Header {
        facility: 10,
        hostname: "collector1".into(),
        app_name: "privtrail".into(),
        procid: "77".into(),
        format: syslog::Format::Cef,
    }
}

#[test]
fn rfc5424_message_is_exact() {
    let m = alert_msg(1);
    let privtrail_alerts::Payload::Alert(a) = &m.payload else {
        unreachable!()
    };
    let got = syslog::format_message(&header(), &m);
    let want = format!(
        "<83>1 2026-11-26T10:05:00.500Z collector1 privtrail 77 alert [privtrail@32473 id=\"a-1\"] {}",
        cef::alert_line(a, "key-1")
    );
    assert_eq!(got, want);
    assert_eq!(syslog::frame("abc"), "3 abc");
    assert_eq!(syslog::escape_sd(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
    assert_eq!(syslog::facility("local4"), Some(20));
    assert_eq!(syslog::facility("auth"), Some(4));
}

fn syslog_channel(transport: &str, port: u16, format: &str) -> Box<dyn privtrail_alerts::Notifier> {
    build(&channel(&format!(
        "[[channels]]\nname = \"s\"\ntype = \"syslog\"\ntransport = \"{transport}\"\nhost = \"127.0.0.1\"\nport = {port}\nformat = \"{format}\"\nhostname = \"collector1\"\nfacility = \"local4\"\ntimeout = \"5s\"\n"
    )))
    .unwrap()
}

#[tokio::test]
async fn udp_sends_one_datagram_per_message() {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let n = syslog_channel("udp", port, "cef");
    n.send(&[alert_msg(1), event_msg(2)]).await.unwrap();
    let mut buf = vec![0u8; 65536];
    let len = sock.recv(&mut buf).await.unwrap();
    let first = String::from_utf8_lossy(&buf[..len]).into_owned();
    // local4 (20) * 8 + err (3) = 163.
    assert!(
        first.starts_with("<163>1 2026-11-26T10:05:00.500Z collector1 privtrail "),
        "{first}"
    );
    assert!(
        first.contains(" alert [privtrail@32473 id=\"a-1\"] CEF:0|privtrail|privtrail|"),
        "{first}"
    );
    assert!(first.ends_with("externalId=key-1"), "{first}");
    let len = sock.recv(&mut buf).await.unwrap();
    let second = String::from_utf8_lossy(&buf[..len]).into_owned();
    // local4 * 8 + info (6) = 166.
    assert!(
        second.starts_with("<166>1 2026-11-26T09:00:00.000Z collector1 privtrail "),
        "{second}"
    );
    assert!(second.contains(" event [privtrail@32473 id=\""), "{second}");
    assert!(
        second.contains("|group.member.added|added to Administrators|3|"),
        "{second}"
    );
}

#[tokio::test]
async fn tcp_frames_by_octet_counting() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let reader = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).await.unwrap();
        String::from_utf8(all).unwrap()
    });
    let n = syslog_channel("tcp", port, "json");
    n.send(&[alert_msg(1), alert_msg(2)]).await.unwrap();
    let all = reader.await.unwrap();
    // Parse `LEN SP MSG` frames; the lengths are in bytes.
    let mut rest = all.as_str();
    let mut msgs = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest.split_once(' ').unwrap();
        let len: usize = len.parse().unwrap();
        msgs.push(&tail[..len]);
        rest = &tail[len..];
    }
    assert_eq!(msgs.len(), 2);
    let (head, json) = msgs[1].split_once("] ").unwrap();
    assert!(
        head.starts_with("<163>1 2026-11-26T10:05:00.500Z collector1 privtrail "),
        "{head}"
    );
    assert!(
        head.ends_with(" alert [privtrail@32473 id=\"a-2\""),
        "{head}"
    );
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["kind"], "alert");
    assert_eq!(v["idempotency_key"], "key-2");
    assert_eq!(
        v["summary"],
        "alice holds <Global Administrator> & never gave it back"
    );
}

#[tokio::test]
async fn tcp_refused_is_retriable() {
    let n = syslog_channel("tcp", common::free_port(), "cef");
    assert!(n.send(&[alert_msg(1)]).await.unwrap_err().retriable);
}

#[tokio::test]
async fn file_appends_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/alerts.jsonl");
    let n = build(&channel(&format!(
        "[[channels]]\nname = \"f\"\ntype = \"file\"\npath = {:?}\n",
        path.to_str().unwrap()
    )))
    .unwrap();
    n.send(&[alert_msg(1)]).await.unwrap();
    n.send(&[event_msg(2), alert_msg(3)]).await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["idempotency_key"], "key-1");
    assert_eq!(lines[0]["payload"]["kind"], "alert");
    assert_eq!(lines[1]["payload"]["kind"], "event");
    assert_eq!(lines[1]["payload"]["raw"]["EventID"], 4732);
    assert!(lines[2]["delivered_at"].as_str().unwrap().ends_with('Z'));
}

/// A 200 KB alert (and a 200 KB event) over UDP would not fit a datagram: it is shortened to the
/// channel's limit and marked `truncated="true"` for the receiver, not failed — and the small
/// messages around it in the batch go out untouched, in order.
#[tokio::test]
async fn udp_shortens_a_200_kb_message_to_fit_and_marks_it_truncated() {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = sock.local_addr().unwrap().port();
    for format in ["cef", "json"] {
        let n = syslog_channel("udp", port, format);
        let mut huge = alert_msg(2);
        let privtrail_alerts::Payload::Alert(a) = &mut huge.payload else {
            unreachable!()
        };
        a.summary = "x".repeat(200 * 1024);
        a.event_ids = (0..5000)
            .map(|i| format!("windows:dc1:Security:{i}"))
            .collect();
        let mut huge_event = event_msg(3);
        let privtrail_alerts::Payload::Event(e) = &mut huge_event.payload else {
            unreachable!()
        };
        e.message = "m".repeat(200 * 1024);
        e.raw = format!("{{\"blob\":\"{}\"}}", "r".repeat(200 * 1024));
        n.send(&[alert_msg(1), huge, huge_event, alert_msg(4)])
            .await
            .unwrap();
        let mut buf = vec![0u8; 65536];
        let mut got = Vec::new();
        for _ in 0..4 {
            let len = sock.recv(&mut buf).await.unwrap();
            got.push(String::from_utf8(buf[..len].to_vec()).unwrap());
        }
        assert!(!got[0].contains("truncated"), "{format}: {}", got[0]);
        assert!(!got[3].contains("truncated"), "{format}: {}", got[3]);
        assert!(
            got[3].contains("a-4"),
            "the batch went on after the big ones"
        );
        for m in &got[1..3] {
            assert!(m.len() <= syslog::UDP_DEFAULT_MAX, "{format}: {}", m.len());
            assert!(
                m.len() > syslog::UDP_DEFAULT_MAX / 2,
                "uses the room it has"
            );
            assert!(
                m.contains(" [privtrail@32473 truncated=\"true\" id=\""),
                "{format}: {}",
                &m[..200]
            );
            let msg = &m[m.find("] ").unwrap() + 2..];
            if format == "cef" {
                assert!(msg.starts_with("CEF:0|privtrail|"), "{}", &msg[..100]);
                assert!(msg.ends_with(cef::TRUNCATED), "{}", &msg[msg.len() - 100..]);
            } else {
                let v: serde_json::Value = serde_json::from_str(msg).unwrap();
                assert_eq!(v["truncated"], true);
                assert!(v["idempotency_key"].as_str().is_some());
            }
        }
    }
}

/// The limit is the channel's to set, within what the transport can carry.
#[test]
fn max_message_bytes_is_checked_against_the_transport() {
    let cfg = |transport: &str, max: usize| {
        channel(&format!(
            "[[channels]]\nname = \"s\"\ntype = \"syslog\"\ntransport = \"{transport}\"\nhost = \"127.0.0.1\"\nmax_message_bytes = {max}\n"
        ))
    };
    assert!(build(&cfg("udp", 65_507)).is_ok());
    let e = build(&cfg("udp", 70_000)).err().unwrap().to_string();
    assert!(e.contains("max_message_bytes") && e.contains("UDP"), "{e}");
    assert!(
        build(&cfg("tcp", 100)).is_err(),
        "below what every receiver takes"
    );
    assert!(build(&cfg("tcp", 1_000_000)).is_ok());
}

/// Even a message whose unshortenable parts (its id) exceed the limit goes out at the limit, with
/// the mark in its header.
#[test]
fn a_message_that_cannot_be_shortened_enough_is_cut_at_the_limit_keeping_the_mark() {
    let mut m = alert_msg(1);
    let privtrail_alerts::Payload::Alert(a) = &mut m.payload else {
        unreachable!()
    };
    a.id = "i".repeat(2000);
    a.summary = "ü".repeat(3000);
    let text = syslog::format_within(&header(), &m, 1000);
    assert!(text.len() <= 1000 && text.len() >= 996, "{}", text.len());
    assert!(
        text.contains("[privtrail@32473 truncated=\"true\" id=\"iii"),
        "{text}"
    );
    let untouched = syslog::format_within(&header(), &alert_msg(1), 1000);
    assert_eq!(untouched, syslog::format_message(&header(), &alert_msg(1)));
}
