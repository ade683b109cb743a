//! JSON lines (NXLog, Winlogbeat 6/8), Event XML, and damaged or unknown input.

mod common;

use std::io::Write;
use std::ops::ControlFlow;

use common::{data, fixture, read, read_with};
use privtrail_ingest::{Format, IngestError, Options, normalize_json_line, read_file};
use privtrail_model::{Action, EventId, Outcome};

#[test]
fn nxlog_file() {
    let r = read(&data(
        "nxlog/empire_wmic_add_user_backdoor.security.jsonl.gz",
    ));
    assert_eq!(r.report.format, Some(Format::Nxlog));
    assert_eq!(r.report.records, 6138);
    assert_eq!(r.report.rejected, 0, "{:?}", r.rejects.first());
    assert_eq!(r.report.error_count, 0);
    assert_eq!(r.events.len(), 6138);
    let host = "WORKSTATION6.theshire.local";
    let member = "S-1-5-21-1969843730-2406867588-1543852148-1000";
    let group = "S-1-5-21-1969843730-2406867588-1543852148-513";

    let created = r.with_code("4720");
    assert_eq!(created.len(), 1);
    let c = created[0];
    assert_eq!(c.action, Action::AccountCreated);
    assert_eq!(c.target.as_deref(), Some(member));
    assert_eq!(c.target_name.as_deref(), Some("backdoor"));
    assert_eq!(c.actor.as_deref(), Some("THESHIRE\\pgustavo"));
    assert_eq!(c.host.as_deref(), Some(host));
    assert_eq!(c.id, EventId::windows(host, "Security", 56079));

    let added = r.with_code("4728");
    let removed = r.with_code("4729");
    assert_eq!((added.len(), removed.len()), (1, 1));
    for (e, action, rid) in [
        (added[0], Action::GroupMemberAdded, "56078"),
        (removed[0], Action::GroupMemberRemoved, "56081"),
    ] {
        assert_eq!(e.action, action);
        assert_eq!(e.record_id.as_deref(), Some(rid));
        assert_eq!(e.target.as_deref(), Some(member));
        assert_eq!(e.privilege.as_deref(), Some("None"));
        assert_eq!(e.privilege_id.as_deref(), Some(group));
        assert_eq!(e.scope.as_deref(), Some("WORKSTATION6"));
        assert!(!e.message.contains("privileged"), "{}", e.message);
    }
    // `@timestamp` (UTC) is preferred over the local `EventTime`.
    assert_eq!(added[0].time.to_rfc3339(), "2020-09-14T12:06:03.906+00:00");
    assert_eq!(r.with_code("4672").len(), 18);
    assert_eq!(r.with_code("4624").len(), 26);
    assert!(
        r.with_code("4672")
            .iter()
            .all(|e| e.action == Action::LogonSpecialPrivileges)
    );
    assert!(
        r.with_code("5156")
            .iter()
            .all(|e| e.action == Action::WindowsEvent)
    );
}

#[test]
fn winlogbeat6_file() {
    let r = read(&data(
        "winlogbeat6/empire_scm_dll_hijack_ikeext.security.jsonl.gz",
    ));
    assert_eq!(r.report.format, Some(Format::Winlogbeat));
    assert_eq!(r.report.records, 1212);
    assert_eq!(r.report.rejected, 0, "{:?}", r.rejects.first());
    let host = "HR001.shire.com";
    let member = "S-1-5-21-3594478387-3513325568-2589039918-1002";

    let users = r.with_code("4732");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].action, Action::GroupMemberAdded);
    assert_eq!(users[0].target.as_deref(), Some(member));
    assert_eq!(users[0].privilege.as_deref(), Some("Users"));
    assert_eq!(users[0].privilege_id.as_deref(), Some("S-1-5-32-545"));
    assert_eq!(users[0].scope.as_deref(), Some(host));
    assert_eq!(users[0].actor.as_deref(), Some("SHIRE\\HR001$"));
    assert_eq!(users[0].id, EventId::windows(host, "Security", 825578));

    let global = r.with_code("4728");
    assert_eq!(global.len(), 1);
    assert_eq!(
        global[0].privilege_id.as_deref(),
        Some("S-1-5-21-3594478387-3513325568-2589039918-513")
    );
    let created = r.with_code("4720");
    assert_eq!(created[0].target.as_deref(), Some(member));
    assert_eq!(created[0].target_name.as_deref(), Some("demo"));
    assert_eq!(r.with_code("4672").len(), 24);
    assert_eq!(r.with_code("4624").len(), 26);
}

