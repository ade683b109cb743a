#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions
//! `permanent-eligibility` and `activation-notice` on Entra events shaped as the Graph
//! normalizer makes them from PIM's `directoryAudit` records.

mod common;

use common::*;
use privtrail_model::{Action, Event, Outcome};
use privtrail_rules::builtin::{
    ActivationNotice, PRIVILEGED_ROLE_ADMIN_TEMPLATE_ID, PermanentEligibility, default_notice_roles,
};
use privtrail_rules::{AlertStatus, Context, Finding, Policy, Rule, Severity, backtest};

const EXCHANGE_ADMIN: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
const REPORTS_READER: &str = "4a5d8f65-41da-4de4-8968-e035b65339cf";

/// `Add eligible member to role in PIM completed (permanent|timebound)`: the admin who made the
/// change as actor, the user as target (UPN, display name), the role by `TemplateId`.
fn eligibility(id: &str, upn: &str, role: &str, name: &str, end: Option<&str>) -> Event {
    let mut e = entra(
        Action::RoleEligibilityAssigned,
        id,
        "2024-05-07T10:05:00Z",
        upn,
        role,
    );
    e.event_code = format!(
        "Add eligible member to role in PIM completed ({})",
        if end.is_some() {
            "timebound"
        } else {
            "permanent"
        }
    );
    e.actor = Some("admin@contoso.com".into());
    e.target_name = Some("Carol Diaz".into());
    e.privilege = Some(name.into());
    e.expires_at = end.map(t);
    e
}

/// `Add member to role completed (PIM activation)` with its `additionalDetails` in `raw`.
fn completed(id: &str, upn: &str, role: &str, name: Option<&str>, details: &str) -> Event {
    let mut e = activation(
        id,
        "2024-05-06T08:02:12Z",
        upn,
        role,
        "2024-05-06T10:02:12Z",
    );
    e.privilege = name.map(str::to_owned);
    e.target_name = Some("Alice Wilber".into());
    e.justification = Some("Investigate incident INC-1234".into());
    e.correlation_id = Some(format!("corr-{id}"));
    let more = if details.is_empty() {
        String::new()
    } else {
        format!(",{details}")
    };
    e.raw = format!(
        r#"{{"id":"{id}","category":"RoleManagement","activityDisplayName":"Add member to role completed (PIM activation)","correlationId":"corr-{id}","additionalDetails":[{{"key":"TemplateId","value":"{role}"}}{more}]}}"#
    );
    e
}

fn eval(rule: &dyn Rule, policy: &Policy, new: &[Event]) -> Vec<Finding> {
    let ctx = Context {
        new_events: new,
        ..Context::new(t("2024-05-07T11:00:00Z"), policy)
    };
    rule.evaluate(&ctx)
}

fn eligibility_rule() -> PermanentEligibility {
    PermanentEligibility {
        severity: Severity::Medium,
        break_glass: Vec::new(),
        any_role: false,
    }
}

#[test]
fn a_permanent_eligibility_to_a_privileged_role_fires() {
    let p = Policy::default();
    let ga = eligibility("e1", "carol@contoso.com", GA, "Global Administrator", None);
    let f = eval(&eligibility_rule(), &p, std::slice::from_ref(&ga));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].rule, "permanent-eligibility");
    assert_eq!(f[0].severity, Severity::Medium);
    assert!(!f[0].condition);
    assert_eq!(f[0].subject, format!("contoso|carol@contoso.com|{GA}|/"));
    assert_eq!(f[0].principal.as_deref(), Some("carol@contoso.com"));
    assert_eq!(
        f[0].summary,
        "admin@contoso.com made Carol Diaz (carol@contoso.com) eligible for Global Administrator at / with no end date (2024-05-07T10:05:00Z)"
    );
    assert_eq!(f[0].event_ids, vec![ga.id.clone()]);
}

#[test]
fn ends_failures_other_roles_and_break_glass_are_exempt() {
    let p = Policy::default();
    let r = eligibility_rule();
    let sec = "194ae4cb-b126-40b2-bd5b-6091b380977d";
    // Timebound with its end.
    let timebound = eligibility(
        "e2",
        "carol@contoso.com",
        sec,
        "Security Administrator",
        Some("2024-12-31T23:59:59Z"),
    );
    // Timebound whose record lacks the end: unknown, not permanent.
    let mut no_end = timebound.clone();
    no_end.expires_at = None;
    let mut failed = eligibility("e3", "carol@contoso.com", GA, "Global Administrator", None);
    failed.outcome = Outcome::Failure;
    let reader = eligibility(
        "e4",
        "carol@contoso.com",
        REPORTS_READER,
        "Reports Reader",
        None,
    );
    assert!(eval(&r, &p, &[timebound, no_end, failed, reader.clone()]).is_empty());
    // Every role counts with `any_role`.
    let any = PermanentEligibility {
        any_role: true,
        ..eligibility_rule()
    };
    assert_eq!(eval(&any, &p, std::slice::from_ref(&reader)).len(), 1);
    // A role made privileged by the policy counts.
    let p2 = Policy {
        privileged_roles: vec!["reports reader".into()],
        ..Policy::default()
    };
    assert_eq!(eval(&r, &p2, std::slice::from_ref(&reader)).len(), 1);

    // Break-glass: by the policy (after identity mapping) or the rule's own list.
    let bg = eligibility("e5", "BG1@contoso.com", GA, "Global Administrator", None);
    let p3 = Policy {
        break_glass: vec!["bg1@contoso.com".into()],
        ..Policy::default()
    };
    assert!(eval(&r, &p3, std::slice::from_ref(&bg)).is_empty());
    let own = PermanentEligibility {
        break_glass: vec!["bg1@CONTOSO.com".into()],
        ..eligibility_rule()
    };
    assert!(eval(&own, &p, std::slice::from_ref(&bg)).is_empty());
    assert_eq!(eval(&r, &p, std::slice::from_ref(&bg)).len(), 1);
}

