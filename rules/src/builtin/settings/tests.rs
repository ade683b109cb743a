use chrono::{DateTime, Duration, TimeZone, Utc};
use privtrail_model::{Action, Event, EventId, Source};
use serde_json::json;

use super::*;
use crate::policy::PolicyConfig;

const GA: &str = "62e90394-69f5-4237-9190-012177145e10";

fn t(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, h, 0, 0).unwrap()
}

/// A role's policy rules as `$expand=policy($expand=rules)` returns them (Graph's documented
/// `unifiedRoleManagementPolicyRule` subtypes).
fn policy(
    mfa: bool,
    max: &str,
    approval: bool,
    permanent_eligible: bool,
) -> Vec<serde_json::Value> {
    let mut enabled = vec!["Justification"];
    if mfa {
        enabled.push("MultiFactorAuthentication");
    }
    vec![
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
               "id": "Expiration_Admin_Eligibility", "isExpirationRequired": !permanent_eligible,
               "maximumDuration": "P365D"}),
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
               "id": "Enablement_EndUser_Assignment", "enabledRules": enabled}),
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
               "id": "Expiration_EndUser_Assignment", "isExpirationRequired": true,
               "maximumDuration": max}),
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
               "id": "Approval_EndUser_Assignment",
               "setting": {"isApprovalRequired": approval, "approvalStages": []}}),
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule",
               "id": "Notification_Admin_EndUser_Assignment", "isDefaultRecipientsEnabled": true}),
    ]
}

fn change(props: serde_json::Value, at: DateTime<Utc>) -> Event {
    let raw = json!({
        "id": format!("PIM_{}", at.timestamp()), "activityDisplayName": "Update role setting in PIM",
        "activityDateTime": at.to_rfc3339(), "result": "success",
        "initiatedBy": {"user": {"userPrincipalName": "erin@contoso.com"}, "app": null},
        "targetResources": [
            {"id": GA, "displayName": "Global Administrator", "type": "Role", "modifiedProperties": []},
            {"id": format!("DirectoryRole_t_{GA}"), "type": "RoleSetting", "modifiedProperties": props}
        ],
    });
    let mut e = Event::new(
        EventId::native(Source::Entra, "contoso", &format!("set-{}", at.timestamp())),
        Source::Entra,
        Action::RoleSettingChanged,
        at,
        "Update role setting in PIM",
    );
    e.tenant = Some("contoso".into());
    e.actor = Some("erin@contoso.com".into());
    e.privilege = Some("Global Administrator".into());
    e.privilege_id = Some(GA.into());
    e.scope = Some("/".into());
    e.raw = raw.to_string();
    e
}

fn activation(at: DateTime<Utc>) -> Event {
    let mut e = Event::new(
        EventId::native(Source::Entra, "contoso", &format!("act-{}", at.timestamp())),
        Source::Entra,
        Action::RoleActivated,
        at,
        "Add member to role completed (PIM activation)",
    );
    e.tenant = Some("contoso".into());
    e.target = Some("alice@contoso.com".into());
    e.privilege = Some("Global Administrator".into());
    e.privilege_id = Some(GA.into());
    e.scope = Some("/".into());
    e
}

fn known(rules: &[serde_json::Value]) -> Vec<KnownSettings> {
    vec![KnownSettings {
        tenant: "contoso".into(),
        role_id: GA.into(),
        settings: settings_from_rules(rules),
    }]
}

fn run(rule: &dyn Rule, events: &[Event], settings: &[KnownSettings]) -> Vec<Finding> {
    let policy = PolicyConfig {
        max_duration: Some(crate::time::Span(Duration::hours(8))),
        ..PolicyConfig::default()
    }
    .policy();
    let mut ctx = Context::new(t(23), &policy);
    ctx.new_events = events;
    ctx.role_settings = settings;
    rule.evaluate(&ctx)
}

const WEAK: PimSettingWeakened = PimSettingWeakened {
    severity: Severity::High,
};
const NO_MFA: ActivationWithoutMfa = ActivationWithoutMfa {
    severity: Severity::High,
};

