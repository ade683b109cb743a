use super::*;
use crate::windows::record::Fields;

fn rec<'a>(
    provider: &'a str,
    event_id: u32,
    channel: &'a str,
    data: &[(&'a str, &'a str)],
) -> WinRecord<'a> {
    WinRecord {
        provider: provider.into(),
        event_id,
        channel: channel.into(),
        computer: "WIN-03DLIIOFRRA".into(),
        record_id: 42,
        time: DateTime::parse_from_rfc3339("2016-07-09T22:25:47.6209057Z")
            .expect("time")
            .with_timezone(&Utc),
        audit_failure: false,
        data: data.iter().copied().collect::<Fields>(),
        raw: r#"{"x":1}"#.into(),
    }
}

fn sec(event_id: u32, data: &[(&str, &str)]) -> Event {
    normalize(
        rec(SECURITY_AUDITING, event_id, "Security", data),
        &[],
        Utc::now(),
    )
}

const MEMBERSHIP: [(&str, &str); 8] = [
    ("MemberName", "-"),
    ("MemberSid", "S-1-5-21-2603537626-3982775912-406486804-1001"),
    ("TargetUserName", "Administrators"),
    ("TargetDomainName", "Builtin"),
    ("TargetSid", "S-1-5-32-544"),
    (
        "SubjectUserSid",
        "S-1-5-21-2603537626-3982775912-406486804-1000",
    ),
    ("SubjectUserName", "fsir"),
    ("SubjectDomainName", "WIN-03DLIIOFRRA"),
];

