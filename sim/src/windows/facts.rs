//! Facts: search queries over the normalized fields with the exact number of events each matches.

use super::Fact;
use super::estate::Estate;
use super::estate::{Account, Role};
use super::record::{View, normalize};
use super::scenario::Cast;

/// A conjunction of normalized-field conditions: both the query text and the predicate.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cond {
    pub action: Option<&'static str>,
    pub event_code: Option<u16>,
    pub privilege_id: Option<String>,
    pub target: Option<String>,
}

impl Cond {
    pub(crate) fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(a) = self.action {
            parts.push(format!("action:{a}"));
        }
        if let Some(c) = self.event_code {
            parts.push(format!("event_code:{c}"));
        }
        if let Some(p) = &self.privilege_id {
            parts.push(format!("privilege_id:\"{p}\""));
        }
        if let Some(t) = &self.target {
            parts.push(format!("target:\"{t}\""));
        }
        if parts.is_empty() {
            "*".to_owned()
        } else {
            parts.join(" AND ")
        }
    }

    pub(crate) fn matches(&self, v: &dyn View) -> bool {
        let n = normalize(v);
        self.action.is_none_or(|a| a == n.action)
            && self.event_code.is_none_or(|c| c == v.event_id())
            && self
                .privilege_id
                .as_deref()
                .is_none_or(|p| n.privilege_id == Some(p))
            && self.target.as_deref().is_none_or(|t| n.target == Some(t))
    }
}

/// The facts about estate `e` (descriptions and conditions; counts are taken by the caller).
pub(crate) fn fact_conditions(e: &Estate, c: &Cast) -> Vec<(String, Cond)> {
    let act = |a| Cond {
        action: Some(a),
        ..Cond::default()
    };
    let group = |a, sid: &str| Cond {
        action: Some(a),
        privilege_id: Some(sid.to_owned()),
        ..Cond::default()
    };
    let member = |a: Option<&'static str>, sid: &str, who: &Account| Cond {
        action: a,
        privilege_id: Some(sid.to_owned()),
        target: Some(who.sid.clone()),
        ..Cond::default()
    };
    let host = |r| {
        e.find(r)
            .map_or("?", |i| e.machines[i].short.as_str())
            .to_owned()
    };
    let ws = e
        .machines
        .iter()
        .filter(|m| m.role == Role::Workstation)
        .nth(1)
        .or(e.machines.iter().find(|m| m.role == Role::Workstation));
    let ws = ws.map_or_else(|| host(Role::SqlServer), |m| m.short.clone());
    let alice = &e.users[0];
    const ADMINS: &str = "S-1-5-32-544";
    const ADDED: &str = "group.member.added";
    const REMOVED: &str = "group.member.removed";
    vec![
        (
            "all Windows Security events written".into(),
            Cond::default(),
        ),
        (
            "local admin grants (added to Administrators, S-1-5-32-544)".into(),
            group(ADDED, ADMINS),
        ),
        (
            "local admin removals (removed from Administrators)".into(),
            group(REMOVED, ADMINS),
        ),
        (
            format!(
                "{} added to Administrators on {ws} by svc-rmm: the grant",
                c.never_removed_rmm.sam
            ),
            member(Some(ADDED), ADMINS, &c.never_removed_rmm),
        ),
        (
            format!(
                "{} on {ws}: the removal never came (open elevation)",
                c.never_removed_rmm.sam
            ),
            member(Some(REMOVED), ADMINS, &c.never_removed_rmm),
        ),
        (
            format!(
                "{} added to Administrators on {} by adm-erin: the grant",
                c.never_removed_helpdesk.sam,
                host(Role::SqlServer)
            ),
            member(Some(ADDED), ADMINS, &c.never_removed_helpdesk),
        ),
        (
            format!(
                "{} on {}: the removal never came (open elevation)",
                c.never_removed_helpdesk.sam,
                host(Role::SqlServer)
            ),
            member(Some(REMOVED), ADMINS, &c.never_removed_helpdesk),
        ),
        (
            format!(
                "{} added to and removed from Administrators on {} within a minute",
                c.quick.sam,
                host(Role::JumpHost)
            ),
            member(None, ADMINS, &c.quick),
        ),
        (
            "Backup Operators grants (S-1-5-32-551, privileged)".into(),
            group(ADDED, "S-1-5-32-551"),
        ),
        (
            "Remote Desktop Users adds (S-1-5-32-555, not privileged)".into(),
            group(ADDED, "S-1-5-32-555"),
        ),
        (
            format!(
                "{} added to Domain Admins on {}",
                c.created.sam,
                host(Role::DomainController)
            ),
            group(ADDED, &format!("{}-512", e.domain_sid)),
        ),
        ("accounts created (4720)".into(), act("account.created")),
        (
            "audit policy changed (4719)".into(),
            act("audit.policy_changed"),
        ),
        (
            "Security log cleared (1102)".into(),
            act("audit.log_cleared"),
        ),
        (
            "logons, successful and failed (4624, 4625)".into(),
            act("logon"),
        ),
        (
            "failed logons (4625)".into(),
            Cond {
                action: Some("logon"),
                event_code: Some(4625),
                ..Cond::default()
            },
        ),
        (
            format!("successful logons of {} (4624)", alice.sam),
            Cond {
                action: Some("logon"),
                event_code: Some(4624),
                target: Some(alice.sid.clone()),
                ..Cond::default()
            },
        ),
        ("logoffs (4634, 4647)".into(), act("logoff")),
        (
            "special privileges assigned at logon (4672)".into(),
            act("logon.special_privileges"),
        ),
        (
            "logons with explicit credentials (4648)".into(),
            act("logon.explicit_credentials"),
        ),
        (
            "other events kept as windows.event (4688, 4689, 5156, 4769)".into(),
            act("windows.event"),
        ),
    ]
}

/// Counts each condition over `records`.
pub(crate) fn count_facts<'a>(
    conds: &[(String, Cond)],
    records: impl Iterator<Item = &'a dyn View>,
) -> Vec<Fact> {
    let mut counts = vec![0u64; conds.len()];
    for r in records {
        for (i, (_, c)) in conds.iter().enumerate() {
            counts[i] += u64::from(c.matches(r));
        }
    }
    conds
        .iter()
        .zip(counts)
        .map(|((d, c), expected)| Fact {
            description: d.clone(),
            query: c.query(),
            expected,
        })
        .collect()
}
