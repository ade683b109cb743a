//! Reading Graph's shapes of PIM settings.
//!
//! **Policy rules** (`GET /policies/roleManagementPolicyAssignments?$expand=policy($expand=rules)`):
//! `Enablement_EndUser_Assignment.enabledRules` (`MultiFactorAuthentication`, `Justification`,
//! `Ticketing`), `AuthenticationContext_EndUser_Assignment.isEnabled` (counts as MFA),
//! `Approval_EndUser_Assignment.setting.isApprovalRequired`,
//! `Expiration_EndUser_Assignment.maximumDuration` (ISO 8601), and
//! `Expiration_Admin_Eligibility` / `Expiration_Admin_Assignment.isExpirationRequired` (false:
//! permanent allowed).
//!
//! **Audit records** (`Update role setting in PIM`): every target's `modifiedProperties` (and
//! `additionalDetails` entries, which carry no old value), either
//! named by a policy rule's id with the rule's JSON as old and new value (as PIM's API writes
//! them), or by a setting's name with a plain value (`ActivationMaximumDuration` `"PT8H"`,
//! `ApprovalRequired` `true`, `MfaRequired`, `JustificationRequired`, `TicketingRequired`,
//! `AllowPermanentEligibleAssignment`, `AllowPermanentActiveAssignment`); values may be
//! JSON-quoted as Core Directory writes them.

use privtrail_model::parse_iso8601_duration;
use serde_json::Value as Json;

use super::{RoleSettings, Setting, Value};

/// One setting an audit record changed; `old` is `None` when the record does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingChange {
    pub setting: Setting,
    pub old: Option<Value>,
    pub new: Value,
}

fn key<'a>(m: &'a Json, k: &str) -> Option<&'a Json> {
    let o = m.as_object()?;
    o.get(k).or_else(|| {
        o.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v)
    })
}

/// What one policy rule says.
fn rule_values(rule: &Json) -> Vec<(Setting, Value)> {
    let id = key(rule, "id").and_then(Json::as_str).unwrap_or_default();
    let flag = |k: &str| key(rule, k).and_then(Json::as_bool);
    let mut out = Vec::new();
    match id.to_ascii_lowercase().as_str() {
        "enablement_enduser_assignment" => {
            let enabled: Vec<String> = key(rule, "enabledRules")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .map(str::to_ascii_lowercase)
                .collect();
            if key(rule, "enabledRules").is_some() {
                let has = |n: &str| Value::Flag(enabled.iter().any(|e| e == n));
                out.push((Setting::Mfa, has("multifactorauthentication")));
                out.push((Setting::Justification, has("justification")));
                out.push((Setting::Ticket, has("ticketing")));
            }
        }
        "authenticationcontext_enduser_assignment" if flag("isEnabled") == Some(true) => {
            out.push((Setting::Mfa, Value::Flag(true)));
        }
        "approval_enduser_assignment" => {
            if let Some(b) = key(rule, "setting")
                .and_then(|s| key(s, "isApprovalRequired"))
                .and_then(Json::as_bool)
            {
                out.push((Setting::Approval, Value::Flag(b)));
            }
        }
        "expiration_enduser_assignment" => {
            if let Some(d) = key(rule, "maximumDuration")
                .and_then(Json::as_str)
                .and_then(parse_iso8601_duration)
            {
                out.push((Setting::MaxActivation, Value::Duration(d)));
            }
        }
        "expiration_admin_eligibility" => {
            if let Some(b) = flag("isExpirationRequired") {
                out.push((Setting::PermanentEligible, Value::Flag(!b)));
            }
        }
        "expiration_admin_assignment" => {
            if let Some(b) = flag("isExpirationRequired") {
                out.push((Setting::PermanentActive, Value::Flag(!b)));
            }
        }
        _ => {}
    }
    out
}

/// A role's settings from its policy rules. An authentication context on activation counts as
/// MFA whatever the enablement rule says.
pub fn settings_from_rules(rules: &[Json]) -> RoleSettings {
    let mut s = RoleSettings::default();
    let mut context = false;
    for r in rules {
        for (k, v) in rule_values(r) {
            if k == Setting::Mfa && v == Value::Flag(true) {
                context = true;
            }
            if !(k == Setting::Mfa && context && v == Value::Flag(false)) {
                s.set(k, v);
            }
        }
    }
    s
}

