//! One machine's ordinary day of Security events, and the logon sessions they are made of.

use super::estate::Estate;
use super::events::{self, *};
use super::noise::{connection, process, service_ticket};
use super::record::*;
use crate::rng::Rng;

/// A logon session: 4624 (+4672 for admins) at `t`, and its end (4647 for interactive sessions, 4634)
/// after `dur`. Returns the logon id.
#[allow(clippy::too_many_arguments)]
pub(crate) fn session(
    rng: &mut Rng,
    m: &Machine,
    out: &mut Vec<Rec>,
    who: &Account,
    logon_type: u8,
    (ip, client): (&str, &str),
    t: Ticks,
    dur: Ticks,
) -> String {
    let id = rng.logon_id();
    let auth = if logon_type == 3 && client != "-" {
        Auth::Ntlm
    } else {
        Auth::Kerberos
    };
    let how = LogonHow {
        logon_type,
        ip,
        client,
        auth,
        elevated: who.admin || logon_type == 3,
        linked: "0x0",
    };
    out.push(events::logon(rng, m, t, who, &id, how));
    if who.admin {
        out.push(special_privileges(rng, m, t, who, &id, ADMIN_PRIVILEGES));
    }
    let end = t + dur;
    if logon_type == 2 || logon_type == 10 {
        out.push(user_logoff(rng, m, end, who, &id));
    }
    let off = end + rng.range_i(SEC / 2, 3 * SEC);
    out.push(logoff(rng, m, off, who, &id, logon_type));
    id
}

fn at(rng: &mut Rng, day: Ticks, from_h: f64, to_h: f64) -> Ticks {
    day + rng.range_i(
        (from_h * HOUR as f64) as Ticks,
        (to_h * HOUR as f64) as Ticks,
    )
}

