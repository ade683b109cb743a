use privtrail_model::format_time;
use serde_json::{Value, json};

use super::*;
use crate::entra::same_change;

const PAGE: &str = include_str!("../../tests/fixtures/entra/pim_flows.json");

fn all() -> Vec<Event> {
    let page: Value = serde_json::from_str(PAGE).unwrap();
    page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| normalize_directory_audit(r, "contoso").unwrap())
        .collect()
}

fn by_code<'a>(events: &'a [Event], code: &str, n: usize) -> &'a Event {
    events
        .iter()
        .filter(|e| e.event_code == code)
        .nth(n)
        .unwrap()
}

const GA: &str = "62e90394-69f5-4237-9190-012177145e10";

#[test]
fn activation_flow() {
    let ev = all();
    let req = by_code(&ev, "Add member to role requested (PIM activation)", 0);
    assert_eq!(req.action, Action::RoleActivationRequested);
    assert_eq!(req.target.as_deref(), Some("alice@contoso.com"));
    assert_eq!(req.target_name.as_deref(), Some("Alice Wilber"));
    assert_eq!(req.actor.as_deref(), Some("alice@contoso.com"));
    assert_eq!(req.privilege.as_deref(), Some("Global Administrator"));
    assert_eq!(req.privilege_id.as_deref(), Some(GA));
    assert_eq!(req.scope.as_deref(), Some("/"));
    assert_eq!(
        req.justification.as_deref(),
        Some("Investigate incident INC-1234")
    );
    assert_eq!(format_time(req.expires_at.unwrap()), "2024-05-06T10:00:00Z");
    assert_eq!(format_time(req.time), "2024-05-06T08:00:01.1234567Z");
    assert_eq!(req.via_pim, None);
    assert_eq!(req.tenant.as_deref(), Some("contoso"));
    assert_eq!(req.source, Source::Entra);
    assert_eq!(
        req.record_id.as_deref(),
        Some("d2a8a3b6-1c4e-4f57-9a0b-000000000001")
    );
    assert_eq!(
        req.id,
        EventId::entra("contoso", "d2a8a3b6-1c4e-4f57-9a0b-000000000001", req.time)
    );
    assert_eq!(
        serde_json::from_str::<Value>(&req.raw).unwrap()["id"],
        json!(req.record_id)
    );

    let appr = by_code(
        &ev,
        "Add member to role request approved (PIM activation)",
        0,
    );
    assert_eq!(appr.action, Action::RoleActivationRequested);
    assert_eq!(appr.actor.as_deref(), Some("bob@contoso.com"));
    assert_eq!(appr.target.as_deref(), Some("alice@contoso.com"));
    assert!(appr.message.contains("approved"), "{}", appr.message);

    let deny = by_code(&ev, "Add member to role request denied (PIM activation)", 0);
    assert_eq!(deny.action, Action::RoleActivationDenied);
    assert_eq!(deny.target.as_deref(), Some("carol@contoso.com"));
    assert_eq!(deny.privilege.as_deref(), Some("Security Administrator"));

    let act = by_code(&ev, "Add member to role completed (PIM activation)", 0);
    assert_eq!(act.action, Action::RoleActivated);
    assert_eq!(format_time(act.expires_at.unwrap()), "2024-05-06T10:02:12Z");
    assert_eq!(
        act.justification.as_deref(),
        Some("Investigate incident INC-1234")
    );
    assert_eq!(
        act.message,
        "alice@contoso.com activated Global Administrator until 2024-05-06T10:02:12Z"
    );

    let core = by_code(&ev, "Add member to role", 0);
    assert_eq!(core.action, Action::RoleAssigned);
    assert_eq!(core.via_pim, Some(true));
    assert_eq!(core.actor.as_deref(), Some("MS-PIM"));
    assert_eq!(core.privilege.as_deref(), Some("Global Administrator"));
    assert_eq!(core.privilege_id.as_deref(), Some(GA));
    assert_eq!(core.target.as_deref(), Some("alice@contoso.com"));
    assert_eq!(core.justification, None);

    let deact = by_code(&ev, "Remove member from role completed (PIM deactivate)", 0);
    assert_eq!(deact.action, Action::RoleDeactivated);
    let core_rm = by_code(&ev, "Remove member from role", 0);
    assert_eq!(core_rm.action, Action::RoleUnassigned);
    assert_eq!(core_rm.via_pim, Some(true));
    assert_eq!(core_rm.privilege_id.as_deref(), Some(GA));

    let exp = by_code(&ev, "Remove member from role (PIM activation expired)", 0);
    assert_eq!(exp.action, Action::RoleActivationExpired);
    assert_eq!(exp.target.as_deref(), Some("dave@contoso.com"));
    assert_eq!(exp.actor.as_deref(), Some("MS-PIM"));
    assert_eq!(exp.expires_at, None);
}

