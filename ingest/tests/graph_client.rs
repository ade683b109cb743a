//! The Graph client against a local stand-in: tokens, retries, throttling, error classification.

mod graph_mock;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use graph_mock::{Mock, Resp, TEST_LIMIT};
use privtrail_ingest::graph::{ErrorKind, GraphClient, RateLimiter};
use serde_json::json;

fn ok_body() -> serde_json::Value {
    json!({"value": [{"id": "x"}]})
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("test timed out")
}

#[tokio::test]
async fn secret_token_is_requested_once_and_reused() {
    bounded(async {
        let mock = Mock::start(|r| {
            if r.is_token() {
                Resp::token("t1")
            } else {
                Resp::json(200, ok_body())
            }
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        for _ in 0..3 {
            let v = client
                .get_json("/auditLogs/directoryAudits")
                .await
                .expect("get");
            assert_eq!(v["value"][0]["id"], "x");
        }
        let tokens = mock.token_requests();
        assert_eq!(tokens.len(), 1);
        let t = &tokens[0];
        assert_eq!(t.method, "POST");
        assert_eq!(t.path, "/tenant-1/oauth2/v2.0/token");
        assert_eq!(t.form("grant_type").as_deref(), Some("client_credentials"));
        assert_eq!(t.form("client_id").as_deref(), Some("client-1"));
        assert_eq!(t.form("client_secret").as_deref(), Some("s3cret"));
        assert_eq!(t.form("scope"), Some(format!("{}/.default", mock.base)));
        let graph = mock.graph_requests();
        assert_eq!(graph.len(), 3);
        assert_eq!(graph[0].path, "/v1.0/auditLogs/directoryAudits");
        assert_eq!(graph[0].authorization.as_deref(), Some("Bearer t1"));
    })
    .await;
}

#[tokio::test]
async fn throttled_429_honours_retry_after_then_succeeds() {
    bounded(async {
        let n = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&n);
        let mock = Mock::start(move |r| {
            if r.is_token() {
                return Resp::token("t1");
            }
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                Resp::json(
                    429,
                    json!({"error":{"code":"TooManyRequests","message":"slow down"}}),
                )
                .header("Retry-After", "1")
            } else {
                Resp::json(200, ok_body())
            }
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let started = tokio::time::Instant::now();
        client
            .get_json("/auditLogs/directoryAudits")
            .await
            .expect("retried");
        assert_eq!(n.load(Ordering::SeqCst), 2);
        // Retry-After (1 s) wins over the 10-50 ms backoff of these settings.
        assert!(started.elapsed() >= Duration::from_secs(1));
    })
    .await;
}

#[tokio::test]
async fn transient_503_is_retried_with_backoff() {
    bounded(async {
        let n = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&n);
        let mock = Mock::start(move |r| {
            if r.is_token() {
                return Resp::token("t1");
            }
            match seen.fetch_add(1, Ordering::SeqCst) {
                0 => Resp::json(
                    503,
                    json!({"error":{"code":"ServiceUnavailable","message":"x"}}),
                ),
                1 => Resp::json(504, json!({})),
                _ => Resp::json(200, ok_body()),
            }
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        client
            .get_json("/auditLogs/directoryAudits")
            .await
            .expect("retried");
        assert_eq!(n.load(Ordering::SeqCst), 3);
    })
    .await;
}

#[tokio::test]
async fn persistent_503_gives_up_after_max_attempts() {
    bounded(async {
        let mock = Mock::start(|r| {
            if r.is_token() {
                Resp::token("t1")
            } else {
                Resp::json(500, json!({}))
            }
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let err = client
            .get_json("/auditLogs/directoryAudits")
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Transient);
        assert!(err.is_retriable());
        assert_eq!(err.status, Some(500));
        assert_eq!(mock.graph_requests().len(), 4);
        assert!(
            err.message.contains("gave up after 4 attempts"),
            "{}",
            err.message
        );
    })
    .await;
}

#[tokio::test]
async fn revoked_token_is_refreshed_once_and_the_run_continues() {
    bounded(async {
        let tokens = Arc::new(AtomicUsize::new(0));
        let graph = Arc::new(AtomicUsize::new(0));
        let (t, g) = (Arc::clone(&tokens), Arc::clone(&graph));
        let mock = Mock::start(move |r| {
            if r.is_token() {
                let n = t.fetch_add(1, Ordering::SeqCst) + 1;
                return Resp::token(&format!("t{n}"));
            }
            let n = g.fetch_add(1, Ordering::SeqCst);
            // The server revokes t1 after two requests.
            if n >= 2 && r.authorization.as_deref() == Some("Bearer t1") {
                Resp::json(
                    401,
                    json!({"error":{"code":"InvalidAuthenticationToken","message":"expired"}}),
                )
            } else {
                Resp::json(200, ok_body())
            }
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        for _ in 0..4 {
            client
                .get_json("/auditLogs/directoryAudits")
                .await
                .expect("get");
        }
        assert_eq!(tokens.load(Ordering::SeqCst), 2);
        let auth: Vec<_> = mock
            .graph_requests()
            .into_iter()
            .map(|r| r.authorization.unwrap_or_default())
            .collect();
        assert_eq!(
            auth,
            [
                "Bearer t1",
                "Bearer t1",
                "Bearer t1",
                "Bearer t2",
                "Bearer t2"
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_token_graph_keeps_rejecting_is_an_auth_error() {
    bounded(async {
        let mock = Mock::start(|r| {
            if r.is_token() {
                Resp::token("t")
            } else {
                Resp::json(
                    401,
                    json!({"error":{"code":"InvalidAuthenticationToken","message":"no"}}),
                )
            }
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let err = client.get_json("/users/u1").await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Auth);
        assert_eq!(mock.token_requests().len(), 2);
        assert_eq!(mock.graph_requests().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn forbidden_names_the_permission_and_is_not_retried() {
    bounded(async {
        let mock = Mock::start(|r| {
            if r.is_token() {
                Resp::token("t1")
            } else {
                Resp::json(
                    403,
                    json!({"error":{"code":"Authorization_RequestDenied",
                    "message":"Insufficient privileges to complete the operation."}}),
                )
            }
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let err = client
            .get_json("/auditLogs/directoryAudits?$top=999")
            .await
            .unwrap_err();
        assert_eq!(
            err.kind,
            ErrorKind::Permission {
                permission: "AuditLog.Read.All".into()
            }
        );
        assert!(!err.is_retriable());
        assert_eq!(err.status, Some(403));
        assert_eq!(err.endpoint, "/auditLogs/directoryAudits");
        assert_eq!(err.tenant, "contoso");
        assert_eq!(mock.graph_requests().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn invalid_client_on_the_token_endpoint_is_an_auth_error() {
    bounded(async {
        let mock = Mock::start(|r| {
            if r.is_token() {
                Resp::json(400, json!({"error":"invalid_client",
                    "error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: 1\r\nCorrelation ID: 2",
                    "error_codes":[7000215]}))
            } else {
                Resp::json(200, ok_body())
            }
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let err = client.get_json("/auditLogs/directoryAudits").await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Auth);
        assert!(!err.is_retriable());
        assert!(err.message.contains("AADSTS7000215"), "{}", err.message);
        assert!(!err.message.contains("s3cret"));
        assert_eq!(mock.token_requests().len(), 1);
        assert!(mock.graph_requests().is_empty());
    })
    .await;
}

#[tokio::test]
async fn links_outside_the_graph_url_are_refused() {
    bounded(async {
        let mock = Mock::start(|_| Resp::token("t1")).await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let err = client
            .get_json("https://evil.example/v1.0/auditLogs/directoryAudits")
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert!(mock.requests().is_empty());
    })
    .await;
}

#[tokio::test]
async fn bad_settings_fail_at_construction_without_leaking_secrets() {
    let mock = Mock::start(|_| Resp::token("t")).await;
    let mut s = mock.settings();
    s.graph_url = "not a url".into();
    assert_eq!(GraphClient::new(s).unwrap_err().kind, ErrorKind::Config);
    let mut s = mock.settings();
    s.tenant_id = "../x".into();
    assert_eq!(GraphClient::new(s).unwrap_err().kind, ErrorKind::Config);
    let s = mock.settings();
    assert!(!format!("{s:?}").contains("s3cret"));
    let client = GraphClient::new(s).expect("client");
    assert!(!format!("{client:?}").contains("s3cret"));
}

/// N requests pass in a window; request N+1 is told to wait until the oldest leaves the window.
#[tokio::test(start_paused = true)]
async fn rate_limiter_admits_n_per_window() {
    let limiter = RateLimiter::new(5, Duration::from_secs(10));
    let t0 = tokio::time::Instant::now();
    for i in 0..5 {
        let at = t0 + Duration::from_secs(i);
        assert_eq!(limiter.try_acquire_at(at), Ok(()), "request {i}");
    }
    assert_eq!(
        limiter.try_acquire_at(t0 + Duration::from_secs(5)),
        Err(Duration::from_secs(5))
    );
    // The first request leaves the window at t0 + 10 s: one more fits, then the next waits 1 s.
    assert_eq!(limiter.try_acquire_at(t0 + Duration::from_secs(10)), Ok(()));
    assert_eq!(
        limiter.try_acquire_at(t0 + Duration::from_secs(10)),
        Err(Duration::from_secs(1))
    );

    // acquire() sleeps on tokio's (paused, auto-advancing) clock exactly as long as decided.
    let limiter = RateLimiter::new(2, Duration::from_secs(10));
    assert_eq!(limiter.acquire().await, Duration::ZERO);
    assert_eq!(limiter.acquire().await, Duration::ZERO);
    assert_eq!(limiter.acquire().await, Duration::from_secs(10));
}
