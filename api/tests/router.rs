//! The router, request by request (`oneshot`), over a store holding real events: authentication
//! and roles, limits, errors, paging, export, pushed events and the Elasticsearch bulk subset.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use privtrail_api::{ApiState, es_router, router};
use privtrail_app::tokens::{Role, Tokens};
use privtrail_app::{App, Config};
use serde_json::Value;
use tower::ServiceExt;

fn data(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    assert!(p.exists(), "test data missing: {}", p.display());
    p.display().to_string()
}

struct Fixture {
    _dir: tempfile::TempDir,
    app: Arc<App>,
    state: ApiState,
    admin: String,
    reader: String,
    reviewer: String,
    ingest: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse("[http]\nmax_body_bytes = 65536\n", |_| None).unwrap();
    let app = Arc::new(App::open_writer(&dir.path().join("data"), config, "test").unwrap());
    let files = [
        data("evtx/security.evtx"),
        data("evtx/ID104-1102-Event log cleared.evtx"),
    ];
    app.import(&files).unwrap();
    app.rules(chrono::Utc::now()).unwrap();
    let tokens = Tokens::new(app.data_dir());
    let admin = tokens.ensure_admin().unwrap();
    let reader = tokens.add("alice", Role::Reader).unwrap();
    let reviewer = tokens.add("rita", Role::Reviewer).unwrap();
    let ingest = tokens.add("winlogbeat", Role::Ingest).unwrap();
    let state = ApiState::new(Arc::clone(&app));
    Fixture {
        _dir: dir,
        app,
        state,
        admin,
        reader,
        reviewer,
        ingest,
    }
}

async fn call(
    f: &Fixture,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Body,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = router(f.state.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, headers, bytes)
}

