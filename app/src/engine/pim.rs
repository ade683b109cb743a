//! What the rules job reads besides events: the configured policy joined with the identities
//! Entra knows, and the PIM snapshot's settings and active assignments as the rules crate sees them.

use std::collections::HashMap;

use privtrail_ingest::graph::{AssignmentType, PimSnapshot};
use privtrail_rules::builtin::KnownSettings;
use privtrail_rules::builtin::settings::settings_from_rules;
use privtrail_rules::{InstanceType, PimInstanceView, Policy};
use privtrail_store::Store;

use super::Engine;
use crate::error::Result;

/// The roles' PIM settings in a tenant's snapshot (none when it did not read them).
pub(super) fn known_settings(tenant: &str, snap: &PimSnapshot) -> Vec<KnownSettings> {
    snap.policies
        .iter()
        .flatten()
        .filter(|p| p.scope_id == "/")
        .map(|p| KnownSettings {
            tenant: tenant.to_owned(),
            role_id: p.role_definition_id.clone(),
            settings: settings_from_rules(&p.rules),
        })
        .collect()
}

/// UPNs by user object id, per tenant.
pub type UpnMaps = HashMap<String, HashMap<String, String>>;

/// The configured policy plus the identity joins Entra knows (`onPremisesSecurityIdentifier`).
pub fn joined_policy(store: &Store, engine: &Engine) -> Result<(Policy, UpnMaps)> {
    let mut upn_of: UpnMaps = HashMap::new();
    for (t, _) in &engine.tenants {
        let map = upn_of.entry(t.clone()).or_default();
        for u in store.directory_users(t)? {
            if let Some(upn) = &u.upn {
                map.insert(u.id.to_lowercase(), upn.clone());
            }
        }
    }
    // Joins from every stored tenant: a process without `[[tenants]]` (a daemon fed by agents, a
    // read-only listing) must key the same elevations as the one that collected them.
    let joins: Vec<(String, String)> = store
        .synced_users()?
        .into_iter()
        .filter_map(|u| Some((u.upn?, u.on_prem_sid?)))
        .collect();
    Ok((engine.policy.clone().with_directory_users(&joins), upn_of))
}

/// The snapshot's active assignments as the rules crate sees them (principal ids → UPNs).
pub(super) fn pim_views(
    snap: &PimSnapshot,
    upns: Option<&HashMap<String, String>>,
) -> Vec<PimInstanceView> {
    snap.assignments
        .iter()
        .map(|i| {
            let role = snap.roles.iter().find(|r| {
                r.id.eq_ignore_ascii_case(&i.role_definition_id)
                    || r.template_id
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case(&i.role_definition_id))
            });
            PimInstanceView {
                principal: upns
                    .and_then(|m| m.get(&i.principal_id.to_lowercase()))
                    .cloned()
                    .unwrap_or_else(|| i.principal_id.clone()),
                role_template_id: role
                    .and_then(|r| r.template_id.clone())
                    .unwrap_or_else(|| i.role_definition_id.clone()),
                role_name: role.map(|r| r.display_name.clone()),
                scope: i.directory_scope_id.clone(),
                assignment_type: match i.assignment_type {
                    Some(AssignmentType::Activated) => InstanceType::Activated,
                    _ => InstanceType::Assigned,
                },
                start: i.start_date_time,
                end: i.end_date_time,
            }
        })
        .collect()
}
