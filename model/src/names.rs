//! Names for Windows SIDs, learned from the events themselves (SPEC §2 "principals").
//!
//! A SID says nothing to a reviewer; the events that carry one usually carry the account's name
//! beside it. [`NameClaim`] is what one event says ("`S-1-5-21-…-1601` is `CONTOSO\nina.patel`"),
//! with a [`NameClaim::rank`] for how much that kind of record is worth: the account's own logon
//! session names it as Windows resolved it (best), its creation names it with the domain the
//! record gives, a group membership change only carries the directory DN (whose CN is a display
//! name, not an account). Well-known SIDs have fixed names ([`well_known`]).
//!
//! A claim is an assertion by the machine that wrote the record: a host an attacker controls can
//! label any SID. That is why privtrail always prints the SID beside a learned name
//! ([`display`]) and never matches rules on names.

use crate::{Action, Event, Outcome};

/// What one event says a SID is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameClaim {
    /// The SID, upper-cased (`S-1-5-21-…`).
    pub sid: String,
    /// `DOMAIN\user` (logons, creations) or a display name (a member DN's CN).
    pub name: String,
    /// Lower is better: 0 the account's own logon session, 1 its creation, 2 a member DN.
    pub rank: u8,
}

/// What `e` says its target SID is called, if anything.
pub fn claim(e: &Event) -> Option<NameClaim> {
    claim_parts(
        e.action,
        e.outcome,
        e.target.as_deref(),
        e.target_name.as_deref(),
        e.scope.as_deref(),
    )
}

/// [`claim`] from the stored columns (the store backfills existing events with it).
pub fn claim_parts(
    action: Action,
    outcome: Outcome,
    target: Option<&str>,
    target_name: Option<&str>,
    scope: Option<&str>,
) -> Option<NameClaim> {
    // A failed logon carries whatever user name was typed, under the NULL SID or not.
    if outcome == Outcome::Failure {
        return None;
    }
    let sid = target?.trim();
    if !is_sid(sid) || well_known(sid).is_some() {
        return None;
    }
    let name = target_name?.trim();
    if name.is_empty() || name == "-" || name.eq_ignore_ascii_case(sid) {
        return None;
    }
    let (name, rank) = match action {
        Action::Logon | Action::Logoff | Action::LogonSpecialPrivileges => (name.to_owned(), 0),
        Action::AccountCreated => {
            let domain = scope.map(str::trim).filter(|d| !d.is_empty() && *d != "-");
            match domain {
                Some(d) if !name.contains('\\') => (format!("{d}\\{name}"), 1),
                _ => (name.to_owned(), 1),
            }
        }
        Action::GroupMemberAdded | Action::GroupMemberRemoved => (cn_of(name)?.to_owned(), 2),
        _ => return None,
    };
    // Names are for people; a record stuffed with kilobytes is not a name.
    if name.chars().count() > 256 || name.chars().any(char::is_control) {
        return None;
    }
    Some(NameClaim {
        sid: sid.to_ascii_uppercase(),
        name,
        rank,
    })
}

/// Whether `s` looks like a SID (`S-1-` and digits).
pub fn is_sid(s: &str) -> bool {
    let s = s.trim();
    s.len() > 4
        && s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("s-1-"))
        && s[4..].chars().all(|c| c.is_ascii_digit() || c == '-')
}

/// The CN of a directory DN (`CN=Oscar Wu,OU=Staff,…` → `Oscar Wu`), or `None` for anything else.
fn cn_of(dn: &str) -> Option<&str> {
    let rest = dn.strip_prefix("CN=").or_else(|| dn.strip_prefix("cn="))?;
    // An escaped comma (`\,`) belongs to the name.
    let mut end = rest.len();
    let bytes = rest.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b',' && (i == 0 || bytes[i - 1] != b'\\') {
            end = i;
            break;
        }
    }
    let cn = rest[..end].trim();
    (!cn.is_empty()).then_some(cn)
}

/// The fixed name of a well-known SID (accounts and built-in groups; domain-relative RIDs such as
/// 500 and 512 by their RID).
pub fn well_known(sid: &str) -> Option<&'static str> {
    let sid = sid.trim();
    const FIXED: &[(&str, &str)] = &[
        ("S-1-0-0", "NULL SID"),
        ("S-1-1-0", "Everyone"),
        ("S-1-5-7", "NT AUTHORITY\\ANONYMOUS LOGON"),
        ("S-1-5-18", "NT AUTHORITY\\SYSTEM"),
        ("S-1-5-19", "NT AUTHORITY\\LOCAL SERVICE"),
        ("S-1-5-20", "NT AUTHORITY\\NETWORK SERVICE"),
    ];
    if let Some((_, n)) = FIXED.iter().find(|(s, _)| s.eq_ignore_ascii_case(sid)) {
        return Some(n);
    }
    if let Some(group) = crate::privilege::privileged_group(sid) {
        return Some(group);
    }
    let upper = sid.to_ascii_uppercase();
    if upper.starts_with("S-1-5-21-") {
        return match upper.rsplit('-').next() {
            Some("500") => Some("built-in Administrator"),
            Some("501") => Some("built-in Guest"),
            Some("502") => Some("krbtgt"),
            _ => None,
        };
    }
    None
}