fn notice(roles: Vec<String>) -> ActivationNotice {
    ActivationNotice {
        severity: Severity::Info,
        roles,
    }
}

#[test]
fn a_notice_says_who_role_justification_ticket_start_and_end() {
    let p = Policy::default();
    let e = completed(
        "a1",
        "alice@contoso.com",
        GA,
        Some("Global Administrator"),
        r#"{"key":"TicketNumber","value":"INC-1234"},{"key":"TicketSystem","value":"ServiceNow"}"#,
    );
    let f = eval(
        &notice(default_notice_roles()),
        &p,
        std::slice::from_ref(&e),
    );
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule, "activation-notice");
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(
        f[0].summary,
        "Alice Wilber (alice@contoso.com) activated Global Administrator in tenant contoso at 2024-05-06T08:02:12Z, until 2024-05-06T10:02:12Z; justification: \"Investigate incident INC-1234\"; ticket: ServiceNow INC-1234"
    );
    assert_eq!(f[0].subject, e.id.to_string());
    assert!(f[0].condition, "a notice resolves itself");

    // No raw record (a backtest of stored events) and no justification: said so.
    let mut bare = e.clone();
    bare.raw = String::new();
    bare.justification = None;
    bare.expires_at = None;
    let f = eval(&notice(default_notice_roles()), &p, &[bare]);
    assert!(
        f[0].summary.ends_with(
            "at 2024-05-06T08:02:12Z, no end recorded; justification: none given; ticket: none recorded"
        ),
        "{}",
        f[0].summary
    );
}

#[test]
fn the_ticket_of_the_request_serves_when_the_completion_has_none() {
    let p = Policy::default();
    let done = completed(
        "a1",
        "alice@contoso.com",
        GA,
        Some("Global Administrator"),
        "",
    );
    let mut request = entra(
        Action::RoleActivationRequested,
        "r1",
        "2024-05-06T08:00:00Z",
        "alice@contoso.com",
        GA,
    );
    request.correlation_id = done.correlation_id.clone();
    request.raw = r#"{"id":"r1","additionalDetails":[{"key":"TicketNumber","value":"INC-1234"},{"key":"TicketSystem","value":"ServiceNow"}]}"#.into();
    let f = eval(
        &notice(default_notice_roles()),
        &p,
        &[request.clone(), done.clone()],
    );
    assert_eq!(f.len(), 1, "a request is no activation: {f:#?}");
    assert!(
        f[0].summary.ends_with("ticket: ServiceNow INC-1234"),
        "{}",
        f[0].summary
    );
    request.correlation_id = Some("another".into());
    let f = eval(&notice(default_notice_roles()), &p, &[request, done]);
    assert!(
        f[0].summary.ends_with("ticket: none recorded"),
        "{}",
        f[0].summary
    );
}

#[test]
fn roles_match_by_name_or_template_id() {
    let p = Policy::default();
    let defaults = notice(default_notice_roles());
    // Privileged Role Administrator known only by its template id.
    let pra = completed(
        "a2",
        "bob@contoso.com",
        PRIVILEGED_ROLE_ADMIN_TEMPLATE_ID,
        None,
        "",
    );
    let exchange = completed(
        "a3",
        "bob@contoso.com",
        EXCHANGE_ADMIN,
        Some("Exchange Administrator"),
        "",
    );
    let f = eval(&defaults, &p, &[pra.clone(), exchange.clone()]);
    let ids: Vec<_> = f.iter().map(|f| f.event_ids[0].clone()).collect();
    assert_eq!(ids, vec![pra.id.clone()]);
    // A configured name matches an event that carries only the template id, and the other way.
    let mut exchange_by_id = exchange.clone();
    exchange_by_id.privilege = None;
    let by_name = notice(vec!["exchange administrator".into()]);
    assert_eq!(eval(&by_name, &p, &[exchange_by_id, pra.clone()]).len(), 1);
    let by_id = notice(vec![EXCHANGE_ADMIN.to_uppercase()]);
    assert_eq!(eval(&by_id, &p, &[exchange, pra]).len(), 1);
    // Deactivations, linked second records and failures are no notices.
    let mut linked = completed(
        "a4",
        "bob@contoso.com",
        GA,
        Some("Global Administrator"),
        "",
    );
    linked.linked_to = Some(linked.id.clone());
    let mut failed = linked.clone();
    failed.linked_to = None;
    failed.outcome = Outcome::Failure;
    let deact = entra(
        Action::RoleDeactivated,
        "a5",
        "2024-05-06T09:00:00Z",
        "bob@contoso.com",
        GA,
    );
    assert!(eval(&defaults, &p, &[linked, failed, deact]).is_empty());
}

#[test]
fn notices_are_sent_once_and_do_not_stay_open() {
    let e = completed(
        "a1",
        "alice@contoso.com",
        GA,
        Some("Global Administrator"),
        "",
    );
    let rules: Vec<Box<dyn Rule>> = vec![Box::new(notice(default_notice_roles()))];
    let alerts = backtest(
        &[e],
        &Policy::default(),
        &rules,
        t("2024-05-06T08:00:00Z"),
        t("2024-05-06T09:00:00Z"),
        chrono::Duration::minutes(15),
    );
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].severity, Severity::Info);
    assert_eq!(alerts[0].status, AlertStatus::Resolved);
    assert_eq!(alerts[0].last_notified_at, Some(t("2024-05-06T08:02:12Z")));
    assert_eq!(alerts[0].resolved_at, Some(t("2024-05-06T08:15:00Z")));
}
