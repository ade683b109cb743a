//! PIM's role settings: one `unifiedRoleManagementPolicyAssignment` per role, with its policy and
//! rules (`GET /policies/roleManagementPolicyAssignments?$filter=scopeId eq '/' and scopeType eq
//! 'DirectoryRole'&$expand=policy($expand=rules)`; Graph refuses the listing without that
//! filter), and the story that weakens a role's settings, recorded as PIM records it: the policy
//! rules' JSON as old and new values.

#![allow(clippy::result_large_err)]

use axum::extract::State as AxState;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Duration;
use serde_json::{Value, json};

use super::graph::{Params, bad_request, params};
use super::records::{prop, target};
use super::scenario::Builder;
use super::server::{Shared, graph_json};

/// What a role's policy requires on activation and allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub mfa: bool,
    pub justification: bool,
    pub ticket: bool,
    pub approval: bool,
    /// ISO 8601, e.g. `PT8H`.
    pub max_activation: &'static str,
    pub permanent_eligible: bool,
    pub permanent_active: bool,
}

impl Default for Settings {
    /// Entra's defaults for a directory role, with MFA on activation as organizations set it.
    fn default() -> Self {
        Settings {
            mfa: true,
            justification: true,
            ticket: false,
            approval: false,
            max_activation: "PT8H",
            permanent_eligible: true,
            permanent_active: false,
        }
    }
}

pub(crate) fn enablement_rule(s: &Settings) -> Value {
    let mut enabled = Vec::new();
    if s.mfa {
        enabled.push("MultiFactorAuthentication");
    }
    if s.justification {
        enabled.push("Justification");
    }
    if s.ticket {
        enabled.push("Ticketing");
    }
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
        "id": "Enablement_EndUser_Assignment",
        "enabledRules": enabled,
        "target": {"caller": "EndUser", "operations": ["All"], "level": "Assignment",
                   "inheritableSettings": [], "enforcedSettings": []}
    })
}

pub(crate) fn expiration_rule(id: &str, required: bool, max: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
        "id": id,
        "isExpirationRequired": required,
        "maximumDuration": max,
    })
}

fn rules(s: &Settings) -> Vec<Value> {
    vec![
        expiration_rule(
            "Expiration_Admin_Eligibility",
            !s.permanent_eligible,
            "P365D",
        ),
        expiration_rule("Expiration_Admin_Assignment", !s.permanent_active, "P180D"),
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
               "id": "Enablement_Admin_Assignment", "enabledRules": ["Justification"]}),
        expiration_rule("Expiration_EndUser_Assignment", true, s.max_activation),
        enablement_rule(s),
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
               "id": "Approval_EndUser_Assignment",
               "setting": {"isApprovalRequired": s.approval, "isApprovalRequiredForExtension": false,
                           "isRequestorJustificationRequired": true, "approvalMode": "SingleStage",
                           "approvalStages": []}}),
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyAuthenticationContextRule",
               "id": "AuthenticationContext_EndUser_Assignment", "isEnabled": false, "claimValue": ""}),
        json!({"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule",
               "id": "Notification_Admin_EndUser_Assignment", "notificationType": "Email",
               "recipientType": "Admin", "notificationLevel": "All",
               "isDefaultRecipientsEnabled": true, "notificationRecipients": []}),
    ]
}

/// The policy assignment of `role_id` in `tenant_id`, expanded.
pub(crate) fn assignment(tenant_id: &str, role_id: &str, policy_id: &str, s: &Settings) -> Value {
    let policy = format!("Directory_{tenant_id}_{policy_id}");
    json!({
        "id": format!("{policy}_{role_id}"),
        "policyId": policy,
        "scopeId": "/",
        "scopeType": "DirectoryRole",
        "roleDefinitionId": role_id,
        "policy": {
            "id": policy,
            "displayName": "DirectoryRole",
            "description": "DirectoryRole",
            "isOrganizationDefault": false,
            "scopeId": "/",
            "scopeType": "DirectoryRole",
            "lastModifiedDateTime": null,
            "lastModifiedBy": null,
            "rules": rules(s),
        }
    })
}

impl Builder {
    /// An admin removes MFA on activation of a role and raises its maximum activation: PIM's
    /// record carries the changed policy rules' JSON, old and new.
    pub(crate) fn weaken_setting(&mut self, admin: usize, role_id: &str, ago: Duration) {
        let role = self.role(role_id);
        let t = self.at(ago);
        let corr = self.rng.uuid();
        let old = self.settings_of(role_id);
        let new = Settings {
            mfa: false,
            max_activation: "PT24H",
            ..old.clone()
        };
        let props = vec![
            prop(
                "Enablement_EndUser_Assignment",
                Some(enablement_rule(&old).to_string()),
                Some(enablement_rule(&new).to_string()),
            ),
            prop(
                "Expiration_EndUser_Assignment",
                Some(
                    expiration_rule("Expiration_EndUser_Assignment", true, old.max_activation)
                        .to_string(),
                ),
                Some(
                    expiration_rule("Expiration_EndUser_Assignment", true, new.max_activation)
                        .to_string(),
                ),
            ),
        ];
        let targets = vec![
            target(role.id, Some(role.name), "Role", None, vec![]),
            target(
                &format!("DirectoryRole_{}_{}", super::SIM_TENANT_ID, role.id),
                Some(role.name),
                "RoleSetting",
                None,
                props,
            ),
        ];
        self.pim_record(
            &corr,
            "Update role setting in PIM",
            t,
            "Update",
            Some(admin),
            targets,
            vec![("RoleDefinitionOriginId", role.id.to_owned())],
            "",
        );
        self.settings.insert(role_id.to_owned(), new);
    }

    pub(crate) fn settings_of(&self, role_id: &str) -> Settings {
        self.settings.get(role_id).cloned().unwrap_or_default()
    }
}

pub(crate) async fn list(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    q: Params,
) -> Response {
    const EP: &str = "roleManagementPolicyAssignments";
    if let Err(r) = state.gate(EP, &headers).await {
        return r;
    }
    let run = || -> Result<Response, Response> {
        let q = params(q)?;
        let filter = q
            .get("$filter")
            .map(|f| f.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        if filter != "scopeId eq '/' and scopeType eq 'DirectoryRole'" {
            return Err(bad_request(
                "The filter scopeId eq '/' and scopeType eq 'DirectoryRole' is required.",
            ));
        }
        let expand = q
            .get("$expand")
            .is_some_and(|e| e.replace(' ', "") == "policy($expand=rules)");
        let value: Vec<Value> = state
            .sim
            .policies
            .iter()
            .map(|p| {
                let mut p = p.clone();
                if !expand && let Some(o) = p.as_object_mut() {
                    o.remove("policy");
                }
                p
            })
            .collect();
        Ok(graph_json(
            axum::http::StatusCode::OK,
            &json!({
                "@odata.context": format!("{}/v1.0/$metadata#policies/roleManagementPolicyAssignments", state.base_url),
                "value": value,
            }),
        ))
    };
    run().unwrap_or_else(|r| r)
}
