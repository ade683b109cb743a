//! One generated Windows event record, independent of the file format it is written in.

use std::borrow::Cow;

/// Time in 100-nanosecond ticks since the Unix epoch: Windows' own resolution for `SystemTime`.
pub(crate) type Ticks = i64;
pub(crate) const SEC: Ticks = 10_000_000;
pub(crate) const MIN: Ticks = 60 * SEC;
pub(crate) const HOUR: Ticks = 60 * MIN;
pub(crate) const DAY: Ticks = 24 * HOUR;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    SecurityAuditing,
    Eventlog,
}

impl Provider {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Provider::SecurityAuditing => "Microsoft-Windows-Security-Auditing",
            Provider::Eventlog => "Microsoft-Windows-Eventlog",
        }
    }

    pub(crate) fn guid(self) -> &'static str {
        match self {
            Provider::SecurityAuditing => "{54849625-5478-4994-a5ba-3e3b0328c30d}",
            Provider::Eventlog => "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}",
        }
    }
}

/// The fixed `System` part of an event id as Windows Server 2016+/Windows 10 writes it.
#[derive(Debug)]
pub(crate) struct Kind {
    pub id: u16,
    pub version: u8,
    pub level: u8,
    pub task: u16,
    /// The task category's display name (Winlogbeat's `winlog.task` and `event.action`).
    pub task_name: &'static str,
    pub keywords: &'static str,
    /// Audit Failure rather than Audit Success.
    pub failure: bool,
    pub provider: Provider,
    /// First line of the rendered message.
    pub title: &'static str,
}

const SUCCESS: &str = "0x8020000000000000";
const FAILURE: &str = "0x8010000000000000";

const fn sec(
    id: u16,
    version: u8,
    task: u16,
    task_name: &'static str,
    title: &'static str,
) -> Kind {
    Kind {
        id,
        version,
        level: 0,
        task,
        task_name,
        keywords: SUCCESS,
        failure: false,
        provider: Provider::SecurityAuditing,
        title,
    }
}

pub(crate) static K4624: Kind = sec(
    4624,
    2,
    12544,
    "Logon",
    "An account was successfully logged on.",
);
pub(crate) static K4625: Kind = Kind {
    keywords: FAILURE,
    failure: true,
    ..sec(4625, 0, 12544, "Logon", "An account failed to log on.")
};
pub(crate) static K4634: Kind = sec(4634, 0, 12545, "Logoff", "An account was logged off.");
pub(crate) static K4647: Kind = sec(4647, 0, 12545, "Logoff", "User initiated logoff:");
pub(crate) static K4648: Kind = sec(
    4648,
    0,
    12544,
    "Logon",
    "A logon was attempted using explicit credentials.",
);
pub(crate) static K4672: Kind = sec(
    4672,
    0,
    12548,
    "Special Logon",
    "Special privileges assigned to new logon.",
);
pub(crate) static K4688: Kind = sec(
    4688,
    2,
    13312,
    "Process Creation",
    "A new process has been created.",
);
pub(crate) static K4689: Kind = sec(
    4689,
    0,
    13313,
    "Process Termination",
    "A process has exited.",
);
pub(crate) static K5156: Kind = sec(
    5156,
    1,
    12810,
    "Filtering Platform Connection",
    "The Windows Filtering Platform has permitted a connection.",
);
pub(crate) static K4769: Kind = sec(
    4769,
    0,
    14337,
    "Kerberos Service Ticket Operations",
    "A Kerberos service ticket was requested.",
);
pub(crate) static K4720: Kind = sec(
    4720,
    0,
    13824,
    "User Account Management",
    "A user account was created.",
);
pub(crate) static K4728: Kind = sec(
    4728,
    0,
    13826,
    "Security Group Management",
    "A member was added to a security-enabled global group.",
);
pub(crate) static K4732: Kind = sec(
    4732,
    0,
    13826,
    "Security Group Management",
    "A member was added to a security-enabled local group.",
);
pub(crate) static K4733: Kind = sec(
    4733,
    0,
    13826,
    "Security Group Management",
    "A member was removed from a security-enabled local group.",
);
pub(crate) static K4719: Kind = sec(
    4719,
    0,
    13568,
    "Audit Policy Change",
    "System audit policy was changed.",
);
pub(crate) static K1102: Kind = Kind {
    id: 1102,
    version: 0,
    level: 4,
    task: 104,
    task_name: "Log clear",
    keywords: "0x4020000000000000",
    failure: false,
    provider: Provider::Eventlog,
    title: "The audit log was cleared.",
};

pub(crate) type Data = Vec<(&'static str, Cow<'static, str>)>;

