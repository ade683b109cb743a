//! A stand-in for Microsoft Graph and its token endpoint on 127.0.0.1, for the graph_* tests.
//!
//! Each test passes a handler that answers every request (token and Graph alike) from its own
//! script; the mock records what it received so tests can assert on requests, not on timing.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use privtrail_ingest::graph::{Credential, RetryPolicy, Secret, TenantSettings};

/// Every test gives up after this long rather than hanging CI.
pub const TEST_LIMIT: Duration = Duration::from_secs(30);

/// A request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    /// Percent-decoded query (without `?`), empty when none.
    pub query: String,
    /// The query exactly as sent.
    pub raw_query: String,
    pub authorization: Option<String>,
    pub body: String,
}

impl Req {
    pub fn is_token(&self) -> bool {
        self.path.ends_with("/oauth2/v2.0/token")
    }

    /// A form field of a token request.
    pub fn form(&self, key: &str) -> Option<String> {
        self.body.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (decode(k) == key).then(|| decode(v))
        })
    }
}

/// A response to send.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Resp {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    /// A token response handing out `token`, valid for an hour.
    pub fn token(token: &str) -> Self {
        Resp::json(
            200,
            serde_json::json!({"token_type":"Bearer","expires_in":3599,"access_token":token}),
        )
    }
}

type Handler = dyn Fn(&Req) -> Resp + Send + Sync;

struct Inner {
    handler: Box<Handler>,
    log: Mutex<Vec<Req>>,
}

/// The running mock. Dropping it stops the server.
pub struct Mock {
    /// `http://127.0.0.1:PORT`, used as both login and Graph URL.
    pub base: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mock {
    pub async fn start(handler: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> Mock {
        let inner = Arc::new(Inner {
            handler: Box::new(handler),
            log: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = axum::Router::new()
            .fallback(serve)
            .with_state(Arc::clone(&inner));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Mock { base, inner, task }
    }

    /// Like [`Mock::start`], for handlers that need the mock's own URL (to build next links).
    pub async fn start_with_base(
        handler: impl Fn(&Req, &str) -> Resp + Send + Sync + 'static,
    ) -> Mock {
        let base = Arc::new(std::sync::OnceLock::<String>::new());
        let b = Arc::clone(&base);
        let mock = Mock::start(move |r| handler(r, b.get().map_or("", String::as_str))).await;
        let _ = base.set(mock.base.clone());
        mock
    }

    pub fn requests(&self) -> Vec<Req> {
        self.inner.log.lock().expect("log").clone()
    }

    pub fn token_requests(&self) -> Vec<Req> {
        self.requests().into_iter().filter(Req::is_token).collect()
    }

    pub fn graph_requests(&self) -> Vec<Req> {
        self.requests()
            .into_iter()
            .filter(|r| !r.is_token())
            .collect()
    }

    /// Settings pointing at this mock, with a client secret, a generous budget and quick retries.
    pub fn settings(&self) -> TenantSettings {
        self.settings_with(Credential::Secret(Secret::new("s3cret")))
    }

    pub fn settings_with(&self, credential: Credential) -> TenantSettings {
        let mut s = TenantSettings::new("contoso", "tenant-1", "client-1", credential);
        s.login_url = self.base.clone();
        s.graph_url = self.base.clone();
        s.rate_limit = (1000, Duration::from_secs(1));
        s.timeout = Duration::from_secs(5);
        s.retry = RetryPolicy {
            base: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_attempts: 4,
            max_retry_after: Duration::from_secs(5),
        };
        s
    }
}

async fn serve(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let req = Req {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: decode(parts.uri.query().unwrap_or("")),
        raw_query: parts.uri.query().unwrap_or("").to_owned(),
        authorization: parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    inner.log.lock().expect("log").push(req.clone());
    let resp = (inner.handler)(&req);
    let mut out = Response::new(Body::from(resp.body));
    *out.status_mut() = StatusCode::from_u16(resp.status).expect("status");
    for (k, v) in resp.headers {
        out.headers_mut().insert(
            HeaderName::from_bytes(k.as_bytes()).expect("header name"),
            HeaderValue::from_str(&v).expect("header value"),
        );
    }
    out
}

/// Percent-decoding (and `+` as space, as in forms).
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A small directoryAudit record in Graph's documented shape.
pub fn audit_record(id: &str, when: &str, activity: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "category": "RoleManagement",
        "correlationId": format!("corr-{id}"),
        "result": "success",
        "resultReason": "",
        "activityDisplayName": activity,
        "activityDateTime": when,
        "loggedByService": "PIM",
        "operationType": "Assign",
        "initiatedBy": {
            "user": {
                "id": "728309ae-1a37-4937-9afe-e35d964db09b",
                "displayName": "Audry Oliver",
                "userPrincipalName": "audry@contoso.com",
                "ipAddress": "127.0.0.1"
            },
            "app": null
        },
        "targetResources": [
            {"id": "62e90394-69f5-4237-9190-012177145e10", "displayName": "Global Administrator",
             "type": "Role", "modifiedProperties": []},
            {"id": "1f0e98f5-3161-4c6b-9b50-d488572f2bb7", "displayName": "Bob",
             "type": "User", "userPrincipalName": "bob@contoso.com", "modifiedProperties": []}
        ],
        "additionalDetails": []
    })
}