#[test]
fn settings_from_graphs_policy_rules() {
    let s = settings_from_rules(&policy(true, "PT8H", false, true));
    assert_eq!(s.get(Setting::Mfa), Some(Value::Flag(true)));
    assert_eq!(s.get(Setting::Justification), Some(Value::Flag(true)));
    assert_eq!(s.get(Setting::Ticket), Some(Value::Flag(false)));
    assert_eq!(s.get(Setting::Approval), Some(Value::Flag(false)));
    assert_eq!(
        s.get(Setting::MaxActivation),
        Some(Value::Duration(Duration::hours(8)))
    );
    assert_eq!(s.get(Setting::PermanentEligible), Some(Value::Flag(true)));
    assert_eq!(
        s.get(Setting::PermanentActive),
        None,
        "not in the rules: unknown"
    );
    // An authentication context on activation counts as MFA.
    let mut rules = policy(false, "PT8H", false, false);
    rules.push(json!({"id": "AuthenticationContext_EndUser_Assignment", "isEnabled": true, "claimValue": "c1"}));
    assert_eq!(
        settings_from_rules(&rules).get(Setting::Mfa),
        Some(Value::Flag(true))
    );
}

#[test]
fn a_removed_mfa_requirement_in_the_policy_rule_shape_is_reported_with_old_and_new() {
    let old = json!({"id": "Enablement_EndUser_Assignment", "enabledRules": ["MultiFactorAuthentication", "Justification"]});
    let new = json!({"id": "Enablement_EndUser_Assignment", "enabledRules": ["Justification"]});
    let e = change(
        json!([{"displayName": "Enablement_EndUser_Assignment",
                "oldValue": old.to_string(), "newValue": new.to_string()}]),
        t(9),
    );
    let f = run(&WEAK, &[e], &[]);
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].summary,
        "erin@contoso.com weakened the PIM settings of Global Administrator in tenant contoso at \
         2026-11-30T09:00:00Z: MFA on activation: required → not required"
    );
    assert_eq!(f[0].principal.as_deref(), Some("erin@contoso.com"));
}

#[test]
fn without_an_old_value_the_snapshot_decides() {
    // The plain shape, new value only: MFA off, approval off, 24 h maximum.
    let e = change(
        json!([
            {"displayName": "MfaRequired", "oldValue": null, "newValue": "false"},
            {"displayName": "ApprovalRequired", "oldValue": null, "newValue": "false"},
            {"displayName": "ActivationMaximumDuration", "oldValue": null, "newValue": "\"PT24H\""}
        ]),
        t(9),
    );
    // The snapshot knew MFA required and no approval: only MFA and the duration weakened.
    let f = run(
        &WEAK,
        std::slice::from_ref(&e),
        &known(&policy(true, "PT8H", false, false)),
    );
    assert_eq!(f.len(), 1);
    assert!(
        f[0].summary
            .contains("MFA on activation: required → not required"),
        "{}",
        f[0].summary
    );
    assert!(
        f[0].summary
            .contains("maximum activation duration: 8h → 1d (policy maximum 8h)"),
        "{}",
        f[0].summary
    );
    assert!(
        !f[0].summary.contains("approval"),
        "already off: {}",
        f[0].summary
    );
    // Nothing known about the old values: still reported, old unknown.
    let f = run(&WEAK, &[e], &[]);
    assert!(
        f[0].summary
            .contains("approval of activation: unknown → not required"),
        "{}",
        f[0].summary
    );
}

#[test]
fn a_setting_in_additional_details_counts_too() {
    let mut e = change(json!([]), t(9));
    let mut raw: serde_json::Value = serde_json::from_str(&e.raw).unwrap();
    raw["additionalDetails"] = json!([
        {"key": "RoleDefinitionOriginId", "value": GA},
        {"key": "ApprovalRequired", "value": "False"}
    ]);
    e.raw = raw.to_string();
    let f = run(&WEAK, &[e], &known(&policy(true, "PT8H", true, false)));
    assert!(
        f[0].summary
            .contains("approval of activation: required → not required"),
        "{}",
        f[0].summary
    );
}

#[test]
fn tightening_and_allowed_durations_are_not_weakening() {
    // The project's fixture shape: 8h → 2h, approval now required.
    let e = change(
        json!([
            {"displayName": "ActivationMaximumDuration", "oldValue": "\"PT8H\"", "newValue": "\"PT2H\""},
            {"displayName": "ApprovalRequired", "oldValue": "false", "newValue": "true"}
        ]),
        t(9),
    );
    assert!(run(&WEAK, &[e], &[]).is_empty());
    // Raised, but within the policy's 8 h.
    let e = change(
        json!([{"displayName": "ActivationMaximumDuration", "oldValue": "\"PT2H\"", "newValue": "\"PT8H\""}]),
        t(10),
    );
    assert!(run(&WEAK, &[e], &[]).is_empty());
}