#[test]
fn winlogbeat8_fixture() {
    let r = read(&fixture("winlogbeat8.jsonl"));
    assert_eq!(r.report.format, Some(Format::Winlogbeat));
    assert_eq!(r.report.records, 4);
    assert_eq!(r.report.skipped, 1, "Application channel");
    assert_eq!(r.events.len(), 3);
    let add = &r.events[0];
    assert_eq!(add.action, Action::GroupMemberAdded);
    assert_eq!(add.actor.as_deref(), Some("CONTOSO\\svc-rmm"));
    assert_eq!(add.privilege_id.as_deref(), Some("S-1-5-32-544"));
    assert_eq!(add.record_id.as_deref(), Some("90210"));
    assert_eq!(
        add.id,
        EventId::windows("srv01.contoso.local", "Security", 90210)
    );
    assert_eq!(add.time.to_rfc3339(), "2024-03-01T10:00:00.123+00:00");
    let failed = &r.events[1];
    assert_eq!(failed.action, Action::Logon);
    assert_eq!(failed.outcome, Outcome::Failure);
    assert_eq!(failed.target_name.as_deref(), Some("SRV01\\administrator"));
    let cleared = &r.events[2];
    assert_eq!(cleared.action, Action::AuditLogCleared);
    assert_eq!(cleared.actor.as_deref(), Some("CONTOSO\\Administrator"));
    // raw is the line itself
    let v: serde_json::Value = serde_json::from_str(&add.raw).expect("raw json");
    assert_eq!(v["winlog"]["record_id"], "90210");
}

#[test]
fn event_xml_fixture_and_wrapped() {
    let r = read(&fixture("wevtutil.xml"));
    assert_eq!(r.report.format, Some(Format::EventXml));
    assert_eq!(r.events.len(), 3, "{:?}", r.report);
    let add = &r.events[0];
    assert_eq!(add.action, Action::GroupMemberAdded);
    assert_eq!(add.actor.as_deref(), Some("CONTOSO\\R&D admin"));
    assert_eq!(
        add.id,
        EventId::windows("ws42.contoso.local", "Security", 777)
    );
    let raw: serde_json::Value = serde_json::from_str(&add.raw).expect("raw json");
    assert_eq!(raw["Event"]["System"]["EventID"], 4732);
    assert_eq!(
        raw["Event"]["System"]["Provider"]["#attributes"]["Name"],
        "Microsoft-Windows-Security-Auditing"
    );
    assert_eq!(raw["Event"]["EventData"]["TargetSid"], "S-1-5-32-544");
    let rm = &r.events[1];
    assert_eq!(rm.action, Action::GroupMemberRemoved);
    assert!(!rm.raw.contains("RenderingInfo"));
    assert_eq!(r.events[2].action, Action::AuditLogCleared);
    assert_eq!(r.events[2].actor.as_deref(), Some("CONTOSO\\Administrator"));

    // The same records wrapped in <Events> after a declaration, all on one line.
    let text = std::fs::read_to_string(fixture("wevtutil.xml")).expect("fixture");
    let dir = tempfile::tempdir().expect("tmp");
    let wrapped = dir.path().join("wrapped.xml");
    std::fs::write(
        &wrapped,
        format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Events>{}</Events>",
            text.replace('\n', "")
        ),
    )
    .expect("write");
    let w = read(&wrapped);
    assert_eq!(
        w.events.iter().map(|e| &e.id).collect::<Vec<_>>(),
        r.events.iter().map(|e| &e.id).collect::<Vec<_>>()
    );
}

#[test]
fn xml_and_evtx_give_the_same_id() {
    let x = read_with(
        &data("evtx/security_event_1.xml"),
        &Options {
            format: Format::Auto,
            ..Options::default()
        },
    );
    assert_eq!(x.report.format, Some(Format::EventXml));
    assert_eq!(x.events.len(), 1);
    let e = read(&data("evtx/security.evtx"));
    let first = e
        .events
        .iter()
        .find(|ev| ev.record_id.as_deref() == Some("1"))
        .expect("record 1");
    assert_eq!(x.events[0].id, first.id);
    assert_eq!(x.events[0].event_code, "4608");
    assert_eq!(x.events[0].host, first.host);
    // The XML's time has microseconds, the EVTX's 100 ns ticks.
    assert!((x.events[0].time - first.time).num_microseconds() == Some(0));
}

#[test]
fn garbage_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("garbage.bin");
    std::fs::write(&path, b"\x00\x01\x02garbage that is no log at all").expect("write");
    let err = read_file(&path, &Options::default(), &|_| {}, &mut |_| {
        ControlFlow::Continue(())
    })
    .expect_err("garbage");
    assert!(matches!(err, IngestError::UnknownFormat { .. }));
    let msg = err.to_string();
    assert!(msg.contains("garbage.bin"), "{msg}");
    assert!(msg.contains("00 01 02"), "{msg}");

    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, b"\n  \n").expect("write");
    let err = read_file(&empty, &Options::default(), &|_| {}, &mut |_| {
        ControlFlow::Continue(())
    })
    .expect_err("empty");
    assert!(err.to_string().contains("empty.jsonl"));

    let missing = dir.path().join("missing.evtx");
    let err = read_file(&missing, &Options::default(), &|_| {}, &mut |_| {
        ControlFlow::Continue(())
    })
    .expect_err("missing");
    assert!(err.to_string().contains("missing.evtx"));

    // A forced format that does not fit: EVTX header unreadable.
    let forced = Options {
        format: Format::Evtx,
        ..Options::default()
    };
    let err = read_file(&path, &forced, &|_| {}, &mut |_| ControlFlow::Continue(()))
        .expect_err("not evtx");
    assert!(matches!(err, IngestError::Evtx { .. }), "{err}");
}

