//! PIM's role settings: `GET /policies/roleManagementPolicyAssignments` with
//! `$expand=policy($expand=rules)`, one assignment per directory role. The rules are kept as Graph
//! sent them (`unifiedRoleManagementPolicyRule` subtypes); the rules crate reads what they mean
//! (MFA, justification, ticket, approval, maximum activation, permanent assignment).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::GraphClient;
use super::error::{ErrorKind, GraphError};
use super::paging::Pager;

/// The policy of one role at one scope, with its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolePolicy {
    pub role_definition_id: String,
    pub scope_id: String,
    pub policy_id: Option<String>,
    /// The expanded `policy.rules`, as Graph sent them.
    pub rules: Vec<Value>,
}

impl RolePolicy {
    /// One `unifiedRoleManagementPolicyAssignment` with its expanded policy.
    pub fn from_graph(v: &Value) -> Result<Self, String> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let role_definition_id = text("roleDefinitionId").ok_or("missing roleDefinitionId")?;
        let rules = match v.get("policy").and_then(|p| p.get("rules")) {
            Some(Value::Array(r)) => r.clone(),
            Some(_) => return Err("policy.rules is not an array".into()),
            None => return Err("missing policy.rules (not expanded)".into()),
        };
        Ok(RolePolicy {
            role_definition_id,
            scope_id: text("scopeId").unwrap_or_else(|| "/".to_owned()),
            policy_id: text("policyId"),
            rules,
        })
    }
}

/// The directory roles' policies (all pages). Graph requires the scope filter on this listing;
/// its documentation shows both `scopeType eq 'DirectoryRole'` and the older `'Directory'`, so the
/// second is asked when the first finds nothing. Needs `RoleManagementPolicy.Read.Directory` (or a
/// broader role management read permission such as `RoleManagement.Read.Directory`).
pub async fn fetch_role_policies(client: &GraphClient) -> Result<Vec<RolePolicy>, GraphError> {
    let found = fetch_scope(client, "DirectoryRole").await?;
    if !found.is_empty() {
        return Ok(found);
    }
    fetch_scope(client, "Directory").await
}

async fn fetch_scope(
    client: &GraphClient,
    scope_type: &str,
) -> Result<Vec<RolePolicy>, GraphError> {
    const PATH: &str = "/policies/roleManagementPolicyAssignments";
    let tenant = &client.settings().name;
    let mut url = client.url(&format!(
        "{PATH}?$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'{scope_type}'\
         &$expand=policy($expand=rules)"
    ));
    let mut pager = Pager::new(PATH, &url, client.settings().max_pages);
    let mut out = Vec::new();
    loop {
        let body = client.get_json(&url).await?;
        let Some(values) = body.get("value").and_then(Value::as_array) else {
            let msg = format!("Graph response from {PATH} has no \"value\" array");
            return Err(GraphError::new(ErrorKind::Malformed, PATH, tenant, msg));
        };
        for (i, v) in values.iter().enumerate() {
            out.push(RolePolicy::from_graph(v).map_err(|reason| {
                let msg = format!("record {} from {PATH} is unusable: {reason}", i + 1);
                GraphError::new(ErrorKind::Malformed, PATH, tenant, msg)
            })?);
        }
        match pager.next(&body, tenant)? {
            Some(next) => url = next,
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_expanded_assignment_and_refuses_an_unexpanded_one() {
        let v = serde_json::json!({
            "id": "Directory_t_62e90394-69f5-4237-9190-012177145e10",
            "policyId": "Directory_t_p1", "scopeId": "/", "scopeType": "DirectoryRole",
            "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
            "policy": {"id": "Directory_t_p1", "rules": [
                {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
                 "id": "Enablement_EndUser_Assignment", "enabledRules": ["MultiFactorAuthentication"]}
            ]}
        });
        let p = RolePolicy::from_graph(&v).expect("parse");
        assert_eq!(p.role_definition_id, "62e90394-69f5-4237-9190-012177145e10");
        assert_eq!(p.rules.len(), 1);
        let mut bare = v.clone();
        bare.as_object_mut().expect("object").remove("policy");
        assert!(
            RolePolicy::from_graph(&bare)
                .unwrap_err()
                .contains("not expanded")
        );
    }
}