#[test]
fn permanent_eligibility_allowed_is_weakening() {
    let old = json!({"id": "Expiration_Admin_Eligibility", "isExpirationRequired": true, "maximumDuration": "P180D"});
    let new = json!({"id": "Expiration_Admin_Eligibility", "isExpirationRequired": false, "maximumDuration": "P180D"});
    let e = change(
        json!([{"displayName": "Expiration_Admin_Eligibility", "oldValue": old, "newValue": new}]),
        t(9),
    );
    let f = run(&WEAK, &[e], &[]);
    assert!(
        f[0].summary
            .contains("permanent eligible assignment: not allowed → allowed"),
        "{}",
        f[0].summary
    );
}

#[test]
fn an_activation_without_mfa_by_the_snapshot_or_an_earlier_change() {
    let act = activation(t(12));
    // The snapshot says MFA is not required.
    let f = run(
        &NO_MFA,
        std::slice::from_ref(&act),
        &known(&policy(false, "PT8H", false, false)),
    );
    assert_eq!(f.len(), 1);
    assert!(
        f[0].summary
            .starts_with("alice@contoso.com activated Global Administrator"),
        "{}",
        f[0].summary
    );
    assert!(
        f[0].summary.contains("latest PIM snapshot"),
        "{}",
        f[0].summary
    );
    // Required: nothing; unknown: nothing.
    assert!(
        run(
            &NO_MFA,
            std::slice::from_ref(&act),
            &known(&policy(true, "PT8H", false, false))
        )
        .is_empty()
    );
    assert!(run(&NO_MFA, std::slice::from_ref(&act), &[]).is_empty());
    // A change before the activation that turned MFA off wins over the snapshot; one after does not.
    let off = change(
        json!([{"displayName": "MfaRequired", "oldValue": "true", "newValue": "false"}]),
        t(11),
    );
    let f = run(
        &NO_MFA,
        &[off.clone(), act.clone()],
        &known(&policy(true, "PT8H", false, false)),
    );
    assert_eq!(f.len(), 1);
    assert!(
        f[0].summary.contains("the change of 2026-11-30T11:00:00Z"),
        "{}",
        f[0].summary
    );
    let mut later = off;
    later.time = t(13);
    assert!(
        run(
            &NO_MFA,
            &[later, act],
            &known(&policy(true, "PT8H", false, false))
        )
        .is_empty()
    );
}

#[test]
fn changes_parsed_ahead_are_the_ones_judged() {
    let pol = PolicyConfig {
        max_duration: Some(crate::time::Span(Duration::hours(8))),
        ..PolicyConfig::default()
    }
    .policy();
    let off = change(
        json!([{"displayName": "MfaRequired", "oldValue": "true", "newValue": "false"},
               {"displayName": "ActivationMaximumDuration", "oldValue": "PT8H", "newValue": "P1D"}]),
        t(11),
    );
    let events = [off.clone(), activation(t(12))];
    let settings = known(&policy(true, "PT8H", false, false));
    let parsed = ParsedSettings::of(&events);
    for rule in [&WEAK as &dyn Rule, &NO_MFA] {
        let mut ctx = Context::new(t(23), &pol);
        ctx.new_events = &events;
        ctx.role_settings = &settings;
        let in_place = rule.evaluate(&ctx);
        assert_eq!(in_place.len(), 1, "{}: {in_place:#?}", rule.id());
        ctx.settings = Some(&parsed);
        assert_eq!(rule.evaluate(&ctx), in_place, "{}", rule.id());
        // The parsed changes are what is judged: the record itself is not read again.
        let mut without_raw = events.clone();
        without_raw[0].raw.clear();
        ctx.new_events = &without_raw;
        assert_eq!(rule.evaluate(&ctx), in_place, "{}", rule.id());
        ctx.settings = None;
        assert!(rule.evaluate(&ctx).is_empty(), "{}", rule.id());
    }
    // Only role-setting changes with a record are parsed.
    let mut no_raw = off;
    no_raw.raw.clear();
    assert!(
        ParsedSettings::of(&[no_raw, activation(t(12))])
            .0
            .is_empty()
    );
}
