//! Rules over Entra role events: eligibilities with no end, and notices of activations.

use std::collections::{BTreeMap, HashSet};

use privtrail_model::{Action, Event, Outcome, format_time, names};
use serde_json::Value;

use crate::policy::PRIVILEGED_ROLES;
use crate::rule::{Context, Finding, Rule, Severity};

/// Template id of Entra's Privileged Role Administrator role.
pub const PRIVILEGED_ROLE_ADMIN_TEMPLATE_ID: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
/// Template id of Entra's Security Administrator role.
pub const SECURITY_ADMIN_TEMPLATE_ID: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";

/// The roles `activation-notice` reports by default: the ones that can take over the tenant
/// (Global Administrator; Privileged Role Administrator, which can assign any role) or switch off
/// its defences (Security Administrator).
pub const NOTICE_ROLES: [&str; 3] = [
    "Global Administrator",
    "Privileged Role Administrator",
    "Security Administrator",
];

/// A role event that counts: succeeded, and not the second record of one change.
pub(super) fn counts(e: &Event, action: Action) -> bool {
    e.action == action && e.outcome == Outcome::Success && e.linked_to.is_none()
}

/// `alice@contoso.com`, or `Alice Admin (alice@contoso.com)` when the display name is known.
pub(super) fn who(e: &Event) -> String {
    match e.target.as_deref() {
        Some(t) => names::display(t, e.target_name.as_deref()),
        None => e
            .target_name
            .clone()
            .unwrap_or_else(|| "unknown principal".to_owned()),
    }
}

pub(super) fn role(e: &Event) -> &str {
    e.privilege
        .as_deref()
        .or(e.privilege_id.as_deref())
        .unwrap_or("unknown role")
}

/// `permanent-eligibility`: an eligibility to a privileged Entra role with no end date
/// (`role.eligibility.assigned` with no `expires_at`, unless its activity says `timebound`), for a
/// principal that is not a break-glass account. Such an eligibility never has to be renewed or
/// reviewed, so whoever holds it can activate the role for ever. Occurrence, subject = tenant +
/// principal + role + scope (a repeat updates the alert).
#[derive(Debug, Clone)]
pub struct PermanentEligibility {
    pub severity: Severity,
    /// Extra exempt principals (besides the policy's `break_glass`).
    pub break_glass: Vec<String>,
    /// Treat every role as privileged.
    pub any_role: bool,
}

impl Rule for PermanentEligibility {
    fn id(&self) -> &str {
        "permanent-eligibility"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(vec![Action::RoleEligibilityAssigned])
    }
    fn description(&self) -> String {
        format!(
            "an eligibility to {} with no end date (break-glass accounts exempt)",
            if self.any_role {
                "any Entra role"
            } else {
                "a privileged Entra role"
            }
        )
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let p = ctx.policy;
        let exempt: HashSet<String> = self.break_glass.iter().map(|b| p.canonical(b)).collect();
        let mut out: BTreeMap<String, Finding> = BTreeMap::new();
        for e in ctx
            .new_events
            .iter()
            .filter(|e| counts(e, Action::RoleEligibilityAssigned))
            // "(timebound)" with its end missing from the record is not permanent: its end is
            // unknown, not absent.
            .filter(|e| {
                e.expires_at.is_none() && !e.event_code.to_lowercase().contains("timebound")
            })
            .filter(|e| {
                self.any_role
                    || p.is_privileged_role(e.privilege_id.as_deref(), e.privilege.as_deref())
            })
        {
            let Some(target) = e.target.as_deref() else {
                continue;
            };
            if p.is_break_glass(target) || exempt.contains(&p.canonical(target)) {
                continue;
            }
            let scope = e.scope.as_deref().unwrap_or("/");
            let role_key = e
                .privilege_id
                .as_deref()
                .or(e.privilege.as_deref())
                .unwrap_or("?")
                .to_lowercase();
            let subject = format!(
                "{}|{}|{role_key}|{}",
                e.tenant.as_deref().unwrap_or("-").to_lowercase(),
                p.canonical(target),
                scope.to_lowercase()
            );
            let summary = format!(
                "{} made {} eligible for {} at {scope} with no end date ({})",
                e.actor.as_deref().unwrap_or("someone"),
                who(e),
                role(e),
                format_time(e.time)
            );
            let f = out.entry(subject.clone()).or_insert_with(|| Finding {
                rule: self.id().to_owned(),
                severity: self.severity,
                subject,
                principal: Some(p.resolve(target)),
                privilege: Some(role(e).to_owned()),
                scope: Some(scope.to_owned()),
                summary: String::new(),
                event_ids: Vec::new(),
                elevation_id: None,
                condition: false,
            });
            f.summary = summary;
            f.event_ids.push(e.id.clone());
        }
        out.into_values().collect()
    }
}

/// `activation-notice` (off by default): a notice of every completed PIM activation
/// (`role.activated`) of the configured roles, saying who activated which role, their
/// justification and ticket, the start and the promised end — what organizations otherwise build
/// with Power Automate. Roles match by name or template id (a built-in role's name also matches
/// its template id and the other way round).
///
/// A notice is reported once, when its activation arrives, as a condition (subject = the event
/// id): its alert opens and is sent, then resolves itself at the next evaluation, so that notices
/// never pile up as open alerts. The ticket is read from the record's `additionalDetails`
/// (`TicketNumber`, `TicketSystem`) when the record is at hand (see [`Rule::raw_inputs`]); PIM
/// may write it on the request only, so the request of the same `correlationId` among the new
/// events is asked too.
#[derive(Debug, Clone)]
pub struct ActivationNotice {
    pub severity: Severity,
    /// Role names or template ids, any case.
    pub roles: Vec<String>,
}

