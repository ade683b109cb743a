use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use privtrail_model::{EventId, Source};
use privtrail_rules::{Alert, AlertStatus, Elevation, ElevationKind, PolicyConfig, Severity};

use super::*;

const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
const USER_ID: &str = "071cc716-8147-4397-a5ba-b2105951cc0b";
const MEMBER: &str = "S-1-5-21-1004336348-1177238915-682003330-1105";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
}

fn entra(principal: &str, kind: ElevationKind, via_pim: Option<bool>) -> Elevation {
    Elevation {
        id: format!("el-{principal}"),
        principal: principal.to_owned(),
        principal_name: None,
        privilege: "Global Administrator".into(),
        privilege_id: Some(GA.into()),
        scope: "/".into(),
        kind,
        source: Source::Entra,
        tenant: Some("contoso".into()),
        host: None,
        started_at: now() - Duration::hours(5),
        expected_end: Some(now() - Duration::hours(3)),
        ended_at: None,
        end_reason: None,
        opened_by: EventId::from_stored("e1".into()),
        closed_by: None,
        via_pim,
        duplicates: Vec::new(),
        tagged_by: None,
        tagged_at: None,
    }
}

fn windows(member: &str, group_sid: &str, host: &str) -> Elevation {
    Elevation {
        id: format!("el-{member}-{host}"),
        principal: member.to_owned(),
        principal_name: Some("CONTOSO\\nina.patel".into()),
        privilege: "Administrators".into(),
        privilege_id: Some(group_sid.into()),
        scope: host.to_owned(),
        kind: ElevationKind::Membership,
        source: Source::Windows,
        tenant: None,
        host: Some(host.to_owned()),
        via_pim: None,
        ..entra(member, ElevationKind::Membership, None)
    }
}

fn alert(el: &Elevation, rule: &str) -> Alert {
    Alert {
        id: format!("alert-{}", el.id),
        rule: rule.into(),
        severity: Severity::High,
        status: AlertStatus::Open,
        principal: Some(el.principal.clone()),
        privilege: Some(el.privilege.clone()),
        scope: Some(el.scope.clone()),
        opened_at: now(),
        updated_at: now(),
        resolved_at: None,
        summary: "overdue".into(),
        event_ids: Vec::new(),
        elevation_id: Some(el.id.clone()),
        subject: el.id.clone(),
        last_notified_at: None,
        condition: true,
        history: Vec::new(),
    }
}

fn config(text: &str) -> RemediationConfig {
    toml::from_str(text).expect("config")
}

/// Plans `els` (one overdue alert each) and returns each decision's state or skip reason.
fn decide_all(els: &[Elevation], cfg: &RemediationConfig, policy: &PolicyConfig) -> Vec<String> {
    let alerts: Vec<Alert> = els.iter().map(|e| alert(e, "overdue-elevation")).collect();
    let id_of = |e: &Elevation| {
        if e.kind == ElevationKind::Membership {
            Some(e.principal.clone())
        } else {
            Some(USER_ID.to_owned())
        }
    };
    plan(
        &alerts,
        els,
        cfg,
        &policy.policy(),
        &HashSet::new(),
        &id_of,
        now(),
    )
    .into_iter()
    .map(|d| match d {
        Decision::Act(r) => format!(
            "{}{}",
            r.state.as_str(),
            r.capped.map(|c| format!(" ({c})")).unwrap_or_default()
        ),
        Decision::Skip { reason, .. } => format!("skip: {reason}"),
    })
    .collect()
}

#[test]
fn enforce_approves_propose_waits_off_does_nothing() {
    let els = [entra("alice@contoso.com", ElevationKind::Activation, None)];
    let p = PolicyConfig::default();
    assert_eq!(
        decide_all(&els, &config("mode = \"enforce\""), &p),
        ["approved"]
    );
    assert_eq!(
        decide_all(&els, &config("mode = \"propose\""), &p),
        ["proposed"]
    );
    assert!(decide_all(&els, &config(""), &p).is_empty());
    // A rule that is not enabled for remediation plans nothing.
    let cfg = config("mode = \"enforce\"\nrules = { standing-access = \"enforce\" }");
    assert!(decide_all(&els, &cfg, &p).is_empty());
    // Per privilege, lower only.
    let cfg = config("mode = \"enforce\"\nprivileges = { \"global administrator\" = \"propose\" }");
    assert_eq!(decide_all(&els, &cfg, &p), ["proposed"]);
    let cfg = config(&format!(
        "mode = \"enforce\"\nprivileges = {{ \"{GA}\" = \"off\" }}"
    ));
    assert_eq!(
        decide_all(&els, &cfg, &p),
        ["skip: [remediation] privileges: Global Administrator is off"]
    );
}

#[test]
fn break_glass_denied_and_unlisted_principals_are_never_touched() {
    let els = [
        entra("breakglass@contoso.com", ElevationKind::Activation, None),
        entra("bob@contoso.com", ElevationKind::Activation, None),
        entra("carol@contoso.com", ElevationKind::Activation, None),
    ];
    let p = PolicyConfig {
        break_glass: vec!["BreakGlass@contoso.com".into()],
        ..PolicyConfig::default()
    };
    let got = decide_all(
        &els,
        &config("mode = \"enforce\"\ndeny = [\"bob@contoso.com\"]"),
        &p,
    );
    assert_eq!(
        got,
        [
            "skip: break-glass account: never remediated",
            "skip: listed in [remediation] deny",
            "approved"
        ]
    );
    // An allowlist that names the break-glass account does not override it.
    let got = decide_all(
        &els,
        &config("mode = \"enforce\"\nallow = [\"breakglass@contoso.com\", \"carol@contoso.com\"]"),
        &p,
    );
    assert_eq!(
        got,
        [
            "skip: break-glass account: never remediated",
            "skip: not in [remediation] allow",
            "approved"
        ]
    );
}

