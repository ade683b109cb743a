//! `roleAssignmentScheduleRequests`: what remediation asks of Graph. `POST` accepts `adminRemove`
//! (the one action privtrail sends) with Graph's validation: the required properties, GUID ids, a
//! justification, and an active assignment instance to end (else 400 `RoleAssignmentDoesNotExist`).
//! A removal ends the instance (gone from `roleAssignmentScheduleInstances`), writes PIM's
//! `Remove member from role in PIM completed (timebound|permanent)` audit record (served from the
//! next `directoryAudits` request on) and answers 201 with the request, `status: "Revoked"`.
//! `GET` lists the requests made, newest first, optionally `$filter=principalId eq '…'`.

#![allow(clippy::result_large_err)]

use std::collections::HashSet;

use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value, json};

use super::codec::graph_time;
use super::graph::{Params, bad_request, params};
use super::records::{AuditRec, By, target};
use super::server::{Audit, Shared, graph_error, graph_json};

const EP: &str = "roleAssignmentScheduleRequests";

/// What changed while the server ran.
#[derive(Debug, Default)]
pub(crate) struct Live {
    /// Audit records written while serving, any order.
    pub audits: Vec<Audit>,
    /// Ids of assignment instances ended by `adminRemove`.
    pub removed: HashSet<String>,
    /// Every accepted request, oldest first.
    pub requests: Vec<Value>,
}

fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn text<'a>(body: &'a Value, key: &str) -> Result<&'a str, Response> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            bad_request(&format!(
                "The request is missing the required property '{key}'."
            ))
        })
}

