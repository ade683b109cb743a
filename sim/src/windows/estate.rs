//! The simulated domain: its accounts and machines.

use crate::rng::Rng;

/// A domain or local account (or a machine account `HOST$`).
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub sam: String,
    pub domain: String,
    pub sid: String,
    pub display: String,
    /// Distinguished name, as `MemberName` shows a domain member.
    pub dn: String,
    /// Holds the admin privilege set, so its logons raise 4672.
    pub admin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    DomainController,
    SqlServer,
    JumpHost,
    FileServer,
    Workstation,
}

#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub short: String,
    pub fqdn: String,
    pub ip: String,
    pub role: Role,
    /// lsass.exe, services.exe and the EventLog service's svchost.exe.
    pub lsass: u32,
    pub services: u32,
    pub eventlog: u32,
    /// The machine account, `HOST$`.
    pub account: Account,
    /// Workstations: index of the user who works on it.
    pub owner: Option<usize>,
}

const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf",
];
const LAST: &[&str] = &[
    "martin", "kowalski", "diaz", "reed", "shaw", "tan", "lee", "lang", "novak", "okafor", "silva",
    "berg", "ito", "moreau", "singh", "weber", "costa", "hughes", "ivanova", "nakamura",
];

fn cap(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The simulated domain and its machines.
#[derive(Debug, Clone)]
pub(crate) struct Estate {
    pub netbios: String,
    pub domain_sid: String,
    /// Staff; `users[i]` works on the i-th workstation.
    pub users: Vec<Account>,
    /// Privileged accounts of `users[3]`, `users[4]`, `users[5]` (`adm-dave`, `adm-erin`, `adm-frank`).
    pub admins: Vec<Account>,
    pub svc_rmm: Account,
    pub svc_sql: Account,
    pub svc_backup: Account,
    pub system: Account,
    pub machines: Vec<Machine>,
    pub rmm_ip: String,
}

impl Estate {
    pub(crate) fn new(seed: u64, machines: usize) -> Self {
        let mut rng = Rng::derive(seed, 0xE57A7E, 0);
        let netbios = "CONTOSO".to_owned();
        let dns = "contoso.local".to_owned();
        let domain_sid = format!(
            "S-1-5-21-{}-{}-{}",
            rng.range(1_000_000_000, 4_000_000_000),
            rng.range(1_000_000_000, 4_000_000_000),
            rng.range(100_000_000, 2_000_000_000)
        );
        let dc_parts = "DC=contoso,DC=local";
        let account = |sam: String, display: String, ou: &str, rid: u64, admin: bool| Account {
            dn: format!("CN={display},{ou},{dc_parts}"),
            sid: format!("{domain_sid}-{rid}"),
            domain: netbios.clone(),
            sam,
            display,
            admin,
        };
        let n_users = machines.max(8);
        let users: Vec<Account> = (0..n_users)
            .map(|i| {
                let (f, l) = (
                    FIRST[i % FIRST.len()],
                    LAST[(i + i / FIRST.len()) % LAST.len()],
                );
                let suffix = if i < FIRST.len() {
                    String::new()
                } else {
                    (i / FIRST.len()).to_string()
                };
                let sam = format!("{f}.{l}{suffix}");
                account(
                    sam,
                    format!("{} {}{suffix}", cap(f), cap(l)),
                    "OU=Staff",
                    1104 + i as u64,
                    false,
                )
            })
            .collect();
        let admins = (3..6)
            .map(|i| {
                let f = FIRST[i];
                account(
                    format!("adm-{f}"),
                    format!("{} (admin)", cap(f)),
                    "OU=Admins",
                    1201 + i as u64,
                    true,
                )
            })
            .collect();
        let svc = |name: &str, rid, admin| {
            account(
                name.to_owned(),
                name.to_owned(),
                "OU=Service Accounts",
                rid,
                admin,
            )
        };
        let system = Account {
            sam: "SYSTEM".into(),
            domain: "NT AUTHORITY".into(),
            sid: "S-1-5-18".into(),
            display: "SYSTEM".into(),
            dn: "-".into(),
            admin: true,
        };
        let mut ms = Vec::with_capacity(machines);
        for i in 0..machines {
            let (short, role, ip) = match i {
                0 => (
                    "DC01".to_owned(),
                    Role::DomainController,
                    "10.0.0.10".to_owned(),
                ),
                1 => (
                    "SRV-SQL01".to_owned(),
                    Role::SqlServer,
                    "10.0.0.21".to_owned(),
                ),
                2 => ("JMP01".to_owned(), Role::JumpHost, "10.0.0.30".to_owned()),
                _ if i % 40 == 39 => (
                    format!("SRV-FS{:02}", i / 40 + 1),
                    Role::FileServer,
                    format!("10.0.0.{}", 40 + i / 40),
                ),
                _ => {
                    let n = 100 + 13 * i as u64 + rng.below(13);
                    (
                        format!("WS-{n:04}"),
                        Role::Workstation,
                        format!("10.0.{}.{}", 1 + i / 200, 10 + i % 200),
                    )
                }
            };
            let fqdn = format!("{short}.{dns}");
            let lsass = 600 + 4 * rng.range(0, 60) as u32;
            let account = account(
                format!("{short}$"),
                short.clone(),
                "OU=Computers",
                2001 + i as u64,
                false,
            );
            ms.push(Machine {
                short,
                fqdn,
                ip,
                role,
                lsass,
                services: lsass - 12,
                eventlog: 1000 + 4 * rng.range(0, 300) as u32,
                account,
                owner: None,
            });
        }
        for (k, m) in ms
            .iter_mut()
            .filter(|m| m.role == Role::Workstation)
            .enumerate()
        {
            m.owner = Some(k % users.len());
        }
        Estate {
            svc_rmm: svc("svc-rmm", 1301, true),
            svc_sql: svc("svc-sql", 1302, false),
            svc_backup: svc("svc-backup", 1303, true),
            netbios: netbios.clone(),
            domain_sid: domain_sid.clone(),
            users,
            admins,
            system,
            machines: ms,
            rmm_ip: "10.0.5.20".to_owned(),
        }
    }

    pub(crate) fn find(&self, role: Role) -> Option<usize> {
        self.machines.iter().position(|m| m.role == role)
    }

    /// The IP a user works from (their workstation, else a VPN address).
    pub(crate) fn user_ip(&self, user: usize) -> String {
        self.machines
            .iter()
            .find(|m| m.owner == Some(user))
            .map_or_else(|| format!("10.8.0.{}", 10 + user % 200), |m| m.ip.clone())
    }
}