#[test]
fn assignments_and_eligibility() {
    let ev = all();
    let perm = by_code(&ev, "Add member to role in PIM completed (permanent)", 0);
    assert_eq!(perm.action, Action::RoleAssigned);
    assert_eq!(perm.via_pim, Some(true));
    assert_eq!(perm.expires_at, None);
    assert_eq!(perm.actor.as_deref(), Some("bob@contoso.com"));
    assert_eq!(perm.target.as_deref(), Some("frank@contoso.com"));
    assert_eq!(
        perm.privilege.as_deref(),
        Some("Privileged Role Administrator")
    );
    let tb = by_code(&ev, "Add member to role in PIM completed (timebound)", 0);
    assert_eq!(tb.action, Action::RoleAssigned);
    assert_eq!(format_time(tb.expires_at.unwrap()), "2024-06-30T00:00:00Z");
    for code in [
        "Remove member from role in PIM completed (permanent)",
        "Remove member from role in PIM completed (timebound)",
    ] {
        let e = by_code(&ev, code, 0);
        assert_eq!(
            (e.action, e.via_pim),
            (Action::RoleUnassigned, Some(true)),
            "{code}"
        );
    }
    let el = by_code(
        &ev,
        "Add eligible member to role in PIM completed (permanent)",
        0,
    );
    assert_eq!(el.action, Action::RoleEligibilityAssigned);
    assert_eq!((el.expires_at, el.via_pim), (None, None));
    let el_tb = by_code(
        &ev,
        "Add eligible member to role in PIM completed (timebound)",
        0,
    );
    assert_eq!(
        format_time(el_tb.expires_at.unwrap()),
        "2024-12-31T23:59:59Z"
    );
    let el_rm = by_code(
        &ev,
        "Remove eligible member from role in PIM completed (timebound)",
        0,
    );
    assert_eq!(el_rm.action, Action::RoleEligibilityRemoved);
    let out = by_code(&ev, "Add member to role outside of PIM (permanent)", 0);
    assert_eq!(
        (out.action, out.via_pim),
        (Action::RoleAssigned, Some(false))
    );
    assert_eq!(out.actor.as_deref(), Some("mallory@contoso.com"));
    let core_out = by_code(&ev, "Add member to role", 2);
    assert_eq!(core_out.via_pim, Some(false), "{}", core_out.message);
    let set = by_code(&ev, "Update role setting in PIM", 0);
    assert_eq!(set.action, Action::RoleSettingChanged);
    assert_eq!(set.privilege_id.as_deref(), Some(GA));
    assert_eq!(set.target, None);
    let other = by_code(&ev, "Update user", 0);
    assert_eq!(other.action, Action::EntraAudit);
    assert_eq!(other.target.as_deref(), Some("henry@contoso.com"));
    assert_eq!(
        (other.privilege.as_deref(), other.scope.as_deref()),
        (None, None)
    );
}

#[test]
fn pairs_are_the_same_change() {
    let ev = all();
    let act = by_code(&ev, "Add member to role completed (PIM activation)", 0);
    let core = by_code(&ev, "Add member to role", 0);
    assert!(same_change(act, core) && same_change(core, act));
    // Different correlation ids, 20 s apart.
    let act2 = by_code(&ev, "Add member to role completed (PIM activation)", 2);
    let core2 = by_code(&ev, "Add member to role", 1);
    assert_ne!(act2.correlation_id, core2.correlation_id);
    assert!(same_change(act2, core2));
    let deact = by_code(&ev, "Remove member from role completed (PIM deactivate)", 0);
    let core_rm = by_code(&ev, "Remove member from role", 0);
    assert!(same_change(deact, core_rm));
    let out = by_code(&ev, "Add member to role outside of PIM (permanent)", 0);
    let core_out = by_code(&ev, "Add member to role", 2);
    assert!(same_change(out, core_out));
    // Negative: other direction, other role/target, other tenant, too far apart, not a pair.
    assert!(!same_change(deact, core));
    assert!(!same_change(act2, core));
    assert!(!same_change(act, core2));
    assert!(!same_change(core, core));
    assert!(!same_change(act, act));
    assert!(!same_change(out, core));
    let req = by_code(&ev, "Add member to role requested (PIM activation)", 0);
    assert!(!same_change(req, core));
    // Two records of no direction (a request and its twin) are never a pair.
    let mut twin = req.clone();
    twin.id = privtrail_model::EventId::from_stored("twin".into());
    assert!(!same_change(req, &twin) && !same_change(&twin, req));
    let mut other_tenant = core.clone();
    other_tenant.tenant = Some("fabrikam".into());
    assert!(!same_change(act, &other_tenant));
    let mut late = core2.clone();
    late.time += chrono::Duration::seconds(61);
    assert!(!same_change(act2, &late));
    let mut other_user = core.clone();
    other_user.target = Some("bob@contoso.com".into());
    assert!(!same_change(act, &other_user));
}

