//! The pure part: [`WinRecord`] → [`Event`] (SPEC §1.2 → §2). No I/O.

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, EventId, Outcome, Source, privilege};

use super::record::WinRecord;

/// Provider of the 4xxx Security events.
pub const SECURITY_AUDITING: &str = "Microsoft-Windows-Security-Auditing";
/// Provider of 1102 (Security log cleared) and 104 (a log cleared).
pub const EVENTLOG: &str = "Microsoft-Windows-Eventlog";

/// Whether `channel` is one of the selected ones (case-insensitive; an empty list selects all).
pub fn channel_selected(channels: &[String], channel: &str) -> bool {
    channels.is_empty() || channels.iter().any(|c| c.eq_ignore_ascii_case(channel))
}

/// Normalize one record. `extra_privileged_groups` are group names treated as privileged besides the
/// well-known SIDs; `ingested_at` is stamped on the event.
pub fn normalize(
    rec: WinRecord<'_>,
    extra_privileged_groups: &[String],
    ingested_at: DateTime<Utc>,
) -> Event {
    let id = EventId::windows(&rec.computer, &rec.channel, rec.record_id);
    let mut e = Event::new(
        id,
        Source::Windows,
        Action::WindowsEvent,
        rec.time,
        rec.event_id.to_string(),
    );
    e.ingested_at = ingested_at;
    e.host = non_empty(&rec.computer);
    e.record_id = Some(rec.record_id.to_string());
    if rec.audit_failure {
        e.outcome = Outcome::Failure;
    }
    let security = rec.provider.eq_ignore_ascii_case(SECURITY_AUDITING);
    let eventlog = rec.provider.eq_ignore_ascii_case(EVENTLOG);
    match rec.event_id {
        4728 | 4729 | 4732 | 4733 | 4756 | 4757 if security => {
            group_membership(&mut e, &rec, extra_privileged_groups)
        }
        4624 | 4625 if security => logon(&mut e, &rec),
        4634 | 4647 if security => logoff(&mut e, &rec),
        4648 if security => explicit_credentials(&mut e, &rec),
        4672 if security => special_privileges(&mut e, &rec),
        4720 if security => account_created(&mut e, &rec),
        4719 if security => policy_changed(&mut e, &rec),
        1102 | 104 if eventlog => log_cleared(&mut e, &rec),
        _ => {
            let provider = if rec.provider.is_empty() {
                "unknown provider"
            } else {
                rec.provider.as_ref()
            };
            e.message = format!("event {} from {provider} on {}", rec.event_id, host(&rec));
        }
    }
    e.raw = rec.raw.into_owned();
    e
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty() && s != "-").then(|| s.to_owned())
}

fn host<'r>(rec: &'r WinRecord<'_>) -> &'r str {
    if rec.computer.is_empty() {
        "unknown host"
    } else {
        &rec.computer
    }
}

/// `DOMAIN\user`, or `user` when the domain is empty or `-`; `None` without a user.
fn account(rec: &WinRecord, domain: &str, user: &str) -> Option<String> {
    let user = rec.data.get(user)?;
    Some(match rec.data.get(domain) {
        Some(d) => format!("{d}\\{user}"),
        None => user.to_owned(),
    })
}

fn subject(rec: &WinRecord) -> Option<String> {
    account(rec, "SubjectDomainName", "SubjectUserName")
}

fn or_unknown(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("unknown")
}

fn group_membership(e: &mut Event, rec: &WinRecord, extra: &[String]) {
    let added = matches!(rec.event_id, 4728 | 4732 | 4756);
    e.action = if added {
        Action::GroupMemberAdded
    } else {
        Action::GroupMemberRemoved
    };
    let d = &rec.data;
    let group_sid = d.get("TargetSid");
    let group_name = d
        .get("TargetUserName")
        .or_else(|| group_sid.and_then(privilege::privileged_group));
    e.actor = subject(rec);
    e.target = d.get("MemberSid").map(str::to_owned);
    e.target_name = d.get("MemberName").map(str::to_owned);
    e.privilege = group_name.map(str::to_owned);
    e.privilege_id = group_sid.map(str::to_owned);
    e.scope = if matches!(rec.event_id, 4732 | 4733) {
        non_empty(&rec.computer)
    } else {
        d.get("TargetDomainName").map(str::to_owned)
    };
    let privileged = privilege::is_privileged(group_sid, group_name, extra);
    let member = match (&e.target_name, &e.target) {
        (Some(n), Some(s)) if n != s => format!("{n} ({s})"),
        (_, Some(s)) => s.clone(),
        (Some(n), None) => n.clone(),
        (None, None) => "unknown member".to_owned(),
    };
    let group = match (group_name, group_sid) {
        (Some(n), Some(s)) => format!("{n} ({s})"),
        (Some(x), None) | (None, Some(x)) => x.to_owned(),
        (None, None) => "unknown group".to_owned(),
    };
    let (verb, prep) = if added {
        ("added", "to")
    } else {
        ("removed", "from")
    };
    e.message = format!(
        "{} {verb} {member} {prep} {group} on {}{}",
        or_unknown(&e.actor),
        e.scope.as_deref().unwrap_or("unknown scope"),
        if privileged { " [privileged]" } else { "" }
    );
}

/// `%%1842` / `%%1843` are the message ids Windows writes for Yes / No.
fn yes_no(v: &str) -> &str {
    match v {
        "%%1842" => "yes",
        "%%1843" => "no",
        other => other,
    }
}

