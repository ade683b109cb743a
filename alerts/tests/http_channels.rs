#![allow(clippy::unwrap_used)]
//! Teams, Splunk HEC and webhook against local stand-in servers.
mod common;

use std::time::Duration;

use common::{Stub, alert_msg, channel, event_msg};
use privtrail_alerts::{DeliveryError, Message, Payload, build, teams, webhook};

fn teams_channel(stub: &Stub) -> Box<dyn privtrail_alerts::Notifier> {
    build(&channel(&format!(
        "[[channels]]\nname = \"t\"\ntype = \"teams\"\nurl = \"{}/workflows/x?sig=abc\"\ntimeout = \"5s\"\n",
        stub.url()
    )))
    .unwrap()
}

#[tokio::test]
async fn teams_posts_an_adaptive_card() {
    let stub = Stub::start().await;
    teams_channel(&stub).send(&[alert_msg(1)]).await.unwrap();
    let seen = stub.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/workflows/x");
    let v: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(v["type"], "message");
    let att = &v["attachments"][0];
    assert_eq!(
        att["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert!(att["contentUrl"].is_null());
    let card = &att["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(card["body"][0]["text"], "HIGH");
    assert_eq!(card["body"][0]["color"], "Attention");
    assert_eq!(card["body"][1]["text"], "standing-access");
    let facts = card["body"][3]["facts"].as_array().unwrap();
    assert!(
        facts
            .iter()
            .any(|f| f["title"] == "Principal" && f["value"] == "alice@contoso.com")
    );
    assert!(
        facts
            .iter()
            .any(|f| f["title"] == "Opened (UTC)" && f["value"] == "2026-11-26 10:00:00 UTC")
    );
    assert!(card["body"][4]["text"].as_str().unwrap().contains("e1, e2"));
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(
        card["actions"][0]["url"],
        "http://127.0.0.1:8080/alerts/a-1"
    );
    assert!(
        !seen[0].body.windows(9).any(|w| w == b"truncated"),
        "a card that fits is not marked"
    );
}

#[test]
fn teams_card_stays_under_28_kb_with_10000_event_ids() {
    let mut m = alert_msg(1);
    let Payload::Alert(a) = &mut m.payload else {
        unreachable!()
    };
    a.event_ids = (0..10_000)
        .map(|i| format!("windows:dc1:Security:{i:08}"))
        .collect();
    a.summary = "x".repeat(50_000);
    let v = teams::card(&m.payload);
    let len = v.to_string().len();
    assert!(len <= teams::MAX_CARD_BYTES, "{len}");
    assert!(
        len > teams::MAX_CARD_BYTES - 2000,
        "uses the room it has: {len}"
    );
    let ids = v["attachments"][0]["content"]["body"][4]["text"]
        .as_str()
        .unwrap();
    assert!(ids.contains("more"), "says how many were left out");
}

#[tokio::test]
async fn teams_statuses_map_to_retry_decisions() {
    let stub = Stub::start().await;
    let n = teams_channel(&stub);
    stub.reply(429, vec![("retry-after", "7".into())], "slow down");
    let e = n.send(&[alert_msg(1)]).await.unwrap_err();
    assert!(e.retriable);
    assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
    stub.reply(500, vec![], "oops");
    assert!(n.send(&[alert_msg(1)]).await.unwrap_err().retriable);
    stub.reply(400, vec![], "bad card");
    let e = n.send(&[alert_msg(1)]).await.unwrap_err();
    assert!(!e.retriable);
    assert_eq!(e.rejected, Some(0));
    assert!(!e.message.contains("sig=abc"), "{}", e.message);
}

#[tokio::test]
async fn hec_sends_a_batch_of_concatenated_events() {
    let stub = Stub::start().await;
    let n = build(&channel(&format!(
        "[[channels]]\nname = \"h\"\ntype = \"splunk_hec\"\nurl = \"{}\"\ntoken = \"tok-123\"\nindex = \"privtrail\"\n",
        stub.url()
    )))
    .unwrap();
    assert_eq!(n.max_batch(), 100);
    n.send(&[alert_msg(1), event_msg(2)]).await.unwrap();
    let seen = stub.seen();
    assert_eq!(seen[0].path, "/services/collector/event");
    assert_eq!(seen[0].headers["authorization"], "Splunk tok-123");
    let objs: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&seen[0].body)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(objs.len(), 2);
    assert_eq!(objs[0]["time"], 1_795_687_500.5);
    assert_eq!(objs[0]["sourcetype"], "privtrail:alert");
    assert_eq!(objs[0]["source"], "privtrail");
    assert_eq!(objs[0]["index"], "privtrail");
    assert_eq!(objs[0]["event"]["kind"], "alert");
    assert_eq!(objs[0]["event"]["rule"], "standing-access");
    assert_eq!(objs[0]["event"]["idempotency_key"], "key-1");
    assert_eq!(objs[1]["sourcetype"], "privtrail:event");
    assert_eq!(objs[1]["host"], "DC1");
    assert_eq!(objs[1]["event"]["action"], "group.member.added");
    assert_eq!(objs[1]["event"]["raw"]["EventID"], 4732);
}

#[tokio::test]
async fn hec_invalid_event_number_splits_the_batch() {
    let stub = Stub::start().await;
    let n = build(&channel(&format!(
        "[[channels]]\nname = \"h\"\ntype = \"splunk_hec\"\nurl = \"{}\"\ntoken = \"t\"\n",
        stub.url()
    )))
    .unwrap();
    let batch: Vec<Message> = (0..5).map(alert_msg).collect();
    stub.reply(
        400,
        vec![],
        r#"{"text":"Invalid data format","code":6,"invalid-event-number":3}"#,
    );
    let e = n.send(&batch).await.unwrap_err();
    assert!(!e.retriable);
    assert_eq!((e.accepted, e.rejected), (3, Some(3)));
    assert!(e.message.contains("key-3"), "{}", e.message);
    stub.reply(
        503,
        vec![("retry-after", "30".into())],
        r#"{"text":"Server is busy","code":9}"#,
    );
    let e = n.send(&batch).await.unwrap_err();
    assert!(e.retriable && e.accepted == 0 && e.rejected.is_none());
    assert_eq!(e.retry_after, Some(Duration::from_secs(30)));
    // A refused token is the channel's authentication failure: retried, about no one message.
    stub.reply(403, vec![], r#"{"text":"Invalid token","code":4}"#);
    let e = n.send(&batch).await.unwrap_err();
    assert!(e.retriable && e.auth && e.rejected.is_none(), "{e:?}");
}

#[tokio::test]
async fn webhook_signature_verifies_in_the_server() {
    let stub = Stub::start().await;
    let n = build(&channel(&format!(
        "[[channels]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"{}/hook\"\nsecret = \"shared-key\"\n",
        stub.url()
    )))
    .unwrap();
    n.send(&[alert_msg(1), event_msg(2)]).await.unwrap();
    let seen = stub.seen();
    assert_eq!(seen.len(), 2);
    for (s, key) in seen.iter().zip(["key-1", "key-2"]) {
        let h = &s.headers;
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["x-privtrail-idempotency-key"], key);
        let ts: i64 = h["x-privtrail-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
        let expect = webhook::sign(b"shared-key", ts, &s.body);
        assert_eq!(h["x-privtrail-signature"].to_str().unwrap(), expect);
        let p: Payload = serde_json::from_slice(&s.body).unwrap();
        assert_eq!(p.kind(), if key == "key-1" { "alert" } else { "event" });
    }
    // A permanent failure of the second message: the first was delivered.
    stub.reply(200, vec![], "");
    stub.reply(422, vec![], "unprocessable");
    let e = n.send(&[alert_msg(3), alert_msg(4)]).await.unwrap_err();
    assert_eq!((e.retriable, e.accepted, e.rejected), (false, 1, Some(1)));
    // A URL that leads nowhere is the channel's problem: retried, not the message's death.
    stub.reply(410, vec![], "gone");
    let e = n.send(&[alert_msg(3)]).await.unwrap_err();
    assert_eq!((e.retriable, e.auth, e.rejected), (true, false, None));
    stub.reply(502, vec![], "");
    assert!(n.send(&[alert_msg(5)]).await.unwrap_err().retriable);
}

#[tokio::test]
async fn unreachable_server_is_retriable() {
    let port = common::free_port();
    let n = build(&channel(&format!(
        "[[channels]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{port}/\"\nsecret = \"k\"\ntimeout = \"2s\"\n"
    )))
    .unwrap();
    let e = n.send(&[alert_msg(1)]).await.unwrap_err();
    assert!(e.retriable, "{e}");
}

/// Every HTTP channel reads a refused credential (HEC `401`/`403`, webhook `401`, Teams `403`) as
/// the channel's authentication failure: retriable (the outbox keeps the messages and backs off)
/// and about no single message (so none is dead-lettered for it).
#[tokio::test]
async fn refused_credentials_are_retriable_channel_failures_on_every_http_channel() {
    let stub = Stub::start().await;
    let hec = build(&channel(&format!(
        "[[channels]]\nname = \"h\"\ntype = \"splunk_hec\"\nurl = \"{}\"\ntoken = \"expired\"\n",
        stub.url()
    )))
    .unwrap();
    let hook = build(&channel(&format!(
        "[[channels]]\nname = \"w\"\ntype = \"webhook\"\nurl = \"{}/hook\"\nsecret = \"k\"\n",
        stub.url()
    )))
    .unwrap();
    let teams = teams_channel(&stub);
    let check = |what: &str, e: DeliveryError| {
        assert!(e.retriable && e.auth, "{what}: {e:?}");
        assert_eq!((e.accepted, e.rejected), (0, None), "{what}");
    };
    stub.reply(401, vec![], r#"{"text":"Token is required","code":2}"#);
    check(
        "hec 401",
        hec.send(&[alert_msg(1), alert_msg(2)]).await.unwrap_err(),
    );
    stub.reply(403, vec![], r#"{"text":"Token disabled","code":1}"#);
    check("hec 403", hec.send(&[alert_msg(1)]).await.unwrap_err());
    stub.reply(401, vec![], "bad signature");
    check(
        "webhook 401",
        hook.send(&[alert_msg(1), alert_msg(2)]).await.unwrap_err(),
    );
    stub.reply(403, vec![], "flow disabled");
    check("teams 403", teams.send(&[alert_msg(1)]).await.unwrap_err());
    // The next answer is 200: the same messages go through.
    hec.send(&[alert_msg(1)]).await.unwrap();
}

fn hostile_alert() -> Message {
    let mut m = alert_msg(7);
    let Payload::Alert(a) = &mut m.payload else {
        unreachable!()
    };
    a.principal = Some("[Approve](https://evil.example)".into());
    a.summary = "<img src=x onerror=alert(1)> granted **now**".into();
    a.privilege = Some("=cmd|' /C calc'!A0".into());
    a.scope = Some("\u{1b}[31mred\nline".into());
    a.rule = "- list_item".into();
    m
}

/// Every text of a card, with the fact values.
fn card_texts(v: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for b in v["attachments"][0]["content"]["body"].as_array().unwrap() {
        if let Some(t) = b["text"].as_str() {
            out.push(t.to_owned());
        }
        for f in b["facts"].as_array().into_iter().flatten() {
            out.push(f["value"].as_str().unwrap().to_owned());
        }
    }
    out
}

/// Teams renders card texts as Markdown: a principal named `[Approve](https://evil.example)` must
/// show as that text, not as a link; nor may HTML, emphasis, list markers or terminal escapes
/// from an alert take effect.
#[tokio::test]
async fn teams_card_escapes_markdown_in_every_value_from_an_alert() {
    let stub = Stub::start().await;
    teams_channel(&stub).send(&[hostile_alert()]).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&stub.seen()[0].body).unwrap();
    let texts = card_texts(&v);
    let all = texts.join("\n");
    assert!(
        texts
            .iter()
            .any(|t| t == r"\[Approve\](https://evil.example)"),
        "{texts:?}"
    );
    assert!(
        !all.contains("[Approve]("),
        "no link syntax survives: {all}"
    );
    assert!(
        all.contains(r"\<img src=x onerror=alert(1)\> granted \*\*now\*\*"),
        "{all}"
    );
    assert!(
        all.contains("=cmd|' /C calc'!A0"),
        "not Markdown, shown as is: {all}"
    );
    assert!(texts.iter().any(|t| t == r"\- list\_item"), "{texts:?}");
    assert!(
        !all.contains('\u{1b}') && texts.iter().all(|t| !t.contains('\n')),
        "{all:?}"
    );
    assert!(texts.iter().any(|t| t == r" \[31mred line"), "{texts:?}");
}

/// A 200 KB alert does not fail on Teams' 28 KB limit: the card is shortened and says
/// `truncated=true`, and the stand-in receives it.
#[tokio::test]
async fn teams_shortens_a_200_kb_alert_and_marks_it_truncated() {
    let stub = Stub::start().await;
    let mut m = alert_msg(9);
    let Payload::Alert(a) = &mut m.payload else {
        unreachable!()
    };
    a.summary = "s".repeat(200 * 1024);
    a.principal = Some("p".repeat(200 * 1024));
    teams_channel(&stub).send(&[m]).await.unwrap();
    let body = &stub.seen()[0].body;
    assert!(body.len() <= teams::MAX_CARD_BYTES, "{}", body.len());
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    let texts = card_texts(&v);
    assert!(
        texts
            .last()
            .is_some_and(|t| t.starts_with("truncated=true")),
        "{texts:?}"
    );
    // Shortened, not emptied: the summary and principal are still there, cut.
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("sss") && t.ends_with('…')),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("ppp") && t.ends_with('…')),
        "{texts:?}"
    );
    assert_eq!(
        v["attachments"][0]["content"]["actions"][0]["type"],
        "Action.OpenUrl"
    );
}
