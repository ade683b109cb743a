//! The notable things planted in the estate (see `facts` for the queries that find them).

use super::day::{jit_grant, session};
use super::estate::Estate;
use super::events::*;
use super::record::*;
use crate::rng::Rng;

/// Accounts that only the planted scenarios touch, so facts about them are exact.
#[derive(Debug, Clone)]
pub(crate) struct Cast {
    /// Granted local admin on a workstation by the RMM tool; the removal never ran.
    pub never_removed_rmm: Account,
    /// Granted local admin on the SQL server by the helpdesk; never removed.
    pub never_removed_helpdesk: Account,
    /// Added to and removed from Administrators on the jump host within a minute.
    pub quick: Account,
    /// Created on the DC and put into Domain Admins.
    pub created: Account,
}

impl Cast {
    pub(crate) fn new(e: &Estate) -> Self {
        let a = |sam: &str, display: &str, ou: &str, rid: u32| Account {
            sam: sam.to_owned(),
            domain: e.netbios.clone(),
            sid: format!("{}-{rid}", e.domain_sid),
            display: display.to_owned(),
            dn: format!("CN={display},{ou},DC=contoso,DC=local"),
            admin: false,
        };
        Cast {
            never_removed_rmm: a("nina.patel", "Nina Patel", "OU=Staff", 1601),
            never_removed_helpdesk: a("oscar.wu", "Oscar Wu", "OU=Staff", 1602),
            quick: a("quentin.roy", "Quentin Roy", "OU=Contractors", 1603),
            created: a("support-tmp", "support-tmp", "CN=Users", 1604),
        }
    }
}

