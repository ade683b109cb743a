//! The directory audit pull: paging, checkpoints, resume, rejects, dedupe.

mod graph_mock;

use chrono::{DateTime, Duration as CDuration, Utc};
use graph_mock::{Mock, Resp, TEST_LIMIT, audit_record};
use privtrail_ingest::graph::{AuditCheckpoint, AuditPage, AuditPull, ErrorKind, GraphClient};
use serde_json::json;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .expect("time")
}

const ACT: &str = "Add member to role completed (PIM activation)";

/// Three pages, newest first, as Graph sends them: `r4` repeats on page 2, and page 3 holds a
/// record that cannot be normalized. Links carry an encoded skip token that must be used as given.
fn three_pages(r: &graph_mock::Req, base: &str) -> Resp {
    if r.is_token() {
        return Resp::token("t1");
    }
    let link = |n: u32| {
        format!("{base}/v1.0/auditLogs/directoryAudits?$top=999&$skiptoken=p{n}%2Bx%3D%3D")
    };
    match r.raw_query.rsplit_once("$skiptoken=").map(|(_, t)| t) {
        None => Resp::json(
            200,
            json!({
            "@odata.context": "x",
            "value": [audit_record("r5", "2026-01-10T12:05:00Z", ACT), audit_record("r4", "2026-01-10T12:04:00.1234567Z", ACT)],
            "@odata.nextLink": link(2)}),
        ),
        Some("p2%2Bx%3D%3D") => Resp::json(
            200,
            json!({
            "value": [audit_record("r4", "2026-01-10T12:04:00.1234567Z", ACT), audit_record("r3", "2026-01-10T12:03:00Z", ACT)],
            "@odata.nextLink": link(3)}),
        ),
        Some("p3%2Bx%3D%3D") => Resp::json(
            200,
            json!({
            "value": [audit_record("r1", "2026-01-10T12:01:00Z", ACT),
                      {"id": "bad", "activityDateTime": "not a time"}]}),
        ),
        Some(other) => Resp::json(400, json!({"error":{"code":"BadRequest","message":other}})),
    }
}

async fn drain(pull: &mut AuditPull<'_>) -> Vec<AuditPage> {
    let mut pages = Vec::new();
    while let Some(p) = pull.next_page().await.expect("page") {
        pages.push(p);
    }
    pages
}

fn watermark(checkpoint: &str) -> Option<DateTime<Utc>> {
    serde_json::from_str::<AuditCheckpoint>(checkpoint)
        .expect("checkpoint json")
        .watermark
}