#[test]
fn local_group_member_added_to_administrators() {
    let e = sec(4732, &MEMBERSHIP);
    assert_eq!(e.action, Action::GroupMemberAdded);
    assert_eq!(e.event_code, "4732");
    assert_eq!(e.record_id.as_deref(), Some("42"));
    assert_eq!(e.id, EventId::windows("WIN-03DLIIOFRRA", "Security", 42));
    assert_eq!(
        e.target.as_deref(),
        Some("S-1-5-21-2603537626-3982775912-406486804-1001")
    );
    assert_eq!(e.target_name, None, "`-` is no name");
    assert_eq!(e.privilege.as_deref(), Some("Administrators"));
    assert_eq!(e.privilege_id.as_deref(), Some("S-1-5-32-544"));
    assert_eq!(e.actor.as_deref(), Some("WIN-03DLIIOFRRA\\fsir"));
    assert_eq!(e.scope.as_deref(), Some("WIN-03DLIIOFRRA"));
    assert_eq!(e.host.as_deref(), Some("WIN-03DLIIOFRRA"));
    assert_eq!(e.source, Source::Windows);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(
        e.message,
        "WIN-03DLIIOFRRA\\fsir added S-1-5-21-2603537626-3982775912-406486804-1001 to \
         Administrators (S-1-5-32-544) on WIN-03DLIIOFRRA [privileged]"
    );
    assert_eq!(e.raw, r#"{"x":1}"#);
}

#[test]
fn removal_and_domain_groups() {
    let e = sec(4733, &MEMBERSHIP);
    assert_eq!(e.action, Action::GroupMemberRemoved);
    assert!(e.message.contains(" removed ") && e.message.contains(" from Administrators"));

    let domain = [
        ("MemberName", "CN=honey-pot1,DC=offsec,DC=lan"),
        ("MemberSid", "S-1-5-21-1-2-3-1159"),
        ("TargetUserName", "Domain Admins"),
        ("TargetDomainName", "OFFSEC"),
        ("TargetSid", "S-1-5-21-1-2-3-512"),
        ("SubjectUserName", "lambda-user"),
        ("SubjectDomainName", "OFFSEC"),
    ];
    for (id, action) in [
        (4728, Action::GroupMemberAdded),
        (4729, Action::GroupMemberRemoved),
        (4756, Action::GroupMemberAdded),
        (4757, Action::GroupMemberRemoved),
    ] {
        let e = sec(id, &domain);
        assert_eq!(e.action, action, "{id}");
        assert_eq!(e.scope.as_deref(), Some("OFFSEC"), "{id}");
        assert_eq!(
            e.target_name.as_deref(),
            Some("CN=honey-pot1,DC=offsec,DC=lan")
        );
        assert!(e.message.ends_with("[privileged]"), "{}", e.message);
    }
}

#[test]
fn group_name_from_well_known_sid_and_unprivileged_groups() {
    let e = sec(
        4732,
        &[
            ("MemberSid", "S-1-5-21-1-2-3-1001"),
            ("TargetUserName", "-"),
            ("TargetSid", "S-1-5-32-551"),
            ("SubjectUserName", "admin"),
            ("SubjectDomainName", "-"),
        ],
    );
    assert_eq!(e.privilege.as_deref(), Some("Backup Operators"));
    assert_eq!(e.actor.as_deref(), Some("admin"));

    let users = sec(
        4732,
        &[
            ("MemberSid", "S-1-5-21-1-2-3-1001"),
            ("TargetUserName", "Users"),
            ("TargetSid", "S-1-5-32-545"),
        ],
    );
    assert_eq!(users.action, Action::GroupMemberAdded);
    assert!(!users.message.contains("privileged"));

    // A configured name makes a group without a fixed SID privileged.
    let named = |name: &str, config: &[String]| {
        normalize(
            rec(
                SECURITY_AUDITING,
                4728,
                "Security",
                &[
                    ("TargetUserName", name),
                    ("TargetSid", "S-1-5-21-1-2-3-1101"),
                ],
            ),
            config,
            Utc::now(),
        )
        .message
    };
    assert!(!named("Helpdesk Admins", &[]).contains("[privileged]"));
    assert!(named("Helpdesk Admins", &["helpdesk admins".to_owned()]).ends_with("[privileged]"));
    // DnsAdmins is privileged by default (by name: it has no fixed SID), unless switched off.
    assert!(named("DnsAdmins", &[]).ends_with("[privileged]"));
    assert!(!named("DnsAdmins", &["!DnsAdmins".to_owned()]).contains("[privileged]"));
}

#[test]
fn provider_must_match() {
    let e = normalize(
        rec("Some-Other-Provider", 4732, "Security", &MEMBERSHIP),
        &[],
        Utc::now(),
    );
    assert_eq!(e.action, Action::WindowsEvent);
    assert_eq!(
        e.message,
        "event 4732 from Some-Other-Provider on WIN-03DLIIOFRRA"
    );
}

#[test]
fn logons_and_logoffs() {
    let data = [
        ("SubjectUserName", "WIN-03DLIIOFRRA$"),
        ("SubjectDomainName", "WORKGROUP"),
        ("TargetUserSid", "S-1-5-21-1-2-3-1000"),
        ("TargetUserName", "fsir"),
        ("TargetDomainName", "WIN-03DLIIOFRRA"),
        ("LogonType", "10"),
        ("IpAddress", "10.0.0.5"),
        ("ElevatedToken", "%%1842"),
    ];
    let e = sec(4624, &data);
    assert_eq!(e.action, Action::Logon);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.target.as_deref(), Some("S-1-5-21-1-2-3-1000"));
    assert_eq!(e.target_name.as_deref(), Some("WIN-03DLIIOFRRA\\fsir"));
    assert!(e.message.contains("logon type 10"));
    assert!(e.message.contains("from 10.0.0.5"));
    assert!(e.message.contains("elevated token: yes"));

    let f = sec(4625, &data);
    assert_eq!(f.action, Action::Logon);
    assert_eq!(f.outcome, Outcome::Failure);
    assert!(f.message.starts_with("failed logon"));

    assert_eq!(sec(4634, &data).action, Action::Logoff);
    let u = sec(4647, &data);
    assert_eq!(u.action, Action::Logoff);
    assert!(u.message.contains("user initiated"));
}

#[test]
fn audit_failure_keyword_sets_outcome() {
    let mut r = rec(SECURITY_AUDITING, 5156, "Security", &[]);
    r.audit_failure = true;
    let e = normalize(r, &[], Utc::now());
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.action, Action::WindowsEvent);
}

#[test]
fn explicit_credentials() {
    let e = sec(
        4648,
        &[
            ("SubjectUserName", "WIN-03DLIIOFRRA$"),
            ("SubjectDomainName", "WORKGROUP"),
            ("TargetUserName", "fsir"),
            ("TargetDomainName", "WIN-03DLIIOFRRA"),
            ("TargetServerName", "localhost"),
        ],
    );
    assert_eq!(e.action, Action::LogonExplicitCredentials);
    assert_eq!(e.actor.as_deref(), Some("WORKGROUP\\WIN-03DLIIOFRRA$"));
    assert_eq!(e.target.as_deref(), Some("WIN-03DLIIOFRRA\\fsir"));
    assert!(e.message.contains("for localhost"));
}

