//! Entra imports through `read_file`: Graph pages (the fixtures and Microsoft's documented
//! bodies), the real Log Analytics export, a CSV export, Azure Monitor records, damage.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;

use common::{data, fixture, read, read_with};
use privtrail_ingest::{Format, IngestError, Options, read_file};
use privtrail_model::{Action, EventId};

fn temp(name: &str, body: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    (dir, path)
}

#[test]
fn pim_fixture_page() {
    let r = read(&fixture("entra/pim_flows.json"));
    assert_eq!(r.report.format, Some(Format::Graph));
    assert_eq!((r.events.len(), r.rejects.len()), (23, 0));
    assert!(
        r.events
            .iter()
            .all(|e| e.tenant.as_deref() == Some("default"))
    );
    let count = |a| r.events.iter().filter(|e| e.action == a).count();
    assert_eq!(count(Action::RoleActivated), 3);
    assert_eq!(count(Action::RoleAssigned), 6);
    assert_eq!(count(Action::EntraAudit), 1);
    let opts = Options {
        tenant: Some("contoso".into()),
        ..Options::default()
    };
    let r = read_with(&fixture("entra/pim_flows.json"), &opts);
    assert_eq!(
        r.events[0].id,
        EventId::entra(
            "contoso",
            "d2a8a3b6-1c4e-4f57-9a0b-000000000001",
            r.events[0].time
        )
    );
}

#[test]
fn documented_directory_audit_pages() {
    let r = read(&data("graph/directoryaudit-list.example1.response.json"));
    assert_eq!(r.report.format, Some(Format::Graph));
    assert_eq!(r.events.len(), 1);
    let e = &r.events[0];
    assert_eq!(e.action, Action::EntraAudit);
    assert_eq!(e.record_id.as_deref(), Some("id"));
    assert_eq!(e.event_code, "Add member to group");
    assert_eq!(e.actor.as_deref(), Some("bob@wingtiptoysonline.com"));
    // `"Type": "User"` with a capital T.
    assert_eq!(e.target.as_deref(), Some("bob@contoso.com"));
    assert_eq!(
        privtrail_model::format_time(e.time),
        "2018-01-09T21:20:02.7215374Z"
    );

    let r = read(&data("graph/directoryaudit-list.example2.response.json"));
    assert_eq!(r.events.len(), 1);
    let e = &r.events[0];
    assert_eq!(e.event_code, "GroupLifecyclePolicies_Get");
    // Only placeholders: no actor or target rather than the all-zero GUID.
    assert_eq!((e.actor.as_deref(), e.target.as_deref()), (None, None));
}

#[test]
fn schedule_bodies_are_not_audit_logs() {
    for name in [
        "rbacapplication-list-roleassignmentscheduleinstances.response.json",
        "rbacapplication-list-roleassignmentschedulerequests.example1.response.json",
        "rbacapplication-list-roleassignmentschedulerequests.example2-expand.response.json",
        "rbacapplication-post-roleassignmentschedulerequests.example1-adminAssign.response.json",
        "rbacapplication-post-roleassignmentschedulerequests.example2-selfActivate.response.json",
    ] {
        let err = read_file(
            &data(&format!("graph/{name}")),
            &Options::default(),
            &|_| {},
            &mut |_| std::ops::ControlFlow::Continue(()),
        )
        .unwrap_err();
        assert!(
            matches!(err, IngestError::NotAuditLog { .. }),
            "{name}: {err}"
        );
        assert!(
            err.to_string()
                .contains("roleManagement/directory/roleAssignmentSchedule"),
            "{err}"
        );
    }
}

#[test]
fn real_log_analytics_export() {
    let r = read(&data("entra-loganalytics/AADAuditEvents.json"));
    assert_eq!(r.report.format, Some(Format::LogAnalytics));
    assert_eq!((r.events.len(), r.rejects.len()), (4, 0));
    for e in &r.events {
        assert_eq!(e.action, Action::EntraAudit);
        assert_eq!(e.actor.as_deref(), Some("pgustavo@simulandlabs.com"));
        assert_eq!(
            e.tenant.as_deref(),
            Some("00000000-0000-0000-0000-000000000000")
        );
        assert!(e.raw.contains("\"SourceSystem\""), "raw is the row as read");
    }
    let e = &r.events[0];
    assert_eq!(
        e.event_code,
        "Update application – Certificates and secrets management"
    );
    assert_eq!(
        e.target.as_deref(),
        Some("11b49e19-2326-4be6-93cb-7f37439bbd81")
    );
    assert_eq!(e.target_name.as_deref(), Some("SimuLandApp"));
    assert_eq!(
        privtrail_model::format_time(e.time),
        "2021-08-02T13:29:25.983Z"
    );
    // The export repeats its first row: the same id, stored once by the store.
    assert_eq!(r.events[0].id, r.events[1].id);
    let grant = &r.events[3];
    assert_eq!(grant.event_code, "Add delegated permission grant");
    assert_eq!(grant.target_name.as_deref(), Some("Microsoft Graph"));
}