/// A property value: JSON (possibly quoted once more, as Core Directory writes it), or text.
fn parse_value(v: &Json) -> Option<Json> {
    match v {
        Json::Null => None,
        Json::String(s) if s.trim().is_empty() => None,
        Json::String(s) => match serde_json::from_str::<Json>(s) {
            Ok(Json::String(inner)) => serde_json::from_str(&inner)
                .ok()
                .or(Some(Json::String(inner))),
            Ok(j) => Some(j),
            Err(_) => Some(Json::String(s.clone())),
        },
        other => Some(other.clone()),
    }
}

fn plain(name: &str, v: &Json) -> Option<(Setting, Value)> {
    let flag = || match v {
        Json::Bool(b) => Some(*b),
        Json::String(s) => s.trim().to_ascii_lowercase().parse::<bool>().ok(),
        _ => None,
    };
    let n = name.to_ascii_lowercase().replace(['_', ' ', '.'], "");
    let setting = match n.as_str() {
        "activationmaximumduration" | "maximumactivationduration" => {
            let d = v.as_str().and_then(parse_iso8601_duration)?;
            return Some((Setting::MaxActivation, Value::Duration(d)));
        }
        "approvalrequired" | "requireapproval" => Setting::Approval,
        "mfarequired" | "requiremfa" | "multifactorauthenticationrequired" => Setting::Mfa,
        "justificationrequired" | "requirejustification" => Setting::Justification,
        "ticketingrequired" | "ticketrequired" | "requireticket" => Setting::Ticket,
        "allowpermanenteligibleassignment" | "permanenteligibleassignmentallowed" => {
            Setting::PermanentEligible
        }
        "allowpermanentactiveassignment" | "permanentactiveassignmentallowed" => {
            Setting::PermanentActive
        }
        _ => return None,
    };
    Some((setting, Value::Flag(flag()?)))
}

/// The settings an `Update role setting in PIM` record (its `raw`) changed.
pub fn changes_of(raw: &str) -> Vec<SettingChange> {
    let Ok(record) = serde_json::from_str::<Json>(raw) else {
        return Vec::new();
    };
    let mut out: Vec<SettingChange> = Vec::new();
    let props = key(&record, "targetResources")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| key(t, "modifiedProperties").and_then(Json::as_array))
        .flatten()
        .map(|p| {
            (
                key(p, "displayName")
                    .and_then(Json::as_str)
                    .unwrap_or_default(),
                key(p, "oldValue").and_then(parse_value),
                key(p, "newValue").and_then(parse_value),
            )
        });
    // `additionalDetails` may carry a setting or a rule too (new value only).
    let details = key(&record, "additionalDetails")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|d| {
            (
                key(d, "key").and_then(Json::as_str).unwrap_or_default(),
                None,
                key(d, "value").and_then(parse_value),
            )
        });
    for (name, old, new) in props.chain(details) {
        let Some(new) = new else {
            continue;
        };
        let pairs: Vec<(Setting, Option<Value>, Value)> = if new.is_object() {
            // A policy rule (its id is the property's name or inside the value).
            let mut rule = new.clone();
            if key(&rule, "id").is_none()
                && let Some(o) = rule.as_object_mut()
            {
                o.insert("id".into(), Json::String(name.to_owned()));
            }
            let mut old_rule = old.clone().unwrap_or(Json::Null);
            if let Some(o) = old_rule.as_object_mut()
                && !o.contains_key("id")
            {
                o.insert("id".into(), Json::String(name.to_owned()));
            }
            let before = rule_values(&old_rule);
            rule_values(&rule)
                .into_iter()
                .map(|(s, v)| {
                    let o = before.iter().find(|(k, _)| *k == s).map(|(_, v)| *v);
                    (s, o, v)
                })
                .filter(|(_, o, v)| *o != Some(*v))
                .collect()
        } else {
            plain(name, &new)
                .map(|(s, v)| {
                    let o = old.as_ref().and_then(|o| plain(name, o)).map(|(_, v)| v);
                    (s, o, v)
                })
                .filter(|(_, o, v)| *o != Some(*v))
                .into_iter()
                .collect()
        };
        for (setting, old, new) in pairs {
            out.push(SettingChange { setting, old, new });
        }
    }
    out
}
