//! Ending a PIM activation: `POST /roleManagement/directory/roleAssignmentScheduleRequests` with
//! `action: "adminRemove"` (remediation, SPEC §4), and finding such a request again by the key it
//! carries in its justification — a request whose answer was lost may still have taken effect, so
//! the caller looks before it sends again.

use serde_json::{Value, json};

use super::{GraphClient, GraphError};

const PATH: &str = "/roleManagement/directory/roleAssignmentScheduleRequests";

/// What an `adminRemove` names: the activation's principal, role and directory scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRemove {
    /// The principal's object id (a GUID, not the UPN).
    pub principal_id: String,
    /// The role definition (template) id.
    pub role_definition_id: String,
    /// `/` or an administrative unit's scope.
    pub directory_scope_id: String,
    /// Names the alert and carries the idempotency key ([`find_admin_remove`] looks for it).
    pub justification: String,
}

impl AdminRemove {
    /// The request body Graph documents for `adminRemove`.
    pub fn body(&self) -> Value {
        json!({
            "action": "adminRemove",
            "principalId": self.principal_id,
            "roleDefinitionId": self.role_definition_id,
            "directoryScopeId": self.directory_scope_id,
            "justification": self.justification,
        })
    }
}

/// Sends the request; Graph's answer (the `unifiedRoleAssignmentScheduleRequest`, `status`
/// `Revoked` when done) is returned as it came.
pub async fn admin_remove(client: &GraphClient, req: &AdminRemove) -> Result<Value, GraphError> {
    client.post_json(PATH, &req.body()).await
}

/// The `adminRemove` request of `principal_id` whose justification contains `key`, if Graph has
/// one (first page of the principal's requests, newest first: enough for the request sent
/// moments ago).
pub async fn find_admin_remove(
    client: &GraphClient,
    principal_id: &str,
    key: &str,
) -> Result<Option<Value>, GraphError> {
    // A GUID only: the id goes into an OData string literal.
    if !privtrail_model::is_guid(principal_id) {
        return Ok(None);
    }
    let page = client
        .get_json(&format!(
            "{PATH}?$filter=principalId%20eq%20'{principal_id}'"
        ))
        .await?;
    Ok(page
        .get("value")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| {
            r.get("action").and_then(Value::as_str) == Some("adminRemove")
                && r.get("justification")
                    .and_then(Value::as_str)
                    .is_some_and(|j| j.contains(key))
        })
        .cloned())
}
