#![allow(clippy::unwrap_used, dead_code)]
//! Test helpers: sample messages, channel configs from TOML, and a scripted local HTTP server.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use privtrail_alerts::{AlertNotice, ChannelConfig, Message, Payload};
use privtrail_model::{Action, Event, EventId, Source};

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn notice(id: &str) -> AlertNotice {
    AlertNotice {
        id: id.into(),
        rule: "standing-access".into(),
        severity: "high".into(),
        status: "open".into(),
        principal: Some("alice@contoso.com".into()),
        privilege: Some("Global Administrator".into()),
        scope: Some("/".into()),
        opened_at: t("2026-11-26T10:00:00Z"),
        updated_at: t("2026-11-26T10:05:00.5Z"),
        summary: "alice holds <Global Administrator> & never gave it back".into(),
        event_ids: vec!["e1".into(), "e2".into()],
        elevation_id: Some("el-1".into()),
        link: Some("http://127.0.0.1:8080/alerts/a-1".into()),
    }
}

pub fn event() -> Event {
    let mut e = Event::new(
        EventId::windows("DC1", "Security", 42),
        Source::Windows,
        Action::GroupMemberAdded,
        t("2026-11-26T09:00:00Z"),
        "4732",
    );
    e.host = Some("DC1".into());
    e.actor = Some("CONTOSO\\admin".into());
    e.target = Some("S-1-5-21-1-2-3-1104".into());
    e.privilege = Some("Administrators".into());
    e.message = "added to Administrators".into();
    e.raw = r#"{"EventID":4732}"#.into();
    e
}

pub fn alert_msg(n: i64) -> Message {
    Message {
        outbox_id: n,
        idempotency_key: format!("key-{n}"),
        payload: Payload::Alert(notice(&format!("a-{n}"))),
    }
}

pub fn event_msg(n: i64) -> Message {
    Message {
        outbox_id: n,
        idempotency_key: format!("key-{n}"),
        payload: Payload::Event(event()),
    }
}

/// Parses one `[[channels]]` table.
pub fn channel(toml_text: &str) -> ChannelConfig {
    #[derive(serde::Deserialize)]
    struct Root {
        channels: Vec<ChannelConfig>,
    }
    let mut r: Root = toml::from_str(toml_text).unwrap();
    r.channels.remove(0)
}

/// Whether the real-service tests must run (CI); otherwise they may skip.
pub fn services_required() -> bool {
    std::env::var("PRIVTRAIL_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Skips (returns false, with a notice) or panics when a tool is missing.
pub fn have(tool: &str, ok: bool) -> bool {
    if !ok {
        assert!(
            !services_required(),
            "{tool} is missing and PRIVTRAIL_REQUIRE_SERVICES=1"
        );
        eprintln!("SKIPPED: {tool} is not installed");
    }
    ok
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One request the stand-in server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A scripted reply: status, headers, body.
type Reply = (u16, Vec<(&'static str, String)>, String);

#[derive(Default)]
struct State {
    seen: Mutex<Vec<Seen>>,
    replies: Mutex<VecDeque<Reply>>,
}

/// A local HTTP server that records requests and answers with scripted replies (then `200`
/// `{"text":"Success","code":0}`).
#[derive(Clone)]
pub struct Stub {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Stub {
    pub async fn start() -> Stub {
        let state = Arc::new(State::default());
        let s2 = state.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let s = s2.clone();
            async move {
                s.seen.lock().unwrap().push(Seen {
                    path: uri.path().to_owned(),
                    headers,
                    body,
                });
                let reply = s.replies.lock().unwrap().pop_front();
                let (status, hdrs, text) =
                    reply.unwrap_or((200, vec![], r#"{"text":"Success","code":0}"#.to_owned()));
                let mut r: Response = (StatusCode::from_u16(status).unwrap(), text).into_response();
                for (k, v) in hdrs {
                    r.headers_mut().insert(k, v.parse().unwrap());
                }
                r
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Stub { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn reply(&self, status: u16, headers: Vec<(&'static str, String)>, body: &str) {
        self.state
            .replies
            .lock()
            .unwrap()
            .push_back((status, headers, body.to_owned()));
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}
