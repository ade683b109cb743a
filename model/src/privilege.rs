//! Which Windows groups are privileged (SPEC §1.2).
//!
//! Well-known builtin SIDs are recognized exactly; domain groups by their RID under a domain SID
//! (`S-1-5-21-…-512`). Groups without a fixed SID (DnsAdmins) come from configuration, by name.

/// Builtin local groups that grant admin-equivalent rights.
pub const BUILTIN: [(&str, &str); 5] = [
    ("S-1-5-32-544", "Administrators"),
    ("S-1-5-32-548", "Account Operators"),
    ("S-1-5-32-549", "Server Operators"),
    ("S-1-5-32-550", "Print Operators"),
    ("S-1-5-32-551", "Backup Operators"),
];

/// Domain-relative ids of privileged domain groups.
pub const DOMAIN_RIDS: [(u32, &str); 6] = [
    (512, "Domain Admins"),
    (518, "Schema Admins"),
    (519, "Enterprise Admins"),
    (520, "Group Policy Creator Owners"),
    (526, "Key Admins"),
    (527, "Enterprise Key Admins"),
];

/// The well-known name of a privileged group SID, or `None` if the SID is not one.
pub fn privileged_group(sid: &str) -> Option<&'static str> {
    let sid = sid.trim();
    if let Some((_, name)) = BUILTIN.iter().find(|(s, _)| s.eq_ignore_ascii_case(sid)) {
        return Some(name);
    }
    let upper = sid.to_ascii_uppercase();
    let rest = upper.strip_prefix("S-1-5-21-")?;
    // A domain SID has three sub-authorities before the RID.
    let parts: Vec<&str> = rest.split('-').collect();
    if parts.len() != 4
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let rid: u32 = parts[3].parse().ok()?;
    DOMAIN_RIDS.iter().find(|(r, _)| *r == rid).map(|(_, n)| *n)
}

/// Whether the group (by SID, or by name against the configured extra names) is privileged.
pub fn is_privileged(sid: Option<&str>, name: Option<&str>, extra_names: &[String]) -> bool {
    if sid.is_some_and(|s| privileged_group(s).is_some()) {
        return true;
    }
    name.is_some_and(|n| extra_names.iter().any(|x| x.eq_ignore_ascii_case(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_and_domain_groups() {
        assert_eq!(privileged_group("S-1-5-32-544"), Some("Administrators"));
        assert_eq!(privileged_group("s-1-5-32-551"), Some("Backup Operators"));
        assert_eq!(privileged_group("S-1-5-32-545"), None);
        assert_eq!(privileged_group("S-1-5-32-559"), None);
        assert_eq!(
            privileged_group("S-1-5-21-1-2-3-512"),
            Some("Domain Admins")
        );
        assert_eq!(
            privileged_group("S-1-5-21-1-2-3-527"),
            Some("Enterprise Key Admins")
        );
        assert_eq!(privileged_group("S-1-5-21-1-2-3-513"), None);
        // A user SID ending in 512 under a malformed prefix is not a group.
        assert_eq!(privileged_group("S-1-5-21-1-2-512"), None);
        assert_eq!(privileged_group("-"), None);
    }

    #[test]
    fn configured_names() {
        let extra = vec!["DnsAdmins".to_owned()];
        assert!(is_privileged(
            Some("S-1-5-21-1-2-3-1101"),
            Some("dnsadmins"),
            &extra
        ));
        assert!(!is_privileged(
            Some("S-1-5-21-1-2-3-1101"),
            Some("Helpdesk"),
            &extra
        ));
    }
}
