//! PIM's current state: who holds or may activate which directory role right now, role names, and
//! the users behind principal ids. The binary stores these as JSON and reconciles elevations with
//! them (SPEC §3), so the types are plain serde data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::client::GraphClient;
use super::error::{ErrorKind, GraphError};
use super::paging::Pager;

/// How an active role assignment came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssignmentType {
    /// Assigned by an administrator (permanent or time-bound).
    Assigned,
    /// Activated by the principal from an eligibility.
    Activated,
    /// A value this version does not know.
    #[serde(other)]
    Unknown,
}

/// Whether the principal holds the role itself or through a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberType {
    Direct,
    Group,
    Inherited,
    #[serde(other)]
    Unknown,
}

/// One `unifiedRoleAssignmentScheduleInstance` or `unifiedRoleEligibilityScheduleInstance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PimInstance {
    pub id: String,
    pub principal_id: String,
    pub role_definition_id: String,
    /// `/` for the whole directory, else an administrative unit or object scope.
    pub directory_scope_id: String,
    pub app_scope_id: Option<String>,
    /// Assignments only (eligibilities have none).
    pub assignment_type: Option<AssignmentType>,
    pub member_type: Option<MemberType>,
    pub start_date_time: Option<DateTime<Utc>>,
    /// `None`: no expiry (permanent).
    pub end_date_time: Option<DateTime<Utc>>,
    /// Assignments: `roleAssignmentOriginId` (the eligibility an activation came from, or itself).
    pub role_assignment_origin_id: Option<String>,
    /// `roleAssignmentScheduleId` or `roleEligibilityScheduleId`.
    pub schedule_id: Option<String>,
}

/// A `unifiedRoleDefinition`: gives role ids their names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleDefinition {
    pub id: String,
    pub display_name: String,
    pub template_id: Option<String>,
    pub is_built_in: Option<bool>,
}

/// A user as far as privtrail needs one: names, and the on-premises SID that joins Entra
/// principals with Windows events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryUser {
    pub id: String,
    pub user_principal_name: Option<String>,
    pub display_name: Option<String>,
    pub on_premises_security_identifier: Option<String>,
}

/// PIM's state at `taken_at` (the moment the first request started: changes after it may or may
/// not be included, so reconciliation must not close an elevation opened after `taken_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PimSnapshot {
    pub taken_at: DateTime<Utc>,
    /// Active assignments (assigned or activated).
    pub assignments: Vec<PimInstance>,
    pub eligibilities: Vec<PimInstance>,
    pub roles: Vec<RoleDefinition>,
    /// The roles' PIM settings (`None`: not read, e.g. a snapshot taken before privtrail read
    /// them, or the listing failed).
    #[serde(default)]
    pub policies: Option<Vec<super::RolePolicy>>,
}

impl PimSnapshot {
    /// The display name of a role definition id (or template id).
    pub fn role_name(&self, role_definition_id: &str) -> Option<&str> {
        self.roles
            .iter()
            .find(|r| {
                r.id.eq_ignore_ascii_case(role_definition_id)
                    || r.template_id
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case(role_definition_id))
            })
            .map(|r| r.display_name.as_str())
    }
}

/// A field by name without regard to case (Graph sends camelCase; exports vary).
fn field<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    field(m, key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn required(m: &Map<String, Value>, key: &str) -> Result<String, String> {
    text(m, key).ok_or_else(|| format!("missing {key}"))
}

fn time(m: &Map<String, Value>, key: &str) -> Result<Option<DateTime<Utc>>, String> {
    match field(m, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| format!("invalid {key} {s:?}")),
        Some(other) => Err(format!("invalid {key} {other}")),
    }
}

fn object(v: &Value) -> Result<&Map<String, Value>, String> {
    v.as_object().ok_or_else(|| "not a JSON object".to_owned())
}

impl PimInstance {
    /// Parses one Graph instance (keys matched without regard to case).
    pub fn from_graph(v: &Value) -> Result<Self, String> {
        let m = object(v)?;
        let enum_of = |key: &str| text(m, key).map(|s| Value::String(s.to_ascii_lowercase()));
        Ok(PimInstance {
            id: required(m, "id")?,
            principal_id: required(m, "principalId")?,
            role_definition_id: required(m, "roleDefinitionId")?,
            directory_scope_id: text(m, "directoryScopeId").unwrap_or_else(|| "/".to_owned()),
            app_scope_id: text(m, "appScopeId"),
            assignment_type: enum_of("assignmentType").and_then(|v| serde_json::from_value(v).ok()),
            member_type: enum_of("memberType").and_then(|v| serde_json::from_value(v).ok()),
            start_date_time: time(m, "startDateTime")?,
            end_date_time: time(m, "endDateTime")?,
            role_assignment_origin_id: text(m, "roleAssignmentOriginId"),
            schedule_id: text(m, "roleAssignmentScheduleId")
                .or_else(|| text(m, "roleEligibilityScheduleId")),
        })
    }
}