/// Plants the scenarios into `per_machine` (records of machine i, unsorted), spread over
/// `[start, end)` regardless of how many days that is.
pub(crate) fn plant(
    e: &Estate,
    c: &Cast,
    seed: u64,
    (start, end): (Ticks, Ticks),
    per_machine: &mut [Vec<Rec>],
) {
    let mut rng = Rng::derive(seed, 0x5CE4A7, 1);
    let rng = &mut rng;
    let at = |frac: f64| start + ((end - start) as f64 * frac) as Ticks;
    let dc = e.find(Role::DomainController).unwrap_or(0);
    let sql = e.find(Role::SqlServer).unwrap_or(0);
    let jump = e.find(Role::JumpHost).unwrap_or(0);
    let workstations: Vec<usize> = (0..e.machines.len())
        .filter(|&i| e.machines[i].role == Role::Workstation)
        .collect();
    let ws = workstations
        .get(1)
        .or(workstations.first())
        .copied()
        .unwrap_or(sql);
    let administrators = ("Administrators", "Builtin", "S-1-5-32-544");
    let (frank, erin) = (&e.admins[2], &e.admins[1]);
    let frank_ip = e.user_ip(5);
    let erin_ip = e.user_ip(4);

    // Helpdesk: a completed, documented grant on the SQL server (dave, 3 hours)…
    let m = &e.machines[sql];
    let out = &mut per_machine[sql];
    let t = at(0.12);
    let id = session(rng, m, out, erin, 3, (&erin_ip, "-"), t - 30 * SEC, 4 * MIN);
    out.push(group_member(
        rng,
        m,
        t,
        &K4732,
        &e.users[3],
        true,
        administrators,
        (erin, &id),
    ));
    let id = session(
        rng,
        m,
        out,
        erin,
        3,
        (&erin_ip, "-"),
        t + 3 * HOUR - 30 * SEC,
        2 * MIN,
    );
    out.push(group_member(
        rng,
        m,
        t + 3 * HOUR,
        &K4733,
        &e.users[3],
        true,
        administrators,
        (erin, &id),
    ));
    // …and one whose removal never came.
    let t = at(0.3);
    let id = session(rng, m, out, erin, 3, (&erin_ip, "-"), t - 40 * SEC, 5 * MIN);
    out.push(group_member(
        rng,
        m,
        t,
        &K4732,
        &c.never_removed_helpdesk,
        true,
        administrators,
        (erin, &id),
    ));
    // The RMM tool puts the backup account into Backup Operators (privileged) and leaves it there.
    let t = at(0.35);
    let id = session(
        rng,
        m,
        out,
        &e.svc_rmm,
        3,
        (&e.rmm_ip, "-"),
        t - 2 * SEC,
        6 * SEC,
    );
    let backup_ops = ("Backup Operators", "Builtin", "S-1-5-32-551");
    out.push(group_member(
        rng,
        m,
        t,
        &K4732,
        &e.svc_backup,
        false,
        backup_ops,
        (&e.svc_rmm, &id),
    ));
    // Auditing of group changes switched off on the SQL server.
    out.push(audit_policy_changed(rng, m, at(0.78), "%%8448, %%8450"));

    // The RMM tool grants local admin on a workstation; its clean-up never runs.
    let m = &e.machines[ws];
    let out = &mut per_machine[ws];
    let t = at(0.7);
    let id = session(
        rng,
        m,
        out,
        &e.svc_rmm,
        3,
        (&e.rmm_ip, "-"),
        t - 2 * SEC,
        6 * SEC,
    );
    out.push(group_member(
        rng,
        m,
        t,
        &K4732,
        &c.never_removed_rmm,
        false,
        administrators,
        (&e.svc_rmm, &id),
    ));
    // She signs in 20 minutes later to use it (her logon is what names her SID). Its own random
    // stream, so the scenarios after this one stay as they were.
    let mut own = Rng::derive(seed, 0x5CE4A7, 2);
    session(
        &mut own,
        m,
        out,
        &c.never_removed_rmm,
        2,
        ("127.0.0.1", "-"),
        t + 20 * MIN,
        45 * MIN,
    );

    // Jump host: Remote Desktop Users (not privileged), a grant removed within a minute, a log clear.
    let m = &e.machines[jump];
    let out = &mut per_machine[jump];
    let t = at(0.2);
    let id = session(
        rng,
        m,
        out,
        erin,
        10,
        (&erin_ip, "-"),
        t - 3 * MIN,
        25 * MIN,
    );
    let rdu = ("Remote Desktop Users", "Builtin", "S-1-5-32-555");
    out.push(group_member(
        rng,
        m,
        t,
        &K4732,
        &e.users[1],
        true,
        rdu,
        (erin, &id),
    ));
    let t = at(0.55);
    let id = session(
        rng,
        m,
        out,
        frank,
        10,
        (&frank_ip, "-"),
        t - 4 * MIN,
        40 * MIN,
    );
    out.push(group_member(
        rng,
        m,
        t,
        &K4732,
        &c.quick,
        false,
        administrators,
        (frank, &id),
    ));
    out.push(group_member(
        rng,
        m,
        t + 38 * SEC + 2_127_301,
        &K4733,
        &c.quick,
        false,
        administrators,
        (frank, &id),
    ));
    let t = at(0.82);
    let id = session(
        rng,
        m,
        out,
        frank,
        10,
        (&frank_ip, "-"),
        t - 6 * MIN,
        12 * MIN,
    );
    out.push(log_cleared(rng, m, t, (frank, &id)));

    // Domain controller: a new account straight into Domain Admins.
    let m = &e.machines[dc];
    let out = &mut per_machine[dc];
    let t = at(0.8);
    let id = session(
        rng,
        m,
        out,
        frank,
        10,
        (&frank_ip, "-"),
        t - 5 * MIN,
        30 * MIN,
    );
    out.push(account_created(rng, m, t, &c.created, (frank, &id)));
    let domain_admins = format!("{}-512", e.domain_sid);
    let da = ("Domain Admins", e.netbios.as_str(), domain_admins.as_str());
    out.push(group_member(
        rng,
        m,
        t + 2 * MIN,
        &K4728,
        &c.created,
        true,
        da,
        (frank, &id),
    ));

    // One extra ordinary JIT grant on the first workstation, so there is always one to compare with.
    if let Some(&w) = workstations.first() {
        let owner = e.machines[w].owner.unwrap_or(0);
        jit_grant(
            e,
            rng,
            &e.machines[w],
            &mut per_machine[w],
            owner,
            at(0.45),
            Some(2 * HOUR),
        );
    }
}
