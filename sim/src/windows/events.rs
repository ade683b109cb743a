//! Builders for the Windows Security events the estate writes, with the `Data` names, order and value
//! conventions Windows itself uses (Windows 10 / Server 2016 and later manifests).

use std::borrow::Cow;

pub(crate) use super::estate::{Account, Machine, Role};
use super::record::*;
use crate::rng::Rng;

pub(crate) const ADMIN_PRIVILEGES: &str = "SeSecurityPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeTakeOwnershipPrivilege\n\t\t\tSeDebugPrivilege\n\t\t\tSeSystemEnvironmentPrivilege\n\t\t\tSeLoadDriverPrivilege\n\t\t\tSeImpersonatePrivilege\n\t\t\tSeDelegateSessionUserImpersonatePrivilege";
pub(crate) const SYSTEM_PRIVILEGES: &str = "SeAssignPrimaryTokenPrivilege\n\t\t\tSeTcbPrivilege\n\t\t\tSeSecurityPrivilege\n\t\t\tSeTakeOwnershipPrivilege\n\t\t\tSeLoadDriverPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeDebugPrivilege\n\t\t\tSeAuditPrivilege\n\t\t\tSeSystemEnvironmentPrivilege\n\t\t\tSeImpersonatePrivilege\n\t\t\tSeDelegateSessionUserImpersonatePrivilege";
const NULL_GUID: &str = "{00000000-0000-0000-0000-000000000000}";
const YES: &str = "%%1842";
const NO: &str = "%%1843";

pub(super) fn st(v: &'static str) -> Cow<'static, str> {
    Cow::Borrowed(v)
}
pub(super) fn ow(v: &str) -> Cow<'static, str> {
    Cow::Owned(v.to_owned())
}

pub(super) fn rec(rng: &mut Rng, m: &Machine, t: Ticks, kind: &'static Kind, data: Data) -> Rec {
    let mut r = Rec::new(t, kind, data);
    r.pid = m.lsass;
    r.tid = (rng.range(600, 16000) as u32) & !3;
    r
}

/// `Subject*` of an event raised by the machine itself (SYSTEM, logon id 0x3e7).
pub(super) fn machine_subject(m: &Machine) -> [(&'static str, Cow<'static, str>); 4] {
    [
        ("SubjectUserSid", st("S-1-5-18")),
        ("SubjectUserName", ow(&m.account.sam)),
        ("SubjectDomainName", ow(&m.account.domain)),
        ("SubjectLogonId", st("0x3e7")),
    ]
}

pub(super) fn subject(a: &Account, logon_id: &str) -> [(&'static str, Cow<'static, str>); 4] {
    [
        ("SubjectUserSid", ow(&a.sid)),
        ("SubjectUserName", ow(&a.sam)),
        ("SubjectDomainName", ow(&a.domain)),
        ("SubjectLogonId", ow(logon_id)),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    Kerberos,
    Ntlm,
}

/// How a 4624 came about.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogonHow<'a> {
    pub logon_type: u8,
    /// Source address (`-` for service logons, `127.0.0.1` for console logons).
    pub ip: &'a str,
    pub client: &'a str,
    pub auth: Auth,
    pub elevated: bool,
    pub linked: &'a str,
}

/// Event 4624: type 2/10 logons are raised by the machine (winlogon/svchost), type 3 by the network,
/// type 5 by services.exe.
pub(crate) fn logon(
    rng: &mut Rng,
    m: &Machine,
    t: Ticks,
    who: &Account,
    logon_id: &str,
    how: LogonHow<'_>,
) -> Rec {
    let ty = how.logon_type;
    let mut d: Data = Vec::with_capacity(27);
    if ty == 3 {
        d.extend([
            ("SubjectUserSid", st("S-1-0-0")),
            ("SubjectUserName", st("-")),
            ("SubjectDomainName", st("-")),
            ("SubjectLogonId", st("0x0")),
        ]);
    } else {
        d.extend(machine_subject(m));
    }
    let kerb = ty == 3 && how.auth == Auth::Kerberos;
    let (process_name, auth_pkg, workstation, logon_guid, lm, key, pid, pname, port) = match ty {
        3 if kerb => (
            "Kerberos",
            "Kerberos",
            "-",
            rng.guid(),
            "-",
            "0",
            "0x0",
            "-",
            rng.range(49152, 65535).to_string(),
        ),
        3 => (
            "NtLmSsp ",
            "NTLM",
            how.client,
            NULL_GUID.to_owned(),
            "NTLM V2",
            "128",
            "0x0",
            "-",
            rng.range(49152, 65535).to_string(),
        ),
        5 => (
            "Advapi  ",
            "Negotiate",
            "-",
            NULL_GUID.to_owned(),
            "-",
            "0",
            "",
            "C:\\Windows\\System32\\services.exe",
            "-".to_owned(),
        ),
        _ => (
            "User32 ",
            "Negotiate",
            m.short.as_str(),
            rng.guid(),
            "-",
            "0",
            "",
            "C:\\Windows\\System32\\svchost.exe",
            if ty == 10 {
                rng.range(49152, 65535).to_string()
            } else {
                "0".to_owned()
            },
        ),
    };
    let pid = if pid.is_empty() {
        format!("0x{:x}", if ty == 5 { m.services } else { m.lsass + 148 })
    } else {
        pid.to_owned()
    };
    d.extend([
        ("TargetUserSid", ow(&who.sid)),
        ("TargetUserName", ow(&who.sam)),
        ("TargetDomainName", ow(&who.domain)),
        ("TargetLogonId", ow(logon_id)),
        ("LogonType", Cow::Owned(ty.to_string())),
        ("LogonProcessName", st(process_name)),
        ("AuthenticationPackageName", st(auth_pkg)),
        ("WorkstationName", ow(workstation)),
        ("LogonGuid", Cow::Owned(logon_guid)),
        ("TransmittedServices", st("-")),
        ("LmPackageName", st(lm)),
        ("KeyLength", st(key)),
        ("ProcessId", Cow::Owned(pid)),
        ("ProcessName", st(pname)),
        ("IpAddress", ow(how.ip)),
        ("IpPort", Cow::Owned(port)),
        ("ImpersonationLevel", st("%%1833")),
        ("RestrictedAdminMode", st(if ty == 10 { NO } else { "-" })),
        ("TargetOutboundUserName", st("-")),
        ("TargetOutboundDomainName", st("-")),
        ("VirtualAccount", st(NO)),
        ("TargetLinkedLogonId", ow(how.linked)),
        ("ElevatedToken", st(if how.elevated { YES } else { NO })),
    ]);
    rec(rng, m, t, &K4624, d)
}