#[test]
fn log_analytics_csv_export() {
    let r = read(&fixture("entra/loganalytics_auditlogs.csv"));
    assert_eq!(r.report.format, Some(Format::LogAnalytics));
    assert_eq!((r.events.len(), r.rejects.len()), (6, 0), "{:?}", r.rejects);
    let act = &r.events[2];
    assert_eq!(act.action, Action::RoleActivated);
    assert_eq!(
        act.tenant.as_deref(),
        Some("8d5e2a1b-4c3f-4e6d-9a7b-0c1d2e3f4a5b")
    );
    assert_eq!(act.target.as_deref(), Some("alice@contoso.com"));
    assert_eq!(
        act.privilege_id.as_deref(),
        Some("62e90394-69f5-4237-9190-012177145e10")
    );
    assert!(act.expires_at.is_some());
    assert_eq!(r.events[3].via_pim, Some(true));
    assert!(privtrail_ingest::entra::same_change(
        &r.events[2],
        &r.events[3]
    ));
}

#[test]
fn azure_monitor_lines_and_records() {
    let r = read(&fixture("entra/azure_monitor.jsonl"));
    assert_eq!(r.report.format, Some(Format::AzureMonitor));
    assert_eq!(
        (r.events.len(), r.report.skipped, r.rejects.len()),
        (4, 1, 0)
    );
    assert_eq!(r.events[2].action, Action::RoleActivated);
    assert_eq!(
        r.events[2].tenant.as_deref(),
        Some("8d5e2a1b-4c3f-4e6d-9a7b-0c1d2e3f4a5b")
    );
    let r = read(&fixture("entra/azure_monitor_records.json"));
    assert_eq!(r.report.format, Some(Format::AzureMonitor));
    let actions: Vec<Action> = r.events.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            Action::RoleDeactivated,
            Action::RoleUnassigned,
            Action::RoleActivationRequested,
            Action::RoleActivationDenied
        ]
    );
}

#[test]
fn gzipped_arrays_and_pages_per_line() {
    let page: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("entra/pim_flows.json")).unwrap())
            .unwrap();
    let recs = page["value"].as_array().unwrap();
    // JSON lines of pages, gzipped.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for chunk in recs.chunks(10) {
        writeln!(gz, "{}", serde_json::json!({"value": chunk})).unwrap();
    }
    let (_d, path) = temp("pages.jsonl.gz", &gz.finish().unwrap());
    let r = read(&path);
    assert_eq!((r.report.format, r.events.len()), (Some(Format::Graph), 23));
    // An array of pages, pretty-printed; and a bare array of records.
    let pages: Vec<_> = recs
        .chunks(5)
        .map(|c| serde_json::json!({"value": c}))
        .collect();
    let (_d, path) = temp(
        "pages.json",
        serde_json::to_string_pretty(&pages).unwrap().as_bytes(),
    );
    assert_eq!(read(&path).events.len(), 23);
    let (_d, path) = temp(
        "array.json",
        serde_json::to_string_pretty(recs).unwrap().as_bytes(),
    );
    assert_eq!(read(&path).events.len(), 23);
}

#[test]
fn malformed_records_are_rejects_with_location() {
    let body = br#"{"value": [
  {"id": "a", "activityDisplayName": "Add member to role", "activityDateTime": "2024-01-01T00:00:00Z"},
  {"id": "b", "activityDisplayName": "Add member to role", "activityDateTime": "not a time"},
  {"id": "c", "activityDisplayName": "Update user", "activityDateTime": 2024-01-01},
  {"id": "d", "activityDisplayName": "Update user", "activityDateTime": "2024-01-01T00:00:01Z"}
]}"#;
    let (_d, path) = temp("bad.json", body);
    let r = read_with(
        &path,
        &Options {
            format: Format::Graph,
            ..Options::default()
        },
    );
    assert_eq!(r.events.len(), 2);
    assert_eq!(r.rejects.len(), 2);
    assert_eq!(r.rejects[0].location, "line 3");
    assert!(
        r.rejects[0].reason.contains("activityDateTime"),
        "{:?}",
        r.rejects[0]
    );
    assert_eq!(r.rejects[1].location, "line 4");
    assert!(r.rejects[1].reason.contains("invalid JSON"));
    assert!(r.rejects[1].origin.ends_with("bad.json"));

    let lines = b"{\"Id\":\"x\",\"TenantId\":\"t\",\"ActivityDisplayName\":\"a\",\"ActivityDateTime\":\"2024-01-01T00:00:00Z\",\"InitiatedBy\":\"{oops\"}\n{broken\n{\"Id\":\"y\",\"TenantId\":\"t\",\"ActivityDisplayName\":\"a\",\"ActivityDateTime\":\"2024-01-01T00:00:00Z\"}\n";
    let (_d, path) = temp("la.json", lines);
    let r = read(&path);
    assert_eq!(r.events.len(), 1);
    let locs: Vec<&str> = r.rejects.iter().map(|j| j.location.as_str()).collect();
    assert_eq!(locs, ["line 1", "line 2"]);
    assert!(r.rejects[0].reason.contains("InitiatedBy"));

    let (_d, path) = temp("cut.json", &body[..body.len() - 120]);
    let r = read(&path);
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.report.error_count, 1, "{:?}", r.report.errors);
}

