//! What reconstruction and the rules need to know about the organization: maximum durations,
//! identities, privileged roles and groups, break-glass accounts and approved granters.

use std::collections::HashMap;

use chrono::Duration;
use serde::Deserialize;

use crate::time::Span;

/// Template id of Entra's Global Administrator role.
pub const GLOBAL_ADMIN_TEMPLATE_ID: &str = "62e90394-69f5-4237-9190-012177145e10";

/// Entra built-in roles treated as privileged by `standing-access` (template id, name). Roles can be
/// added by name or id with [`Policy::privileged_roles`].
pub const PRIVILEGED_ROLES: [(&str, &str); 17] = [
    (GLOBAL_ADMIN_TEMPLATE_ID, "Global Administrator"),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
    ),
    (
        "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Privileged Authentication Administrator",
    ),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
    ),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
    ),
    (
        "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        "SharePoint Administrator",
    ),
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
    ),
    (
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        "Cloud Application Administrator",
    ),
    (
        "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        "Authentication Administrator",
    ),
    (
        "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
        "Conditional Access Administrator",
    ),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
    ),
    (
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
        "Intune Administrator",
    ),
    (
        "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
        "Hybrid Identity Administrator",
    ),
    (
        "e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8",
        "Partner Tier2 Support",
    ),
    (
        "8329153b-31d0-4727-b945-745eb3bc5f31",
        "Domain Name Administrator",
    ),
    (
        "966707d0-3269-4727-9be2-8c3a10f19b9d",
        "Password Administrator",
    ),
];

/// Alias → canonical identity (e.g. a Windows SID → a UPN), compared without regard to case.
///
/// Lookups are one hash probe; aliases are not followed transitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityMap {
    /// Lower-cased alias → the canonical principal as configured (its case kept for display).
    map: HashMap<String, String>,
}

impl IdentityMap {
    pub fn new(pairs: &[(String, String)]) -> Self {
        let mut m = IdentityMap::default();
        for (a, c) in pairs {
            m.insert(a, c);
        }
        m
    }

    /// Maps `alias` to `canonical` (a later insert for the same alias wins).
    pub fn insert(&mut self, alias: &str, canonical: &str) {
        self.map
            .insert(normalize(alias), canonical.trim().to_owned());
    }

    /// The canonical, lower-cased form of a principal: what comparisons and keys use.
    pub fn canonical(&self, principal: &str) -> String {
        normalize(&self.resolve(principal))
    }

    /// The canonical principal in the case of its source (the configured canonical name, or
    /// the principal itself, trimmed): what privtrail prints.
    pub fn resolve(&self, principal: &str) -> String {
        match self.map.get(&normalize(principal)) {
            Some(c) => c.clone(),
            None => principal.trim().to_owned(),
        }
    }

    /// The pairs (alias, canonical), both lower-cased, in no particular order.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.map
            .iter()
            .map(|(a, c)| (a.clone(), normalize(c)))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

fn normalize(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Reconstruction and rule inputs shared by every rule (the `[policy]` section of SPEC §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Default promise when no expiry is known (8 h).
    pub max_duration: Duration,
    /// Per-privilege maximum durations, keyed by role/group name or id (any case).
    pub privileges: HashMap<String, Duration>,
    /// Slack after `expected_end` before an elevation is overdue (15 min).
    pub grace: Duration,
    /// Principals exempt from `standing-access` (emergency accounts).
    pub break_glass: Vec<String>,
    /// Accounts allowed to add local administrators (`DOMAIN\user` or `user`).
    pub approved_local_admin_granters: Vec<String>,
    /// The configured privileged Windows groups: extra group names, and `!name` entries that
    /// switch an optional default off (see [`privtrail_model::privilege::is_privileged`]).
    pub privileged_groups: Vec<String>,
    /// Extra privileged Entra roles (name or template id) for `standing-access`.
    pub privileged_roles: Vec<String>,
    /// How far before an elevation an endpoint tag may have been stamped and still belong to it,
    /// and how close to an add a tag must be to cover it for `unapproved-local-admin` (1 h).
    pub tag_window: Duration,
    /// Alias → canonical identities, applied to every principal.
    pub identity_map: IdentityMap,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_duration: Duration::hours(8),
            privileges: HashMap::new(),
            grace: Duration::minutes(15),
            break_glass: Vec::new(),
            approved_local_admin_granters: Vec::new(),
            privileged_groups: Vec::new(),
            privileged_roles: Vec::new(),
            tag_window: Duration::hours(1),
            identity_map: IdentityMap::default(),
        }
    }
}

impl Policy {
    /// Adds `onPremisesSecurityIdentifier` joins: each (UPN, SID) maps the SID to the UPN.
    pub fn with_directory_users(mut self, users: &[(String, String)]) -> Self {
        for (upn, sid) in users {
            if !sid.trim().is_empty() && !upn.trim().is_empty() {
                self.identity_map.insert(sid, upn);
            }
        }
        self
    }

    /// The canonical, lower-cased principal (for comparisons).
    pub fn canonical(&self, principal: &str) -> String {
        self.identity_map.canonical(principal)
    }

    /// The canonical principal as its source wrote it (for display).
    pub fn resolve(&self, principal: &str) -> String {
        self.identity_map.resolve(principal)
    }