pub(crate) async fn create(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = state.gate(EP, &headers).await {
        return r;
    }
    let run = || -> Result<Response, Response> {
        let body: Value = serde_json::from_slice(&body)
            .map_err(|e| bad_request(&format!("The request body is not valid JSON: {e}")))?;
        if !body.is_object() {
            return Err(bad_request("The request body must be a JSON object."));
        }
        let action = text(&body, "action")?;
        const ACTIONS: [&str; 9] = [
            "adminAssign",
            "adminUpdate",
            "adminRemove",
            "adminExtend",
            "adminRenew",
            "selfActivate",
            "selfDeactivate",
            "selfExtend",
            "selfRenew",
        ];
        if !ACTIONS.contains(&action) {
            return Err(bad_request(&format!(
                "'{action}' is not a valid value for 'action'."
            )));
        }
        if action != "adminRemove" {
            return Err(bad_request(&format!(
                "The simulated tenant accepts only adminRemove, not {action}."
            )));
        }
        let principal = text(&body, "principalId")?;
        let role = text(&body, "roleDefinitionId")?;
        let scope = text(&body, "directoryScopeId")?;
        let justification = text(&body, "justification")?;
        if !is_guid(principal) || !is_guid(role) {
            return Err(bad_request(
                "principalId and roleDefinitionId must be GUIDs.",
            ));
        }
        let mut live = state.live();
        let instance = state
            .sim
            .assignments
            .iter()
            .find(|i| {
                let s = |k: &str| i.get(k).and_then(Value::as_str).unwrap_or_default();
                s("principalId").eq_ignore_ascii_case(principal)
                    && s("roleDefinitionId").eq_ignore_ascii_case(role)
                    && s("directoryScopeId") == scope
                    && !live.removed.contains(s("id"))
            })
            .cloned()
            .ok_or_else(|| {
                graph_error(
                    StatusCode::BAD_REQUEST,
                    "RoleAssignmentDoesNotExist",
                    "The Role assignment does not exist.",
                )
            })?;
        let instance_id = instance
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        live.removed.insert(instance_id.clone());
        let now = Utc::now();
        let request_id = super::random_guid();
        let user = state
            .sim
            .users
            .iter()
            .find(|u| {
                u.get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| id.eq_ignore_ascii_case(principal))
            })
            .cloned()
            .unwrap_or(Value::Null);
        let role_name = state
            .sim
            .roles
            .iter()
            .find(|r| r.get("id").and_then(Value::as_str) == Some(role))
            .and_then(|r| r.get("displayName").and_then(Value::as_str))
            .unwrap_or(role)
            .to_owned();
        let timebound = instance.get("endDateTime").is_some_and(|e| !e.is_null());
        let activity = if timebound {
            "Remove member from role in PIM completed (timebound)"
        } else {
            "Remove member from role in PIM completed (permanent)"
        };
        let correlation = super::random_guid();
        let app = By::App {
            app_id: &state.sim.client_id,
            name: "privtrail",
            sp_id: &state.sim.client_id,
        };
        let s = |k: &str| user.get(k).and_then(Value::as_str);
        let record = AuditRec {
            id: format!("PIM_{correlation}"),
            category: "RoleManagement",
            correlation: correlation.clone(),
            success: true,
            reason: justification.to_owned(),
            activity,
            time: now,
            service: "PIM",
            operation: "Remove",
            by: app,
            targets: vec![
                target(role, Some(&role_name), "Role", None, vec![]),
                target(&request_id, None, "Request", None, vec![]),
                target(
                    principal,
                    s("displayName"),
                    "User",
                    s("userPrincipalName"),
                    vec![],
                ),
            ],
            details: vec![
                ("RoleDefinitionOriginId", role.to_owned()),
                ("RoleDefinitionOriginType", "BuiltInRole".to_owned()),
                ("TemplateId", role.to_owned()),
                ("Justification", justification.to_owned()),
            ],
        }
        .json();
        // Written now, listed from the next audit request on (as Graph's log lags its writes).
        let next_audit_request = state
            .counters()
            .per_endpoint
            .get("directoryAudits")
            .copied()
            .unwrap_or(0)
            + 1;
        live.audits.push(Audit {
            time: now,
            id: format!("PIM_{correlation}"),
            from_request: next_audit_request,
            value: record,
        });
        let answer = json!({
            "id": request_id,
            "status": "Revoked",
            "createdDateTime": graph_time(now),
            "completedDateTime": graph_time(now),
            "approvalId": null,
            "customData": null,
            "action": "adminRemove",
            "principalId": principal,
            "roleDefinitionId": role,
            "directoryScopeId": scope,
            "appScopeId": null,
            "isValidationOnly": false,
            "targetScheduleId": instance_id,
            "justification": justification,
            "createdBy": {"application": {"displayName": null, "id": state.sim.client_id}, "device": null, "user": null},
            "scheduleInfo": {"startDateTime": null, "recurrence": null, "expiration": {"type": "noExpiration", "endDateTime": null, "duration": null}},
            "ticketInfo": {"ticketNumber": null, "ticketSystem": null},
        });
        live.requests.push(answer.clone());
        let mut entity = answer;
        entity["@odata.context"] = json!(format!(
            "{}/v1.0/$metadata#roleManagement/directory/roleAssignmentScheduleRequests/$entity",
            state.base_url
        ));
        Ok(graph_json(StatusCode::CREATED, &entity))
    };
    let answer = run().unwrap_or_else(|r| r);
    if answer.status() == StatusCode::CREATED
        && let Some(ms) = state.faults.remove_answer_delay_ms
    {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    answer
}

pub(crate) async fn list(
    AxState(state): AxState<Shared>,
    headers: HeaderMap,
    q: Params,
) -> Response {
    if let Err(r) = state.gate(EP, &headers).await {
        return r;
    }
    let run = || -> Result<Response, Response> {
        let q = params(q)?;
        let principal = match q.get("$filter").map(|f| f.trim()) {
            None | Some("") => None,
            Some(f) => {
                let id = f
                    .strip_prefix("principalId eq '")
                    .and_then(|r| r.strip_suffix('\''))
                    .filter(|id| is_guid(id))
                    .ok_or_else(|| {
                        bad_request(&format!(
                            "The simulated tenant supports only $filter=principalId eq '<guid>', not {f:?}."
                        ))
                    })?;
                Some(id.to_owned())
            }
        };
        let live = state.live();
        let value: Vec<Value> = live
            .requests
            .iter()
            .rev()
            .filter(|r| {
                principal.as_deref().is_none_or(|p| {
                    r.get("principalId")
                        .and_then(Value::as_str)
                        .is_some_and(|x| x.eq_ignore_ascii_case(p))
                })
            })
            .cloned()
            .collect();
        Ok(graph_json(
            StatusCode::OK,
            &json!({
                "@odata.context": format!("{}/v1.0/$metadata#roleManagement/directory/roleAssignmentScheduleRequests", state.base_url),
                "value": value,
            }),
        ))
    };
    run().unwrap_or_else(|r| r)
}
