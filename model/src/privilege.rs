//! Which Windows groups are privileged (SPEC §1.2).
//!
//! Well-known builtin SIDs are recognized exactly; domain groups by their RID under a domain SID
//! (`S-1-5-21-…-512`); groups that have no fixed SID (DnsAdmins, Exchange's groups) by name.
//! Configuration (`[policy] privileged_groups`) adds names, and switches off the defaults marked
//! *optional* with a `!` entry (`"!Cert Publishers"`): see [`is_privileged`].

/// A group privileged by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownGroup {
    /// The well-known name.
    pub name: &'static str,
    /// `false`: always privileged. `true`: privileged unless configuration switches it off (a
    /// path to the domain in most forests, but one some organizations run on purpose).
    pub optional: bool,
}

const fn fixed(name: &'static str) -> KnownGroup {
    KnownGroup {
        name,
        optional: false,
    }
}

const fn optional(name: &'static str) -> KnownGroup {
    KnownGroup {
        name,
        optional: true,
    }
}

/// Builtin local groups that grant admin-equivalent rights (Active Directory's protected groups
/// among them: AdminSDHolder guards their members).
pub const BUILTIN: [(&str, KnownGroup); 6] = [
    ("S-1-5-32-544", fixed("Administrators")),
    ("S-1-5-32-548", fixed("Account Operators")),
    ("S-1-5-32-549", fixed("Server Operators")),
    ("S-1-5-32-550", fixed("Print Operators")),
    ("S-1-5-32-551", fixed("Backup Operators")),
    // A protected group that only the legacy File Replication Service on domain controllers uses:
    // no person belongs in it, and AdminSDHolder keeps a planted member's rights from being
    // cleaned up (a persistence foothold).
    ("S-1-5-32-552", optional("Replicator")),
];

/// Domain-relative ids of privileged domain groups.
pub const DOMAIN_RIDS: [(u32, KnownGroup); 9] = [
    (512, fixed("Domain Admins")),
    (518, fixed("Schema Admins")),
    (519, fixed("Enterprise Admins")),
    (520, fixed("Group Policy Creator Owners")),
    (526, fixed("Key Admins")),
    (527, fixed("Enterprise Key Admins")),
    // Domain controllers' computer accounts: the group holds "Replicating Directory Changes All"
    // on the domain, so any account put in it can replicate every password hash (DCSync).
    (516, optional("Domain Controllers")),
    // Read-only DCs' computer accounts (a protected group): a member that is not an RODC is an
    // account posing as a domain controller.
    (521, optional("Read-only Domain Controllers")),
    // May publish certificates to the directory (`userCertificate` of users and computers, the
    // AIA/CDP containers of the PKI): a way to plant credentials for certificate-based logon.
    // Protected in older forests; CA servers are its normal members, so it can be switched off.
    (517, optional("Cert Publishers")),
];

/// Privileged groups without a fixed SID, by name (any case). All optional.
pub const BY_NAME: [KnownGroup; 4] = [
    // May configure the DNS Server service, which runs on domain controllers: its
    // `ServerLevelPluginDll` setting loads any DLL into dns.exe as SYSTEM at the next service
    // start, i.e. code execution as SYSTEM on a DC.
    optional("DnsAdmins"),
    // Full control of the Exchange organization, including the membership of the two groups
    // below: one step from WriteDACL on the domain object.
    optional("Organization Management"),
    // Exchange servers' computer accounts; a member of Exchange Windows Permissions, so it holds
    // that group's rights on the domain (the PrivExchange relay path).
    optional("Exchange Trusted Subsystem"),
    // Holds WriteDACL on the domain object (unless Exchange's split permissions or the 2019
    // hardening removed it): a member can grant itself replication rights and DCSync.
    optional("Exchange Windows Permissions"),
];

/// The well-known name of a privileged group SID, or `None` if the SID is not one (optional
/// groups included: this names the group, whatever the configuration says).
pub fn privileged_group(sid: &str) -> Option<&'static str> {
    known_by_sid(sid).map(|g| g.name)
}