#[test]
fn special_privileges() {
    let e = sec(
        4672,
        &[
            ("SubjectUserSid", "S-1-5-18"),
            ("SubjectUserName", "SYSTEM"),
            ("SubjectDomainName", "NT AUTHORITY"),
            (
                "PrivilegeList",
                "SeAssignPrimaryTokenPrivilege\r\n\t\t\tSeTcbPrivilege\r\n\t\t\tSeDebugPrivilege",
            ),
        ],
    );
    assert_eq!(e.action, Action::LogonSpecialPrivileges);
    assert_eq!(e.target.as_deref(), Some("S-1-5-18"));
    assert_eq!(e.target_name.as_deref(), Some("NT AUTHORITY\\SYSTEM"));
    assert_eq!(
        e.privilege.as_deref(),
        Some("SeAssignPrimaryTokenPrivilege SeTcbPrivilege SeDebugPrivilege")
    );
}

#[test]
fn account_created_and_policy_changed() {
    let e = sec(
        4720,
        &[
            ("TargetUserName", "backdoor"),
            ("TargetDomainName", "WORKSTATION6"),
            ("TargetSid", "S-1-5-21-1-2-3-1000"),
            ("SubjectUserName", "pgustavo"),
            ("SubjectDomainName", "THESHIRE"),
        ],
    );
    assert_eq!(e.action, Action::AccountCreated);
    assert_eq!(e.actor.as_deref(), Some("THESHIRE\\pgustavo"));
    assert_eq!(e.target.as_deref(), Some("S-1-5-21-1-2-3-1000"));
    assert_eq!(e.target_name.as_deref(), Some("backdoor"));

    let p = sec(
        4719,
        &[
            ("SubjectUserName", "admmig"),
            ("SubjectDomainName", "OFFSEC"),
            ("CategoryId", "%%8272"),
            ("SubcategoryGuid", "{0cce9210-69ae-11d9-bed3-505054503030}"),
            ("AuditPolicyChanges", "%%8448"),
        ],
    );
    assert_eq!(p.action, Action::AuditPolicyChanged);
    assert_eq!(p.actor.as_deref(), Some("OFFSEC\\admmig"));
    assert!(p.message.contains("%%8272"));
    assert!(p.message.contains("{0cce9210-69ae-11d9-bed3-505054503030}"));
    assert!(p.message.contains("%%8448"));
}

#[test]
fn log_cleared() {
    let data = [
        ("SubjectUserSid", "S-1-5-21-1-2-3-1111"),
        ("SubjectUserName", "admmig"),
        ("SubjectDomainName", "OFFSEC"),
    ];
    let e = normalize(rec(EVENTLOG, 1102, "Security", &data), &[], Utc::now());
    assert_eq!(e.action, Action::AuditLogCleared);
    assert_eq!(e.actor.as_deref(), Some("OFFSEC\\admmig"));
    assert!(
        e.message
            .starts_with("Security log cleared by OFFSEC\\admmig")
    );
    assert_eq!(e.privilege, None);

    let s = normalize(
        rec(
            EVENTLOG,
            104,
            "System",
            &[
                ("SubjectUserName", "admmig"),
                ("SubjectDomainName", "OFFSEC"),
                ("Channel", "System"),
            ],
        ),
        &[],
        Utc::now(),
    );
    assert_eq!(s.action, Action::AuditLogCleared);
    assert!(s.message.starts_with("System log cleared"));

    // 1102 from the Security-Auditing provider is something else.
    let other = normalize(
        rec(SECURITY_AUDITING, 1102, "Security", &data),
        &[],
        Utc::now(),
    );
    assert_eq!(other.action, Action::WindowsEvent);
}

#[test]
fn channel_selection_is_case_insensitive() {
    let ch = vec!["Security".to_owned(), "System".to_owned()];
    assert!(channel_selected(&ch, "security"));
    assert!(!channel_selected(
        &ch,
        "Microsoft-Windows-AppXDeployment/Operational"
    ));
    assert!(channel_selected(&[], "anything"));
}