/// How privtrail prints a principal: `CONTOSO\nina.patel (S-1-5-21-…-1601)` when a name is
/// known and says more than the identifier, else the identifier alone.
pub fn display(principal: &str, name: Option<&str>) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) if !n.eq_ignore_ascii_case(principal.trim()) => format!("{n} ({principal})"),
        _ => principal.to_owned(),
    }
}

/// [`display`] for a table column: a named domain SID is shortened to its RID
/// (`CONTOSO\nina.patel (S-1-5-21-…-1601)`); without a name the identifier stays whole.
pub fn display_short(principal: &str, name: Option<&str>) -> String {
    let parts: Vec<&str> = principal.trim().split('-').collect();
    let short = if is_sid(principal) && parts.len() >= 8 && parts[2] == "5" && parts[3] == "21" {
        format!("S-1-5-21-…-{}", parts[parts.len() - 1])
    } else {
        principal.to_owned()
    };
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) if !n.eq_ignore_ascii_case(principal.trim()) => format!("{n} ({short})"),
        _ => principal.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(action: Action, sid: &str, name: &str, scope: Option<&str>) -> Option<NameClaim> {
        claim_parts(action, Outcome::Success, Some(sid), Some(name), scope)
    }

    #[test]
    fn logons_creations_and_member_dns_name_a_sid_by_rank() {
        let sid = "S-1-5-21-1-2-3-1601";
        let c = parts(
            Action::Logon,
            &sid.to_lowercase(),
            "CONTOSO\\nina.patel",
            None,
        )
        .unwrap();
        assert_eq!(
            (c.sid.as_str(), c.name.as_str(), c.rank),
            (sid, "CONTOSO\\nina.patel", 0)
        );
        let c = parts(Action::AccountCreated, sid, "nina.patel", Some("CONTOSO")).unwrap();
        assert_eq!((c.name.as_str(), c.rank), ("CONTOSO\\nina.patel", 1));
        let dn = "CN=Patel\\, Nina,OU=Staff,DC=contoso,DC=local";
        let c = parts(Action::GroupMemberAdded, sid, dn, None).unwrap();
        assert_eq!((c.name.as_str(), c.rank), ("Patel\\, Nina", 2));
    }

    #[test]
    fn nothing_is_learned_from_failures_placeholders_or_well_known_sids() {
        let sid = "S-1-5-21-1-2-3-1601";
        assert_eq!(
            claim_parts(
                Action::Logon,
                Outcome::Failure,
                Some(sid),
                Some("admin"),
                None
            ),
            None
        );
        assert_eq!(parts(Action::Logon, "S-1-0-0", "admin", None), None);
        assert_eq!(
            parts(Action::Logon, "S-1-5-18", "NT AUTHORITY\\SYSTEM", None),
            None
        );
        assert_eq!(parts(Action::GroupMemberAdded, sid, "-", None), None);
        assert_eq!(
            parts(Action::Logon, "alice@contoso.com", "Alice", None),
            None
        );
        assert_eq!(parts(Action::RoleActivated, sid, "x", None), None);
        assert_eq!(parts(Action::Logon, sid, "a\nb", None), None);
        assert_eq!(parts(Action::Logon, sid, &"x".repeat(300), None), None);
    }

    #[test]
    fn well_known_sids_and_display() {
        assert_eq!(well_known("s-1-5-18"), Some("NT AUTHORITY\\SYSTEM"));
        assert_eq!(
            well_known("S-1-5-21-9-9-9-500"),
            Some("built-in Administrator")
        );
        assert_eq!(well_known("S-1-5-21-9-9-9-1601"), None);
        assert_eq!(
            display("S-1-5-21-1-1601", Some("CONTOSO\\nina.patel")),
            "CONTOSO\\nina.patel (S-1-5-21-1-1601)"
        );
        assert_eq!(
            display("alice@contoso.com", Some("ALICE@contoso.com")),
            "alice@contoso.com"
        );
        assert_eq!(display("x", None), "x");
        let sid = "S-1-5-21-3199466839-2560405717-1279638728-1601";
        assert_eq!(
            display_short(sid, Some("CONTOSO\\nina.patel")),
            "CONTOSO\\nina.patel (S-1-5-21-…-1601)"
        );
        assert_eq!(display_short(sid, None), sid);
    }
}