/// A Graph page of `n` records numbered from `first`, as one JSON line.
fn page_line(first: usize, n: usize) -> String {
    let recs: Vec<serde_json::Value> = (first..first + n)
        .map(|i| {
            serde_json::json!({
                "id": format!("rec-{i:06}"),
                "activityDisplayName": "Update user",
                "activityDateTime": "2024-01-01T00:00:00Z",
                "initiatedBy": {"user": {"userPrincipalName": "a@contoso.com"}},
                "targetResources": [], "additionalDetails": [],
            })
        })
        .collect();
    serde_json::json!({ "value": recs }).to_string()
}

#[test]
fn json_lines_parsed_ahead_come_out_in_order_with_their_rejects_in_place() {
    // Lines are parsed on a second thread: what comes out must be what one thread gave — every
    // record in file order, each reject naming its own line.
    let mut text = String::new();
    let mut next = 0;
    for line in 1..=60 {
        match line % 10 {
            3 => text.push_str("{broken\n"),
            7 => text.push('\n'),
            _ => {
                text.push_str(&page_line(next, 50));
                text.push('\n');
                next += 50;
            }
        }
    }
    let (_d, path) = temp("pages.jsonl", text.as_bytes());
    let r = read(&path);
    let ids: Vec<String> = r
        .events
        .iter()
        .map(|e| e.record_id.clone().unwrap())
        .collect();
    let want: Vec<String> = (0..next).map(|i| format!("rec-{i:06}")).collect();
    assert_eq!(ids, want);
    let locs: Vec<&str> = r.rejects.iter().map(|j| j.location.as_str()).collect();
    assert_eq!(
        locs,
        [
            "line 3", "line 13", "line 23", "line 33", "line 43", "line 53"
        ]
    );
}

#[test]
fn a_sink_that_stops_ends_the_reading_of_json_lines() {
    // 40 pages of 999 records; the sink stops after its first batch: the reader returns (the
    // parsing thread is not left waiting) without reading on to the end.
    let text: String = (0..40).map(|p| page_line(p * 999, 999) + "\n").collect();
    let (_d, path) = temp("pages.jsonl", text.as_bytes());
    let mut batches = 0;
    let mut events = 0;
    read_file(&path, &Options::default(), &|_| {}, &mut |b| {
        batches += 1;
        events += b.events.len();
        std::ops::ControlFlow::Break(())
    })
    .unwrap();
    assert_eq!(batches, 1);
    assert!(events > 0 && events < 40 * 999, "{events}");
}

/// JSON lines of Graph pages go to the parsing thread in the buffer they were read into, and the
/// buffers come back for later lines: pages of different lengths in turn (a short line read into
/// a buffer a long one grew), lines of only whitespace (ASCII or not) skipped, an invalid line
/// reported with its number, every record stored once and in file order.
#[test]
fn json_lines_of_pages_in_reused_buffers_read_as_written() {
    let mut body = String::new();
    let mut want = Vec::new();
    for page in 0..24 {
        let records: Vec<String> = (0..(page % 4 + 1))
            .map(|k| {
                let id = format!("p{page}-r{k}");
                want.push(id.clone());
                // Long and short reasons in turn: lines of 100 bytes to 20 KB.
                let reason = "x".repeat(if page % 2 == 0 { 5_000 } else { 3 });
                format!(
                    r#"{{"id":"{id}","activityDisplayName":"Update user","activityDateTime":"2024-01-01T00:{:02}:{:02}Z","resultReason":"{reason}"}}"#,
                    page, k
                )
            })
            .collect();
        body.push_str(&format!(r#"{{"value":[{}]}}"#, records.join(",")));
        body.push('\n');
        match page {
            5 => body.push_str("   \t \n"),
            9 => body.push_str("\u{a0}\u{3000}\n"),
            13 => body.push_str("{\"value\":[{\"id\":\n"),
            _ => {}
        }
    }
    let (_d, path) = temp("pages.jsonl", body.as_bytes());
    let r = read(&path);
    let got: Vec<&str> = r
        .events
        .iter()
        .map(|e| e.record_id.as_deref().unwrap())
        .collect();
    assert_eq!(got, want);
    assert_eq!(r.rejects.len(), 1, "{:?}", r.rejects);
    // Page 13 is line 16 (two blank lines before it): the broken line after it is line 17.
    assert_eq!(r.rejects[0].location, "line 17");
    assert!(
        r.rejects[0].reason.contains("invalid JSON"),
        "{:?}",
        r.rejects[0]
    );
}
