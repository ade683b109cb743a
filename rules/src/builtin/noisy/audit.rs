//! Windows Security event ids by what they record: the categories that matter to privtrail, and
//! the audit policy subcategory that writes each of the usual noisy ones (names as
//! `auditpol /list /subcategory:*` prints them on an English system), after Microsoft's
//! "Advanced security audit policy settings" reference.

/// The categories `noisy-audit-policy` counts as signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Special privileges at logon and sensitive privilege use (4672, 4673, 4674, 4964).
    PrivilegeUse,
    /// Logon and logoff, and domain authentication (Kerberos, NTLM credential validation), which
    /// is how a domain account logs on.
    LogonLogoff,
    /// User and computer account changes (4720, 4738, 4740…).
    AccountManagement,
    /// Security group changes and memberships (4728, 4732, 4756…).
    GroupManagement,
    /// The audit trail itself: log cleared, audit policy changed, audits lost, time changed.
    AuditIntegrity,
}

/// What `id` records when it is one of the categories that matter. Reads (4798/4799 membership
/// enumerations, 5379 credential reads) are not: they are the noise of those subcategories.
pub fn category(id: u32) -> Option<Category> {
    use Category::*;
    Some(match id {
        4672 | 4673 | 4674 | 4964 => PrivilegeUse,
        4624 | 4625 | 4626 | 4627 | 4634 | 4647 | 4648 | 4649 | 4675 | 4778 | 4779 | 4800
        | 4801 | 4802 | 4803 | 5378 | 5632 | 5633 => LogonLogoff,
        4768..=4777 => LogonLogoff,
        4720
        | 4722..=4726
        | 4738
        | 4740..=4743
        | 4765..=4767
        | 4780..=4782
        | 4793
        | 4794
        | 5376
        | 5377 => AccountManagement,
        4727..=4735 | 4737 | 4754..=4758 | 4764 => GroupManagement,
        104
        | 1100
        | 1102
        | 1104
        | 1105
        | 1108
        | 4608
        | 4609
        | 4612
        | 4616
        | 4715
        | 4719
        | 4817
        | 4902
        | 4904..=4908
        | 4912 => AuditIntegrity,
        _ => return None,
    })
}

/// Where an event id comes from in the audit policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The subcategories that can write it (several for object access: which one, the event's
    /// `ObjectType` tells).
    pub subcategories: &'static [&'static str],
    /// Set when the subcategory also writes events that matter: then it must stay on, and the
    /// noisy id is better dropped at the forwarder.
    pub also_records: Option<&'static str>,
}

const fn only(subcategory: &'static [&'static str]) -> Origin {
    Origin {
        subcategories: subcategory,
        also_records: None,
    }
}

const OBJECT: &[&str] = &[
    "File System",
    "Registry",
    "Kernel Object",
    "Removable Storage",
];
const HANDLE: &[&str] = &[
    "File System",
    "Registry",
    "Kernel Object",
    "Removable Storage",
    "Handle Manipulation",
];

