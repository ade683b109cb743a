//! The demo's tenant: contoso.com's people, roles and five days of PIM stories, relative to `now`
//! and deterministic per seed. See [`scenario`] for the stories.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::records::{
    By, MS_PIM_APP_ID, Person, RoleDef, assignment_instance, eligibility_instance, schedule_id,
};
use super::{SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_TENANT_ID, TenantSim, policies};
use crate::rng::Rng;

pub(crate) const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
pub(crate) const PRA: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
pub(crate) const EXCHANGE: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
pub(crate) const USER_ADMIN: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
pub(crate) const SECURITY: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";
pub(crate) const HELPDESK: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";

/// (id = template id, name, description, well-known object name, some allowed actions).
type RoleRow = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [&'static str],
);

#[rustfmt::skip]
const ROLES: &[RoleRow] = &[
    (GA, "Global Administrator", "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.", Some("TenantAdmins"), &["microsoft.directory/*/allTasks"]),
    (PRA, "Privileged Role Administrator", "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.", None, &["microsoft.directory/roleAssignments/allProperties/allTasks", "microsoft.directory/privilegedIdentityManagement/allProperties/allTasks"]),
    (EXCHANGE, "Exchange Administrator", "Can manage all aspects of the Exchange product.", None, &["microsoft.office365.exchange/allEntities/basic/allTasks"]),
    (USER_ADMIN, "User Administrator", "Can manage all aspects of users and groups, including resetting passwords for limited admins.", None, &["microsoft.directory/users/allProperties/allTasks", "microsoft.directory/groups/allProperties/allTasks"]),
    (SECURITY, "Security Administrator", "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365.", None, &["microsoft.directory/identityProtection/allProperties/allTasks", "microsoft.office365.securityComplianceCenter/allEntities/allTasks"]),
    (HELPDESK, "Helpdesk Administrator", "Can reset passwords for non-administrators and Helpdesk Administrators.", None, &["microsoft.directory/users/password/update", "microsoft.directory/users/invalidateAllRefreshTokens"]),
    ("f28a1f50-f6e7-4571-818b-6a12f2af6b6c", "SharePoint Administrator", "Can manage all aspects of the SharePoint service.", None, &["microsoft.office365.sharePoint/allEntities/allTasks"]),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader", "Can read everything that a Global Administrator can, but not update anything.", None, &["microsoft.directory/*/allProperties/read"]),
    ("9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "Application Administrator", "Can create and manage all aspects of app registrations and enterprise apps.", None, &["microsoft.directory/applications/allProperties/allTasks"]),
    ("fdd7a751-b60b-444a-984c-02652fe8fa1c", "Groups Administrator", "Members of this role can create/manage groups, create/manage groups settings like naming and expiration policies, and view groups activity and audit reports.", None, &["microsoft.directory/groups/allProperties/allTasks"]),
];

/// (given, surname, job, on-premises RID) — the first eight are the simulated Windows domain's
/// staff (`crate::windows`), so `onPremisesSecurityIdentifier` joins with the Windows events.
#[rustfmt::skip]
const PEOPLE: &[(&str, &str, &str, Option<u64>)] = &[
    ("Alice", "Martin", "Cloud Platform Lead", Some(1104)),
    ("Bob", "Kowalski", "Messaging Engineer", Some(1105)),
    ("Carol", "Diaz", "Identity Engineer", Some(1106)),
    ("Dave", "Reed", "Infrastructure Engineer", Some(1107)),
    ("Erin", "Shaw", "Security Analyst", Some(1108)),
    ("Frank", "Tan", "Contractor (Exchange migration)", Some(1109)),
    ("Grace", "Lee", "IAM Manager", Some(1110)),
    ("Heidi", "Lang", "Service Desk", Some(1111)),
    ("Ivan", "Novak", "Legacy Systems Admin", Some(1112)),
];
pub(crate) const BREAK_GLASS: &str = "breakglass@contoso.com";

/// How an activation ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum End {
    /// PIM's expiry job removed it (the PIM pair, a little after the expiry time).
    Expired,
    /// The user deactivated it after this long.
    Deactivated(Duration),
    /// No removal was logged (still active, or a removal that never came).
    Never,
}

pub(crate) struct Builder {
    pub now: DateTime<Utc>,
    pub rng: Rng,
    pub people: Vec<Person>,
    pub roles: Vec<RoleDef>,
    pub pim_sp: String,
    pub audits: Vec<Value>,
    pub assignments: Vec<Value>,
    pub eligibilities: Vec<Value>,
    /// Role settings that differ from the defaults, by role id.
    pub settings: std::collections::HashMap<String, super::policies::Settings>,
}

/// The demo tenant. Stories (times before `now`, jittered per seed):
/// - alice activates Global Administrator (1 h, 4 d ago; 2 h, 30 h ago), both expire;
/// - erin activates Security Administrator (2 h, ~3.8 d ago), expires; and again 40 min ago (2 h):
///   still active;
/// - dave activates Privileged Role Administrator ~3 d ago and deactivates it himself after 35 min;
///   9 h ago he activates it for 1 h and the removal never comes (still `Activated` in
///   roleAssignmentScheduleInstances with an `endDateTime` 8 h ago);
/// - carol's User Administrator activation needs approval: grace approves it, it expires; carol's
///   Security Administrator request is denied;
/// - bob activates Exchange Administrator four times within one day (two expire, two deactivated);
/// - grace makes heidi eligible for Helpdesk Administrator (timebound, 180 days) and gives frank a
///   permanent *active* Exchange Administrator assignment in PIM;
/// - the break-glass account updates a user and assigns ivan Global Administrator outside PIM;
/// - grace changes the Global Administrator role setting (2 h maximum, approval required), and 2 h
///   ago removes MFA on activation of Security Administrator and raises its maximum to 24 h (erin
///   activates it 40 min later);
/// - routine user, group and app management.
pub fn scenario(now: DateTime<Utc>, seed: u64) -> TenantSim {
    let mut b = Builder::new(now, seed);
    let [alice, bob, carol, dave, erin, frank, grace, heidi, ivan, bg] = std::array::from_fn(|i| i);
    let h = Duration::hours;
    let m = Duration::minutes;

    b.eligible_before(&[
        (alice, GA),
        (bob, EXCHANGE),
        (carol, USER_ADMIN),
        (carol, SECURITY),
        (dave, PRA),
        (erin, SECURITY),
    ]);
    b.permanent_before(bg, GA);
    b.permanent_before(grace, PRA);

    b.activation(
        alice,
        GA,
        h(4 * 24 + 5),
        h(1),
        None,
        End::Expired,
        "Quarterly licence reconciliation",
    );
    b.activation(
        erin,
        SECURITY,
        h(3 * 24 + 20),
        h(2),
        None,
        End::Expired,
        "Review Defender alert policy",
    );
    b.activation(
        dave,
        PRA,
        h(3 * 24 + 2),
        h(2),
        None,
        End::Deactivated(m(35)),
        "Fix role assignment for new hire",
    );
    b.activation(
        carol,
        USER_ADMIN,
        h(3 * 24),
        h(2),
        Some((grace, m(18))),
        End::Expired,
        "Bulk onboarding of summer interns",
    );
    let day = h(2 * 24 + 10);
    for (i, (offset, end)) in [
        (m(0), End::Expired),
        (h(2) + m(25), End::Deactivated(m(22))),
        (h(5) + m(5), End::Expired),
        (h(8) + m(40), End::Deactivated(m(35))),
    ]
    .into_iter()
    .enumerate()
    {
        let why = [
            "Mailbox migration batch",
            "Fix transport rule",
            "Mailbox migration batch",
            "Shared mailbox permissions",
        ][i];
        b.activation(bob, EXCHANGE, day - offset, h(1), None, end, why);
    }
    b.eligible_in_pim(grace, heidi, HELPDESK, h(2 * 24 + 3), Duration::days(180));
    b.permanent_in_pim(grace, frank, EXCHANGE, h(24 + 22));
    b.activation(
        alice,
        GA,
        h(24 + 6),
        h(2),
        None,
        End::Expired,
        "Conditional Access change CHG-2231",
    );
    b.denied(
        carol,
        SECURITY,
        h(24 + 4),
        grace,
        m(25),
        "Need to check sign-in risk policy",
        "Use the Security Reader role for read-only checks",
    );
    b.outside_pim(bg, ivan, GA, h(24 + 1));
    b.activation(
        dave,
        PRA,
        h(9),
        h(1),
        None,
        End::Never,
        "Emergency: restore PIM settings",
    );
    b.activation(
        erin,
        SECURITY,
        m(40),
        h(2),
        None,
        End::Never,
        "Incident INC-4471 containment",
    );
    b.role_setting(grace, GA, h(3 * 24 + 6));
    b.weaken_setting(grace, SECURITY, h(2));
    b.noise(bg, grace, alice);
    let policy_id = b.rng.uuid();
    let policies = b
        .roles
        .iter()
        .map(|r| policies::assignment(SIM_TENANT_ID, r.id, &policy_id, &b.settings_of(r.id)))
        .collect();

    TenantSim {
        tenant_id: SIM_TENANT_ID.into(),
        client_id: SIM_CLIENT_ID.into(),
        client_secret: SIM_CLIENT_SECRET.into(),
        users: b.people.iter().map(Person::json).collect(),
        roles: b.roles.iter().map(RoleDef::json).collect(),
        audits: b.audits,
        assignments: b.assignments,
        eligibilities: b.eligibilities,
        policies,
    }
}

impl Builder {
    fn new(now: DateTime<Utc>, seed: u64) -> Self {
        // The same domain SID as `crate::windows`' estate for this seed.
        let mut d = Rng::derive(seed, 0xE57A7E, 0);
        let domain_sid = format!(
            "S-1-5-21-{}-{}-{}",
            d.range(1_000_000_000, 4_000_000_000),
            d.range(1_000_000_000, 4_000_000_000),
            d.range(100_000_000, 2_000_000_000)
        );
        let mut rng = Rng::derive(seed, 0x00E7_7A1D, 0);
        let mut people: Vec<Person> = PEOPLE
            .iter()
            .map(|(given, surname, job, rid)| Person {
                id: rng.uuid(),
                upn: format!("{}@contoso.com", given.to_lowercase()),
                display: format!("{given} {surname}"),
                given: (*given).into(),
                surname: (*surname).into(),
                job: (*job).into(),
                sid: rid.map(|r| format!("{domain_sid}-{r}")),
                sam: rid.map(|_| format!("{}.{}", given.to_lowercase(), surname.to_lowercase())),
                ip: format!("203.0.113.{}", rng.range(10, 250)),
            })
            .collect();
        people.push(Person {
            id: rng.uuid(),
            upn: BREAK_GLASS.into(),
            display: "Break Glass (emergency access)".into(),
            given: "Break".into(),
            surname: "Glass".into(),
            job: "Emergency access account".into(),
            sid: None,
            sam: None,
            ip: format!("198.51.100.{}", rng.range(10, 250)),
        });
        let roles = ROLES
            .iter()
            .map(|(id, name, description, well_known, actions)| RoleDef {
                id,
                name,
                description,
                actions,
                object_id: rng.uuid(),
                well_known: *well_known,
            })
            .collect();
        let pim_sp = rng.uuid();
        let now = now - Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos() % 100));
        Builder {
            now,
            rng,
            people,
            roles,
            pim_sp,
            audits: Vec::new(),
            assignments: Vec::new(),
            eligibilities: Vec::new(),
            settings: std::collections::HashMap::new(),
        }
    }

    pub(crate) fn role(&self, id: &str) -> RoleDef {
        self.roles
            .iter()
            .find(|r| r.id == id)
            .cloned()
            .unwrap_or_else(|| self.roles[0].clone())
    }

    /// `ago` before now, jittered by up to ±4 min, with Graph's 100 ns resolution.
    pub(crate) fn at(&mut self, ago: Duration) -> DateTime<Utc> {
        let jitter = self.rng.range(0, 480) as i64 - 240;
        let frac = self.rng.range(0, 10_000_000) as i64 * 100;
        let t = self.now - ago + Duration::seconds(jitter);
        t - Duration::nanoseconds(i64::from(t.timestamp_subsec_nanos()))
            + Duration::nanoseconds(frac)
    }

    /// Small forward step (`lo..hi` ms) with sub-second noise.
    pub(crate) fn after(&mut self, t: DateTime<Utc>, lo: u64, hi: u64) -> DateTime<Utc> {
        t + Duration::milliseconds(self.rng.range(lo, hi) as i64)
            + Duration::nanoseconds(self.rng.range(0, 10_000) as i64 * 100)
    }

    pub(crate) fn pim_app(&self) -> By<'_> {
        By::App {
            app_id: MS_PIM_APP_ID,
            name: "MS-PIM",
            sp_id: &self.pim_sp,
        }
    }

    /// An id as PIM writes them (a GUID) or as Core Directory does (`Directory_…`).
    pub(crate) fn audit_id(&mut self, service: &str, correlation: &str) -> String {
        if service == "Core Directory" {
            let tag: String = (0..5)
                .map(|_| (b'A' + self.rng.below(26) as u8) as char)
                .collect();
            format!(
                "Directory_{correlation}_{tag}_{}",
                10_000_000 + self.rng.below(89_999_999)
            )
        } else {
            self.rng.uuid()
        }
    }

    fn eligible_before(&mut self, list: &[(usize, &str)]) {
        for &(p, role) in list {
            let start = self.now - Duration::days(120 + self.rng.range(0, 60) as i64);
            let principal = self.people[p].id.clone();
            let id = schedule_id(role, &principal, "-1-e");
            self.eligibilities.push(eligibility_instance(
                &id,
                &principal,
                role,
                Some(start),
                None,
            ));
        }
    }

    fn permanent_before(&mut self, p: usize, role: &str) {
        let principal = self.people[p].id.clone();
        let id = schedule_id(role, &principal, "-1");
        self.assignments.push(assignment_instance(
            &id, &principal, role, None, None, "Assigned", &id,
        ));
    }
}
