#![allow(dead_code, clippy::unwrap_used)]

use chrono::{DateTime, Utc};
use privtrail_model::{Action, Event, EventId, Source};
use privtrail_rules::{Alert, Policy, Rule, RulesConfig, backtest};

pub const ADMINS: &str = "S-1-5-32-544";
pub const GA: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const HOST: &str = "WIN-03DLIIOFRRA";

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn membership(
    action: Action,
    host: &str,
    rec: u64,
    time: &str,
    member: &str,
    actor: &str,
    group_sid: &str,
) -> Event {
    let code = if action == Action::GroupMemberAdded {
        "4732"
    } else {
        "4733"
    };
    let mut e = Event::new(
        EventId::windows(host, "Security", rec),
        Source::Windows,
        action,
        t(time),
        code,
    );
    e.host = Some(host.to_owned());
    e.scope = Some(host.to_owned());
    e.actor = Some(actor.to_owned());
    e.target = Some(member.to_owned());
    e.privilege_id = Some(group_sid.to_owned());
    e.privilege = privtrail_model::privilege::privileged_group(group_sid).map(str::to_owned);
    e
}

pub fn win_add(host: &str, rec: u64, time: &str, member: &str, actor: &str) -> Event {
    membership(
        Action::GroupMemberAdded,
        host,
        rec,
        time,
        member,
        actor,
        ADMINS,
    )
}

pub fn win_remove(host: &str, rec: u64, time: &str, member: &str, actor: &str) -> Event {
    membership(
        Action::GroupMemberRemoved,
        host,
        rec,
        time,
        member,
        actor,
        ADMINS,
    )
}

pub fn win_event(host: &str, rec: u64, time: &str, action: Action, code: &str) -> Event {
    let mut e = Event::new(
        EventId::windows(host, "Security", rec),
        Source::Windows,
        action,
        t(time),
        code,
    );
    e.host = Some(host.to_owned());
    e.scope = Some(host.to_owned());
    e
}

pub fn tag(host: &str, id: &str, time: &str, expires: &str, target: Option<&str>) -> Event {
    let mut e = Event::new(
        EventId::native(Source::Endpoint, host, id),
        Source::Endpoint,
        Action::EndpointAdminTag,
        t(time),
        "AdminAccessAudit",
    );
    e.host = Some(host.to_owned());
    e.expires_at = Some(t(expires));
    e.target = target.map(str::to_owned);
    e
}

/// An Entra role event for tenant `contoso`.
pub fn entra(action: Action, id: &str, time: &str, upn: &str, role: &str) -> Event {
    let mut e = Event::new(
        EventId::native(Source::Entra, "contoso", id),
        Source::Entra,
        action,
        t(time),
        "Add member to role completed (PIM activation)",
    );
    e.tenant = Some("contoso".to_owned());
    e.target = Some(upn.to_owned());
    e.actor = Some(upn.to_owned());
    e.privilege_id = Some(role.to_owned());
    e.privilege = Some(if role == GA {
        "Global Administrator".to_owned()
    } else {
        role.to_owned()
    });
    e.scope = Some("/".to_owned());
    e
}

pub fn activation(id: &str, time: &str, upn: &str, role: &str, expires: &str) -> Event {
    let mut e = entra(Action::RoleActivated, id, time, upn, role);
    e.expires_at = Some(t(expires));
    e
}

pub fn default_rules() -> Vec<Box<dyn Rule>> {
    RulesConfig::default().build().unwrap()
}

pub fn run(
    events: &[Event],
    policy: &Policy,
    from: &str,
    until: &str,
    step_min: i64,
) -> Vec<Alert> {
    let mut sorted = events.to_vec();
    sorted.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
    backtest(
        &sorted,
        policy,
        &default_rules(),
        t(from),
        t(until),
        chrono::Duration::minutes(step_min),
    )
}

pub fn of_rule<'a>(alerts: &'a [Alert], rule: &str) -> Vec<&'a Alert> {
    alerts.iter().filter(|a| a.rule == rule).collect()
}