/// One event record on one machine's Security channel.
#[derive(Debug, Clone)]
pub(crate) struct Rec {
    pub ticks: Ticks,
    pub kind: &'static Kind,
    /// Assigned when the machine's records are put in time order.
    pub record_id: u64,
    /// `Execution/@ProcessID`, `@ThreadID`.
    pub pid: u32,
    pub tid: u32,
    /// `EventData/Data[@Name]` values in Windows' order, or the children of `UserData/{user_data}`.
    pub data: Data,
    /// `Some("LogFileCleared")` when the fields live under `UserData` (1102).
    pub user_data: Option<&'static str>,
}

impl Rec {
    pub(crate) fn new(ticks: Ticks, kind: &'static Kind, data: Data) -> Self {
        Rec {
            ticks,
            kind,
            record_id: 0,
            pid: 0,
            tid: 0,
            data,
            user_data: None,
        }
    }
}

/// Read access to a record as written or as read back from a file; facts are counted through this.
pub(crate) trait View {
    fn event_id(&self) -> u16;
    fn provider(&self) -> &str;
    fn field(&self, name: &str) -> Option<&str>;
}

impl View for Rec {
    fn event_id(&self) -> u16 {
        self.kind.id
    }
    fn provider(&self) -> &str {
        self.kind.provider.name()
    }
    fn field(&self, name: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_ref())
    }
}

/// The parts of privtrail's normalization (SPEC §2) that facts query by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Norm<'a> {
    pub action: &'static str,
    pub target: Option<&'a str>,
    pub privilege_id: Option<&'a str>,
}

pub(crate) fn normalize(v: &dyn View) -> Norm<'_> {
    let none = |action| Norm {
        action,
        target: None,
        privilege_id: None,
    };
    if v.provider() == Provider::Eventlog.name() {
        return none(if v.event_id() == 1102 {
            "audit.log_cleared"
        } else {
            "windows.event"
        });
    }
    if v.provider() != Provider::SecurityAuditing.name() {
        return none("windows.event");
    }
    let group = |action| Norm {
        action,
        target: v.field("MemberSid"),
        privilege_id: v.field("TargetSid"),
    };
    let user = |action| Norm {
        action,
        target: v.field("TargetUserSid"),
        privilege_id: None,
    };
    match v.event_id() {
        4728 | 4732 | 4756 => group("group.member.added"),
        4729 | 4733 | 4757 => group("group.member.removed"),
        4624 | 4625 => user("logon"),
        4634 | 4647 => user("logoff"),
        4648 => none("logon.explicit_credentials"),
        4672 => none("logon.special_privileges"),
        4720 => none("account.created"),
        4719 => none("audit.policy_changed"),
        _ => none("windows.event"),
    }
}

/// Appends `n` as exactly `width` decimal digits (zero-padded; `n` must fit).
fn push_digits(out: &mut String, mut n: u32, width: usize) {
    let mut buf = [b'0'; 10];
    for i in (0..width).rev() {
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for &b in &buf[..width] {
        out.push(char::from(b));
    }
}

/// Appends `ticks` as RFC 3339 UTC with `frac` fractional digits (7 = Windows, 3 = Beats).
pub(crate) fn push_time(out: &mut String, ticks: Ticks, frac: usize) {
    use chrono::{Datelike, Timelike};
    let secs = ticks.div_euclid(SEC);
    let sub = ticks.rem_euclid(SEC) as u32; // 0..10^7
    let dt = chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default();
    push_digits(out, dt.year().clamp(0, 9999) as u32, 4);
    out.push('-');
    push_digits(out, dt.month(), 2);
    out.push('-');
    push_digits(out, dt.day(), 2);
    out.push('T');
    push_digits(out, dt.hour(), 2);
    out.push(':');
    push_digits(out, dt.minute(), 2);
    out.push(':');
    push_digits(out, dt.second(), 2);
    if frac > 0 {
        out.push('.');
        push_digits(out, sub / 10u32.pow(7 - frac.min(7) as u32), frac.min(7));
    }
    out.push('Z');
}

pub(crate) fn ticks_of(t: chrono::DateTime<chrono::Utc>) -> Ticks {
    t.timestamp() * SEC + i64::from(t.timestamp_subsec_nanos() / 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats_like_windows_and_beats() {
        let t: chrono::DateTime<chrono::Utc> =
            "2026-11-20T08:15:23.4292263Z".parse().expect("time");
        let mut s = String::new();
        push_time(&mut s, ticks_of(t), 7);
        assert_eq!(s, "2026-11-20T08:15:23.4292263Z");
        s.clear();
        push_time(&mut s, ticks_of(t), 3);
        assert_eq!(s, "2026-11-20T08:15:23.429Z");
    }
}