#[tokio::test]
async fn first_run_backfills_pages_and_moves_the_watermark_on_the_last_page_only() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start_with_base(three_pages).await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let now = at("2026-01-10T13:00:00Z");
        let mut pull = AuditPull::start(&client, None, now);
        assert_eq!(pull.since(), now - CDuration::days(7));
        let pages = drain(&mut pull).await;
        assert!(pull.next_page().await.expect("done").is_none());

        let q: Vec<String> = mock
            .graph_requests()
            .iter()
            .map(|r| r.query.clone())
            .collect();
        assert_eq!(
            q[0],
            "$filter=activityDateTime ge 2026-01-03T13:00:00Z&$top=999"
        );
        let raw: Vec<String> = mock
            .graph_requests()
            .iter()
            .map(|r| r.raw_query.clone())
            .collect();
        assert_eq!(
            raw[1], "$top=999&$skiptoken=p2%2Bx%3D%3D",
            "nextLink used exactly as given"
        );
        assert_eq!(raw.len(), 3);

        assert_eq!(pages.len(), 3);
        assert_eq!(
            pages.iter().map(|p| p.last).collect::<Vec<_>>(),
            [false, false, true]
        );
        // Non-last pages keep the old watermark (none yet): a crash between pages re-pulls.
        assert_eq!(watermark(&pages[0].checkpoint), None);
        assert_eq!(watermark(&pages[1].checkpoint), None);
        assert_eq!(
            watermark(&pages[2].checkpoint),
            Some(at("2026-01-10T12:05:00Z"))
        );

        let ids: Vec<Vec<&str>> = pages
            .iter()
            .map(|p| {
                p.events
                    .iter()
                    .filter_map(|e| e.record_id.as_deref())
                    .collect()
            })
            .collect();
        assert_eq!(
            ids,
            [vec!["r5", "r4"], vec!["r3"], vec!["r1"]],
            "r4 once per pull"
        );
        assert!(
            pages
                .iter()
                .flat_map(|p| &p.events)
                .all(|e| e.tenant.as_deref() == Some("contoso"))
        );

        assert!(pages[0].rejects.is_empty() && pages[1].rejects.is_empty());
        let rej = &pages[2].rejects;
        assert_eq!(rej.len(), 1);
        assert_eq!(
            rej[0].origin,
            format!("{}/v1.0/auditLogs/directoryAudits", mock.base)
        );
        assert_eq!(rej[0].location, "page 3 record 2");
        assert!(rej[0].raw.contains("not a time"));
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn resume_starts_at_watermark_minus_overlap_and_never_moves_back() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start_with_base(three_pages).await;
        let client = GraphClient::new(mock.settings()).expect("client");
        // Stored watermark later than anything Graph returns now (the overlap window re-pulled).
        let stored = json!({"watermark": "2026-01-10T12:10:00Z"}).to_string();
        let mut pull = AuditPull::start(&client, Some(&stored), at("2026-01-10T13:00:00Z"));
        assert_eq!(pull.since(), at("2026-01-10T11:55:00Z"));
        let pages = drain(&mut pull).await;
        assert_eq!(
            mock.graph_requests()[0].query,
            "$filter=activityDateTime ge 2026-01-10T11:55:00Z&$top=999"
        );
        let old = Some(at("2026-01-10T12:10:00Z"));
        assert!(pages.iter().all(|p| watermark(&p.checkpoint) == old));

        // An unreadable checkpoint backfills rather than stopping the collector.
        let pull = AuditPull::start(&client, Some("{oops"), at("2026-01-10T13:00:00Z"));
        assert_eq!(pull.since(), at("2026-01-03T13:00:00Z"));
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_failure_mid_pull_leaves_the_old_watermark_and_the_next_run_repeats_the_window() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start_with_base(|r, base| {
            if r.raw_query.contains("skiptoken") {
                Resp::json(403, json!({"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}))
            } else {
                three_pages(r, base)
            }
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let stored = json!({"watermark": "2026-01-10T12:00:00Z"}).to_string();
        let now = at("2026-01-10T13:00:00Z");
        let mut pull = AuditPull::start(&client, Some(&stored), now);
        let first = pull.next_page().await.expect("page 1").expect("some");
        assert!(!first.last);
        assert_eq!(watermark(&first.checkpoint), Some(at("2026-01-10T12:00:00Z")));
        let err = pull.next_page().await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Permission { permission: "AuditLog.Read.All".into() });
        // What the store holds now is page 1's checkpoint: the next run asks for the same window.
        let again = AuditPull::start(&client, Some(&first.checkpoint), now);
        assert_eq!(again.since(), at("2026-01-10T11:45:00Z"));
    })
    .await
    .expect("test timed out");
}

/// The binary runs pulls in spawned tasks: the futures must be `Send`.
#[test]
fn pull_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let mock_settings = privtrail_ingest::graph::TenantSettings::new(
        "t",
        "tenant-1",
        "c",
        privtrail_ingest::graph::Credential::Secret("s".into()),
    );
    let client = GraphClient::new(mock_settings).expect("client");
    let mut pull = AuditPull::start(&client, None, Utc::now());
    send(&pull.next_page());
    send(&client.get_json("/x"));
    send(&privtrail_ingest::graph::fetch_pim_snapshot(&client));
}
