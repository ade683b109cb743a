//! The ordinary background of a Security log: process creation/exit, firewall connections and
//! Kerberos service tickets (all kept as `windows.event`).

use std::borrow::Cow;

use super::events::{Account, Machine, machine_subject, ow, rec, st, subject};
use super::record::*;
use crate::rng::Rng;

/// Noise: (image, command line, parent) of ordinary processes.
const PROCESSES: &[(&str, &str, &str)] = &[
    (
        "C:\\Windows\\System32\\svchost.exe",
        "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
        "C:\\Windows\\System32\\services.exe",
    ),
    (
        "C:\\Windows\\System32\\conhost.exe",
        "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1",
        "C:\\Windows\\System32\\cmd.exe",
    ),
    (
        "C:\\Windows\\System32\\cmd.exe",
        "C:\\Windows\\system32\\cmd.exe /c \"ipconfig /all > %TEMP%\\net.txt && type %TEMP%\\net.txt\"",
        "C:\\Windows\\explorer.exe",
    ),
    (
        "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
        "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer --lang=en-US",
        "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    ),
    (
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "powershell.exe -NoProfile -Command \"Get-Service | Where-Object {$_.Status -eq 'Running'}\"",
        "C:\\Windows\\System32\\cmd.exe",
    ),
    (
        "C:\\Windows\\System32\\taskhostw.exe",
        "taskhostw.exe",
        "C:\\Windows\\System32\\svchost.exe",
    ),
    (
        "C:\\Windows\\System32\\backgroundTaskHost.exe",
        "\"C:\\Windows\\system32\\backgroundTaskHost.exe\" -ServerName:App.AppXmtcan0h2tfbfy7k9kn8hbxb6dmzz1zh0.mca",
        "C:\\Windows\\System32\\svchost.exe",
    ),
    (
        "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
        "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
        "C:\\Windows\\System32\\svchost.exe",
    ),
    (
        "C:\\Program Files\\RMM Agent\\rmmagent.exe",
        "\"C:\\Program Files\\RMM Agent\\rmmagent.exe\" --check <inventory> & exit",
        "C:\\Windows\\System32\\services.exe",
    ),
];

/// 4688 + 4689 of one short-lived process run by `who` (or by the machine when `None`).
pub(crate) fn process(
    rng: &mut Rng,
    m: &Machine,
    t: Ticks,
    who: Option<(&Account, &str)>,
    out: &mut Vec<Rec>,
) {
    let (image, cmd, parent) = *rng.pick(PROCESSES);
    let new_pid = format!("0x{:x}", rng.range(0x200, 0x4000) & !3);
    let subj: [(&'static str, Cow<'static, str>); 4] = match who {
        Some((a, l)) => subject(a, l),
        None => machine_subject(m),
    };
    let mut d: Data = Vec::with_capacity(15);
    d.extend(subj.iter().cloned());
    d.extend([
        ("NewProcessId", ow(&new_pid)),
        ("NewProcessName", st(image)),
        (
            "TokenElevationType",
            st(if who.is_some() { "%%1938" } else { "%%1936" }),
        ),
        (
            "ProcessId",
            Cow::Owned(format!("0x{:x}", rng.range(0x200, 0x4000) & !3)),
        ),
        ("CommandLine", st(cmd)),
        ("TargetUserSid", st("S-1-0-0")),
        ("TargetUserName", st("-")),
        ("TargetDomainName", st("-")),
        ("TargetLogonId", st("0x0")),
        ("ParentProcessName", st(parent)),
        (
            "MandatoryLabel",
            st(if who.is_some() {
                "S-1-16-8192"
            } else {
                "S-1-16-16384"
            }),
        ),
    ]);
    out.push(rec(rng, m, t, &K4688, d));
    let mut d: Data = Vec::with_capacity(7);
    d.extend(subj);
    d.extend([
        ("Status", st("0x0")),
        ("ProcessId", Cow::Owned(new_pid)),
        ("ProcessName", st(image)),
    ]);
    let end = t + rng.range_i(SEC / 10, 90 * SEC);
    out.push(rec(rng, m, end, &K4689, d));
}

const APPS: &[(&str, &str, &str)] = &[
    (
        "\\device\\harddiskvolume2\\windows\\system32\\svchost.exe",
        "443",
        "6",
    ),
    (
        "\\device\\harddiskvolume2\\windows\\system32\\lsass.exe",
        "88",
        "6",
    ),
    (
        "\\device\\harddiskvolume2\\windows\\system32\\dns.exe",
        "53",
        "17",
    ),
    (
        "\\device\\harddiskvolume2\\program files\\google\\chrome\\application\\chrome.exe",
        "443",
        "6",
    ),
    ("System", "445", "6"),
    (
        "\\device\\harddiskvolume2\\windows\\system32\\svchost.exe",
        "123",
        "17",
    ),
];

/// 5156: a permitted outbound connection from this machine to `dest`.
pub(crate) fn connection(rng: &mut Rng, m: &Machine, t: Ticks, dest: &str) -> Rec {
    let (app, port, proto) = *rng.pick(APPS);
    let d = vec![
        ("ProcessID", Cow::Owned(rng.range(4, 9000).to_string())),
        ("Application", st(app)),
        ("Direction", st("%%14593")),
        ("SourceAddress", ow(&m.ip)),
        (
            "SourcePort",
            Cow::Owned(rng.range(49152, 65535).to_string()),
        ),
        ("DestAddress", ow(dest)),
        ("DestPort", st(port)),
        ("Protocol", st(proto)),
        (
            "FilterRTID",
            Cow::Owned(rng.range(60000, 90000).to_string()),
        ),
        ("LayerName", st("%%14611")),
        ("LayerRTID", st("48")),
        ("RemoteUserID", st("S-1-0-0")),
        ("RemoteMachineID", st("S-1-0-0")),
    ];
    let mut r = rec(rng, m, t, &K5156, d);
    r.pid = 4;
    r
}

/// 4769 on a domain controller: `who` asked for a ticket to `service` from `ip`.
pub(crate) fn service_ticket(
    rng: &mut Rng,
    m: &Machine,
    t: Ticks,
    who: &Account,
    service: &Account,
    ip: &str,
) -> Rec {
    let realm = m.fqdn.split_once('.').map_or("", |x| x.1).to_uppercase();
    let d = vec![
        ("TargetUserName", Cow::Owned(format!("{}@{realm}", who.sam))),
        ("TargetDomainName", Cow::Owned(realm)),
        ("ServiceName", ow(&service.sam)),
        ("ServiceSid", ow(&service.sid)),
        ("TicketOptions", st("0x40810000")),
        ("TicketEncryptionType", st("0x12")),
        ("IpAddress", Cow::Owned(format!("::ffff:{ip}"))),
        ("IpPort", Cow::Owned(rng.range(49152, 65535).to_string())),
        ("Status", st("0x0")),
        ("LogonGuid", Cow::Owned(rng.guid())),
        ("TransmittedServices", st("-")),
    ];
    rec(rng, m, t, &K4769, d)
}
