//! Which alerts lead to an action, and how far (pure: `now` and every input are arguments).
//!
//! An active alert of a rule `[remediation]` enables, naming an open elevation, becomes an action
//! at the lowest of: the global mode, the rule's, the privilege's, and the cap of its kind —
//! an assignment outside PIM, a permanent assignment and a domain group membership are only ever
//! proposed. Never: a break-glass account, a denied principal, one outside a non-empty allowlist,
//! an identifier that is not what it should be (the SIDs go into PowerShell; an attacker who
//! controls one machine's logs controls them), or a Windows elevation without a webhook.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use privtrail_model::{Source, is_guid};
use privtrail_rules::{Alert, Elevation, ElevationKind, Policy};

use super::{Remediation, State, Target, action_id};
use crate::config::{Mode, RemediationConfig};

/// The registry values Grant-TemporaryAdmin.ps1 writes (contrib/windows), removed with the member.
pub const TAG_VALUES: [&str; 8] = [
    "LastAdminGranted",
    "ExpiresAt",
    "GrantedTo",
    "GrantedToSid",
    "GrantedBy",
    "Ticket",
    "Reason",
    "Host",
];

/// The registry key of the endpoint tags.
pub const TAG_KEY: &str = r"HKLM:\SOFTWARE\Org\AdminAccessAudit";

/// What planning decided for one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A new action at this mode (`Propose` or `Enforce`).
    Act(Box<Remediation>),
    /// Not remediated, and why.
    Skip {
        alert_id: String,
        rule: String,
        reason: String,
    },
}

/// Identifiers the elevation's events carry (the caller reads them from the store): the Entra
/// principal's object id, or the Windows member's SID.
pub type IdOf<'a> = &'a dyn Fn(&Elevation) -> Option<String>;

/// Decisions for the active alerts that have no action yet (`existing`: alert ids with one).
pub fn plan(
    alerts: &[Alert],
    elevations: &[Elevation],
    config: &RemediationConfig,
    policy: &Policy,
    existing: &HashSet<String>,
    id_of: IdOf<'_>,
    now: DateTime<Utc>,
) -> Vec<Decision> {
    let by_id: HashMap<&str, &Elevation> = elevations.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut out = Vec::new();
    for a in alerts.iter().filter(|a| a.is_active()) {
        let rule_mode = config.rule_mode(&a.rule);
        if rule_mode == Mode::Off || existing.contains(&a.id) {
            continue;
        }
        let skip = |reason: String| Decision::Skip {
            alert_id: a.id.clone(),
            rule: a.rule.clone(),
            reason,
        };
        let Some(el) = a.elevation_id.as_deref().and_then(|id| by_id.get(id)) else {
            out.push(skip("its elevation is not stored".into()));
            continue;
        };
        out.push(match decide(a, el, rule_mode, config, policy, id_of, now) {
            Ok(r) => Decision::Act(Box::new(r)),
            Err(reason) => skip(reason),
        });
    }
    out
}

fn listed(list: &[String], policy: &Policy, el: &Elevation) -> bool {
    let p = policy.canonical(&el.principal).to_lowercase();
    list.iter().any(|x| {
        policy.canonical(x).to_lowercase() == p
            || el
                .principal_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(x.trim()))
    })
}

fn decide(
    a: &Alert,
    el: &Elevation,
    rule_mode: Mode,
    config: &RemediationConfig,
    policy: &Policy,
    id_of: IdOf<'_>,
    now: DateTime<Utc>,
) -> Result<Remediation, String> {
    if el.ended_at.is_some() {
        return Err("the elevation already ended".into());
    }
    if policy.is_break_glass(&el.principal)
        || el
            .principal_name
            .as_deref()
            .is_some_and(|n| policy.is_break_glass(n))
    {
        return Err("break-glass account: never remediated".into());
    }
    if listed(&config.deny, policy, el) {
        return Err("listed in [remediation] deny".into());
    }
    if !config.allow.is_empty() && !listed(&config.allow, policy, el) {
        return Err("not in [remediation] allow".into());
    }
    let privilege_mode = config.privilege_mode(&el.privilege, el.privilege_id.as_deref());
    if privilege_mode == Mode::Off {
        return Err(format!("[remediation] privileges: {} is off", el.privilege));
    }
    let (target, cap) = match (el.source, el.kind) {
        (Source::Entra, ElevationKind::Activation | ElevationKind::Assignment) => {
            entra_target(el, id_of)?
        }
        (_, ElevationKind::Membership) => windows_target(el, config, id_of)?,
        (source, kind) => {
            return Err(format!(
                "a {} elevation from {} cannot be remediated",
                kind.as_str(),
                source.as_str()
            ));
        }
    };
    let mut mode = rule_mode.min(privilege_mode);
    let capped = match cap {
        Some(reason) if mode > Mode::Propose => {
            mode = Mode::Propose;
            Some(reason)
        }
        _ => None,
    };
    Ok(Remediation {
        id: action_id(&a.id),
        alert_id: a.id.clone(),
        rule: a.rule.clone(),
        elevation_id: el.id.clone(),
        principal: el.principal.clone(),
        principal_name: el.principal_name.clone(),
        privilege: el.privilege.clone(),
        scope: el.scope.clone(),
        target,
        mode,
        capped,
        state: if mode == Mode::Enforce {
            State::Approved
        } else {
            State::Proposed
        },
        created_at: now,
        updated_at: now,
        attempts: 0,
        last_sent_at: None,
        history: Vec::new(),
    })
}

