//! PIM role settings: what they require on activation and what they allow, read from Graph's two
//! shapes — a role's policy rules (`unifiedRoleManagementPolicyRule` subtypes, in the PIM snapshot)
//! and the changes an `Update role setting in PIM` audit record lists — and the two rules that
//! judge them, `pim-setting-weakened` and `activation-without-mfa`.

mod shapes;

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use privtrail_model::{Action, Event, format_duration, format_time, names};

use super::roles::{counts, role, who};
use crate::hash::FastMap;
use crate::rule::{Context, Finding, Rule, Severity};
pub use shapes::{SettingChange, changes_of, settings_from_rules};

/// The setting changes of some events' `Update role setting in PIM` records (their `raw`), parsed
/// once: two rules read them, and the engine parses a piece's on the thread that reads it, while
/// the previous piece is judged ([`Context::settings`]). Parsing each record twice on the judging
/// thread was a tenth of the rules run after a million-record Graph import.
#[derive(Debug, Default, Clone)]
pub struct ParsedSettings(FastMap<privtrail_model::EventId, Vec<SettingChange>>);

impl ParsedSettings {
    /// The changes of every role-setting change among `events` whose record is at hand.
    pub fn of(events: &[Event]) -> Self {
        ParsedSettings(
            events
                .iter()
                .filter(|e| e.action == Action::RoleSettingChanged && !e.raw.is_empty())
                .map(|e| (e.id.clone(), changes_of(&e.raw)))
                .collect(),
        )
    }
}

/// The changes `e`'s record lists: parsed already in `ctx`, else now.
fn changes_in(ctx: &Context<'_>, e: &Event) -> Vec<SettingChange> {
    match ctx.settings.and_then(|p| p.0.get(&e.id)) {
        Some(changes) => changes.clone(),
        None => changes_of(&e.raw),
    }
}

/// One setting of a role's PIM policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Setting {
    /// MFA (or an authentication context) on activation.
    Mfa,
    Justification,
    Ticket,
    /// Approval of activations.
    Approval,
    /// The longest activation.
    MaxActivation,
    /// Eligible assignments may be permanent (no expiration required).
    PermanentEligible,
    /// Active assignments may be permanent.
    PermanentActive,
}

impl Setting {
    pub fn label(self) -> &'static str {
        match self {
            Setting::Mfa => "MFA on activation",
            Setting::Justification => "justification on activation",
            Setting::Ticket => "ticket on activation",
            Setting::Approval => "approval of activation",
            Setting::MaxActivation => "maximum activation duration",
            Setting::PermanentEligible => "permanent eligible assignment",
            Setting::PermanentActive => "permanent active assignment",
        }
    }
}

/// A setting's value: required/allowed or not, or a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Flag(bool),
    Duration(Duration),
}

impl Value {
    fn show(self, s: Setting) -> String {
        match (s, self) {
            (_, Value::Duration(d)) => format_duration(d),
            (Setting::PermanentEligible | Setting::PermanentActive, Value::Flag(true)) => {
                "allowed".into()
            }
            (Setting::PermanentEligible | Setting::PermanentActive, Value::Flag(false)) => {
                "not allowed".into()
            }
            (_, Value::Flag(true)) => "required".into(),
            (_, Value::Flag(false)) => "not required".into(),
        }
    }
}

/// What a role's policy says, as far as it is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleSettings {
    pub values: Vec<(Setting, Value)>,
}

impl RoleSettings {
    pub fn get(&self, s: Setting) -> Option<Value> {
        self.values.iter().find(|(k, _)| *k == s).map(|(_, v)| *v)
    }

    pub fn set(&mut self, s: Setting, v: Value) {
        match self.values.iter_mut().find(|(k, _)| *k == s) {
            Some(slot) => slot.1 = v,
            None => self.values.push((s, v)),
        }
    }
}

/// The last known settings of a role in a tenant (from the latest PIM snapshot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownSettings {
    pub tenant: String,
    /// Role definition (template) id.
    pub role_id: String,
    pub settings: RoleSettings,
}

fn known<'a>(ctx: &'a Context<'_>, e: &Event) -> Option<&'a RoleSettings> {
    let id = e.privilege_id.as_deref()?;
    ctx.role_settings
        .iter()
        .find(|k| {
            k.role_id.eq_ignore_ascii_case(id)
                && e.tenant
                    .as_deref()
                    .is_none_or(|t| t.eq_ignore_ascii_case(&k.tenant))
        })
        .map(|k| &k.settings)
}

/// `pim-setting-weakened`: an `Update role setting in PIM` that removes the MFA, justification or
/// ticket requirement on activation or approval, raises the maximum activation above the policy's
/// maximum for the role (`[policy]` / `[policy.privileges]`), or allows permanent eligible or
/// active assignment. Where the record has no old value, the last known setting (the PIM
/// snapshot) stands in; where neither is known, a removal is still reported ("was unknown").
#[derive(Debug, Clone)]
pub struct PimSettingWeakened {
    pub severity: Severity,
}

/// Whether going from `old` to `new` weakens `s` (`limit`: the policy's maximum activation).
fn weakens(s: Setting, old: Option<Value>, new: Value, limit: Duration) -> bool {
    match (s, new) {
        (Setting::MaxActivation, Value::Duration(d)) => {
            d > limit && old.is_none_or(|o| o != Value::Duration(d))
        }
        (Setting::PermanentEligible | Setting::PermanentActive, Value::Flag(true)) => {
            old != Some(Value::Flag(true))
        }
        (
            Setting::Mfa | Setting::Justification | Setting::Ticket | Setting::Approval,
            Value::Flag(false),
        ) => old != Some(Value::Flag(false)),
        _ => false,
    }
}