    /// The maximum duration for a privilege, by id first, then by name.
    pub fn max_duration_for(
        &self,
        privilege_id: Option<&str>,
        privilege: Option<&str>,
    ) -> Duration {
        if self.privileges.is_empty() {
            return self.max_duration;
        }
        [privilege_id, privilege]
            .into_iter()
            .flatten()
            .find_map(|p| {
                self.privileges
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(p.trim()))
                    .map(|(_, d)| *d)
            })
            .unwrap_or(self.max_duration)
    }

    /// Whether a principal is a break-glass account (after identity mapping).
    pub fn is_break_glass(&self, principal: &str) -> bool {
        let p = self.canonical(principal);
        self.break_glass.iter().any(|b| self.canonical(b) == p)
    }

    /// Whether an Entra role (by template id or name) is privileged.
    pub fn is_privileged_role(&self, id: Option<&str>, name: Option<&str>) -> bool {
        let is = |v: Option<&str>, k: &str| v.is_some_and(|v| k.eq_ignore_ascii_case(v.trim()));
        PRIVILEGED_ROLES
            .iter()
            .any(|(i, n)| is(id, i) || is(name, n))
            || self
                .privileged_roles
                .iter()
                .any(|r| is(id, r) || is(name, r))
    }

    /// Whether `actor` is an approved granter: case-insensitive; `DOMAIN\user` matches the same
    /// entry or a bare `user` entry, and a bare actor `user` matches any `DOMAIN\user` entry.
    pub fn is_approved_granter(&self, actor: &str, extra: &[String]) -> bool {
        approved(
            actor,
            self.approved_local_admin_granters.iter().chain(extra),
        )
    }
}

fn approved<'a>(actor: &str, list: impl Iterator<Item = &'a String>) -> bool {
    let split = |s: &str| -> (Option<String>, String) {
        let s = s.trim().to_lowercase();
        match s.rsplit_once('\\') {
            Some((d, u)) => (Some(d.to_owned()), u.to_owned()),
            None => (None, s),
        }
    };
    let (ad, au) = split(actor);
    list.map(|e| split(e)).any(|(ed, eu)| {
        eu == au
            && match (&ad, &ed) {
                (Some(a), Some(e)) => a == e,
                _ => true,
            }
    })
}

/// The `[policy]` section of the config file (SPEC §7.1); every key optional, unknown keys rejected.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Default maximum duration of an elevation with no known expiry (`8h`).
    pub max_duration: Option<Span>,
    /// Grace after the expected end before `overdue-elevation` fires (`15m`).
    pub grace: Option<Span>,
    #[serde(default)]
    pub break_glass: Vec<String>,
    #[serde(default)]
    pub approved_local_admin_granters: Vec<String>,
    /// Extra privileged Windows group names; `"!Cert Publishers"` switches an optional default
    /// group off (Domain Controllers, Read-only Domain Controllers, Replicator, Cert Publishers,
    /// DnsAdmins and Exchange's Organization Management, Exchange Trusted Subsystem and Exchange
    /// Windows Permissions are privileged unless switched off).
    #[serde(default)]
    pub privileged_groups: Vec<String>,
    /// Extra privileged Entra roles (names or template ids).
    #[serde(default)]
    pub privileged_roles: Vec<String>,
    /// Tag window (`1h`), see [`Policy::tag_window`].
    pub tag_window: Option<Span>,
    /// Alias = canonical identity (e.g. `"S-1-5-21-…-1104" = "alice@contoso.com"`).
    #[serde(default)]
    pub identity_map: HashMap<String, String>,
    /// Per-privilege settings, keyed by role/group name or id.
    #[serde(default)]
    pub privileges: HashMap<String, PrivilegeConfig>,
}

/// `[policy.privileges."Global Administrator"]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivilegeConfig {
    pub max_duration: Option<Span>,
}

impl PolicyConfig {
    /// The policy these settings describe (defaults for what is unset).
    pub fn policy(&self) -> Policy {
        let d = Policy::default();
        let mut identity_map = IdentityMap::default();
        for (a, c) in &self.identity_map {
            identity_map.insert(a, c);
        }
        Policy {
            max_duration: self.max_duration.map_or(d.max_duration, |s| s.0),
            privileges: self
                .privileges
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.max_duration?.0)))
                .collect(),
            grace: self.grace.map_or(d.grace, |s| s.0),
            break_glass: self.break_glass.clone(),
            approved_local_admin_granters: self.approved_local_admin_granters.clone(),
            privileged_groups: self.privileged_groups.clone(),
            privileged_roles: self.privileged_roles.clone(),
            tag_window: self.tag_window.map_or(d.tag_window, |s| s.0),
            identity_map,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granters_match_with_and_without_domain() {
        let p = Policy {
            approved_local_admin_granters: vec!["CONTOSO\\svc-rmm".into(), "deploy".into()],
            ..Policy::default()
        };
        assert!(p.is_approved_granter("contoso\\SVC-RMM", &[]));
        assert!(p.is_approved_granter("svc-rmm", &[]));
        assert!(!p.is_approved_granter("OTHER\\svc-rmm", &[]));
        assert!(p.is_approved_granter("ANY\\deploy", &[]));
        assert!(!p.is_approved_granter("fsir", &[]));
        assert!(p.is_approved_granter("fsir", &["FSIR".into()]));
    }

    #[test]
    fn identities_and_durations() {
        let mut p = Policy::default()
            .with_directory_users(&[("Alice@Contoso.com".into(), "S-1-5-21-1-2-3-1104".into())]);
        p.privileges
            .insert("Global Administrator".into(), Duration::hours(2));
        assert_eq!(p.canonical("s-1-5-21-1-2-3-1104"), "alice@contoso.com");
        assert_eq!(p.canonical(" Bob@X "), "bob@x");
        assert_eq!(
            p.max_duration_for(None, Some("global administrator")),
            Duration::hours(2)
        );
        assert_eq!(
            p.max_duration_for(Some("x"), Some("User Administrator")),
            Duration::hours(8)
        );
        assert!(p.is_privileged_role(Some(GLOBAL_ADMIN_TEMPLATE_ID), None));
        assert!(!p.is_privileged_role(Some("x"), Some("Reports Reader")));
    }
}