impl RoleDefinition {
    pub fn from_graph(v: &Value) -> Result<Self, String> {
        let m = object(v)?;
        Ok(RoleDefinition {
            id: required(m, "id")?,
            display_name: required(m, "displayName")?,
            template_id: text(m, "templateId"),
            is_built_in: field(m, "isBuiltIn").and_then(Value::as_bool),
        })
    }
}

impl DirectoryUser {
    pub fn from_graph(v: &Value) -> Result<Self, String> {
        let m = object(v)?;
        Ok(DirectoryUser {
            id: required(m, "id")?,
            user_principal_name: text(m, "userPrincipalName"),
            display_name: text(m, "displayName"),
            on_premises_security_identifier: text(m, "onPremisesSecurityIdentifier"),
        })
    }
}

/// Every record of a collection, following `@odata.nextLink` as given (at most
/// [`super::TenantSettings::max_pages`] pages, never the same page twice).
async fn get_all(client: &GraphClient, path: &'static str) -> Result<Vec<Value>, GraphError> {
    let tenant = &client.settings().name;
    let mut url = client.url(path);
    let mut pager = Pager::new(path, &url, client.settings().max_pages);
    let mut out = Vec::new();
    loop {
        let mut body = client.get_json(&url).await?;
        match body.get_mut("value").map(Value::take) {
            Some(Value::Array(v)) => out.extend(v),
            _ => {
                let msg = format!("Graph response from {path} has no \"value\" array");
                return Err(GraphError::new(ErrorKind::Malformed, path, tenant, msg));
            }
        }
        match pager.next(&body, tenant)? {
            Some(next) => url = next,
            None => return Ok(out),
        }
    }
}

/// Parses every record or fails: a partial snapshot would make reconciliation close elevations
/// that are still open, which is worse than no snapshot this round.
fn parse_all<T>(
    client: &GraphClient,
    path: &str,
    records: &[Value],
    parse: fn(&Value) -> Result<T, String>,
) -> Result<Vec<T>, GraphError> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            parse(r).map_err(|reason| {
                let msg = format!("record {} from {path} is unusable: {reason}", i + 1);
                GraphError::new(ErrorKind::Malformed, path, &client.settings().name, msg)
            })
        })
        .collect()
}

/// Reads active assignments, eligibilities, role definitions and the roles' settings (all pages
/// of each). Needs `RoleManagement.Read.Directory`.
pub async fn fetch_pim_snapshot(client: &GraphClient) -> Result<PimSnapshot, GraphError> {
    const ASSIGNMENTS: &str = "/roleManagement/directory/roleAssignmentScheduleInstances";
    const ELIGIBILITIES: &str = "/roleManagement/directory/roleEligibilityScheduleInstances";
    const ROLES: &str = "/roleManagement/directory/roleDefinitions";
    let taken_at = Utc::now();
    let a = get_all(client, ASSIGNMENTS).await?;
    let e = get_all(client, ELIGIBILITIES).await?;
    let r = get_all(client, ROLES).await?;
    // The settings are for judging changes and activations; without them the snapshot still
    // serves reconciliation, so their failure is logged, not fatal.
    let policies = match super::fetch_role_policies(client).await {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(tenant = %client.settings().name, error = %e.message, "PIM role settings not read");
            None
        }
    };
    Ok(PimSnapshot {
        taken_at,
        assignments: parse_all(client, ASSIGNMENTS, &a, PimInstance::from_graph)?,
        eligibilities: parse_all(client, ELIGIBILITIES, &e, PimInstance::from_graph)?,
        roles: parse_all(client, ROLES, &r, RoleDefinition::from_graph)?,
        policies,
    })
}