/// 4625 with a bad password (`0xc000006a`) or an unknown user (`0xc0000064`).
pub(crate) fn failed_logon(
    rng: &mut Rng,
    m: &Machine,
    t: Ticks,
    (user, domain): (&str, &str),
    unknown_user: bool,
    logon_type: u8,
    (ip, client): (&str, &str),
) -> Rec {
    let network = logon_type == 3;
    let mut d: Data = Vec::with_capacity(21);
    if network {
        d.extend([
            ("SubjectUserSid", st("S-1-0-0")),
            ("SubjectUserName", st("-")),
            ("SubjectDomainName", st("-")),
            ("SubjectLogonId", st("0x0")),
        ]);
    } else {
        d.extend(machine_subject(m));
    }
    d.extend([
        ("TargetUserSid", st("S-1-0-0")),
        ("TargetUserName", ow(user)),
        ("TargetDomainName", ow(domain)),
        ("Status", st("0xc000006d")),
        ("FailureReason", st("%%2313")),
        (
            "SubStatus",
            st(if unknown_user {
                "0xc0000064"
            } else {
                "0xc000006a"
            }),
        ),
        ("LogonType", Cow::Owned(logon_type.to_string())),
        (
            "LogonProcessName",
            st(if network { "NtLmSsp " } else { "User32 " }),
        ),
        (
            "AuthenticationPackageName",
            st(if network { "NTLM" } else { "Negotiate" }),
        ),
        ("WorkstationName", ow(client)),
        ("TransmittedServices", st("-")),
        ("LmPackageName", st("-")),
        ("KeyLength", st("0")),
        (
            "ProcessId",
            if network {
                st("0x0")
            } else {
                Cow::Owned(format!("0x{:x}", m.lsass + 148))
            },
        ),
        (
            "ProcessName",
            st(if network {
                "-"
            } else {
                "C:\\Windows\\System32\\svchost.exe"
            }),
        ),
        ("IpAddress", ow(ip)),
        ("IpPort", Cow::Owned(rng.range(49152, 65535).to_string())),
    ]);
    rec(rng, m, t, &K4625, d)
}

pub(crate) fn logoff(
    rng: &mut Rng,
    m: &Machine,
    t: Ticks,
    who: &Account,
    logon_id: &str,
    ty: u8,
) -> Rec {
    let d = vec![
        ("TargetUserSid", ow(&who.sid)),
        ("TargetUserName", ow(&who.sam)),
        ("TargetDomainName", ow(&who.domain)),
        ("TargetLogonId", ow(logon_id)),
        ("LogonType", Cow::Owned(ty.to_string())),
    ];
    rec(rng, m, t, &K4634, d)
}

pub(crate) fn user_logoff(
    rng: &mut Rng,
    m: &Machine,
    t: Ticks,
    who: &Account,
    logon_id: &str,
) -> Rec {
    let d = vec![
        ("TargetUserSid", ow(&who.sid)),
        ("TargetUserName", ow(&who.sam)),
        ("TargetDomainName", ow(&who.domain)),
        ("TargetLogonId", ow(logon_id)),
    ];
    rec(rng, m, t, &K4647, d)
}

pub(crate) fn special_privileges(
    rng: &mut Rng,
    m: &Machine,
    t: Ticks,
    who: &Account,
    logon_id: &str,
    privileges: &'static str,
) -> Rec {
    let mut d: Data = subject(who, logon_id).into();
    d.push(("PrivilegeList", st(privileges)));
    rec(rng, m, t, &K4672, d)
}