fn logon(e: &mut Event, rec: &WinRecord) {
    let d = &rec.data;
    e.action = Action::Logon;
    let failed = rec.event_id == 4625;
    if failed {
        e.outcome = Outcome::Failure;
    }
    e.actor = subject(rec);
    e.target = d.get("TargetUserSid").map(str::to_owned);
    e.target_name = account(rec, "TargetDomainName", "TargetUserName");
    e.scope = non_empty(&rec.computer);
    let who = e
        .target_name
        .clone()
        .or_else(|| e.target.clone())
        .unwrap_or_else(|| "unknown user".to_owned());
    let mut msg = format!(
        "{} of {who} on {} (logon type {}",
        if failed { "failed logon" } else { "logon" },
        host(rec),
        d.get("LogonType").unwrap_or("?")
    );
    if let Some(ip) = d.get("IpAddress") {
        msg.push_str(", from ");
        msg.push_str(ip);
    }
    if let Some(el) = d.get("ElevatedToken") {
        msg.push_str(", elevated token: ");
        msg.push_str(yes_no(el));
    }
    if failed && let Some(status) = d.get("SubStatus").or_else(|| d.get("Status")) {
        msg.push_str(", status ");
        msg.push_str(status);
    }
    msg.push(')');
    e.message = msg;
}

fn logoff(e: &mut Event, rec: &WinRecord) {
    let d = &rec.data;
    e.action = Action::Logoff;
    e.target = d.get("TargetUserSid").map(str::to_owned);
    e.target_name = account(rec, "TargetDomainName", "TargetUserName");
    e.scope = non_empty(&rec.computer);
    let who = e
        .target_name
        .clone()
        .or_else(|| e.target.clone())
        .unwrap_or_else(|| "unknown user".to_owned());
    e.message = if rec.event_id == 4647 {
        format!("{who} logged off on {} (user initiated)", host(rec))
    } else {
        format!(
            "{who} logged off on {} (logon type {})",
            host(rec),
            d.get("LogonType").unwrap_or("?")
        )
    };
}

fn explicit_credentials(e: &mut Event, rec: &WinRecord) {
    let d = &rec.data;
    e.action = Action::LogonExplicitCredentials;
    e.actor = subject(rec);
    e.target = account(rec, "TargetDomainName", "TargetUserName");
    e.scope = non_empty(&rec.computer);
    let mut msg = format!(
        "{} used explicit credentials of {}",
        or_unknown(&e.actor),
        or_unknown(&e.target)
    );
    if let Some(server) = d.get("TargetServerName") {
        msg.push_str(" for ");
        msg.push_str(server);
    }
    msg.push_str(" on ");
    msg.push_str(host(rec));
    if let Some(p) = d.get("ProcessName") {
        msg.push_str(" (");
        msg.push_str(p);
        msg.push(')');
    }
    e.message = msg;
}

/// `PrivilegeList` as a single-space-separated list (Windows separates with `\r\n\t\t\t`).
pub fn privilege_list(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn special_privileges(e: &mut Event, rec: &WinRecord) {
    let d = &rec.data;
    e.action = Action::LogonSpecialPrivileges;
    e.target = d.get("SubjectUserSid").map(str::to_owned);
    e.target_name = subject(rec);
    e.privilege = d.get("PrivilegeList").map(privilege_list);
    e.scope = non_empty(&rec.computer);
    e.message = format!(
        "special privileges assigned to {} at logon on {}: {}",
        e.target_name
            .as_deref()
            .or(e.target.as_deref())
            .unwrap_or("unknown user"),
        host(rec),
        e.privilege.as_deref().unwrap_or("none listed")
    );
}

fn account_created(e: &mut Event, rec: &WinRecord) {
    let d = &rec.data;
    e.action = Action::AccountCreated;
    e.actor = subject(rec);
    e.target = d.get("TargetSid").map(str::to_owned);
    e.target_name = d.get("TargetUserName").map(str::to_owned);
    e.scope = d
        .get("TargetDomainName")
        .map(str::to_owned)
        .or_else(|| non_empty(&rec.computer));
    let who = account(rec, "TargetDomainName", "TargetUserName")
        .or_else(|| e.target.clone())
        .unwrap_or_else(|| "unknown account".to_owned());
    e.message = format!(
        "{} created account {who}{} on {}",
        or_unknown(&e.actor),
        e.target
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default(),
        host(rec)
    );
}

fn policy_changed(e: &mut Event, rec: &WinRecord) {
    let d = &rec.data;
    e.action = Action::AuditPolicyChanged;
    e.actor = subject(rec);
    e.scope = non_empty(&rec.computer);
    e.message = format!(
        "{} changed the audit policy on {}: category {}, subcategory {}, changes {}",
        or_unknown(&e.actor),
        host(rec),
        d.get("CategoryId").unwrap_or("?"),
        d.get("SubcategoryGuid")
            .or_else(|| d.get("SubcategoryId"))
            .unwrap_or("?"),
        d.get("AuditPolicyChanges").unwrap_or("?")
    );
}

fn log_cleared(e: &mut Event, rec: &WinRecord) {
    e.action = Action::AuditLogCleared;
    e.actor = subject(rec).or_else(|| rec.data.get("SubjectUserSid").map(str::to_owned));
    e.scope = non_empty(&rec.computer);
    // 1102 is always the Security log; 104 names the cleared log in its data.
    let log = if rec.event_id == 1102 {
        "Security"
    } else {
        rec.data
            .get("Channel")
            .unwrap_or(if rec.channel.is_empty() {
                "an event"
            } else {
                &rec.channel
            })
    };
    e.message = match &e.actor {
        Some(a) => format!("{log} log cleared by {a} on {}", host(rec)),
        None => format!("{log} log cleared on {}", host(rec)),
    };
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