/// Percent-encodes a path segment (ids are GUIDs, but a UPN may hold `#EXT#` and the like).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Looks up users by id (or UPN), cached in `client` for the process lifetime (users do not
/// change their SID, and a snapshot names the same principals every time). Ids that are not users
/// (groups, service principals, deleted users: 404) are left out, and remembered as such.
/// Needs `User.Read.All`.
///
/// One request per uncached id, at most [`super::TenantSettings::max_user_lookups`] per call: the
/// ids after that are skipped (with a warning) and left for the next call, so pass the ids the
/// caller knows least about first.
pub async fn lookup_users(
    client: &GraphClient,
    ids: &[String],
) -> Result<Vec<DirectoryUser>, GraphError> {
    let budget = client.settings().max_user_lookups;
    let mut asked = 0usize;
    let mut skipped = 0usize;
    let mut out = Vec::with_capacity(ids.len().min(budget));
    // An id and a UPN can name the same user: one copy (a set, as the cached ids are unbounded).
    let mut kept = std::collections::HashSet::new();
    for id in ids {
        let cached = client
            .users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned();
        let found = match cached {
            Some(hit) => hit,
            None if asked >= budget => {
                skipped += 1;
                continue;
            }
            None => {
                asked += 1;
                let path = format!(
                    "/users/{}?$select=id,userPrincipalName,displayName,onPremisesSecurityIdentifier",
                    encode_segment(id)
                );
                let found = match client.get_json(&path).await {
                    Ok(v) => Some(DirectoryUser::from_graph(&v).map_err(|reason| {
                        let msg = format!("user {id} from /users is unusable: {reason}");
                        GraphError::new(
                            ErrorKind::Malformed,
                            "/users/{id}",
                            &client.settings().name,
                            msg,
                        )
                    })?),
                    Err(e) if e.status == Some(404) => None,
                    Err(e) => return Err(e),
                };
                client
                    .users
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(id.clone(), found.clone());
                found
            }
        };
        if let Some(u) = found
            && kept.insert(u.id.clone())
        {
            out.push(u);
        }
    }
    if skipped > 0 {
        tracing::warn!(
            tenant = %client.settings().name,
            looked_up = asked,
            skipped,
            "user lookups capped for this run; the rest are looked up on the next runs"
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_graphs_documented_example() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/graph/rbacapplication-list-roleassignmentscheduleinstances.response.json"
        );
        let Ok(text) = std::fs::read_to_string(path) else {
            return; // shared data is not part of every checkout
        };
        let v: Value = serde_json::from_str(&text).expect("json");
        let items = v["value"].as_array().expect("value");
        let first = PimInstance::from_graph(&items[0]).expect("parse");
        assert_eq!(first.id, "lAPpYvVpN0KRkAEhdxReEAWz5Gtet_xOv8wxvTtTpfg-1");
        assert_eq!(first.principal_id, "6be4b305-b75e-4efc-bfcc-31bd3b53a5f8");
        assert_eq!(
            first.role_definition_id,
            "62e90394-69f5-4237-9190-012177145e10"
        );
        assert_eq!(first.directory_scope_id, "/");
        assert_eq!(first.assignment_type, Some(AssignmentType::Assigned));
        assert_eq!(first.member_type, Some(MemberType::Direct));
        assert_eq!((first.start_date_time, first.end_date_time), (None, None));
        assert_eq!(first.schedule_id.as_deref(), Some(first.id.as_str()));
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn keys_and_values_are_case_insensitive() {
        let v = serde_json::json!({"ID":"x","PrincipalId":"p","roledefinitionid":"r",
            "AssignmentType":"ACTIVATED","memberType":"Group","endDateTime":"2026-01-01T10:00:00Z",
            "roleEligibilityScheduleId":"s"});
        let i = PimInstance::from_graph(&v).expect("parse");
        assert_eq!(i.assignment_type, Some(AssignmentType::Activated));
        assert_eq!(i.member_type, Some(MemberType::Group));
        assert_eq!(i.schedule_id.as_deref(), Some("s"));
        assert!(i.end_date_time.is_some());
        let back: PimInstance =
            serde_json::from_str(&serde_json::to_string(&i).expect("ser")).expect("de");
        assert_eq!(back, i);
        let odd = serde_json::json!({"id":"x","principalId":"p","roleDefinitionId":"r","assignmentType":"Weird"});
        assert_eq!(
            PimInstance::from_graph(&odd)
                .expect("parse")
                .assignment_type,
            Some(AssignmentType::Unknown)
        );
        assert!(PimInstance::from_graph(&serde_json::json!({"id":"x"})).is_err());
        assert_eq!(encode_segment("a#EXT#@b.com"), "a%23EXT%23@b.com");
    }
}
