//! A Graph (or a config) that is wrong on purpose: records dated in the future, `@odata.nextLink`
//! cycles, pages without end, absurd `expires_in`, durations and budgets, plain http to a remote
//! host. The collector must keep its watermark sane, stop every walk, and never overflow.

mod graph_mock;

use std::time::Duration;

use chrono::{DateTime, Utc};
use graph_mock::{Mock, Req, Resp, TEST_LIMIT, audit_record};
use privtrail_ingest::graph::{
    AuditCheckpoint, AuditPull, DEFAULT_MAX_PAGES, ErrorKind, GraphClient, MAX_CLOCK_SKEW,
    fetch_pim_snapshot, lookup_users,
};
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .expect("time")
}

const ACT: &str = "Add member to role completed (PIM activation)";
const NOW: &str = "2026-01-10T13:00:00Z";

fn watermark(checkpoint: &str) -> Option<DateTime<Utc>> {
    serde_json::from_str::<AuditCheckpoint>(checkpoint)
        .expect("checkpoint json")
        .watermark
}

fn skiptoken(r: &Req) -> Option<&str> {
    r.raw_query.rsplit_once("$skiptoken=").map(|(_, t)| t)
}

#[tokio::test]
async fn a_record_dated_2099_is_stored_but_the_watermark_stops_at_now_plus_skew() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start(|r| {
            if r.is_token() {
                return Resp::token("t");
            }
            Resp::json(
                200,
                json!({"value": [
                    audit_record("future", "2099-12-31T23:59:59Z", ACT),
                    audit_record("r1", "2026-01-10T12:30:00Z", ACT),
                ]}),
            )
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let now = at(NOW);
        let mut pull = AuditPull::start(&client, None, now);
        let page = pull.next_page().await.expect("page").expect("some");
        assert!(page.last);
        let ids: Vec<&str> = page
            .events
            .iter()
            .filter_map(|e| e.record_id.as_deref())
            .collect();
        assert_eq!(ids, ["future", "r1"], "the future record is stored");
        // The watermark is the latest record that is not from the future.
        let w = watermark(&page.checkpoint).expect("watermark");
        assert!(w <= now + MAX_CLOCK_SKEW, "{w}");
        assert_eq!(w, at("2026-01-10T12:30:00Z"));

        // The next pull starts before now, so what happens meanwhile is still collected.
        let later = now + chrono::Duration::minutes(5);
        let next = AuditPull::start(&client, Some(&page.checkpoint), later);
        assert_eq!(next.since(), at("2026-01-10T12:15:00Z"));
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_stored_watermark_in_the_future_no_longer_stops_collection() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start(|r| {
            if r.is_token() {
                return Resp::token("t");
            }
            Resp::json(
                200,
                json!({"value": [audit_record("r1", "2026-01-10T12:50:00Z", ACT)]}),
            )
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let stored = json!({"watermark": "2099-01-01T00:00:00Z"}).to_string();
        let now = at(NOW);
        let mut pull = AuditPull::start(&client, Some(&stored), now);
        assert_eq!(
            pull.since(),
            now + MAX_CLOCK_SKEW - chrono::Duration::minutes(15)
        );
        let page = pull.next_page().await.expect("page").expect("some");
        assert_eq!(page.events.len(), 1);
        // Healed: the stored watermark comes back to now + skew, not 2099.
        assert_eq!(watermark(&page.checkpoint), Some(now + MAX_CLOCK_SKEW));
    })
    .await
    .expect("test timed out");
}

/// Page 1 links to page 2, which links back to page 1 exactly as the collector first asked for it.
fn back_to_page_one(r: &Req, base: &str) -> Resp {
    if r.is_token() {
        return Resp::token("t");
    }
    match skiptoken(r) {
        None => Resp::json(
            200,
            json!({
            "value": [audit_record("r2", "2026-01-10T12:02:00Z", ACT)],
            "@odata.nextLink": format!("{base}/v1.0/auditLogs/directoryAudits?$top=999&$skiptoken=p2")}),
        ),
        Some(_) => Resp::json(
            200,
            json!({
            "value": [audit_record("r1", "2026-01-10T12:01:00Z", ACT)],
            "@odata.nextLink": format!(
                "{base}/v1.0/auditLogs/directoryAudits?$filter=activityDateTime%20ge%202026-01-10T12:45:00Z&$top=999")}),
        ),
    }
}

#[tokio::test]
async fn a_next_link_back_to_page_one_ends_the_pull_with_an_error_and_keeps_the_watermark() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start_with_base(back_to_page_one).await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let stored = json!({"watermark": "2026-01-10T13:00:00Z"}).to_string();
        let mut pull = AuditPull::start(&client, Some(&stored), at(NOW));
        let first = pull.next_page().await.expect("page 1").expect("some");
        assert!(!first.last);
        assert_eq!(watermark(&first.checkpoint), Some(at(NOW)));
        let err = pull
            .next_page()
            .await
            .expect_err("page 2 links back to page 1");
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert!(err.message.contains("cycle"), "{}", err.message);
        assert_eq!(
            mock.graph_requests().len(),
            2,
            "page 1 was not asked for again"
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_longer_cycle_and_a_pim_cycle_are_detected_too() {
    tokio::time::timeout(TEST_LIMIT, async {
        // 1 → 2 → 3 → 2: a cycle that does not include the first URL.
        let mock = Mock::start_with_base(|r, base| {
            if r.is_token() {
                return Resp::token("t");
            }
            let next = match skiptoken(r) {
                None | Some("3") => "2",
                _ => "3",
            };
            Resp::json(
                200,
                json!({"value": [],
                "@odata.nextLink": format!("{base}{}?$skiptoken={next}", r.path)}),
            )
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let mut pull = AuditPull::start(&client, None, at(NOW));
        let mut pages = 0;
        let err = loop {
            match pull.next_page().await {
                Ok(Some(_)) => pages += 1,
                Ok(None) => panic!("the walk ended"),
                Err(e) => break e,
            }
        };
        assert_eq!(pages, 2);
        assert!(err.message.contains("cycle"), "{}", err.message);

        let err = fetch_pim_snapshot(&client).await.expect_err("PIM cycle");
        assert!(err.message.contains("cycle"), "{}", err.message);
        assert_eq!(
            err.endpoint,
            "/roleManagement/directory/roleAssignmentScheduleInstances"
        );
    })
    .await
    .expect("test timed out");
}

/// A server that always has another (empty) page.
fn endless(r: &Req, base: &str) -> Resp {
    if r.is_token() {
        return Resp::token("t");
    }
    let n: u64 = skiptoken(r).and_then(|t| t.parse().ok()).unwrap_or(1);
    Resp::json(
        200,
        json!({"value": [],
        "@odata.nextLink": format!("{base}{}?$skiptoken={}", r.path, n + 1)}),
    )
}

#[tokio::test]
async fn ten_thousand_pages_without_end_stop_at_the_page_cap() {
    // 10,000 requests to 127.0.0.1: bounded, but slower than the other tests on a busy machine.
    tokio::time::timeout(TEST_LIMIT * 6, async {
        let mock = Mock::start_with_base(endless).await;
        let mut settings = mock.settings();
        settings.rate_limit = (u32::MAX, Duration::from_secs(1));
        assert_eq!(settings.max_pages, DEFAULT_MAX_PAGES);
        assert_eq!(DEFAULT_MAX_PAGES, 10_000);
        let client = GraphClient::new(settings).expect("client");
        let mut pull = AuditPull::start(&client, None, at(NOW));
        let mut pages = 0usize;
        let err = loop {
            match pull.next_page().await {
                Ok(Some(p)) => {
                    assert!(!p.last);
                    pages += 1;
                }
                Ok(None) => panic!("the walk ended"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert!(err.message.contains("after 10000 pages"), "{}", err.message);
        assert_eq!(
            pages,
            DEFAULT_MAX_PAGES - 1,
            "the 10,000th page still linked on"
        );
        assert_eq!(mock.graph_requests().len(), DEFAULT_MAX_PAGES);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn the_pim_walks_have_the_same_page_cap() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start_with_base(endless).await;
        let mut settings = mock.settings();
        settings.max_pages = 25;
        let client = GraphClient::new(settings).expect("client");
        let err = fetch_pim_snapshot(&client).await.expect_err("capped");
        assert!(err.message.contains("after 25 pages"), "{}", err.message);
        assert_eq!(mock.graph_requests().len(), 25);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn user_lookups_are_capped_per_call_and_the_rest_wait_for_the_next() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start(|r| {
            if r.is_token() {
                return Resp::token("t");
            }
            let id = r.path.trim_start_matches("/v1.0/users/");
            Resp::json(
                200,
                json!({"id": id, "userPrincipalName": format!("{id}@contoso.com")}),
            )
        })
        .await;
        let mut settings = mock.settings();
        settings.max_user_lookups = 3;
        let client = GraphClient::new(settings).expect("client");
        let ids: Vec<String> = (1..=5).map(|n| format!("u-{n}")).collect();
        let first = lookup_users(&client, &ids).await.expect("lookup");
        assert_eq!(first.len(), 3);
        assert_eq!(mock.graph_requests().len(), 3);
        // Cached users are free; the two left over are asked for now.
        let second = lookup_users(&client, &ids).await.expect("lookup");
        assert_eq!(second.len(), 5);
        assert_eq!(mock.graph_requests().len(), 5);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn an_expires_in_of_2_pow_63_is_cached_without_overflow() {
    tokio::time::timeout(TEST_LIMIT, async {
        for expires_in in [
            json!(1u64 << 63),
            json!(u64::MAX),
            json!("9223372036854775808"),
        ] {
            let e = expires_in.clone();
            let mock = Mock::start(move |r| {
                if r.is_token() {
                    return Resp::json(
                        200,
                        json!({"token_type": "Bearer", "access_token": "t", "expires_in": e}),
                    );
                }
                Resp::json(200, json!({"value": []}))
            })
            .await;
            let client = GraphClient::new(mock.settings()).expect("client");
            client.get_json("/x").await.expect("first");
            client.get_json("/x").await.expect("second");
            assert_eq!(mock.token_requests().len(), 1, "{expires_in}: cached");
        }
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_backfill_or_overlap_of_100000000_days_starts_at_the_epoch() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start(|r| {
            if r.is_token() {
                return Resp::token("t");
            }
            Resp::json(200, json!({"value": []}))
        })
        .await;
        let huge = privtrail_model::parse_duration("100000000d").expect("a valid duration");
        let mut settings = mock.settings();
        settings.backfill = huge;
        settings.overlap = huge;
        let client = GraphClient::new(settings).expect("client");
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        let mut pull = AuditPull::start(&client, None, at(NOW));
        assert_eq!(pull.since(), epoch);
        pull.next_page().await.expect("page").expect("some");
        assert_eq!(
            mock.graph_requests()[0].query,
            "$filter=activityDateTime ge 1970-01-01T00:00:00Z&$top=999"
        );
        let stored = json!({"watermark": NOW}).to_string();
        assert_eq!(
            AuditPull::start(&client, Some(&stored), at(NOW)).since(),
            epoch
        );
        // `--since` far in the past, or in the future, stays inside [epoch, now + skew].
        let far = DateTime::<Utc>::MIN_UTC;
        assert_eq!(
            AuditPull::start_from(&client, None, far, at(NOW)).since(),
            epoch
        );
        let future = at("2099-01-01T00:00:00Z");
        assert_eq!(
            AuditPull::start_from(&client, None, future, at(NOW)).since(),
            at(NOW) + MAX_CLOCK_SKEW
        );
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn the_largest_rate_requests_and_retry_base_neither_overflow_nor_stall() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start(|r| {
            if r.is_token() {
                return Resp::token("t");
            }
            Resp::json(
                503,
                json!({"error": {"code": "ServiceUnavailable", "message": "busy"}}),
            )
        })
        .await;
        let mut settings = mock.settings();
        settings.rate_limit = (u32::MAX, Duration::MAX);
        settings.retry.base = Duration::MAX;
        settings.retry.max_attempts = 3;
        let client = GraphClient::new(settings).expect("client");
        let err = client.get_json("/x").await.expect_err("always 503");
        assert_eq!(err.kind, ErrorKind::Transient);
        assert!(
            err.message.contains("gave up after 3 attempts"),
            "{}",
            err.message
        );
        assert_eq!(mock.graph_requests().len(), 3);
    })
    .await
    .expect("test timed out");
}

#[test]
fn plain_http_to_a_remote_graph_or_login_url_is_refused() {
    let settings = |login: &str, graph: &str| {
        let mut s = privtrail_ingest::graph::TenantSettings::new(
            "contoso",
            "tenant-1",
            "client-1",
            privtrail_ingest::graph::Credential::Secret("s3cret".into()),
        );
        s.login_url = login.into();
        s.graph_url = graph.into();
        s
    };
    let https = "https://graph.example.com";
    for (login, graph) in [
        (https, "http://graph.example.com"),
        ("http://login.example.com", https),
        (https, "http://10.1.2.3:8080"),
    ] {
        let err = GraphClient::new(settings(login, graph)).expect_err(graph);
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(err.message.contains("http://"), "{}", err.message);
        assert!(!err.message.contains("s3cret"));
    }
    for graph in [
        https,
        "http://127.0.0.1:9000",
        "http://localhost:1",
        "http://[::1]:2",
    ] {
        assert!(GraphClient::new(settings(https, graph)).is_ok(), "{graph}");
    }
}