#[test]
fn odd_case_failures_and_errors() {
    let rec = json!({
        "ID": "x1", "ACTIVITYDISPLAYNAME": "add member to role", "ActivityDateTime": "2024-01-02T03:04:05Z",
        "Result": "Timeout", "CORRELATIONID": "c",
        "InitiatedBy": {"App": {"DisplayName": "ms-pim", "AppId": "a"}},
        "TargetResources": [
            {"Id": "u1", "DisplayName": "U", "TYPE": "user", "UserPrincipalName": "u@x",
             "ModifiedProperties": [
                {"DisplayName": "role.displayname", "OldValue": null, "NewValue": "\"Global Administrator\""},
                {"displayname": "ROLE.TEMPLATEID", "newvalue": "\"62E90394-69F5-4237-9190-012177145E10\""}]}],
        "AdditionalDetails": [{"Key": "justification", "Value": "why"}]
    });
    let e = normalize_directory_audit(&rec, "t").unwrap();
    assert_eq!(e.action, Action::RoleAssigned);
    assert_eq!(e.via_pim, Some(true));
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.target.as_deref(), Some("u@x"));
    assert_eq!(e.privilege.as_deref(), Some("Global Administrator"));
    assert_eq!(
        e.privilege_id.as_deref(),
        Some("62E90394-69F5-4237-9190-012177145E10")
    );
    assert_eq!(e.justification.as_deref(), Some("why"));
    assert!(e.message.ends_with("(failed)"));

    let err = |v: Value| normalize_directory_audit(&v, "t").unwrap_err().to_string();
    assert!(err(json!({"activityDisplayName": "a"})).contains("missing id"));
    assert!(err(json!({"id": "i", "activityDisplayName": "a"})).contains("activityDateTime"));
    assert!(
        err(json!({"id": "i", "activityDisplayName": "a", "activityDateTime": "nope"}))
            .contains("invalid")
    );
    assert!(
        err(json!({"id": "i", "activityDateTime": "2024-01-01T00:00:00Z"}))
            .contains("activityDisplayName")
    );
    assert!(err(json!({"id": "i", "activityDisplayName": "a", "activityDateTime": "2024-01-01T00:00:00Z", "initiatedBy": "x"})).contains("initiatedBy"));
    assert!(err(json!([1])).contains("object"));
}

#[test]
fn every_activity_name_maps() {
    let cases = [
        (
            "Add member to role requested (PIM activation)",
            Action::RoleActivationRequested,
        ),
        (
            "Add member to role request approved (PIM activation)",
            Action::RoleActivationRequested,
        ),
        (
            "Add member to role request denied (PIM activation)",
            Action::RoleActivationDenied,
        ),
        (
            "Add member to role completed (PIM activation)",
            Action::RoleActivated,
        ),
        (
            "Remove member from role completed (PIM deactivate)",
            Action::RoleDeactivated,
        ),
        (
            "Remove member from role (PIM activation expired)",
            Action::RoleActivationExpired,
        ),
        (
            "Add member to role in PIM completed (permanent)",
            Action::RoleAssigned,
        ),
        (
            "Add member to role in PIM completed (timebound)",
            Action::RoleAssigned,
        ),
        (
            "Remove member from role in PIM completed (permanent)",
            Action::RoleUnassigned,
        ),
        (
            "Remove member from role in PIM completed (timebound)",
            Action::RoleUnassigned,
        ),
        (
            "Add eligible member to role in PIM completed (permanent)",
            Action::RoleEligibilityAssigned,
        ),
        (
            "Add eligible member to role in PIM completed (timebound)",
            Action::RoleEligibilityAssigned,
        ),
        (
            "Remove eligible member from role in PIM completed (permanent)",
            Action::RoleEligibilityRemoved,
        ),
        (
            "Remove eligible member from role in PIM completed (timebound)",
            Action::RoleEligibilityRemoved,
        ),
        (
            "Add member to role outside of PIM (permanent)",
            Action::RoleAssigned,
        ),
        ("Update role setting in PIM", Action::RoleSettingChanged),
        ("Add member to role", Action::RoleAssigned),
        ("Remove member from role", Action::RoleUnassigned),
        ("Add member to group", Action::EntraAudit),
    ];
    for (name, action) in cases {
        assert_eq!(kind_of(name).action(), action, "{name}");
        assert_eq!(kind_of(&name.to_uppercase()).action(), action, "{name}");
        // Spacing is not significant (the name is then lowered off the stack).
        let spaced = format!("  {}  ", name.replace(' ', "   "));
        assert_eq!(kind_of(&spaced).action(), action, "{spaced:?}");
    }
    // Longer than the stack buffer, or not ASCII: no known name, no panic.
    assert_eq!(kind_of(&"Add member to role ".repeat(8)), Kind::Other);
    assert_eq!(kind_of("Add membér to role"), Kind::Other);
    assert_eq!(kind_of(&"é".repeat(40)), Kind::Other);
}
