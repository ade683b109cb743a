//! What a collector should have stored from a [`TenantSim`]: search queries with exact counts,
//! computed from the records themselves (so they hold for every seed).

use std::collections::BTreeMap;

use serde_json::Value;

use super::TenantSim;

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    cur.as_str()
}

/// `(description, query, expected count)`: one per distinct `activityDisplayName` (`event_code` is
/// an exact keyword field, so `event_code:"Add member to role"` does not match the PIM activities
/// that start with those words), and per-user counts of completed activations.
pub fn scenario_facts(sim: &TenantSim) -> Vec<(String, String, u64)> {
    let mut by_activity: BTreeMap<&str, u64> = BTreeMap::new();
    let mut activations: BTreeMap<&str, u64> = BTreeMap::new();
    let mut outside_pim: BTreeMap<&str, u64> = BTreeMap::new();
    for a in &sim.audits {
        let Some(name) = str_at(a, &["activityDisplayName"]) else {
            continue;
        };
        *by_activity.entry(name).or_default() += 1;
        if name == "Add member to role completed (PIM activation)"
            && let Some(upn) = str_at(a, &["initiatedBy", "user", "userPrincipalName"])
        {
            *activations.entry(upn).or_default() += 1;
        }
        if name == "Add member to role"
            && let Some(upn) = str_at(a, &["initiatedBy", "user", "userPrincipalName"])
        {
            *outside_pim.entry(upn).or_default() += 1;
        }
    }
    let mut facts: Vec<(String, String, u64)> = by_activity
        .iter()
        .map(|(name, n)| {
            (
                format!("Graph audit records \"{name}\""),
                format!("event_code:\"{name}\""),
                *n,
            )
        })
        .collect();
    for (upn, n) in activations {
        facts.push((
            format!("PIM activations completed by {upn}"),
            format!(
                "event_code:\"Add member to role completed (PIM activation)\" AND actor:\"{upn}\""
            ),
            n,
        ));
    }
    for (upn, n) in outside_pim {
        facts.push((
            format!("Roles assigned outside PIM by {upn} (Core Directory, not MS-PIM)"),
            format!("event_code:\"Add member to role\" AND actor:\"{upn}\""),
            n,
        ));
    }
    facts
}