impl ActivationNotice {
    fn watched(&self, e: &Event) -> bool {
        let id = e.privilege_id.as_deref().map(str::trim);
        let name = e.privilege.as_deref().map(str::trim);
        let is = |v: Option<&str>, k: &str| v.is_some_and(|v| v.eq_ignore_ascii_case(k.trim()));
        self.roles.iter().any(|r| {
            is(id, r)
                || is(name, r)
                || PRIVILEGED_ROLES
                    .iter()
                    .filter(|(i, n)| is(Some(r), i) || is(Some(r), n))
                    .any(|(i, n)| is(id, i) || is(name, n))
        })
    }
}

/// `ServiceNow INC0012345` from a Graph `directoryAudit` (or its Log Analytics export, where
/// `AdditionalDetails` is a JSON string): the `TicketSystem` and `TicketNumber` details, any case.
fn ticket(raw: &str) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let v: Value = serde_json::from_str(raw).ok()?;
    let record = v.as_object()?;
    let field = |m: &serde_json::Map<String, Value>, k: &str| -> Option<Value> {
        m.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let details = match field(record, "additionalDetails")? {
        Value::String(s) => serde_json::from_str(&s).ok()?,
        other => other,
    };
    let detail = |k: &str| -> Option<String> {
        details.as_array()?.iter().find_map(|d| {
            let d = d.as_object()?;
            let key = field(d, "key")?;
            if !key.as_str()?.eq_ignore_ascii_case(k) {
                return None;
            }
            let value = field(d, "value")?;
            let value = value.as_str()?.trim();
            (!value.is_empty()).then(|| value.to_owned())
        })
    };
    match (detail("TicketSystem"), detail("TicketNumber")) {
        (Some(s), Some(n)) => Some(format!("{s} {n}")),
        (None, Some(n)) => Some(n),
        _ => None,
    }
}

impl Rule for ActivationNotice {
    fn id(&self) -> &str {
        "activation-notice"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(vec![Action::RoleActivated, Action::RoleActivationRequested])
    }
    fn raw_inputs(&self) -> Vec<Action> {
        vec![Action::RoleActivated, Action::RoleActivationRequested]
    }
    fn description(&self) -> String {
        format!(
            "notice of every completed activation of {}: who, role, justification, ticket, start, promised end",
            self.roles.join(", ")
        )
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        ctx.new_events
            .iter()
            .filter(|e| counts(e, Action::RoleActivated) && self.watched(e))
            .map(|e| {
                let until = e.expires_at.map_or_else(
                    || "no end recorded".to_owned(),
                    |t| format!("until {}", format_time(t)),
                );
                let justification = e
                    .justification
                    .as_deref()
                    .map(str::trim)
                    .filter(|j| !j.is_empty())
                    .map_or_else(|| "none given".to_owned(), |j| format!("{j:?}"));
                let request = || {
                    let corr = e.correlation_id.as_deref().filter(|c| !c.trim().is_empty())?;
                    ctx.new_events.iter().find_map(|r| {
                        (r.action == Action::RoleActivationRequested
                            && r.correlation_id.as_deref() == Some(corr))
                        .then(|| ticket(&r.raw))
                        .flatten()
                    })
                };
                let ticket = ticket(&e.raw)
                    .or_else(request)
                    .unwrap_or_else(|| "none recorded".to_owned());
                let tenant = e
                    .tenant
                    .as_deref()
                    .map(|t| format!(" in tenant {t}"))
                    .unwrap_or_default();
                Finding {
                    rule: self.id().to_owned(),
                    severity: self.severity,
                    subject: e.id.to_string(),
                    principal: e.target.as_deref().map(|t| ctx.policy.resolve(t)),
                    privilege: Some(role(e).to_owned()),
                    scope: e.scope.clone(),
                    summary: format!(
                        "{} activated {}{tenant} at {}, {until}; justification: {justification}; ticket: {ticket}",
                        who(e),
                        role(e),
                        format_time(e.time),
                    ),
                    event_ids: vec![e.id.clone()],
                    elevation_id: None,
                    condition: true,
                }
            })
            .collect()
    }
}

/// The default of [`ActivationNotice::roles`].
pub fn default_notice_roles() -> Vec<String> {
    NOTICE_ROLES.iter().map(|r| (*r).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::GLOBAL_ADMIN_TEMPLATE_ID;

    #[test]
    fn default_roles_are_known_by_template_id() {
        for (name, id) in [
            ("Global Administrator", GLOBAL_ADMIN_TEMPLATE_ID),
            (
                "Privileged Role Administrator",
                PRIVILEGED_ROLE_ADMIN_TEMPLATE_ID,
            ),
            ("Security Administrator", SECURITY_ADMIN_TEMPLATE_ID),
        ] {
            assert!(NOTICE_ROLES.contains(&name));
            assert!(PRIVILEGED_ROLES.contains(&(id, name)), "{name}");
        }
    }

    #[test]
    fn ticket_from_graph_and_log_analytics_shapes() {
        let graph = r#"{"id":"1","additionalDetails":[{"key":"Justification","value":"x"},{"key":"TicketNumber","value":"INC0012345"},{"key":"TicketSystem","value":"ServiceNow"}]}"#;
        assert_eq!(ticket(graph).as_deref(), Some("ServiceNow INC0012345"));
        let la =
            r#"{"Id":"1","AdditionalDetails":"[{\"key\":\"ticketnumber\",\"value\":\"CHG-7\"}]"}"#;
        assert_eq!(ticket(la).as_deref(), Some("CHG-7"));
        let empty = r#"{"additionalDetails":[{"key":"TicketNumber","value":" "}]}"#;
        assert_eq!(ticket(empty), None);
        assert_eq!(ticket(""), None);
        assert_eq!(ticket("not json"), None);
    }
}
