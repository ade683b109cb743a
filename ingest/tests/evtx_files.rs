//! The real EVTX files of the shared test data.

mod common;

use std::ops::ControlFlow;

use common::{data, read};
use privtrail_ingest::{Format, Options, read_file};
use privtrail_model::{Action, EventId, Outcome};

const ADMINS: &str = "S-1-5-32-544";
const M1000: &str = "S-1-5-21-2603537626-3982775912-406486804-1000";
const M1001: &str = "S-1-5-21-2603537626-3982775912-406486804-1001";

#[test]
fn security_evtx_counts_and_memberships() {
    let r = read(&data("evtx/security.evtx"));
    assert_eq!(r.report.format, Some(Format::Evtx));
    assert_eq!(r.report.records, 2261);
    assert_eq!(r.report.skipped, 0);
    assert_eq!(r.report.rejected, 0);
    assert_eq!(r.report.error_count, 0, "{:?}", r.report.errors);
    assert_eq!(r.events.len(), 2261);

    let counts = r.count_code();
    for (code, n) in [
        ("4624", 583),
        ("4672", 459),
        ("4634", 11),
        ("4647", 36),
        ("4648", 45),
        ("4720", 2),
        ("4728", 2),
        ("4732", 6),
        ("4733", 1),
        ("4735", 36),
        ("4738", 10),
    ] {
        assert_eq!(counts.get(code).copied(), Some(n), "event {code}");
    }
    let by_action = |a: Action| r.events.iter().filter(|e| e.action == a).count();
    assert_eq!(by_action(Action::LogonSpecialPrivileges), 459);
    assert_eq!(by_action(Action::Logon), 583);
    assert_eq!(by_action(Action::Logoff), 11 + 36);
    assert_eq!(by_action(Action::LogonExplicitCredentials), 45);
    assert_eq!(by_action(Action::AccountCreated), 2);

    let admin_adds: Vec<_> = r
        .with_code("4732")
        .into_iter()
        .filter(|e| e.action == Action::GroupMemberAdded)
        .filter(|e| e.privilege_id.as_deref() == Some(ADMINS))
        .map(|e| {
            (
                e.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                e.target.clone().unwrap_or_default(),
                e.actor.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        admin_adds,
        vec![
            (
                "2016-07-08T18:15:23.429226300Z".to_owned(),
                M1000.to_owned(),
                "WORKGROUP\\WIN-03DLIIOFRRA$".to_owned()
            ),
            (
                "2016-07-09T22:25:47.620905700Z".to_owned(),
                M1001.to_owned(),
                "WIN-03DLIIOFRRA\\fsir".to_owned()
            ),
            (
                "2016-07-16T00:18:31.395490600Z".to_owned(),
                M1000.to_owned(),
                "WIN-03DLIIOFRRA\\archir".to_owned()
            ),
        ]
    );
    for e in r.with_code("4732") {
        assert_eq!(e.action, Action::GroupMemberAdded);
        if e.privilege_id.as_deref() == Some(ADMINS) {
            assert_eq!(e.privilege.as_deref(), Some("Administrators"));
            assert_eq!(e.scope.as_deref(), Some("WIN-03DLIIOFRRA"));
            assert!(e.message.ends_with("[privileged]"), "{}", e.message);
        } else {
            assert!(
                matches!(
                    e.privilege_id.as_deref(),
                    Some("S-1-5-32-545" | "S-1-5-32-559")
                ),
                "{:?}",
                e.privilege_id
            );
            assert!(!e.message.contains("privileged"), "{}", e.message);
        }
    }
    let removed = r.with_code("4733");
    assert_eq!(removed.len(), 1);
    let rm = removed[0];
    assert_eq!(rm.action, Action::GroupMemberRemoved);
    assert_eq!(rm.privilege_id.as_deref(), Some(ADMINS));
    assert_eq!(rm.target.as_deref(), Some(M1000));
    assert_eq!(
        rm.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "2016-07-09T22:29:34.548521900Z"
    );
    assert_eq!(rm.actor.as_deref(), Some("WIN-03DLIIOFRRA\\fsir"));

    // Every event: windows source, host set, id from computer + channel + record id, raw is the
    // crate's JSON of the record.
    for e in &r.events {
        let host = e.host.as_deref().expect("host");
        let rid: u64 = e
            .record_id
            .as_deref()
            .expect("record id")
            .parse()
            .expect("n");
        assert_eq!(e.id, EventId::windows(host, "Security", rid));
        assert!(e.raw.starts_with("{\"Event\":"));
    }
    let special = r.with_code("4672")[0];
    assert!(
        !special
            .privilege
            .as_deref()
            .expect("privileges")
            .contains(char::is_control)
    );
}

#[test]
fn quick_add_remove_on_jump01() {
    let r = read(&data(
        "evtx/ID4732-4733-Quick added-removed user from local group.evtx",
    ));
    let member = "S-1-5-21-1470532092-3758209836-3742276719-1001";
    let admin: Vec<_> = r
        .events
        .iter()
        .filter(|e| {
            e.privilege_id.as_deref() == Some(ADMINS) && e.target.as_deref() == Some(member)
        })
        .collect();
    assert_eq!(admin.len(), 2);
    let (add, rm) = (admin[0], admin[1]);
    assert_eq!(add.action, Action::GroupMemberAdded);
    assert_eq!(rm.action, Action::GroupMemberRemoved);
    assert_eq!(
        add.time
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "2020-07-12T05:14:30.976612700Z"
    );
    assert_eq!(
        rm.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "2020-07-12T05:15:26.679330500Z"
    );
    assert_eq!((rm.time - add.time).num_seconds(), 55); // 55.7 s: "56 s" rounded
    assert_eq!(add.host.as_deref(), Some("jump01.offsec.lan"));
    assert_eq!(add.scope.as_deref(), Some("jump01.offsec.lan"));
    let backup: Vec<_> = r
        .events
        .iter()
        .filter(|e| e.privilege_id.as_deref() == Some("S-1-5-32-551"))
        .map(|e| e.action)
        .collect();
    assert_eq!(
        backup,
        vec![Action::GroupMemberAdded, Action::GroupMemberRemoved]
    );
    assert_eq!(r.with_code("4732").len(), 3);
    assert_eq!(r.with_code("4733").len(), 2);
}

#[test]
fn sensitive_domain_groups() {
    let r = read(&data(
        "evtx/ID4728-4756-Member added to sensitive domain groups.evtx",
    ));
    let groups: Vec<_> = r
        .events
        .iter()
        .filter(|e| e.action == Action::GroupMemberAdded)
        .map(|e| {
            assert!(e.message.ends_with("[privileged]"), "{}", e.message);
            assert_eq!(e.scope.as_deref(), Some("OFFSEC"));
            e.privilege.clone().unwrap_or_default()
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            "Domain Admins",
            "Enterprise Admins",
            "Enterprise Key Admins",
            "Schema Admins"
        ]
    );
}

#[test]
fn hidden_user_creation() {
    let r = read(&data("evtx/ID472, 4728 Hidden user creation.evtx"));
    let add = r.with_code("4732");
    let rm = r.with_code("4733");
    assert_eq!((add.len(), rm.len()), (1, 1));
    assert_eq!(add[0].privilege_id.as_deref(), Some(ADMINS));
    assert_eq!(rm[0].privilege_id.as_deref(), Some(ADMINS));
    assert!((rm[0].time - add[0].time).num_milliseconds() < 10);
    assert_eq!(r.with_code("4720")[0].action, Action::AccountCreated);
    assert_eq!(r.with_code("4729")[0].action, Action::GroupMemberRemoved);
    assert_eq!(r.with_code("1102")[0].action, Action::AuditLogCleared);
}

#[test]
fn log_cleared_1102_and_104() {
    let r = read(&data("evtx/ID104-1102-Event log cleared.evtx"));
    assert_eq!(r.report.records, 91);
    let sec = r.with_code("1102");
    assert_eq!(sec.len(), 1);
    assert_eq!(sec[0].action, Action::AuditLogCleared);
    assert_eq!(sec[0].actor.as_deref(), Some("OFFSEC\\admmig"));
    assert!(
        sec[0]
            .message
            .starts_with("Security log cleared by OFFSEC\\admmig"),
        "{}",
        sec[0].message
    );
    let sys = r.with_code("104");
    assert_eq!(sys.len(), 90);
    for e in &sys {
        assert_eq!(e.action, Action::AuditLogCleared);
        assert!(e.message.contains("log cleared"), "{}", e.message);
        assert_eq!(e.privilege, None);
    }
    assert!(sys.iter().any(|e| {
        e.message
            .starts_with("System log cleared by OFFSEC\\admmig")
    }));
}

#[test]
fn audit_policy_changed_4719() {
    let r = read(&data("evtx/ID4719-Audit policy deactivation.evtx"));
    assert_eq!(r.events.len(), 30);
    assert!(
        r.events
            .iter()
            .all(|e| e.action == Action::AuditPolicyChanged
                && e.actor.as_deref() == Some("OFFSEC\\admmig"))
    );
}

#[test]
fn damaged_evtx_keeps_readable_records() {
    let r = read(&data("evtx/sample_with_a_bad_chunk_magic.evtx"));
    assert_eq!(r.report.records, 301);
    assert_eq!(
        r.report.skipped, 301,
        "channel AppXDeployment is not selected"
    );
    assert!(r.events.is_empty());
    // The README says 57 chunk errors; evtx 0.15.1 reports 3 (two chunks with a zeroed magic, one
    // unreadable record): the other chunks are empty and skipped silently.
    assert_eq!(r.report.error_count, 3, "{:#?}", r.report.errors);
    assert!(
        r.report
            .errors
            .iter()
            .all(|m| m.contains("sample_with_a_bad_chunk_magic.evtx"))
    );
    assert!(r.report.errors.iter().any(|m| m.contains("chunk 10")));

    // With every channel selected, the records come out as events.
    let all = common::read_with(
        &data("evtx/sample_with_a_bad_chunk_magic.evtx"),
        &Options {
            channels: vec![],
            ..Options::default()
        },
    );
    // One of the 301 is an empty shell (EventID 0, no TimeCreated, no Channel): a reject.
    assert_eq!(all.events.len(), 300);
    assert_eq!(all.rejects.len(), 1);
    assert_eq!(all.rejects[0].location, "record 46741");
    assert!(all.rejects[0].reason.contains("TimeCreated"));
    assert!(all.events.iter().all(|e| e.action == Action::WindowsEvent));
}

#[test]
fn truncated_evtx_reports_damage() {
    let bytes = std::fs::read(data("evtx/security.evtx")).expect("read");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("truncated.evtx");
    std::fs::write(&path, &bytes[..70_000]).expect("write");
    let r = read(&path);
    assert!(r.report.records > 0);
    assert_eq!(r.report.records as usize, r.events.len());
    assert!(r.report.error_count >= 1);
    assert!(
        r.report.errors[0].contains("truncated"),
        "{:?}",
        r.report.errors
    );
    assert!(r.report.errors[0].contains("truncated.evtx"));
}

#[test]
fn progress_reaches_the_file_size_and_sink_can_stop() {
    let path = data("evtx/security.evtx");
    let len = std::fs::metadata(&path).expect("meta").len();
    let last = std::cell::Cell::new(0u64);
    let mut batches = 0;
    let opts = Options {
        batch_size: 100,
        ..Options::default()
    };
    let report = read_file(
        &path,
        &opts,
        &|p| {
            assert!(p >= last.get(), "progress goes forward");
            last.set(p);
        },
        &mut |b| {
            assert!(b.events.len() <= 100);
            batches += 1;
            if batches == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        },
    )
    .expect("read");
    assert_eq!(batches, 3);
    assert!(report.records < 2261);
    assert!(last.get() <= len);
}

#[test]
fn failed_logons_have_failure_outcome() {
    let r = read(&data("evtx/security.evtx"));
    assert!(
        r.events
            .iter()
            .filter(|e| e.event_code == "4624")
            .all(|e| e.outcome == Outcome::Success)
    );
}
