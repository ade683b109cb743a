//! Endpoint elevation tags (SPEC §1.3) through `read_file`: `reg query` text (ASCII and UTF-16LE
//! with BOM, CRLF and LF, host from a header line, from a remote key path or from `Options::host`)
//! and JSON tags (object, lines, array); bad times are rejects, a file without host is an error, and
//! the same tag read twice has the same id.

#![allow(clippy::unwrap_used)]

mod common;

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use common::{fixture, read, read_with};
use privtrail_ingest::{Format, IngestError, Options, read_file};
use privtrail_model::{Action, EventId, Source};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn with_host(host: &str) -> Options {
    Options {
        host: Some(host.to_owned()),
        ..Options::default()
    }
}

fn read_err(path: &std::path::Path, opts: &Options) -> IngestError {
    read_file(path, opts, &|_| {}, &mut |_| ControlFlow::Continue(())).unwrap_err()
}

#[test]
fn reg_query_with_host_header() {
    let r = read(&fixture("tags/reg_query_host_header.txt"));
    assert_eq!(r.report.format, Some(Format::Regtag));
    // The `History` subkey is listed without values: no record.
    assert_eq!(
        (r.report.records, r.events.len(), r.rejects.len()),
        (1, 1, 0)
    );
    assert_eq!(r.report.error_count, 0, "{:?}", r.report.errors);
    let e = &r.events[0];
    assert_eq!(e.action, Action::EndpointAdminTag);
    assert_eq!(e.source, Source::Endpoint);
    assert_eq!(e.host.as_deref(), Some("WS-0142.contoso.local"));
    assert_eq!(e.scope.as_deref(), Some("WS-0142.contoso.local"));
    assert_eq!(e.time, t("2026-11-20T08:00:00Z"));
    assert_eq!(e.expires_at, Some(t("2026-11-20T10:00:00Z")));
    assert_eq!(
        e.target.as_deref(),
        Some("S-1-5-21-3623811015-3361044348-30300820-1104")
    );
    assert_eq!(e.target_name.as_deref(), Some("CONTOSO\\alice"));
    assert_eq!(e.actor.as_deref(), Some("CONTOSO\\svc-rmm"));
    assert_eq!(e.justification.as_deref(), Some("CHG-1234"));
    assert_eq!(e.privilege.as_deref(), Some("Administrators"));
    assert_eq!(e.privilege_id.as_deref(), Some("S-1-5-32-544"));
    assert_eq!(e.event_code, "AdminAccessAudit");
    assert_eq!(
        e.message,
        "tag on WS-0142: alice granted local admin by svc-rmm until 2026-11-20T10:00:00Z (CHG-1234)"
    );
    assert_eq!(
        e.id,
        EventId::native(
            Source::Endpoint,
            "WS-0142.contoso.local",
            e.record_id.as_deref().unwrap()
        )
    );
    let raw: serde_json::Value = serde_json::from_str(&e.raw).unwrap();
    assert_eq!(raw["host"], "WS-0142.contoso.local");
    assert_eq!(
        raw["key"],
        "HKEY_LOCAL_MACHINE\\SOFTWARE\\Org\\AdminAccessAudit"
    );
    assert_eq!(raw["GrantedTo"], "CONTOSO\\alice");
    // A host in the file wins over --host.
    let r = read_with(
        &fixture("tags/reg_query_host_header.txt"),
        &with_host("OTHER"),
    );
    assert_eq!(r.events[0].host.as_deref(), Some("WS-0142.contoso.local"));
}