fn known_by_sid(sid: &str) -> Option<KnownGroup> {
    let sid = sid.trim();
    if let Some((_, g)) = BUILTIN.iter().find(|(s, _)| s.eq_ignore_ascii_case(sid)) {
        return Some(*g);
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
    DOMAIN_RIDS.iter().find(|(r, _)| *r == rid).map(|(_, g)| *g)
}

/// A group name without a `DOMAIN\` prefix, trimmed.
fn bare(name: &str) -> &str {
    let name = name.trim();
    name.rsplit_once('\\').map_or(name, |(_, n)| n.trim())
}

fn known_by_name(name: &str) -> Option<KnownGroup> {
    let n = bare(name);
    BY_NAME
        .iter()
        .find(|g| g.name.eq_ignore_ascii_case(n))
        .copied()
}

/// The entries of a configured list that switch a default off (`!name` or `!SID`), trimmed.
fn switched_off(config: &[String]) -> impl Iterator<Item = &str> {
    config
        .iter()
        .filter_map(|x| x.trim().strip_prefix('!'))
        .map(str::trim)
}

/// Whether a configured `!entry` names an optional default group (by name or SID): what config
/// validation accepts. Fixed groups cannot be switched off.
pub fn can_switch_off(entry: &str) -> bool {
    let e = entry.trim();
    let by_name = || {
        BUILTIN
            .iter()
            .map(|(_, g)| g)
            .chain(DOMAIN_RIDS.iter().map(|(_, g)| g))
            .chain(BY_NAME.iter())
            .find(|g| g.name.eq_ignore_ascii_case(bare(e)))
            .copied()
    };
    known_by_sid(e).or_else(by_name).is_some_and(|g| g.optional)
}

/// Whether the group (by SID, or by name) is privileged, given the configured list `config`
/// (`[policy] privileged_groups`): the groups of [`BUILTIN`] and [`DOMAIN_RIDS`] by SID and of
/// [`BY_NAME`] by name, less the optional ones switched off by a `!name` (or `!SID`) entry, plus
/// the other entries' names (any case, a `DOMAIN\` prefix ignored).
pub fn is_privileged(sid: Option<&str>, name: Option<&str>, config: &[String]) -> bool {
    let off = |g: KnownGroup| {
        g.optional
            && switched_off(config).any(|x| {
                bare(x).eq_ignore_ascii_case(g.name)
                    || sid.is_some_and(|s| s.trim().eq_ignore_ascii_case(x))
            })
    };
    if let Some(g) = sid.and_then(known_by_sid) {
        return !off(g);
    }
    if let Some(g) = name.and_then(known_by_name)
        && !off(g)
    {
        return true;
    }
    name.is_some_and(|n| {
        config
            .iter()
            .filter(|x| !x.trim().starts_with('!'))
            .any(|x| bare(x).eq_ignore_ascii_case(bare(n)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_and_domain_groups() {
        assert_eq!(privileged_group("S-1-5-32-544"), Some("Administrators"));
        assert_eq!(privileged_group("s-1-5-32-551"), Some("Backup Operators"));
        assert_eq!(privileged_group("S-1-5-32-552"), Some("Replicator"));
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
        assert_eq!(
            privileged_group("S-1-5-21-1-2-3-516"),
            Some("Domain Controllers")
        );
        assert_eq!(
            privileged_group("S-1-5-21-1-2-3-521"),
            Some("Read-only Domain Controllers")
        );
        assert_eq!(
            privileged_group("S-1-5-21-1-2-3-517"),
            Some("Cert Publishers")
        );
        // Domain Users, Domain Computers, Domain Guests.
        for rid in [513, 515, 514] {
            assert_eq!(privileged_group(&format!("S-1-5-21-1-2-3-{rid}")), None);
        }
        // A user SID ending in 512 under a malformed prefix is not a group.
        assert_eq!(privileged_group("S-1-5-21-1-2-512"), None);
        assert_eq!(privileged_group("-"), None);
    }

    #[test]
    fn groups_without_a_fixed_sid_by_name() {
        // DnsAdmins and Exchange's groups get a RID above 1000 when created: only the name says
        // what they are.
        for name in [
            "DnsAdmins",
            "organization management",
            "OFFSEC\\Exchange Trusted Subsystem",
            "Exchange Windows Permissions",
        ] {
            assert!(
                is_privileged(Some("S-1-5-21-1-2-3-1105"), Some(name), &[]),
                "{name}"
            );
        }
        for name in [
            "Helpdesk",
            "Exchange Servers",
            "Recipient Management",
            "DnsUpdateProxy",
        ] {
            assert!(
                !is_privileged(Some("S-1-5-21-1-2-3-1105"), Some(name), &[]),
                "{name}"
            );
        }
    }

    #[test]
    fn configured_names_and_switched_off_defaults() {
        let extra = vec!["Helpdesk Admins".to_owned()];
        assert!(is_privileged(
            Some("S-1-5-21-1-2-3-1101"),
            Some("helpdesk admins"),
            &extra
        ));
        assert!(!is_privileged(
            Some("S-1-5-21-1-2-3-1101"),
            Some("Helpdesk"),
            &extra
        ));

        let cert = Some("S-1-5-21-1-2-3-517");
        assert!(is_privileged(cert, Some("Cert Publishers"), &[]));
        let off = vec![" ! cert publishers ".to_owned(), "!DnsAdmins".to_owned()];
        assert!(!is_privileged(cert, Some("Cert Publishers"), &off));
        assert!(!is_privileged(cert, None, &off));
        assert!(!is_privileged(
            Some("S-1-5-21-1-2-3-1101"),
            Some("DnsAdmins"),
            &off
        ));
        // Switching one off leaves the others.
        assert!(is_privileged(
            Some("S-1-5-21-1-2-3-1102"),
            Some("Organization Management"),
            &off
        ));
        assert!(is_privileged(Some("S-1-5-21-1-2-3-516"), None, &off));
        // By SID too.
        let by_sid = vec!["!S-1-5-21-1-2-3-516".to_owned()];
        assert!(!is_privileged(Some("S-1-5-21-1-2-3-516"), None, &by_sid));
        assert!(is_privileged(Some("S-1-5-21-9-9-9-516"), None, &by_sid));
        // Fixed groups stay privileged whatever the list says.
        let admins = vec!["!Domain Admins".to_owned(), "!Administrators".to_owned()];
        assert!(is_privileged(Some("S-1-5-21-1-2-3-512"), None, &admins));
        assert!(is_privileged(Some("S-1-5-32-544"), None, &admins));
    }

    #[test]
    fn only_optional_groups_can_be_switched_off() {
        for e in [
            "Cert Publishers",
            "replicator",
            "Domain Controllers",
            "Read-only Domain Controllers",
            "DnsAdmins",
            "Exchange Windows Permissions",
            "S-1-5-21-1-2-3-517",
            "S-1-5-32-552",
        ] {
            assert!(can_switch_off(e), "{e}");
        }
        for e in [
            "Domain Admins",
            "Administrators",
            "S-1-5-32-544",
            "Helpdesk",
            "",
        ] {
            assert!(!can_switch_off(e), "{e}");
        }
    }
}