/// One ordinary day (starting at `day`, UTC midnight) of machine `mi`, appended to `out` unsorted.
pub(crate) fn machine_day(e: &Estate, mi: usize, day: Ticks, rng: &mut Rng, out: &mut Vec<Rec>) {
    let m = &e.machines[mi];
    let others: Vec<&str> = [
        "10.0.0.10",
        "10.0.0.21",
        "10.0.0.30",
        "10.0.5.20",
        "52.96.88.10",
        "140.82.121.4",
    ]
    .to_vec();
    // Services starting as SYSTEM: 4624 type 5 + 4672.
    for _ in 0..rng.range(20, 40) {
        let t = at(rng, day, 0.0, 24.0);
        let how = LogonHow {
            logon_type: 5,
            ip: "-",
            client: "-",
            auth: Auth::Kerberos,
            elevated: true,
            linked: "0x0",
        };
        out.push(events::logon(rng, m, t, &e.system, "0x3e7", how));
        out.push(special_privileges(
            rng,
            m,
            t,
            &e.system,
            "0x3e7",
            SYSTEM_PRIVILEGES,
        ));
    }
    // Noise: processes and firewall connections.
    let owner = m.owner.map(|u| &e.users[u]);
    let owner_logon = rng.logon_id();
    for _ in 0..rng.range(100, 200) {
        let t = at(rng, day, 0.0, 24.0);
        let by_owner = owner
            .filter(|_| rng.chance(0.5))
            .map(|a| (a, owner_logon.as_str()));
        process(rng, m, t, by_owner, out);
    }
    for _ in 0..rng.range(250, 500) {
        let t = at(rng, day, 0.0, 24.0);
        let dest = *rng.pick(&others);
        out.push(connection(rng, m, t, dest));
    }
    let rmm = (e.rmm_ip.as_str(), "-");
    match m.role {
        Role::Workstation => {
            let Some(u) = m.owner else { return };
            let user = &e.users[u];
            let start = at(rng, day, 7.5, 9.5);
            if rng.chance(0.15) {
                let t = start - rng.range_i(10 * SEC, 60 * SEC);
                out.push(failed_logon(
                    rng,
                    m,
                    t,
                    (&user.sam, &e.netbios),
                    false,
                    2,
                    ("127.0.0.1", &m.short),
                ));
            }
            let dur = at(rng, 0, 7.5, 9.5);
            let how = LogonHow {
                logon_type: 2,
                ip: "127.0.0.1",
                client: &m.short,
                auth: Auth::Kerberos,
                elevated: false,
                linked: "0x0",
            };
            out.push(events::logon(rng, m, start, user, &owner_logon, how));
            out.push(user_logoff(rng, m, start + dur, user, &owner_logon));
            out.push(logoff(rng, m, start + dur + 2 * SEC, user, &owner_logon, 2));
            if rng.chance(0.3) {
                let t = at(rng, day, 10.0, 16.0);
                let sql = &e.machines[e.find(Role::SqlServer).unwrap_or(0)];
                let info = format!("MSSQLSvc/{}:1433", sql.fqdn);
                let ssms = "C:\\Program Files (x86)\\Microsoft SQL Server Management Studio 19\\Common7\\IDE\\Ssms.exe";
                out.push(explicit_credentials(
                    rng,
                    m,
                    t,
                    user,
                    &owner_logon,
                    user,
                    &sql.fqdn,
                    (&info, ssms),
                    &sql.ip,
                ));
            }
            for _ in 0..rng.range(4, 10) {
                let t = at(rng, day, 0.0, 23.5);
                let dur = rng.range_i(2 * SEC, 30 * SEC);
                session(rng, m, out, &e.svc_rmm, 3, rmm, t, dur);
            }
            // Just-in-time local admin through the RMM tool, removed a few hours later.
            if rng.chance(0.35) {
                let t = at(rng, day, 9.0, 14.0);
                let after = rng.range_i(HOUR, 4 * HOUR);
                jit_grant(e, rng, m, out, u, t, Some(after));
            }
        }
        Role::DomainController => {
            let clients: Vec<usize> = (0..e.machines.len().min(60))
                .map(|_| rng.below(e.machines.len() as u64) as usize)
                .collect();
            for &c in &clients {
                let cm = &e.machines[c];
                for _ in 0..rng.range(8, 20) {
                    let t = at(rng, day, 0.0, 24.0);
                    let dur = rng.range_i(SEC, 5 * SEC);
                    session(rng, m, out, &cm.account, 3, (&cm.ip, "-"), t, dur);
                }
            }
            for _ in 0..e.users.len().min(40) {
                let u = rng.below(e.users.len() as u64) as usize;
                let ip = e.user_ip(u);
                for _ in 0..rng.range(4, 10) {
                    let t = at(rng, day, 7.0, 18.5);
                    let dur = rng.range_i(SEC, 10 * SEC);
                    session(rng, m, out, &e.users[u], 3, (&ip, "-"), t, dur);
                    let svc = if rng.chance(0.5) {
                        &e.svc_sql
                    } else {
                        &e.machines[rng.below(e.machines.len() as u64) as usize].account
                    };
                    out.push(service_ticket(rng, m, t + SEC, &e.users[u], svc, &ip));
                }
            }
            for a in &e.admins {
                if rng.chance(0.5) {
                    let ip = &e.machines[e.find(Role::JumpHost).unwrap_or(0)].ip;
                    let t = at(rng, day, 8.0, 18.0);
                    let dur = rng.range_i(10 * SEC, 20 * MIN);
                    session(rng, m, out, a, 3, (ip, "-"), t, dur);
                }
            }
        }
        Role::SqlServer | Role::FileServer => {
            for _ in 0..rng.range(40, 100) {
                let u = rng.below(e.users.len() as u64) as usize;
                let ip = e.user_ip(u);
                let client = e
                    .machines
                    .iter()
                    .find(|m| m.owner == Some(u))
                    .filter(|_| rng.chance(0.2));
                let client = client.map_or("-", |m| m.short.as_str());
                let t = at(rng, day, 7.5, 18.5);
                let dur = rng.range_i(SEC, 10 * MIN);
                session(rng, m, out, &e.users[u], 3, (&ip, client), t, dur);
            }
            let how = LogonHow {
                logon_type: 5,
                ip: "-",
                client: "-",
                auth: Auth::Kerberos,
                elevated: false,
                linked: "0x0",
            };
            let svc = if m.role == Role::SqlServer {
                &e.svc_sql
            } else {
                &e.svc_backup
            };
            let (t, id) = (at(rng, day, 0.0, 1.0), rng.logon_id());
            out.push(events::logon(rng, m, t, svc, &id, how));
            if rng.chance(0.6) {
                let jump = &e.machines[e.find(Role::JumpHost).unwrap_or(0)];
                let t = at(rng, day, 9.0, 17.0);
                let dur = rng.range_i(20 * MIN, 90 * MIN);
                session(
                    rng,
                    m,
                    out,
                    &e.admins[0],
                    10,
                    (&jump.ip, &jump.short),
                    t,
                    dur,
                );
            }
        }
        Role::JumpHost => {
            for (i, a) in e.admins.iter().enumerate() {
                if !rng.chance(0.7) {
                    continue;
                }
                let ip = e.user_ip(3 + i);
                let t = at(rng, day, 8.0, 17.0);
                let dur = rng.range_i(30 * MIN, 3 * HOUR);
                let id = session(rng, m, out, a, 10, (&ip, "-"), t, dur);
                let srv = &e.machines[rng.below(e.machines.len().min(3) as u64) as usize];
                let info = format!("TERMSRV/{}", srv.fqdn);
                let mstsc = "C:\\Windows\\System32\\mstsc.exe";
                out.push(explicit_credentials(
                    rng,
                    m,
                    t + 5 * MIN,
                    a,
                    &id,
                    a,
                    &srv.fqdn,
                    (&info, mstsc),
                    &srv.ip,
                ));
            }
            if rng.chance(0.5) {
                let ip = format!("203.0.113.{}", rng.range(2, 250));
                let mut t = at(rng, day, 0.0, 23.0);
                for _ in 0..rng.range(5, 25) {
                    let user = *rng.pick(&[
                        "administrator",
                        "admin",
                        "user",
                        "test",
                        "scanner",
                        "backup",
                    ]);
                    t += rng.range_i(SEC, 20 * SEC);
                    out.push(failed_logon(
                        rng,
                        m,
                        t,
                        (user, "-"),
                        user != "administrator",
                        3,
                        (&ip, "kali"),
                    ));
                }
            }
        }
    }
}

/// The RMM service account adds `users[u]` to the local Administrators of `m` at `t` (a network logon
/// to do it) and, when `remove_after` is given, removes it again that much later.
pub(crate) fn jit_grant(
    e: &Estate,
    rng: &mut Rng,
    m: &Machine,
    out: &mut Vec<Rec>,
    u: usize,
    t: Ticks,
    remove_after: Option<Ticks>,
) {
    let admins = ("Administrators", "Builtin", "S-1-5-32-544");
    let rmm = (e.rmm_ip.as_str(), "-");
    let id = session(rng, m, out, &e.svc_rmm, 3, rmm, t - 2 * SEC, 6 * SEC);
    out.push(group_member(
        rng,
        m,
        t,
        &K4732,
        &e.users[u],
        false,
        admins,
        (&e.svc_rmm, &id),
    ));
    if let Some(after) = remove_after {
        let id = session(
            rng,
            m,
            out,
            &e.svc_rmm,
            3,
            rmm,
            t + after - 2 * SEC,
            6 * SEC,
        );
        out.push(group_member(
            rng,
            m,
            t + after,
            &K4733,
            &e.users[u],
            false,
            admins,
            (&e.svc_rmm, &id),
        ));
    }
}
