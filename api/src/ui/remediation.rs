//! The remediation section of an alert's page: the action privtrail planned for the alert (what it
//! ends, through what), its history (proposed, approved by whom, sent, the receiver's answer) and,
//! for reviewers, the approve and reject forms of a proposed or failed action.

use maud::{Markup, html};
use privtrail_app::remediate::{Remediation, State, Target};

use super::{enc, time_el};
use crate::auth::Caller;
use crate::review::MAX_NOTE;

pub fn section(c: &Caller, r: &Remediation) -> Markup {
    let csrf = c.csrf.as_deref().unwrap_or("");
    let decidable = matches!(r.state, State::Proposed | State::Failed);
    html! {
        section.remediation {
            h2 { "Remediation: " (r.state.as_str()) }
            p { (r.describe()) " · mode " code { (r.mode.as_str()) } " · action " code { (r.id) } }
            @if let Some(cap) = &r.capped { p.muted { (cap) } }
            @match &r.target {
                Target::Windows { powershell, .. } => {
                    p.muted { "The RMM is asked to run:" }
                    pre.raw { (powershell) }
                }
                Target::Entra { principal_id, role_definition_id, directory_scope_id, .. } => {
                    p.muted {
                        "Graph " code { "adminRemove" } " of principal " code { (principal_id) }
                        ", role " code { (role_definition_id) } ", scope " code { (directory_scope_id) }
                    }
                }
            }
            ol.history {
                @for s in &r.history {
                    li {
                        strong { (s.by) } " · " (s.step) " at " (time_el(s.at)) " UTC"
                        @if let Some(d) = s.detail.as_deref().filter(|d| !d.trim().is_empty()) {
                            blockquote.note { (d) }
                        }
                    }
                }
            }
            @if decidable && c.role.can_review() {
                div.actions {
                    form.act method="post" action=(format!("/alerts/{}/remediation/approve", enc(&r.alert_id))) {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="approve-note" { "Approve with a note" }
                        textarea #approve-note name="note" rows="2" maxlength=(MAX_NOTE) placeholder="Change ticket, who agreed" {}
                        button type="submit" { "Approve" }
                    }
                    form.act method="post" action=(format!("/alerts/{}/remediation/reject", enc(&r.alert_id))) {
                        input type="hidden" name="csrf" value=(csrf);
                        label for="reject-note" { "Reject with a note" }
                        textarea #reject-note name="note" rows="2" maxlength=(MAX_NOTE) placeholder="Why it must stay" {}
                        button type="submit" { "Reject" }
                    }
                }
            } @else if decidable {
                p.muted { "Your role (" (c.role.as_str()) ") may read; a reviewer approves or rejects." }
            }
        }
    }
}
