//! The stories' audit records and the schedule instances they leave behind.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::codec::graph_time;
use super::records::{
    AuditRec, By, Person, RoleDef, assignment_instance, eligibility_instance, prop, quoted,
    role_props, schedule_id, target,
};
use super::scenario::{Builder, End};

const ADD_REQUESTED: &str = "Add member to role requested (PIM activation)";
const ADD_APPROVED: &str = "Add member to role request approved (PIM activation)";
const ADD_DENIED: &str = "Add member to role request denied (PIM activation)";
const ADD_COMPLETED: &str = "Add member to role completed (PIM activation)";
const DEACT_REQUESTED: &str = "Remove member from role requested (PIM deactivate)";
const DEACT_COMPLETED: &str = "Remove member from role completed (PIM deactivate)";
const EXPIRED: &str = "Remove member from role (PIM activation expired)";
const PIM_PERMANENT: &str = "Add member to role in PIM completed (permanent)";
const ELIGIBLE_TIMEBOUND: &str = "Add eligible member to role in PIM completed (timebound)";
const OUTSIDE_PIM: &str = "Add member to role outside of PIM (permanent)";
const CORE_ADD: &str = "Add member to role";
const CORE_REMOVE: &str = "Remove member from role";

/// PIM's targets: the role, the request, the user.
fn pim_targets(role: &RoleDef, request: &str, who: &Person) -> Vec<Value> {
    vec![
        target(role.id, Some(role.name), "Role", None, vec![]),
        target(request, None, "Request", None, vec![]),
        target(&who.id, Some(&who.display), "User", Some(&who.upn), vec![]),
    ]
}

/// Core Directory's targets: the user (carrying the role properties) and the directory role.
fn core_targets(role: &RoleDef, who: &Person, added: bool) -> Vec<Value> {
    vec![
        target(
            &who.id,
            None,
            "User",
            Some(&who.upn),
            role_props(role, added),
        ),
        target(&role.object_id, None, "Role", None, vec![]),
    ]
}

fn role_details(
    role: &RoleDef,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
) -> Vec<(&'static str, String)> {
    vec![
        ("RoleDefinitionOriginId", role.id.to_owned()),
        ("RoleDefinitionOriginType", "BuiltInRole".to_owned()),
        ("TemplateId", role.id.to_owned()),
        ("StartTime", graph_time(start)),
        ("ExpirationTime", end.map(graph_time).unwrap_or_default()),
    ]
}

impl Builder {
    /// A PIM record by a person (or by MS-PIM when `by` is `None`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn pim_record(
        &mut self,
        corr: &str,
        activity: &'static str,
        t: DateTime<Utc>,
        op: &'static str,
        by: Option<usize>,
        targets: Vec<Value>,
        details: Vec<(&'static str, String)>,
        reason: &str,
    ) {
        let id = self.audit_id("PIM", corr);
        let person = by.map(|p| self.people[p].clone());
        let by = match &person {
            Some(p) => By::User(p),
            None => self.pim_app(),
        };
        let json = AuditRec {
            id,
            category: "RoleManagement",
            correlation: corr.to_owned(),
            success: true,
            reason: reason.to_owned(),
            activity,
            time: t,
            service: "PIM",
            operation: op,
            by,
            targets,
            details,
        }
        .json();
        self.audits.push(json);
    }

    /// A Core Directory role change, by MS-PIM (`by` = `None`) or by a person.
    fn core(
        &mut self,
        corr: &str,
        role: &RoleDef,
        who: usize,
        added: bool,
        t: DateTime<Utc>,
        by: Option<usize>,
    ) {
        let id = self.audit_id("Core Directory", corr);
        let target_person = self.people[who].clone();
        let person = by.map(|p| self.people[p].clone());
        let by = match &person {
            Some(p) => By::User(p),
            None => self.pim_app(),
        };
        let json = AuditRec {
            id,
            category: "RoleManagement",
            correlation: corr.to_owned(),
            success: true,
            reason: String::new(),
            activity: if added { CORE_ADD } else { CORE_REMOVE },
            time: t,
            service: "Core Directory",
            operation: if added { "Assign" } else { "Unassign" },
            by,
            targets: core_targets(role, &target_person, added),
            details: vec![],
        }
        .json();
        self.audits.push(json);
    }