#[test]
fn assignments_outside_pim_are_only_proposed() {
    let mut permanent = entra("dave@contoso.com", ElevationKind::Assignment, Some(true));
    permanent.expected_end = None;
    let els = [
        entra("erin@contoso.com", ElevationKind::Assignment, Some(false)),
        permanent,
        entra("frank@contoso.com", ElevationKind::Assignment, Some(true)),
    ];
    let got = decide_all(
        &els,
        &config("mode = \"enforce\""),
        &PolicyConfig::default(),
    );
    assert_eq!(
        got,
        [
            "proposed (assignment outside PIM: only ever proposed)",
            "proposed (permanent assignment: only ever proposed)",
            "approved"
        ]
    );
}

#[test]
fn windows_needs_a_webhook_and_valid_identifiers() {
    let cfg = config("mode = \"enforce\"\nwebhook = \"rmm\"");
    let p = PolicyConfig::default();
    let els = [
        windows(MEMBER, "S-1-5-32-544", "WS-042"),
        // A hostile log: the member "SID" carries PowerShell.
        windows(
            "S-1-5-21-1-2-3-1105; Remove-Item C:\\ -Recurse",
            "S-1-5-32-544",
            "WS-042",
        ),
        windows(MEMBER, "S-1-5-32-544", "WS-042'; calc #"),
        windows(
            MEMBER,
            "S-1-5-21-1004336348-1177238915-682003330-512",
            "DC01",
        ),
    ];
    let got = decide_all(&els, &cfg, &p);
    assert_eq!(got[0], "approved");
    assert!(
        got[1].starts_with("skip: the member") && got[1].ends_with("has no valid SID"),
        "{}",
        got[1]
    );
    assert_eq!(got[2], "skip: the membership names no valid host");
    assert_eq!(got[3], "proposed (domain group: only ever proposed)");
    let no_webhook = decide_all(&els[..1], &config("mode = \"enforce\""), &p);
    assert_eq!(
        no_webhook,
        ["skip: no [remediation] webhook to hand Windows actions to"]
    );
}

#[test]
fn the_powershell_is_exact() {
    assert_eq!(
        powershell("S-1-5-32-544", MEMBER, true),
        "Remove-LocalGroupMember -Group (Get-LocalGroup -SID S-1-5-32-544) -Member S-1-5-21-1004336348-1177238915-682003330-1105\n\
         if ((Get-ItemProperty -Path 'HKLM:\\SOFTWARE\\Org\\AdminAccessAudit' -ErrorAction SilentlyContinue).GrantedToSid -eq 'S-1-5-21-1004336348-1177238915-682003330-1105') {\n\
         \x20   Remove-ItemProperty -Path 'HKLM:\\SOFTWARE\\Org\\AdminAccessAudit' -Name 'LastAdminGranted','ExpiresAt','GrantedTo','GrantedToSid','GrantedBy','Ticket','Reason','Host' -ErrorAction SilentlyContinue\n\
         }"
    );
    assert!(is_sid(MEMBER));
    for bad in [
        "S-1-5-32-544 ",
        "S-1-5--1",
        "S-1-5-21-1-$x",
        "s-1-5-32-544",
        "S-1-",
        "S-1-5-32-544\nrm",
    ] {
        assert!(!is_sid(bad), "{bad:?}");
    }
}

#[test]
fn an_alert_with_an_action_or_an_ended_elevation_is_not_planned_again() {
    let mut ended = entra("gina@contoso.com", ElevationKind::Activation, None);
    ended.ended_at = Some(now());
    let open = entra("hank@contoso.com", ElevationKind::Activation, None);
    let els = [ended, open.clone()];
    let alerts: Vec<Alert> = els.iter().map(|e| alert(e, "overdue-elevation")).collect();
    let existing: HashSet<String> = [alert(&open, "overdue-elevation").id].into();
    let id_of = |_: &Elevation| Some(USER_ID.to_owned());
    let got = plan(
        &alerts,
        &els,
        &config("mode = \"enforce\""),
        &PolicyConfig::default().policy(),
        &existing,
        &id_of,
        now(),
    );
    assert_eq!(got.len(), 1);
    assert!(
        matches!(&got[0], Decision::Skip { reason, .. } if reason == "the elevation already ended")
    );
}

#[test]
fn the_tag_values_removed_are_those_the_endpoint_scripts_write() {
    // contrib/windows/Remove-TemporaryAdmin.ps1 clears what Grant-TemporaryAdmin.ps1 writes; the
    // PowerShell privtrail hands the RMM must clear the same values.
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contrib/windows/Remove-TemporaryAdmin.ps1"
    ))
    .expect("the endpoint script");
    let line = script
        .lines()
        .find(|l| l.trim_start().starts_with("$TagValues = @("))
        .expect("$TagValues in the script");
    let names: Vec<&str> = line
        .split_once("@(")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(list, _)| list)
        .unwrap_or_default()
        .split(',')
        .map(|n| n.trim().trim_matches('\''))
        .collect();
    assert_eq!(names, TAG_VALUES);
}