async fn get_json(f: &Fixture, uri: &str, token: &str) -> (StatusCode, Value) {
    let (s, _, b) = call(f, "GET", uri, Some(token), Body::empty()).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

#[tokio::test]
async fn tokens_and_roles_decide_who_may_do_what() {
    let f = fixture();
    let (s, _, b) = call(&f, "GET", "/healthz", None, Body::empty()).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    for uri in [
        "/api/v1/search?q=*",
        "/metrics",
        "/api/v1/alerts",
        "/api/v1/elevations",
    ] {
        let (s, _, b) = call(&f, "GET", uri, None, Body::empty()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert!(v["error"].as_str().unwrap().contains("token"), "{v}");
        let (s, _, _) = call(&f, "GET", uri, Some("pt_wrong"), Body::empty()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
        for t in [&f.reader, &f.reviewer, &f.admin] {
            let (s, _, _) = call(&f, "GET", uri, Some(t), Body::empty()).await;
            assert_eq!(s, StatusCode::OK, "{uri}");
        }
        let (s, _, _) = call(&f, "GET", uri, Some(&f.ingest), Body::empty()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "ingest may not read {uri}");
    }
    let line = Body::from("{}\n");
    let (s, _, _) = call(&f, "POST", "/api/v1/ingest/windows", Some(&f.reader), line).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a reader may not push");
    let (_, alerts) = get_json(&f, "/api/v1/alerts?status=open", &f.reader).await;
    let id = alerts["alerts"][0]["id"].as_str().unwrap().to_owned();
    let note = || Body::from(r#"{"note":"checked with the owner"}"#);
    let (s, _, _) = call(
        &f,
        "POST",
        &format!("/api/v1/alerts/{id}/ack"),
        Some(&f.reader),
        note(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a reader may not acknowledge");
    let (s, _, b) = call(
        &f,
        "POST",
        &format!("/api/v1/alerts/{id}/ack"),
        Some(&f.reviewer),
        note(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let a: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(a["status"], "acknowledged");
    assert_eq!(a["history"][0]["by"], "rita");
    assert_eq!(a["history"][0]["note"], "checked with the owner");
    let (s, _, _) = call(
        &f,
        "POST",
        "/api/v1/alerts/nope/resolve",
        Some(&f.admin),
        Body::empty(),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn errors_are_json_and_reveal_no_internals() {
    let f = fixture();
    let (s, v) = get_json(&f, "/api/v1/search?q=action:(group.member.added", &f.reader).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("syntax error"), "{v}");
    let many: Vec<String> = (0..70).map(|i| format!("host:h{i}")).collect();
    let (s, v) = get_json(
        &f,
        &format!("/api/v1/search?q={}", many.join("%20OR%20")),
        &f.reader,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = get_json(&f, "/api/v1/search?q=*&limit=100000", &f.reader).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = get_json(&f, "/api/v1/search?q=*&cursor=garbage", &f.reader).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = get_json(&f, "/api/v1/search?q=*&since=yesterday", &f.reader).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = get_json(&f, "/api/v1/events/0000", &f.reader).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = get_json(&f, "/nothing/here", &f.reader).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    // Past the body limit: 413.
    let big = "x".repeat(70 * 1024);
    let (s, _, _) = call(
        &f,
        "POST",
        "/api/v1/ingest/windows",
        Some(&f.ingest),
        Body::from(big),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn pages_follow_a_cursor_while_events_arrive() {
    let f = fixture();
    let total = f
        .app
        .count(&privtrail_app::types::SearchRequest::new(
            "event_code:4624",
            0,
        ))
        .unwrap();
    assert!(total > 300);
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    let mut record = 9_000_000u64;
    loop {
        let uri = match &cursor {
            Some(c) => format!("/api/v1/search?q=event_code:4624&limit=97&cursor={c}"),
            None => "/api/v1/search?q=event_code:4624&limit=97".to_owned(),
        };
        let (s, v) = get_json(&f, &uri, &f.reader).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for e in v["events"].as_array().unwrap() {
            assert!(
                seen.insert(e["id"].as_str().unwrap().to_owned()),
                "twice: {e}"
            );
        }
        // New logons arrive between pages (newer than all): they do not disturb the paging.
        record += 1;
        let line = format!(
            r#"{{"@timestamp":"2030-01-01T00:00:00Z","event":{{"code":"4624"}},"winlog":{{"channel":"Security","computer_name":"NEW-HOST","event_id":"4624","provider_name":"Microsoft-Windows-Security-Auditing","record_id":{record},"event_data":{{"TargetUserName":"x","LogonType":"3"}}}}}}"#
        );
        let (s, _, b) = call(
            &f,
            "POST",
            "/api/v1/ingest/windows",
            Some(&f.ingest),
            Body::from(line),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        f.app
            .writer()
            .unwrap()
            .call(|w| w.commit())
            .unwrap()
            .unwrap();
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen.len() as u64,
        total,
        "every event of the first search once"
    );
}

#[tokio::test]
async fn export_streams_csv_and_json_lines() {
    let f = fixture();
    let n = f
        .app
        .count(&privtrail_app::types::SearchRequest::new(
            "action:group.member.*",
            0,
        ))
        .unwrap() as usize;
    let (s, h, b) = call(
        &f,
        "GET",
        "/api/v1/export?q=action:group.member.*&format=csv",
        Some(&f.reader),
        Body::empty(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = String::from_utf8(b).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(rows.headers().unwrap().get(0), Some("id"));
    assert_eq!(rows.records().count(), n);
    let (s, _, b) = call(
        &f,
        "GET",
        "/api/v1/export?q=action:group.member.*&format=jsonl",
        Some(&f.reader),
        Body::empty(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let lines: Vec<Value> = String::from_utf8(b)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), n);
    assert!(lines[0]["raw"].is_object(), "JSON lines carry raw");
    let (s, _, _) = call(
        &f,
        "GET",
        "/api/v1/export?q=(&format=csv",
        Some(&f.reader),
        Body::empty(),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "a bad query fails before streaming"
    );
}

#[tokio::test]
async fn pushed_lines_are_stored_and_bad_ones_named_by_line() {
    let f = fixture();
    let good = r#"{"@timestamp":"2024-01-01T00:00:00Z","winlog":{"channel":"Security","computer_name":"PUSH-1","event_id":"4732","provider_name":"Microsoft-Windows-Security-Auditing","record_id":1,"event_data":{"MemberSid":"S-1-5-21-1-2-3-1001","TargetSid":"S-1-5-32-544","TargetUserName":"Administrators","SubjectUserName":"bob","SubjectDomainName":"CORP"}}}"#;
    let body = format!("{good}\nnot json\n\n{good}\n");
    let (s, _, b) = call(
        &f,
        "POST",
        "/api/v1/ingest/windows",
        Some(&f.ingest),
        Body::from(body),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["stored"], 1);
    assert_eq!(v["duplicates"], 1);
    assert_eq!(v["rejected"][0]["line"], 2);
    let (s, _, b) = call(
        &f,
        "POST",
        "/api/v1/ingest/windows",
        Some(&f.ingest),
        Body::from("nope\n{}\n"),
    )
    .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&b)
    );
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v["rejected"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_bulk_endpoint_answers_like_elasticsearch() {
    let f = fixture();
    let es = |req: Request<Body>| async {
        let resp = es_router(f.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let product = resp.headers().get("x-elastic-product").cloned();
        let b = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            product,
            serde_json::from_slice::<Value>(&b).unwrap_or(Value::Null),
        )
    };
    let basic = |t: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("elastic:{t}"))
        )
    };
    let (s, p, v) = es(Request::get("/")
        .header(header::AUTHORIZATION, basic(&f.ingest))
        .body(Body::empty())
        .unwrap())
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p.unwrap(), "Elasticsearch");
    assert!(v["version"]["number"].as_str().unwrap().starts_with("8."));
    let (s, p, _) = es(Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(p.is_some(), "even errors say Elasticsearch");
    let doc = r#"{"@timestamp":"2024-01-01T00:00:00Z","winlog":{"channel":"Security","computer_name":"BULK-1","event_id":"1102","provider_name":"Microsoft-Windows-Eventlog","record_id":7,"user_data":{"SubjectUserName":"eve","SubjectDomainName":"CORP"}}}"#;
    let body = format!(
        "{{\"create\":{{\"_index\":\"winlogbeat-8\"}}}}\n{doc}\n{{\"create\":{{}}}}\n{doc}\n{{\"index\":{{}}}}\n{{\"x\":1}}\n{{\"delete\":{{\"_id\":\"a\"}}}}\n"
    );
    let req = Request::post("/winlogbeat-8/_bulk")
        .header(header::AUTHORIZATION, basic(&f.ingest))
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from(body))
        .unwrap();
    let (s, _, v) = es(req).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["errors"], true);
    let statuses: Vec<u64> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i.as_object().unwrap().values().next().unwrap()["status"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(statuses, vec![201, 200, 400, 400]);
    assert_eq!(v["items"][0]["create"]["_index"], "winlogbeat-8");
    // A reader may not push; ApiKey works for the ingest token.
    let req = Request::post("/_bulk")
        .header(header::AUTHORIZATION, format!("Bearer {}", f.reader))
        .body(Body::from("{\"create\":{}}\n{}\n"))
        .unwrap();
    assert_eq!(es(req).await.0, StatusCode::FORBIDDEN);
    let key = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("id1:{}", f.ingest))
    };
    let req = Request::post("/_bulk")
        .header(header::AUTHORIZATION, format!("ApiKey {key}"))
        .body(Body::from(format!("{{\"create\":{{}}}}\n{doc}\n")))
        .unwrap();
    let (s, _, v) = es(req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["items"][0]["create"]["status"], 200, "already stored");
}

#[tokio::test]
async fn metrics_speak_prometheus() {
    let f = fixture();
    let (s, h, b) = call(&f, "GET", "/metrics", Some(&f.reader), Body::empty()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = String::from_utf8(b).unwrap();
    for name in [
        "privtrail_events_stored_total{source=\"windows\"} 2352",
        "privtrail_alerts_open{severity=\"critical\"}",
        "privtrail_ingest_batch_seconds_bucket{le=\"+Inf\"}",
        "privtrail_search_seconds_count",
        "privtrail_rules_cursor_lag_events 0",
    ] {
        assert!(text.contains(name), "missing {name}:\n{text}");
    }
}