#[test]
fn truncated_gzip_keeps_the_good_lines() {
    let full = std::fs::read(data(
        "nxlog/empire_wmic_add_user_backdoor.security.jsonl.gz",
    ))
    .expect("read");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("cut.jsonl.gz");
    std::fs::write(&path, &full[..full.len() / 2]).expect("write");
    let r = read(&path);
    assert!(r.events.len() > 1000, "{}", r.events.len());
    assert!(r.events.len() < 6138);
    assert!(r.report.error_count >= 1);
    assert!(
        r.report.errors[0].contains("cut.jsonl.gz"),
        "{:?}",
        r.report.errors
    );
    assert!(
        r.report.errors[0].contains("line "),
        "{:?}",
        r.report.errors
    );
    // The line cut in half is a reject.
    assert!(r.rejects.len() <= 1);
}

#[test]
fn bad_json_line_is_a_reject_with_its_line_number() {
    let good = std::fs::read_to_string(fixture("winlogbeat8.jsonl")).expect("fixture");
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(2, "{\"winlog\": {\"event_id\": \"4732\", oops");
    lines.insert(4, "[1,2,3]");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad.jsonl");
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(lines.join("\n").as_bytes()).expect("write");
    drop(f);
    let r = read(&path);
    assert_eq!(r.events.len(), 3);
    assert_eq!(r.rejects.len(), 2);
    assert_eq!(r.rejects[0].location, "line 3");
    assert!(r.rejects[0].reason.contains("invalid JSON"));
    assert!(r.rejects[0].raw.contains("oops"));
    assert_eq!(r.rejects[1].location, "line 5");
    assert!(r.rejects[0].origin.ends_with("bad.jsonl"));
    assert_eq!(r.report.rejected, 2);
    assert_eq!(r.report.error_count, 0);
}

#[test]
fn truncated_xml_is_damage_and_the_rest_comes_out() {
    let text = std::fs::read_to_string(fixture("wevtutil.xml")).expect("fixture");
    let cut = &text[..text.len() - 200];
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("cut.xml");
    std::fs::write(&path, cut).expect("write");
    let r = read(&path);
    assert_eq!(r.events.len(), 2);
    assert_eq!(r.report.error_count, 1);
    assert_eq!(r.rejects.len(), 1);
    assert!(r.rejects[0].location.starts_with("offset "));

    // A broken record in the middle: the next one is still read.
    let broken = text.replacen("</EventData></Event>", "</EventDta></Event>", 1);
    std::fs::write(&path, broken).expect("write");
    let r = read(&path);
    assert_eq!(r.events.len(), 2, "{:?}", r.report);
    assert_eq!(r.rejects.len(), 1);
}

#[test]
fn normalize_json_line_accepts_every_shape() {
    let opts = Options::default();
    let wlb8 = std::fs::read_to_string(fixture("winlogbeat8.jsonl")).expect("fixture");
    let first = wlb8.lines().next().expect("line");
    let e = normalize_json_line(first, &opts)
        .expect("ok")
        .expect("selected");
    assert_eq!(e.action, Action::GroupMemberAdded);
    let app = wlb8.lines().last().expect("line");
    assert!(normalize_json_line(app, &opts).expect("ok").is_none());

    let evtx_json = std::fs::read_to_string(data("evtx/security_event_1.json")).expect("sample");
    let one_line: serde_json::Value = serde_json::from_str(&evtx_json).expect("json");
    let e = normalize_json_line(&one_line.to_string(), &opts)
        .expect("ok")
        .expect("selected");
    assert_eq!(e.id, EventId::windows("37L4247F27-25", "Security", 1));

    let err = normalize_json_line("{\"hello\":1}", &opts).expect_err("shape");
    assert!(matches!(err, IngestError::Malformed { .. }));
    let forced = Options {
        format: Format::Nxlog,
        ..Options::default()
    };
    assert!(normalize_json_line(first, &forced).is_err());
}

#[test]
fn format_names_round_trip() {
    for f in Format::ALL {
        assert_eq!(f.to_string().parse::<Format>().expect("parse"), f);
    }
    assert_eq!("event-xml".parse::<Format>().expect("x"), Format::EventXml);
    assert!("csv".parse::<Format>().is_err());
    let d = Options::default();
    assert_eq!(d.format, Format::Auto);
    assert_eq!(d.batch_size, 8192);
    assert_eq!(d.channels, vec!["Security", "System", "ForwardedEvents"]);
}
