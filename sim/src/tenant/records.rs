//! Builders for Graph v1.0 JSON: `directoryAudit`, role schedule instances, role definitions, users.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::codec::{b64url_encode, graph_time};

/// The MS-PIM first-party app, which Core Directory names as the initiator of PIM's changes.
pub(crate) const MS_PIM_APP_ID: &str = "01fc33a7-78ba-4d2f-a4b7-768e336e890e";

#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub id: String,
    pub upn: String,
    pub display: String,
    pub given: String,
    pub surname: String,
    pub job: String,
    /// On-premises (synced) accounts: SID and sAMAccountName.
    pub sid: Option<String>,
    pub sam: Option<String>,
    pub ip: String,
}

impl Person {
    pub(crate) fn json(&self) -> Value {
        json!({
            "id": self.id,
            "displayName": self.display,
            "givenName": self.given,
            "surname": self.surname,
            "userPrincipalName": self.upn,
            "mail": self.upn,
            "jobTitle": self.job,
            "businessPhones": [],
            "mobilePhone": null,
            "officeLocation": null,
            "preferredLanguage": "en-US",
            "accountEnabled": true,
            "userType": "Member",
            "onPremisesSecurityIdentifier": self.sid,
            "onPremisesSamAccountName": self.sam,
            "onPremisesSyncEnabled": self.sid.as_ref().map(|_| true),
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RoleDef {
    /// Template id = role definition id for built-in roles.
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub actions: &'static [&'static str],
    /// The activated directory role's object id in this tenant (Core Directory's `Role.ObjectID`).
    pub object_id: String,
    pub well_known: Option<&'static str>,
}

impl RoleDef {
    pub(crate) fn json(&self) -> Value {
        json!({
            "id": self.id,
            "description": self.description,
            "displayName": self.name,
            "isBuiltIn": true,
            "isEnabled": true,
            "resourceScopes": ["/"],
            "templateId": self.id,
            "version": "1",
            "rolePermissions": [{"allowedResourceActions": self.actions, "condition": null}],
        })
    }
}

/// Who did it: `initiatedBy` has both keys, the other one null, as Graph returns it.
#[derive(Debug, Clone)]
pub(crate) enum By<'a> {
    User(&'a Person),
    App {
        app_id: &'a str,
        name: &'a str,
        sp_id: &'a str,
    },
}

impl By<'_> {
    fn json(&self) -> Value {
        match self {
            By::User(p) => json!({"app": null, "user": {
                "id": p.id, "displayName": p.display, "userPrincipalName": p.upn, "ipAddress": p.ip,
            }}),
            By::App {
                app_id,
                name,
                sp_id,
            } => json!({"user": null, "app": {
                "appId": app_id, "displayName": name, "servicePrincipalId": sp_id, "servicePrincipalName": null,
            }}),
        }
    }
}

/// One `directoryAudit` record.
#[derive(Debug, Clone)]
pub(crate) struct AuditRec<'a> {
    pub id: String,
    pub category: &'a str,
    pub correlation: String,
    pub success: bool,
    pub reason: String,
    pub activity: &'a str,
    pub time: DateTime<Utc>,
    pub service: &'a str,
    pub operation: &'a str,
    pub by: By<'a>,
    pub targets: Vec<Value>,
    pub details: Vec<(&'a str, String)>,
}

impl AuditRec<'_> {
    pub(crate) fn json(&self) -> Value {
        let details: Vec<Value> = self
            .details
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        json!({
            "id": self.id,
            "category": self.category,
            "correlationId": self.correlation,
            "result": if self.success { "success" } else { "failure" },
            "resultReason": self.reason,
            "activityDisplayName": self.activity,
            "activityDateTime": graph_time(self.time),
            "loggedByService": self.service,
            "operationType": self.operation,
            "initiatedBy": self.by.json(),
            "targetResources": self.targets,
            "additionalDetails": details,
        })
    }
}

pub(crate) fn target(
    id: &str,
    name: Option<&str>,
    kind: &str,
    upn: Option<&str>,
    props: Vec<Value>,
) -> Value {
    json!({
        "id": id, "displayName": name, "type": kind, "userPrincipalName": upn,
        "groupType": null, "modifiedProperties": props,
    })
}

pub(crate) fn prop(name: &str, old: Option<String>, new: Option<String>) -> Value {
    json!({"displayName": name, "oldValue": old, "newValue": new})
}

/// JSON-quoted, as Core Directory writes property values: `"\"Global Administrator\""`.
pub(crate) fn quoted(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// Core Directory's role properties on the user target, as new (added) or old (removed) values.
pub(crate) fn role_props(role: &RoleDef, added: bool) -> Vec<Value> {
    let mut v = vec![
        ("Role.ObjectID", quoted(&role.object_id)),
        ("Role.DisplayName", quoted(role.name)),
        ("Role.TemplateId", quoted(role.id)),
    ];
    if let Some(w) = role.well_known {
        v.push(("Role.WellKnownObjectName", quoted(w)));
    }
    v.into_iter()
        .map(|(k, val)| {
            if added {
                prop(k, None, Some(val))
            } else {
                prop(k, Some(val), None)
            }
        })
        .collect()
}

fn guid_bytes(g: &str) -> Vec<u8> {
    hex::decode(g.replace('-', "")).unwrap_or_default()
}

/// Graph's schedule ids for direct assignments: base64url of role and principal ids, then `-1`.
pub(crate) fn schedule_id(role: &str, principal: &str, suffix: &str) -> String {
    let mut bytes = guid_bytes(role);
    bytes.extend(guid_bytes(principal));
    format!("{}{suffix}", b64url_encode(&bytes))
}

pub(crate) fn opt_time(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    })
}

/// An active role assignment instance (`Assigned` or `Activated`).
pub(crate) fn assignment_instance(
    id: &str,
    principal: &str,
    role: &str,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    kind: &str,
    origin: &str,
) -> Value {
    json!({
        "id": id,
        "principalId": principal,
        "roleDefinitionId": role,
        "directoryScopeId": "/",
        "appScopeId": null,
        "startDateTime": opt_time(start),
        "endDateTime": opt_time(end),
        "assignmentType": kind,
        "memberType": "Direct",
        "roleAssignmentOriginId": origin,
        "roleAssignmentScheduleId": id,
    })
}

pub(crate) fn eligibility_instance(
    id: &str,
    principal: &str,
    role: &str,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Value {
    json!({
        "id": id,
        "principalId": principal,
        "roleDefinitionId": role,
        "directoryScopeId": "/",
        "appScopeId": null,
        "startDateTime": opt_time(start),
        "endDateTime": opt_time(end),
        "memberType": "Direct",
        "roleEligibilityScheduleId": id,
    })
}
