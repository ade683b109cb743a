//! What planning needs from the store: the alerts' elevations judged with the identity-mapped
//! policy, the actions already stored, and the identifiers the receivers act on (an Entra object id,
//! a Windows SID), from the principal itself, the tenant's directory, or the event that opened the
//! elevation.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use privtrail_rules::{Alert, Elevation, ElevationKind};

use super::plan::{Decision, is_sid, plan};
use crate::App;
use crate::config::Mode;
use crate::engine::{joined_policy, load_elevations};
use crate::error::Result;

impl App {
    /// What `[remediation]` decides for the active alerts that have no action yet, over the stored
    /// elevations: the live job's planning. Reads the elevations and the policy only when some alert
    /// is a candidate (the daemon runs this after every rules run).
    pub fn remediation_plan(&self, alerts: &[Alert], now: DateTime<Utc>) -> Result<Vec<Decision>> {
        let config = &self.config().remediation;
        let existing: HashSet<String> = self
            .remediations()?
            .into_iter()
            .map(|r| r.alert_id)
            .collect();
        let candidates: Vec<Alert> = alerts
            .iter()
            .filter(|a| {
                a.is_active() && config.rule_mode(&a.rule) != Mode::Off && !existing.contains(&a.id)
            })
            .cloned()
            .collect();
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let elevations = load_elevations(self.store())?;
        self.plan_with(&candidates, &elevations, &existing, now)
    }

    /// What `[remediation]` would have decided for each alert over the elevations given with it
    /// (`rules test`: each judged against its elevation as it stood when the alert opened),
    /// ignoring the actions stored.
    pub fn remediation_preview(
        &self,
        cases: &[(Alert, Vec<Elevation>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Decision>> {
        let (policy, _) = joined_policy(self.store(), self.engine())?;
        let none = HashSet::new();
        let id_of = |el: &Elevation| self.identifier_of(el);
        Ok(cases
            .iter()
            .flat_map(|(alert, els)| {
                plan(
                    std::slice::from_ref(alert),
                    els,
                    &self.config().remediation,
                    &policy,
                    &none,
                    &id_of,
                    now,
                )
            })
            .collect())
    }

    fn plan_with(
        &self,
        alerts: &[Alert],
        elevations: &[Elevation],
        existing: &HashSet<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Decision>> {
        let (policy, _) = joined_policy(self.store(), self.engine())?;
        let id_of = |el: &Elevation| self.identifier_of(el);
        Ok(plan(
            alerts,
            elevations,
            &self.config().remediation,
            &policy,
            existing,
            &id_of,
            now,
        ))
    }

    /// The Entra object id or the Windows SID of an elevation's principal, from the principal
    /// itself, the tenant's directory, or the event that opened the elevation.
    fn identifier_of(&self, el: &Elevation) -> Option<String> {
        let opening = || self.store().get_event(&el.opened_by).ok().flatten();
        if el.kind == ElevationKind::Membership {
            if is_sid(&el.principal.to_ascii_uppercase()) {
                return Some(el.principal.clone());
            }
            return opening()?
                .target
                .filter(|t| is_sid(&t.to_ascii_uppercase()));
        }
        let p = el.principal.trim();
        if privtrail_model::is_guid(p) {
            return Some(p.to_owned());
        }
        if let Some(t) = &el.tenant
            && let Ok(users) = self.store().directory_users(t)
            && let Some(u) = users
                .iter()
                .find(|u| u.upn.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(p)))
        {
            return Some(u.id.clone());
        }
        // The audit record (targetResources' user) or the snapshot instance (principalId).
        let raw: serde_json::Value = serde_json::from_str(&opening()?.raw).ok()?;
        if let Some(id) = raw.get("principalId").and_then(|v| v.as_str()) {
            return Some(id.to_owned());
        }
        raw.get("targetResources")?
            .as_array()?
            .iter()
            .find(|t| t.get("type").and_then(|v| v.as_str()) == Some("User"))?
            .get("id")?
            .as_str()
            .map(str::to_owned)
    }
}
