//! The simulator, driven in process with `tower::ServiceExt::oneshot` (and once over real TCP on
//! 127.0.0.1). Everything is bounded: no test sleeps or waits on the network for long.

use std::collections::HashSet;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

pub(super) fn app(faults: Value) -> (TenantSim, Router) {
    let sim = scenario(now(), 7);
    let faults: Faults = serde_json::from_value(faults).expect("faults");
    let router = test_router(sim.clone(), faults).expect("router");
    (sim, router)
}

pub(super) async fn send(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .expect("body");
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn token_with(app: &Router, form: &str) -> (StatusCode, Value) {
    let req = Request::post(format!("/{SIM_TENANT_ID}/oauth2/v2.0/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .expect("request");
    let (s, _, v) = send(app, req).await;
    (s, v)
}

pub(super) async fn token(app: &Router) -> String {
    let form = format!(
        "grant_type=client_credentials&client_id={SIM_CLIENT_ID}&client_secret={}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
        codec_pct(SIM_CLIENT_SECRET)
    );
    let (s, v) = token_with(app, &form).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["access_token"].as_str().expect("access_token").to_owned()
}

fn codec_pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(super) async fn get(app: &Router, tok: &str, uri: &str) -> (StatusCode, HeaderMap, Value) {
    let uri = uri.strip_prefix("http://sim.test").unwrap_or(uri);
    let req = Request::get(uri)
        .header("authorization", format!("Bearer {tok}"))
        .body(Body::empty())
        .expect("request");
    send(app, req).await
}

/// Follows `@odata.nextLink` from `uri`; returns every record and the number of pages.
async fn pull(app: &Router, tok: &str, uri: &str) -> (Vec<Value>, usize) {
    let (mut out, mut pages, mut next) = (Vec::new(), 0, Some(uri.to_owned()));
    while let Some(u) = next.take() {
        let (s, _, v) = get(app, tok, &u).await;
        assert_eq!(s, StatusCode::OK, "{u}: {v}");
        assert!(
            v["@odata.context"]
                .as_str()
                .is_some_and(|c| c.contains("$metadata#"))
        );
        out.extend(v["value"].as_array().cloned().unwrap_or_default());
        next = v["@odata.nextLink"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages < 1000, "paging does not end");
    }
    (out, pages)
}

pub(super) fn time_of(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v["activityDateTime"].as_str().unwrap_or_default())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

#[tokio::test]
async fn paging_covers_every_record_exactly_once_newest_first() {
    let (sim, app) = app(json!({"page_size": 7}));
    let tok = token(&app).await;
    let (records, pages) =
        pull(&app, &tok, "/v1.0/auditLogs/directoryAudits?$filter=activityDateTime%20ge%202026-11-10T00:00:00Z&$top=999").await;
    assert_eq!(records.len(), sim.audits.len());
    assert_eq!(pages, sim.audits.len().div_ceil(7));
    let ids: HashSet<&str> = records.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), sim.audits.len(), "a record came twice");
    assert!(
        records.windows(2).all(|w| time_of(&w[0]) >= time_of(&w[1])),
        "not newest first"
    );
    // $top smaller than the page size wins.
    let (_, pages) = pull(&app, &tok, "/v1.0/auditLogs/directoryAudits?$top=5").await;
    assert_eq!(pages, sim.audits.len().div_ceil(5));
}

#[tokio::test]
async fn filter_is_respected_in_its_accepted_spellings() {
    let (sim, app) = app(json!({}));
    let tok = token(&app).await;
    let t = now() - Duration::days(2);
    let expected = sim.audits.iter().filter(|a| time_of(a) >= t).count();
    assert!(expected > 0 && expected < sim.audits.len());
    for uri in [
        "/v1.0/auditLogs/directoryAudits?$filter=activityDateTime%20ge%202026-11-22T12:00:00Z&$top=999",
        "/v1.0/auditLogs/directoryAudits?%24filter=activityDateTime+ge+2026-11-22T12:00:00.000Z&%24top=999",
        "/v1.0/auditLogs/directoryAudits?$filter=activityDateTime%20ge%202026-11-22T12%3A00%3A00%2B00%3A00",
    ] {
        let (records, _) = pull(&app, &tok, uri).await;
        assert_eq!(records.len(), expected, "{uri}");
        assert!(records.iter().all(|r| time_of(r) >= t));
    }
    let (s, _, v) = get(
        &app,
        &tok,
        "/v1.0/auditLogs/directoryAudits?$filter=category%20eq%20'x'",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "BadRequest");
}

#[tokio::test]
async fn tampered_or_foreign_skiptoken_is_rejected() {
    let (_, app) = app(json!({"page_size": 3}));
    let tok = token(&app).await;
    let (_, _, v) = get(
        &app,
        &tok,
        "/v1.0/auditLogs/directoryAudits?$filter=activityDateTime%20ge%202026-11-10T00:00:00Z",
    )
    .await;
    let next = v["@odata.nextLink"].as_str().expect("nextLink").to_owned();
    assert!(
        next.starts_with("http://sim.test/v1.0/auditLogs/directoryAudits?"),
        "{next}"
    );
    let (s, _, _) = get(&app, &tok, &next).await;
    assert_eq!(s, StatusCode::OK);
    let (base, token) = next.rsplit_once("$skiptoken=").expect("skiptoken");
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = format!(
        "{base}$skiptoken={}",
        String::from_utf8(bytes).unwrap_or_default()
    );
    let (s, _, v) = get(&app, &tok, &tampered).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // The same token with another filter.
    let other = format!(
        "/v1.0/auditLogs/directoryAudits?$filter=activityDateTime%20ge%202026-11-11T00:00:00Z&$skiptoken={token}"
    );
    assert_eq!(get(&app, &tok, &other).await.0, StatusCode::BAD_REQUEST);
    // A role-definitions token on the audit endpoint.
    let (_, _, v) = get(&app, &tok, "/v1.0/roleManagement/directory/roleDefinitions").await;
    let rd = v["@odata.nextLink"].as_str().expect("nextLink").to_owned();
    let (_, t2) = rd.rsplit_once("$skiptoken=").expect("skiptoken");
    assert_eq!(
        get(
            &app,
            &tok,
            &format!("/v1.0/auditLogs/directoryAudits?$skiptoken={t2}")
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn token_endpoint_checks_credentials() {
    let (_, app) = app(json!({}));
    let scope = "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default";
    let (s, v) = token_with(
        &app,
        &format!(
            "grant_type=client_credentials&client_id={SIM_CLIENT_ID}&client_secret=nope&{scope}"
        ),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"], "invalid_client");
    assert!(
        v["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("AADSTS7000215: Invalid client secret provided."))
    );
    let (s, v) = token_with(&app, &format!("grant_type=client_credentials&client_id={SIM_CLIENT_ID}&client_secret=x&scope=User.Read")).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let b64 = |v: Value| codec::b64url_encode(v.to_string().as_bytes());
    let jwt = |iss: &str, aud: &str| {
        format!(
            "{}.{}.{}",
            b64(json!({"alg": "RS256", "typ": "JWT", "x5t#S256": "abc"})),
            b64(
                json!({"iss": iss, "sub": iss, "aud": aud, "exp": Utc::now().timestamp() + 600, "jti": "1"})
            ),
            codec::b64url_encode(b"signature-not-verified")
        )
    };
    let assertion = |j: String| {
        format!(
            "grant_type=client_credentials&client_id={SIM_CLIENT_ID}&{scope}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={j}"
        )
    };
    let aud = format!("https://login.microsoftonline.com/{SIM_TENANT_ID}/oauth2/v2.0/token");
    let (s, v) = token_with(&app, &assertion(jwt(SIM_CLIENT_ID, &aud))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3599);
    let (s, _) = token_with(&app, &assertion(jwt("someone-else", &aud))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = token_with(&app, &assertion("not.a-jwt".into())).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after_then_recovers() {
    let (_, app) = app(
        json!({"throttle": [{"endpoint": "directoryAudits", "requests": [2], "retry_after_secs": 3}]}),
    );
    let tok = token(&app).await;
    let uri = "/v1.0/auditLogs/directoryAudits?$top=999";
    assert_eq!(get(&app, &tok, uri).await.0, StatusCode::OK);
    let (s, h, v) = get(&app, &tok, uri).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        h.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("3")
    );
    assert_eq!(v["error"]["code"], "TooManyRequests");
    assert_eq!(get(&app, &tok, uri).await.0, StatusCode::OK);
    // 503 by global request number, without Retry-After.
    let (_, app) = super::tests::app(json!({"unavailable": [{"requests": [1]}]}));
    let tok = token(&app).await;
    let (s, h, _) = get(&app, &tok, "/v1.0/roleManagement/directory/roleDefinitions").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert!(h.get("retry-after").is_none());
}

#[tokio::test]
async fn tokens_expire_and_get_revoked() {
    let (_, app) = app(json!({"revoke_tokens_after_requests": 2}));
    let tok = token(&app).await;
    let uri = "/v1.0/roleManagement/directory/roleDefinitions";
    assert_eq!(get(&app, &tok, uri).await.0, StatusCode::OK);
    assert_eq!(get(&app, &tok, uri).await.0, StatusCode::OK);
    let (s, h, v) = get(&app, &tok, uri).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(h.contains_key("www-authenticate"));
    assert_eq!(v["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(
        v["error"]["message"],
        "Access token has expired or is not yet valid."
    );
    let fresh = token(&app).await;
    assert_eq!(get(&app, &fresh, uri).await.0, StatusCode::OK);
    assert_eq!(get(&app, &tok, uri).await.0, StatusCode::UNAUTHORIZED);

    let (_, app) = super::tests::app(json!({"token_lifetime_secs": 0}));
    let tok = token(&app).await;
    assert_eq!(get(&app, &tok, uri).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&app, "made-up", uri).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn deny_answers_403_with_graphs_body() {
    let (_, app) = app(json!({"deny": ["directoryAudits"]}));
    let tok = token(&app).await;
    let (s, _, v) = get(&app, &tok, "/v1.0/auditLogs/directoryAudits").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "Authorization_RequestDenied");
    assert_eq!(
        v["error"]["message"],
        "Insufficient privileges to complete the operation."
    );
    assert!(v["error"]["innerError"]["request-id"].is_string());
    assert_eq!(
        get(&app, &tok, "/v1.0/roleManagement/directory/roleDefinitions")
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn late_audits_appear_from_their_request_on() {
    let (sim, _) = app(json!({}));
    let late = json!({"id": "late-1", "activityDateTime": "2026-11-24T11:00:00.0000000Z", "category": "RoleManagement"});
    let (_, app) = app(
        json!({"page_size": 1000, "late_audits": [{"from_request": 2, "index": 0}, {"from_request": 3, "record": late}]}),
    );
    let tok = token(&app).await;
    let uri = "/v1.0/auditLogs/directoryAudits?$top=999";
    let count = |v: &Value| v["value"].as_array().map_or(0, Vec::len);
    let (_, _, first) = get(&app, &tok, uri).await;
    assert_eq!(count(&first), sim.audits.len() - 1);
    let (_, _, second) = get(&app, &tok, uri).await;
    assert_eq!(count(&second), sim.audits.len());
    let (_, _, third) = get(&app, &tok, uri).await;
    assert_eq!(count(&third), sim.audits.len() + 1);
    assert!(
        third["value"]
            .as_array()
            .is_some_and(|v| v.iter().any(|r| r["id"] == "late-1"))
    );
    assert!(
        test_router(
            sim,
            serde_json::from_value(json!({"late_audits": [{"from_request": 1}]}))
                .unwrap_or_default()
        )
        .is_err()
    );
}

#[tokio::test]
async fn users_select_and_unknown_ids() {
    let (sim, app) = app(json!({}));
    let tok = token(&app).await;
    let alice = sim
        .users
        .iter()
        .find(|u| u["userPrincipalName"] == "alice@contoso.com")
        .expect("alice");
    let id = alice["id"].as_str().unwrap_or_default();
    let (s, _, v) = get(&app, &tok, &format!("/v1.0/users/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["userPrincipalName"], "alice@contoso.com");
    assert!(
        v.get("onPremisesSecurityIdentifier").is_none(),
        "not a default property"
    );
    let (_, _, v) = get(
        &app,
        &tok,
        &format!("/v1.0/users/{id}?$select=userPrincipalName,onPremisesSecurityIdentifier"),
    )
    .await;
    assert!(
        v["onPremisesSecurityIdentifier"]
            .as_str()
            .is_some_and(|s| s.starts_with("S-1-5-21-") && s.ends_with("-1104"))
    );
    assert!(v.get("displayName").is_none());
    let (s, _, v) = get(
        &app,
        &tok,
        "/v1.0/users/00000000-0000-0000-0000-000000000001",
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "Request_ResourceNotFound");
}

#[tokio::test]
async fn role_endpoints_page_and_stats_count() {
    let (sim, app) = app(json!({"page_size": 2}));
    let tok = token(&app).await;
    for (path, all) in [
        ("roleAssignmentScheduleInstances", &sim.assignments),
        ("roleEligibilityScheduleInstances", &sim.eligibilities),
        ("roleDefinitions", &sim.roles),
    ] {
        let (records, pages) = pull(
            &app,
            &tok,
            &format!("/v1.0/roleManagement/directory/{path}"),
        )
        .await;
        assert_eq!(&records, all, "{path}");
        assert_eq!(pages, all.len().div_ceil(2));
    }
    let (s, _, stats) = send(
        &app,
        Request::get("/_sim/stats")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(stats["tokens_issued"], 1);
    assert_eq!(stats["requests"]["token"], 1);
    assert_eq!(
        stats["requests"]["roleDefinitions"],
        sim.roles.len().div_ceil(2)
    );
}

#[tokio::test]
async fn serves_over_tcp_on_loopback_and_stops() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listen: std::net::SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let running = start(scenario(now(), 1), Faults::default(), listen)
        .await
        .expect("start");
    assert!(running.base_url.starts_with("http://127.0.0.1:"));
    let io = async {
        let mut s = tokio::net::TcpStream::connect(running.addr).await?;
        s.write_all(b"GET /_sim/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await?;
        let mut buf = String::new();
        s.read_to_string(&mut buf).await?;
        std::io::Result::Ok(buf)
    };
    let text = tokio::time::timeout(std::time::Duration::from_secs(10), io)
        .await
        .expect("in time")
        .expect("io");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"graph_requests\":0"));
    assert_eq!(running.stats()["tokens_issued"], 0);
    tokio::time::timeout(std::time::Duration::from_secs(10), running.stop())
        .await
        .expect("stops in time");
}