/// The audit subcategory behind `id`, for the ids that usually flood a Security log (`None`:
/// not one privtrail knows, e.g. an event of another channel).
pub fn origin(id: u32) -> Option<Origin> {
    Some(match id {
        5031 | 5150 | 5151 | 5154..=5159 => only(&["Filtering Platform Connection"]),
        5152 | 5153 => only(&["Filtering Platform Packet Drop"]),
        4656 | 4660 | 4663 => only(OBJECT),
        4658 => only(HANDLE),
        4664 | 5051 => only(&["File System"]),
        4657 | 5039 => only(&["Registry"]),
        4690 => only(&["Handle Manipulation"]),
        4661 => only(&["SAM", "Directory Service Access"]),
        4662 => only(&["Directory Service Access"]),
        5136..=5139 | 5141 => only(&["Directory Service Changes"]),
        4932 | 4933 => only(&["Directory Service Replication"]),
        4928..=4931 | 4934..=4937 => only(&["Detailed Directory Service Replication"]),
        4688 | 4696 => only(&["Process Creation"]),
        4689 => only(&["Process Termination"]),
        4692..=4695 => only(&["DPAPI Activity"]),
        5712 => only(&["RPC Events"]),
        6416 | 6419..=6424 => only(&["Plug and Play Events"]),
        4703 => only(&["Token Right Adjusted Events"]),
        5140 | 5142..=5144 | 5168 => only(&["File Share"]),
        5145 => only(&["Detailed File Share"]),
        4671 | 4691 | 4698..=4702 | 5148 | 5149 | 5888..=5890 => {
            only(&["Other Object Access Events"])
        }
        4665..=4668 => only(&["Application Generated"]),
        4868..=4898 => only(&["Certification Services"]),
        4818 => only(&["Central Policy Staging"]),
        4670 | 4704 | 4705 | 4911 | 4913 => only(&["Authorization Policy Change"]),
        4706 | 4707 | 4713 | 4716..=4718 | 4739 | 4864..=4867 => {
            only(&["Authentication Policy Change"])
        }
        4709..=4712 | 5440..=5450 => only(&["Filtering Platform Policy Change"]),
        4944..=4958 => only(&["MPSSVC Rule-Level Policy Change"]),
        4826 => only(&["Other Policy Change Events"]),
        5024 | 5025 | 5027..=5030 | 5032..=5035 | 5037 | 5058 | 5059 | 6400..=6409 => {
            only(&["Other System Events"])
        }
        4615 | 4618 | 4816 | 5038 | 5056 | 5057 | 5060..=5062 | 6281 | 6410 => Origin {
            subcategories: &["System Integrity"],
            also_records: Some("lost audit events (4612)"),
        },
        4610 | 4611 | 4614 | 4622 | 4697 => only(&["Security System Extension"]),
        4621 => only(&["Security State Change"]),
        6272..=6280 => only(&["Network Policy Server"]),
        4646 | 4650..=4653 | 4655 | 4976 | 5049 | 5453 => only(&["IPsec Main Mode"]),
        4654 | 4977 | 5451 | 5452 => only(&["IPsec Quick Mode"]),
        4978..=4984 => only(&["IPsec Extended Mode"]),
        4960..=4963 | 4965 | 5478..=5480 | 5483..=5485 => only(&["IPsec Driver"]),
        4744..=4753 | 4759..=4763 => only(&["Distribution Group Management"]),
        4783..=4792 => only(&["Application Group Management"]),
        4798 | 5379 | 5381 | 5382 => Origin {
            subcategories: &["User Account Management"],
            also_records: Some("account creation and changes (4720, 4738)"),
        },
        4799 => Origin {
            subcategories: &["Security Group Management"],
            also_records: Some("group membership changes (4728, 4732, 4756)"),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An id is either signal or has advice, never both: advice to turn off a subcategory must
    /// never be given for an event that matters.
    #[test]
    fn no_id_is_both_signal_and_noise() {
        for id in 0..=65_535u32 {
            assert!(
                category(id).is_none() || origin(id).is_none(),
                "{id} is both a category that matters and a noisy origin"
            );
        }
    }

    #[test]
    fn the_guide_s_examples() {
        assert_eq!(category(4732), Some(Category::GroupManagement));
        assert_eq!(category(1102), Some(Category::AuditIntegrity));
        assert_eq!(category(4672), Some(Category::PrivilegeUse));
        assert_eq!(category(4624), Some(Category::LogonLogoff));
        assert_eq!(category(4799), None);
        assert_eq!(
            origin(5156).map(|o| o.subcategories),
            Some(&["Filtering Platform Connection"][..])
        );
        assert_eq!(
            origin(4703).map(|o| o.subcategories),
            Some(&["Token Right Adjusted Events"][..])
        );
        assert!(origin(4799).is_some_and(|o| o.also_records.is_some()));
        assert_eq!(origin(7036), None);
    }
}