/// `S-1-<authority>-<sub>…`: digits and dashes only (safe inside PowerShell unquoted).
pub fn is_sid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("S-1-") else {
        return false;
    };
    s.len() <= 184
        && rest
            .split('-')
            .all(|p| !p.is_empty() && p.len() <= 10 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A NetBIOS or DNS host name.
fn is_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
}

fn entra_target(el: &Elevation, id_of: IdOf<'_>) -> Result<(Target, Option<String>), String> {
    let tenant = el.tenant.clone().ok_or("the elevation names no tenant")?;
    let principal_id = id_of(el)
        .filter(|id| is_guid(id))
        .ok_or_else(|| format!("no Entra object id known for {}", el.principal))?;
    let role = el
        .privilege_id
        .clone()
        .filter(|id| is_guid(id))
        .ok_or_else(|| format!("no role definition id known for {}", el.privilege))?;
    let cap = match (el.kind, el.via_pim, el.expected_end) {
        (ElevationKind::Assignment, Some(true), Some(_)) => None,
        (ElevationKind::Assignment, Some(true), None) => {
            Some("permanent assignment: only ever proposed".to_owned())
        }
        (ElevationKind::Assignment, _, _) => {
            Some("assignment outside PIM: only ever proposed".to_owned())
        }
        _ => None,
    };
    Ok((
        Target::Entra {
            tenant,
            principal_id: principal_id.to_lowercase(),
            role_definition_id: role.to_lowercase(),
            directory_scope_id: el.scope.clone(),
        },
        cap,
    ))
}

fn windows_target(
    el: &Elevation,
    config: &RemediationConfig,
    id_of: IdOf<'_>,
) -> Result<(Target, Option<String>), String> {
    if config.webhook.is_none() {
        return Err("no [remediation] webhook to hand Windows actions to".into());
    }
    let group_sid = el
        .privilege_id
        .clone()
        .map(|s| s.to_ascii_uppercase())
        .filter(|s| is_sid(s))
        .ok_or_else(|| format!("the group {} has no valid SID", el.privilege))?;
    let member_sid = id_of(el)
        .map(|s| s.to_ascii_uppercase())
        .filter(|s| is_sid(s))
        .ok_or_else(|| format!("the member {} has no valid SID", el.principal))?;
    let local = group_sid.starts_with("S-1-5-32-");
    let host = if local {
        el.host
            .clone()
            .filter(|h| is_host(h))
            .ok_or("the membership names no valid host")?
    } else {
        // A domain group: the domain's name (its scope) is where the RMM acts.
        el.host
            .clone()
            .or_else(|| Some(el.scope.clone()))
            .filter(|h| is_host(h))
            .ok_or("the membership names no valid host or domain")?
    };
    let powershell = powershell(&group_sid, &member_sid, local);
    let cap = (!local).then(|| "domain group: only ever proposed".to_owned());
    Ok((
        Target::Windows {
            host,
            group_sid,
            group_name: el.privilege.clone(),
            member_sid,
            member_name: el.principal_name.clone(),
            powershell,
        },
        cap,
    ))
}

/// The PowerShell the receiver runs. Only validated SIDs are interpolated (digits and dashes).
pub fn powershell(group_sid: &str, member_sid: &str, local: bool) -> String {
    if !local {
        return format!(
            "Remove-ADGroupMember -Identity {group_sid} -Members {member_sid} -Confirm:$false"
        );
    }
    let names: Vec<String> = TAG_VALUES.iter().map(|n| format!("'{n}'")).collect();
    format!(
        "Remove-LocalGroupMember -Group (Get-LocalGroup -SID {group_sid}) -Member {member_sid}\n\
         if ((Get-ItemProperty -Path '{TAG_KEY}' -ErrorAction SilentlyContinue).GrantedToSid -eq '{member_sid}') {{\n\
         \x20   Remove-ItemProperty -Path '{TAG_KEY}' -Name {} -ErrorAction SilentlyContinue\n\
         }}",
        names.join(",")
    )
}

#[cfg(test)]
mod tests;
