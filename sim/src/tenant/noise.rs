//! Everyday directory changes around the PIM stories: user, group and app management, and the
//! break-glass account's sign of life.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::records::{AuditRec, By, prop, quoted, target};
use super::scenario::Builder;

impl Builder {
    /// Everyday directory changes (not role management), and the break-glass account's sign of life.
    pub(crate) fn noise(&mut self, break_glass: usize, admin: usize, app_admin: usize) {
        let ivan = 8;
        let t = self.at(Duration::hours(25) + Duration::minutes(6));
        self.other(
            t,
            "UserManagement",
            "Update user",
            "Update",
            break_glass,
            ivan,
            vec![
                prop(
                    "StrongAuthenticationMethod",
                    Some("[{\"MethodType\":6,\"Default\":true}]".into()),
                    Some("[]".into()),
                ),
                prop(
                    "Included Updated Properties",
                    None,
                    Some(quoted("StrongAuthenticationMethod")),
                ),
            ],
        );
        const GROUPS: [&str; 4] = ["Sales Team", "VPN Users", "Finance Readers", "All Staff"];
        const APPS: [&str; 3] = ["Contoso Expenses", "Zoom", "GitHub Enterprise Cloud"];
        const JOBS: [&str; 3] = ["Engineer", "Senior Engineer", "Team Lead"];
        for _ in 0..20 {
            let ago = Duration::seconds(self.rng.range(900, 5 * 86_400) as i64);
            let t = self.at(ago);
            let who = self.rng.range(0, 8) as usize;
            match self.rng.below(4) {
                0 => {
                    let (old, new) = (*self.rng.pick(&JOBS), *self.rng.pick(&JOBS));
                    self.other(
                        t,
                        "UserManagement",
                        "Update user",
                        "Update",
                        admin,
                        who,
                        vec![
                            prop(
                                "JobTitle",
                                Some(format!("[{}]", quoted(old))),
                                Some(format!("[{}]", quoted(new))),
                            ),
                            prop(
                                "Included Updated Properties",
                                None,
                                Some(quoted("JobTitle")),
                            ),
                        ],
                    );
                }
                1 => {
                    let group = *self.rng.pick(&GROUPS);
                    let gid = self.rng.uuid();
                    self.other(
                        t,
                        "GroupManagement",
                        "Add member to group",
                        "Assign",
                        admin,
                        who,
                        vec![
                            prop("Group.ObjectID", None, Some(quoted(&gid))),
                            prop("Group.DisplayName", None, Some(quoted(group))),
                        ],
                    );
                }
                2 => self.other(
                    t,
                    "UserManagement",
                    "Reset user password",
                    "Update",
                    admin,
                    who,
                    vec![],
                ),
                _ => {
                    let app = *self.rng.pick(&APPS);
                    let (corr, sp, app_id) = (self.rng.uuid(), self.rng.uuid(), self.rng.uuid());
                    let id = self.audit_id("Core Directory", &corr);
                    let by = self.people[app_admin].clone();
                    let json = AuditRec {
                        id,
                        category: "ApplicationManagement",
                        correlation: corr,
                        success: true,
                        reason: String::new(),
                        activity: "Add service principal",
                        time: t,
                        service: "Core Directory",
                        operation: "Add",
                        by: By::User(&by),
                        targets: vec![target(
                            &sp,
                            Some(app),
                            "ServicePrincipal",
                            None,
                            vec![
                                prop("AppId", None, Some(quoted(&app_id))),
                                prop("DisplayName", None, Some(quoted(app))),
                            ],
                        )],
                        details: vec![("AppId", app_id.clone())],
                    }
                    .json();
                    self.audits.push(json);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn other(
        &mut self,
        t: DateTime<Utc>,
        category: &'static str,
        activity: &'static str,
        op: &'static str,
        by: usize,
        who: usize,
        props: Vec<Value>,
    ) {
        let corr = self.rng.uuid();
        let id = self.audit_id("Core Directory", &corr);
        let (actor, target_person) = (self.people[by].clone(), self.people[who].clone());
        let json = AuditRec {
            id,
            category,
            correlation: corr,
            success: true,
            reason: String::new(),
            activity,
            time: t,
            service: "Core Directory",
            operation: op,
            by: By::User(&actor),
            targets: vec![target(
                &target_person.id,
                Some(&target_person.display),
                "User",
                Some(&target_person.upn),
                props,
            )],
            details: vec![("UserType", "Member".to_owned())],
        }
        .json();
        self.audits.push(json);
    }
}