/// 4648: `who` (logged on as `logon_id`) used `target`'s credentials towards `server`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn explicit_credentials(
    rng: &mut Rng,
    m: &Machine,
    t: Ticks,
    who: &Account,
    logon_id: &str,
    target: &Account,
    server: &str,
    (target_info, process): (&str, &'static str),
    ip: &str,
) -> Rec {
    let mut d: Data = subject(who, logon_id).into();
    d.extend([
        ("LogonGuid", st(NULL_GUID)),
        ("TargetUserName", ow(&target.sam)),
        ("TargetDomainName", ow(&target.domain)),
        ("TargetLogonGuid", Cow::Owned(rng.guid())),
        ("TargetServerName", ow(server)),
        ("TargetInfo", ow(target_info)),
        (
            "ProcessId",
            Cow::Owned(format!("0x{:x}", rng.range(0x400, 0x3000) & !3)),
        ),
        ("ProcessName", st(process)),
        ("IpAddress", ow(ip)),
        ("IpPort", st(if ip == "-" { "-" } else { "0" })),
    ]);
    rec(rng, m, t, &K4648, d)
}

/// 4728 / 4732 / 4733: `member` added to / removed from `group` (name, domain, SID).
#[allow(clippy::too_many_arguments)]
pub(crate) fn group_member(
    rng: &mut Rng,
    m: &Machine,
    t: Ticks,
    kind: &'static Kind,
    member: &Account,
    member_name_is_dn: bool,
    (group, group_domain, group_sid): (&str, &str, &str),
    (actor, actor_logon): (&Account, &str),
) -> Rec {
    let mut d: Data = vec![
        (
            "MemberName",
            if member_name_is_dn {
                ow(&member.dn)
            } else {
                st("-")
            },
        ),
        ("MemberSid", ow(&member.sid)),
        ("TargetUserName", ow(group)),
        ("TargetDomainName", ow(group_domain)),
        ("TargetSid", ow(group_sid)),
    ];
    d.extend(subject(actor, actor_logon));
    d.push(("PrivilegeList", st("-")));
    rec(rng, m, t, kind, d)
}

/// 4720 for a freshly created, enabled-by-default account.
pub(crate) fn account_created(
    rng: &mut Rng,
    m: &Machine,
    t: Ticks,
    new: &Account,
    (actor, actor_logon): (&Account, &str),
) -> Rec {
    let mut d: Data = vec![
        ("TargetUserName", ow(&new.sam)),
        ("TargetDomainName", ow(&new.domain)),
        ("TargetSid", ow(&new.sid)),
    ];
    d.extend(subject(actor, actor_logon));
    d.extend([
        ("PrivilegeList", st("-")),
        ("SamAccountName", ow(&new.sam)),
        ("DisplayName", ow(&new.display)),
        (
            "UserPrincipalName",
            Cow::Owned(format!(
                "{}@{}",
                new.sam,
                m.fqdn.split_once('.').map_or("", |x| x.1)
            )),
        ),
        ("HomeDirectory", st("%%1793")),
        ("HomePath", st("%%1793")),
        ("ScriptPath", st("%%1793")),
        ("ProfilePath", st("%%1793")),
        ("UserWorkstations", st("%%1793")),
        ("PasswordLastSet", st("%%1794")),
        ("AccountExpires", st("%%1794")),
        ("PrimaryGroupId", st("513")),
        ("AllowedToDelegateTo", st("-")),
        ("OldUacValue", st("0x0")),
        ("NewUacValue", st("0x15")),
        (
            "UserAccountControl",
            st("\n\t\t%%2080\n\t\t%%2082\n\t\t%%2084"),
        ),
        ("UserParameters", st("%%1793")),
        ("SidHistory", st("-")),
        ("LogonHours", st("%%1797")),
    ]);
    rec(rng, m, t, &K4720, d)
}

/// 4719: auditing of Security Group Management (Account Management) switched off.
pub(crate) fn audit_policy_changed(
    rng: &mut Rng,
    m: &Machine,
    t: Ticks,
    change: &'static str,
) -> Rec {
    let mut d: Data = machine_subject(m).into();
    d.extend([
        ("CategoryId", st("%%8278")),
        ("SubcategoryId", st("%%13826")),
        (
            "SubcategoryGuid",
            st("{0cce9237-69ae-11d9-bed3-505054503030}"),
        ),
        ("AuditPolicyChanges", st(change)),
    ]);
    rec(rng, m, t, &K4719, d)
}

/// 1102, raised by the EventLog service, fields under `UserData/LogFileCleared`.
pub(crate) fn log_cleared(
    rng: &mut Rng,
    m: &Machine,
    t: Ticks,
    (actor, actor_logon): (&Account, &str),
) -> Rec {
    let mut r = rec(rng, m, t, &K1102, subject(actor, actor_logon).into());
    r.pid = m.eventlog;
    r.user_data = Some("LogFileCleared");
    r
}