impl Rule for PimSettingWeakened {
    fn id(&self) -> &str {
        "pim-setting-weakened"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(vec![Action::RoleSettingChanged])
    }
    fn raw_inputs(&self) -> Vec<Action> {
        vec![Action::RoleSettingChanged]
    }
    fn description(&self) -> String {
        "a PIM role setting change removes MFA, justification, ticket or approval on activation, \
         raises the maximum activation above the policy's, or allows permanent assignment"
            .into()
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for e in ctx
            .new_events
            .iter()
            .filter(|e| counts(e, Action::RoleSettingChanged))
        {
            let last = known(ctx, e);
            let limit = ctx
                .policy
                .max_duration_for(e.privilege_id.as_deref(), e.privilege.as_deref());
            let weakened: Vec<String> = changes_in(ctx, e)
                .into_iter()
                .filter_map(|c| {
                    let old = c.old.or_else(|| last.and_then(|l| l.get(c.setting)));
                    weakens(c.setting, old, c.new, limit).then(|| {
                        let was = old.map_or_else(|| "unknown".to_owned(), |o| o.show(c.setting));
                        let cap = if c.setting == Setting::MaxActivation {
                            format!(" (policy maximum {})", format_duration(limit))
                        } else {
                            String::new()
                        };
                        format!(
                            "{}: {was} → {}{cap}",
                            c.setting.label(),
                            c.new.show(c.setting)
                        )
                    })
                })
                .collect();
            if weakened.is_empty() {
                continue;
            }
            let by = e
                .actor
                .as_deref()
                .map_or_else(|| "someone".to_owned(), |a| names::display(a, None));
            out.push(Finding {
                rule: self.id().to_owned(),
                severity: self.severity,
                subject: e.id.to_string(),
                principal: e.actor.clone(),
                privilege: Some(role(e).to_owned()),
                scope: e.scope.clone(),
                summary: format!(
                    "{by} weakened the PIM settings of {}{} at {}: {}",
                    role(e),
                    e.tenant
                        .as_deref()
                        .map(|t| format!(" in tenant {t}"))
                        .unwrap_or_default(),
                    format_time(e.time),
                    weakened.join("; ")
                ),
                event_ids: vec![e.id.clone()],
                elevation_id: None,
                condition: false,
            });
        }
        out
    }
}

/// `activation-without-mfa`: a completed PIM activation whose role did not require MFA at the
/// time, as the data says: a setting change among the same events that turned MFA off before the
/// activation, else the role's settings in the latest PIM snapshot. Silent when nothing says.
#[derive(Debug, Clone)]
pub struct ActivationWithoutMfa {
    pub severity: Severity,
}

impl Rule for ActivationWithoutMfa {
    fn id(&self) -> &str {
        "activation-without-mfa"
    }
    fn severity(&self) -> Severity {
        self.severity
    }
    fn inputs(&self) -> Option<Vec<Action>> {
        Some(vec![Action::RoleActivated, Action::RoleSettingChanged])
    }
    fn raw_inputs(&self) -> Vec<Action> {
        vec![Action::RoleSettingChanged]
    }
    fn description(&self) -> String {
        "a PIM activation of a role whose settings did not require MFA at the time".into()
    }
    fn evaluate(&self, ctx: &Context<'_>) -> Vec<Finding> {
        // The MFA changes among these events, per role (read once: a run can judge a million
        // events, thousands of them activations).
        let mut by_role: HashMap<String, Vec<(DateTime<Utc>, SettingChange)>> = HashMap::new();
        for c in ctx
            .new_events
            .iter()
            .filter(|c| counts(c, Action::RoleSettingChanged))
        {
            let Some(role_id) = c.privilege_id.as_deref() else {
                continue;
            };
            for x in changes_in(ctx, c) {
                if x.setting == Setting::Mfa {
                    by_role
                        .entry(role_id.to_lowercase())
                        .or_default()
                        .push((c.time, x));
                }
            }
        }
        for changes in by_role.values_mut() {
            changes.sort_by_key(|(t, _)| *t);
        }
        let mut out = Vec::new();
        for e in ctx
            .new_events
            .iter()
            .filter(|e| counts(e, Action::RoleActivated))
        {
            // The state at the activation is the role's last MFA change before it, else the old
            // value of the first change after it, else (no change known) the latest PIM snapshot.
            let mfa_changes: &[(DateTime<Utc>, SettingChange)] = e
                .privilege_id
                .as_deref()
                .and_then(|id| by_role.get(&id.to_lowercase()))
                .map_or(&[], Vec::as_slice);
            let before = mfa_changes.iter().rev().find(|(t, _)| *t <= e.time);
            let after = mfa_changes.iter().find(|(t, _)| *t > e.time);
            let (mfa, source) = match (before, after) {
                (Some((t, c)), _) => (Some(c.new), format!("the change of {}", format_time(*t))),
                (None, Some((t, c))) => (
                    c.old,
                    format!("the setting before the change of {}", format_time(*t)),
                ),
                (None, None) => (
                    known(ctx, e).and_then(|k| k.get(Setting::Mfa)),
                    "the role's settings in the latest PIM snapshot".to_owned(),
                ),
            };
            if mfa != Some(Value::Flag(false)) {
                continue;
            }
            let who = who(e);
            out.push(Finding {
                rule: self.id().to_owned(),
                severity: self.severity,
                subject: e.id.to_string(),
                principal: e.target.as_deref().map(|t| ctx.policy.resolve(t)),
                privilege: Some(role(e).to_owned()),
                scope: e.scope.clone(),
                summary: format!(
                    "{who} activated {} at {} without MFA: {source} did not require it",
                    role(e),
                    format_time(e.time)
                ),
                event_ids: vec![e.id.clone()],
                elevation_id: None,
                condition: false,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests;