#[test]
fn reg_query_utf16_with_host_from_options() {
    let path = fixture("tags/reg_query_utf16le.txt");
    let err = read_err(&path, &Options::default());
    assert!(matches!(err, IngestError::NoHost { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("reg_query_utf16le.txt"), "{msg}");
    assert!(msg.contains("--host"), "{msg}");
    assert!(msg.contains("# host:"), "{msg}");

    let r = read_with(&path, &with_host("WS-0150"));
    assert_eq!(r.report.format, Some(Format::Regtag));
    // Version-only parent key: skipped; bob and dave: events; carol's bad ExpiresAt: a reject.
    assert_eq!(r.report.records, 4);
    assert_eq!(r.report.skipped, 1);
    assert_eq!((r.events.len(), r.rejects.len()), (2, 1));
    let bob = &r.events[0];
    assert_eq!(bob.host.as_deref(), Some("WS-0150"));
    assert_eq!(bob.target.as_deref(), Some("CONTOSO\\bob"));
    assert_eq!(bob.time, t("2026-11-20T09:15:00Z"));
    assert_eq!(bob.expires_at, Some(t("2026-11-20T11:15:00Z")));
    assert_eq!(bob.justification.as_deref(), Some("printer driver install"));
    let raw: serde_json::Value = serde_json::from_str(&bob.raw).unwrap();
    assert_eq!(raw["ExpiresAt"], "0x6b002bb4");
    let dave = &r.events[1];
    assert_eq!(dave.time, t("2026-11-21T07:30:00Z"));
    assert_eq!(dave.expires_at, Some(t("2026-11-21T08:30:00Z")));
    assert_eq!(dave.justification, None);
    let rej = &r.rejects[0];
    assert_eq!(rej.location, "line 15");
    assert!(
        rej.reason.starts_with("ExpiresAt: unrecognized time"),
        "{}",
        rej.reason
    );
    assert!(rej.origin.ends_with("reg_query_utf16le.txt"));
    assert!(rej.raw.contains("CONTOSO\\carol"), "{}", rej.raw);
}

#[test]
fn reg_query_remote_key_paths() {
    let r = read(&fixture("tags/reg_query_remote.txt"));
    assert_eq!(r.report.format, Some(Format::Regtag));
    let hosts: Vec<_> = r.events.iter().map(|e| e.host.as_deref()).collect();
    assert_eq!(hosts, vec![Some("WS-0200"), Some("WS-0201")]);
    assert_eq!(
        r.events[1].message.split(':').next(),
        Some("tag on WS-0201")
    );
}

#[test]
fn reg_query_without_host() {
    let path = fixture("tags/reg_query_no_host.txt");
    let err = read_err(&path, &Options::default());
    assert!(
        err.to_string()
            .contains("reg_query_no_host.txt: the endpoint tags name no host")
    );
    let r = read_with(&path, &with_host("WS-0142.contoso.local"));
    assert_eq!(r.events.len(), 1);
}

#[test]
fn json_object_dedupes_with_reg_query() {
    let json = read(&fixture("tags/tag_object.json"));
    assert_eq!(json.report.format, Some(Format::Regtag));
    assert_eq!((json.events.len(), json.rejects.len()), (1, 0));
    let reg = read(&fixture("tags/reg_query_host_header.txt"));
    let (a, b) = (&json.events[0], &reg.events[0]);
    assert_eq!(a.id, b.id);
    assert_eq!(a.record_id, b.record_id);
    assert_eq!(a.message, b.message);
    // Read again later: the same id, another ingested_at.
    let again = read(&fixture("tags/tag_object.json"));
    assert_eq!(again.events[0].id, a.id);
}

#[test]
fn json_lines() {
    let path = fixture("tags/tags.jsonl");
    let r = read(&path);
    assert_eq!(r.report.format, Some(Format::Regtag));
    let hosts: Vec<_> = r.events.iter().map(|e| e.host.as_deref()).collect();
    assert_eq!(hosts, vec![Some("WS-0300"), Some("WS-0301")]);
    assert_eq!(r.events[0].time, t("2026-11-23T08:00:00Z"));
    assert_eq!(r.events[0].expires_at, Some(t("2026-11-23T09:00:00Z")));
    assert_eq!(r.events[0].justification.as_deref(), Some("CHG-2000"));
    assert_eq!(r.events[1].time, t("2026-11-23T08:00:00Z"));
    assert_eq!(r.events[1].expires_at, Some(t("2026-11-23T10:00:00Z")));
    let rejects: Vec<(&str, &str)> = r
        .rejects
        .iter()
        .map(|x| (x.location.as_str(), x.reason.as_str()))
        .collect();
    assert_eq!(rejects.len(), 4, "{rejects:?}");
    assert_eq!(rejects[0].0, "line 4");
    assert!(
        rejects[0]
            .1
            .starts_with("LastAdminGranted: unrecognized time \"yesterday\"")
    );
    assert_eq!(rejects[1].0, "line 5");
    assert!(rejects[1].1.starts_with("invalid JSON"));
    assert_eq!(rejects[2].0, "line 6");
    assert!(rejects[2].1.contains("names no host"));
    assert_eq!(rejects[3].0, "line 7");
    assert!(rejects[3].1.starts_with("not an admin tag"));
    // With --host the tag without one is read.
    let r = read_with(&path, &with_host("WS-0999"));
    assert_eq!((r.events.len(), r.rejects.len()), (3, 3));
    assert_eq!(r.events[2].host.as_deref(), Some("WS-0999"));
    assert_eq!(r.events[2].target.as_deref(), Some("CONTOSO\\judy"));
}

#[test]
fn json_array() {
    let r = read(&fixture("tags/tags_array.json"));
    assert_eq!(r.report.format, Some(Format::Regtag));
    assert_eq!((r.events.len(), r.rejects.len()), (2, 1));
    assert_eq!(r.events[1].target.as_deref(), Some("S-1-5-21-1-2-3-1200"));
    assert_eq!(r.events[1].target_name, None);
    assert_eq!(r.rejects[0].location, "record 3");
    assert!(
        r.rejects[0]
            .reason
            .starts_with("ExpiresAt: unrecognized time")
    );
    assert!(r.rejects[0].raw.contains("WS-0402"));
}

#[test]
fn format_name_forcing_and_detection() {
    assert_eq!("regtag".parse::<Format>().unwrap(), Format::Regtag);
    assert_eq!(Format::Regtag.to_string(), "regtag");
    assert!(
        "nope"
            .parse::<Format>()
            .unwrap_err()
            .to_string()
            .contains("regtag")
    );
    // Forced: the same result as detected.
    let opts = Options {
        format: Format::Regtag,
        ..Options::default()
    };
    let r = read_with(&fixture("tags/reg_query_remote.txt"), &opts);
    assert_eq!(r.events.len(), 2);
    // JSON without tag keys, and text that is not `reg query`, are not tags.
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("a.json", &b"{\"host\":\"h\",\"GrantedTo\":\"x\"}"[..]),
        (
            "b.txt",
            b"hello\r\nHKLM\\SOFTWARE\\Org\r\n    A    REG_SZ    b\r\n",
        ),
        ("c.txt", b"HKLM\\SOFTWARE\\Org\r\n"),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let err = read_err(&p, &Options::default());
        assert!(
            matches!(err, IngestError::UnknownFormat { .. }),
            "{name}: {err}"
        );
    }
}

#[test]
fn gzip_and_utf8_bom() {
    use std::io::Write;
    let text = std::fs::read(fixture("tags/reg_query_host_header.txt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("tags.txt.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&text).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let bom = dir.path().join("bom.txt");
    std::fs::write(&bom, [&b"\xef\xbb\xbf"[..], &text].concat()).unwrap();
    let want = read(&fixture("tags/reg_query_host_header.txt")).events[0]
        .id
        .clone();
    for p in [gz, bom] {
        let r = read(&p);
        assert_eq!(r.report.format, Some(Format::Regtag));
        assert_eq!(r.events[0].id, want);
    }
}

/// `contrib/windows/Grant-TemporaryAdmin.ps1` writes these values, in this order, in the invariant
/// culture; the fixture is `reg query "HKLM\SOFTWARE\Org\AdminAccessAudit"` after it ran. If the
/// script's value names or time format change, this must change with them.
#[test]
fn the_grant_scripts_tag_reads_back_as_written() {
    let script = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../contrib/windows/Grant-TemporaryAdmin.ps1"),
    )
    .unwrap();
    // What the fixture assumes about the script: its value names (the `$values` table it writes
    // into the key), their order and the time format.
    let block = script
        .split_once("$values = [ordered]@{")
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(b, _)| b)
        .unwrap();
    let names: Vec<&str> = block
        .lines()
        .filter_map(|l| l.split_once('=').map(|(n, _)| n.trim()))
        .collect();
    assert_eq!(
        names,
        [
            "LastAdminGranted",
            "ExpiresAt",
            "GrantedTo",
            "GrantedToSid",
            "GrantedBy",
            "Ticket",
            "Reason",
            "Host"
        ]
    );
    assert!(script.contains("$TimeFormat = 'yyyy-MM-ddTHH:mm:ssZ'"));

    let r = read(&fixture("tags/reg_query_grant_script.txt"));
    assert_eq!(r.report.format, Some(Format::Regtag));
    assert_eq!(
        (r.report.records, r.events.len(), r.rejects.len()),
        (1, 1, 0)
    );
    let e = &r.events[0];
    assert_eq!(e.action, Action::EndpointAdminTag);
    assert_eq!(e.host.as_deref(), Some("WS-0142.contoso.local"));
    assert_eq!(e.time, t("2026-11-30T09:00:00Z"));
    assert_eq!(e.expires_at, Some(t("2026-11-30T11:00:00Z")));
    assert_eq!(
        e.target.as_deref(),
        Some("S-1-5-21-3623811015-3361044348-30300820-1104")
    );
    assert_eq!(e.target_name.as_deref(), Some("CONTOSO\\alice"));
    assert_eq!(e.actor.as_deref(), Some("CONTOSO\\helpdesk1"));
    assert_eq!(e.privilege_id.as_deref(), Some("S-1-5-32-544"));
    assert!(
        e.justification
            .as_deref()
            .unwrap_or("")
            .contains("CHG-4711")
    );
}