    /// An activation: requested, (approved,) completed + Core Directory add, then its end.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn activation(
        &mut self,
        p: usize,
        role_id: &str,
        ago: Duration,
        length: Duration,
        approval: Option<(usize, Duration)>,
        end: End,
        why: &str,
    ) {
        let role = self.role(role_id);
        let who = self.people[p].clone();
        let requested = self.at(ago);
        let (corr, request) = (self.rng.uuid(), self.rng.uuid());
        let ticket = format!("INC{:07}", self.rng.range(1_000_000, 9_999_999));
        let mut details = role_details(&role, requested, Some(requested + length));
        details.extend([
            ("Justification", why.to_owned()),
            ("TicketNumber", ticket.clone()),
            ("TicketSystem", "ServiceNow".to_owned()),
        ]);
        let targets = pim_targets(&role, &request, &who);
        self.pim_record(
            &corr,
            ADD_REQUESTED,
            requested,
            "Assign",
            Some(p),
            targets.clone(),
            details.clone(),
            "",
        );
        let mut granted = requested;
        if let Some((approver, delay)) = approval {
            granted = self.after(requested + delay, 0, 30_000);
            self.pim_record(
                &corr,
                ADD_APPROVED,
                granted,
                "Update",
                Some(approver),
                targets.clone(),
                details.clone(),
                "Approved: matches onboarding ticket",
            );
        }
        let start = self.after(granted, 2_000, 6_000);
        let expires = start + length;
        let mut details = role_details(&role, start, Some(expires));
        details.extend([
            ("Justification", why.to_owned()),
            ("TicketNumber", ticket),
            ("TicketSystem", "ServiceNow".to_owned()),
        ]);
        self.pim_record(
            &corr,
            ADD_COMPLETED,
            start,
            "Assign",
            Some(p),
            targets.clone(),
            details,
            "",
        );
        let core_t = self.after(start, 150, 900);
        self.core(&corr, &role, p, true, core_t, None);
        match end {
            End::Expired => {
                let corr = self.rng.uuid();
                let t = self.after(expires, 5_000, 90_000);
                self.pim_record(
                    &corr,
                    EXPIRED,
                    t,
                    "Unassign",
                    None,
                    targets,
                    role_details(&role, start, Some(expires)),
                    "",
                );
                let core_t = self.after(t, 150, 900);
                self.core(&corr, &role, p, false, core_t, None);
            }
            End::Deactivated(after) => {
                let corr = self.rng.uuid();
                let t = self.after(start + after, 0, 20_000);
                self.pim_record(
                    &corr,
                    DEACT_REQUESTED,
                    t,
                    "Unassign",
                    Some(p),
                    targets.clone(),
                    role_details(&role, start, Some(expires)),
                    "",
                );
                let done = self.after(t, 1_000, 4_000);
                self.pim_record(
                    &corr,
                    DEACT_COMPLETED,
                    done,
                    "Unassign",
                    Some(p),
                    targets,
                    role_details(&role, start, Some(expires)),
                    "",
                );
                let core_t = self.after(done, 150, 900);
                self.core(&corr, &role, p, false, core_t, None);
            }
            End::Never => {
                let origin = schedule_id(role.id, &who.id, "-1-e");
                self.assignments.push(assignment_instance(
                    &request,
                    &who.id,
                    role.id,
                    Some(start),
                    Some(expires),
                    "Activated",
                    &origin,
                ));
            }
        }
    }

    /// A request that the approver denies.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn denied(
        &mut self,
        p: usize,
        role_id: &str,
        ago: Duration,
        approver: usize,
        delay: Duration,
        why: &str,
        answer: &str,
    ) {
        let role = self.role(role_id);
        let who = self.people[p].clone();
        let requested = self.at(ago);
        let (corr, request) = (self.rng.uuid(), self.rng.uuid());
        let mut details = role_details(&role, requested, Some(requested + Duration::hours(1)));
        details.push(("Justification", why.to_owned()));
        let targets = pim_targets(&role, &request, &who);
        self.pim_record(
            &corr,
            ADD_REQUESTED,
            requested,
            "Assign",
            Some(p),
            targets.clone(),
            details.clone(),
            "",
        );
        let t = self.after(requested + delay, 0, 30_000);
        self.pim_record(
            &corr,
            ADD_DENIED,
            t,
            "Update",
            Some(approver),
            targets,
            details,
            answer,
        );
    }

    /// An admin makes `p` eligible for `length` (timebound).
    pub(crate) fn eligible_in_pim(
        &mut self,
        admin: usize,
        p: usize,
        role_id: &str,
        ago: Duration,
        length: Duration,
    ) {
        let role = self.role(role_id);
        let who = self.people[p].clone();
        let t = self.at(ago);
        let (corr, request) = (self.rng.uuid(), self.rng.uuid());
        let mut details = role_details(&role, t, Some(t + length));
        details.push(("Justification", "Joins the service desk rota".to_owned()));
        self.pim_record(
            &corr,
            ELIGIBLE_TIMEBOUND,
            t,
            "Assign",
            Some(admin),
            pim_targets(&role, &request, &who),
            details,
            "",
        );
        let id = schedule_id(role.id, &who.id, "-1-e");
        self.eligibilities.push(eligibility_instance(
            &id,
            &who.id,
            role.id,
            Some(t),
            Some(t + length),
        ));
    }

    /// An admin gives `p` a permanent active assignment through PIM (where eligible was meant).
    pub(crate) fn permanent_in_pim(
        &mut self,
        admin: usize,
        p: usize,
        role_id: &str,
        ago: Duration,
    ) {
        let role = self.role(role_id);
        let who = self.people[p].clone();
        let t = self.at(ago);
        let (corr, request) = (self.rng.uuid(), self.rng.uuid());
        let mut details = role_details(&role, t, None);
        details.push((
            "Justification",
            "Exchange migration (contract until further notice)".to_owned(),
        ));
        self.pim_record(
            &corr,
            PIM_PERMANENT,
            t,
            "Assign",
            Some(admin),
            pim_targets(&role, &request, &who),
            details,
            "",
        );
        let core_t = self.after(t, 150, 900);
        self.core(&corr, &role, p, true, core_t, None);
        let id = schedule_id(role.id, &who.id, "-1");
        self.assignments.push(assignment_instance(
            &id,
            &who.id,
            role.id,
            Some(t),
            None,
            "Assigned",
            &id,
        ));
    }

    /// `actor` adds `p` to a role directly (not through PIM); PIM notices 20-50 s later.
    pub(crate) fn outside_pim(&mut self, actor: usize, p: usize, role_id: &str, ago: Duration) {
        let role = self.role(role_id);
        let who = self.people[p].clone();
        let t = self.at(ago);
        let corr = self.rng.uuid();
        self.core(&corr, &role, p, true, t, Some(actor));
        let (corr, request) = (self.rng.uuid(), self.rng.uuid());
        let seen = self.after(t, 20_000, 50_000);
        self.pim_record(
            &corr,
            OUTSIDE_PIM,
            seen,
            "Assign",
            None,
            pim_targets(&role, &request, &who),
            role_details(&role, t, None),
            "",
        );
        let id = schedule_id(role.id, &who.id, "-1");
        self.assignments.push(assignment_instance(
            &id,
            &who.id,
            role.id,
            Some(t),
            None,
            "Assigned",
            &id,
        ));
    }

    /// An admin shortens the role's maximum activation and requires approval.
    pub(crate) fn role_setting(&mut self, admin: usize, role_id: &str, ago: Duration) {
        let role = self.role(role_id);
        let t = self.at(ago);
        let corr = self.rng.uuid();
        let props = vec![
            prop(
                "ActivationMaximumDuration",
                Some(quoted("PT8H")),
                Some(quoted("PT2H")),
            ),
            prop(
                "ApprovalRequired",
                Some("false".into()),
                Some("true".into()),
            ),
        ];
        let targets = vec![target(role.id, Some(role.name), "Role", None, props)];
        self.pim_record(
            &corr,
            "Update role setting in PIM",
            t,
            "Update",
            Some(admin),
            targets,
            vec![("RoleDefinitionOriginId", role.id.to_owned())],
            "",
        );
        let now = super::policies::Settings {
            max_activation: "PT2H",
            approval: true,
            ..self.settings_of(role_id)
        };
        self.settings.insert(role_id.to_owned(), now);
    }
}
