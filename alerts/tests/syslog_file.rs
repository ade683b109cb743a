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
