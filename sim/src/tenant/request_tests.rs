//! `roleAssignmentScheduleRequests`: Graph's validation, the removal's effects, the permission.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use super::tests::{app, get, send, token};

async fn post(app: &axum::Router, tok: &str, body: &str) -> (StatusCode, Value) {
    let req = Request::post("/v1.0/roleManagement/directory/roleAssignmentScheduleRequests")
        .header("authorization", format!("Bearer {tok}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request");
    let (s, _, v) = send(app, req).await;
    (s, v)
}

/// The first active assignment with an end (an activation) of the scenario.
fn activation(sim: &super::TenantSim) -> Value {
    sim.assignments
        .iter()
        .find(|a| !a["endDateTime"].is_null())
        .cloned()
        .expect("the scenario has an active, time-bound assignment")
}

fn remove_body(i: &Value) -> Value {
    json!({
        "action": "adminRemove",
        "principalId": i["principalId"],
        "roleDefinitionId": i["roleDefinitionId"],
        "directoryScopeId": i["directoryScopeId"],
        "justification": "privtrail-remediation-0123456789abcdef: overdue",
    })
}

#[tokio::test]
async fn admin_remove_ends_the_instance_and_is_audited_from_the_next_page() {
    let (sim, app) = app(json!({"page_size": 1000}));
    let tok = token(&app).await;
    let inst = activation(&sim);
    let before = get(&app, &tok, "/v1.0/auditLogs/directoryAudits?$top=999")
        .await
        .2;
    let (s, v) = post(&app, &tok, &remove_body(&inst).to_string()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "Revoked");
    assert_eq!(v["action"], "adminRemove");
    assert_eq!(v["targetScheduleId"], inst["id"]);

    let listed = get(
        &app,
        &tok,
        "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances?$top=999",
    )
    .await
    .2;
    assert!(
        listed["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["id"] != inst["id"]),
        "the instance is gone"
    );
    let after = get(&app, &tok, "/v1.0/auditLogs/directoryAudits?$top=999")
        .await
        .2;
    let n = |v: &Value| v["value"].as_array().map_or(0, Vec::len);
    assert_eq!(n(&after), n(&before) + 1);
    let newest = &after["value"][0];
    assert_eq!(
        newest["activityDisplayName"],
        "Remove member from role in PIM completed (timebound)"
    );
    assert!(
        newest["targetResources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["type"] == "User" && t["id"] == inst["principalId"])
    );

    // Listed by principal; a second removal finds nothing to remove.
    let uri = format!(
        "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests?$filter=principalId%20eq%20'{}'",
        inst["principalId"].as_str().unwrap()
    );
    let found = get(&app, &tok, &uri).await.2;
    assert_eq!(found["value"].as_array().unwrap().len(), 1, "{found}");
    let (s, v) = post(&app, &tok, &remove_body(&inst).to_string()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "RoleAssignmentDoesNotExist");
}

#[tokio::test]
async fn the_body_is_validated() {
    let (sim, app) = app(json!({}));
    let tok = token(&app).await;
    let good = remove_body(&activation(&sim));
    let cases: Vec<(Value, &str)> = vec![
        (json!("adminRemove"), "JSON object"),
        (
            {
                let mut b = good.clone();
                b.as_object_mut().unwrap().remove("justification");
                b
            },
            "'justification'",
        ),
        (
            {
                let mut b = good.clone();
                b["action"] = json!("remove");
                b
            },
            "not a valid value",
        ),
        (
            {
                let mut b = good.clone();
                b["action"] = json!("selfActivate");
                b
            },
            "only adminRemove",
        ),
        (
            {
                let mut b = good.clone();
                b["principalId"] = json!("dave@contoso.com");
                b
            },
            "GUIDs",
        ),
        (
            {
                let mut b = good.clone();
                b.as_object_mut().unwrap().remove("directoryScopeId");
                b
            },
            "'directoryScopeId'",
        ),
    ];
    for (body, says) in cases {
        let (s, v) = post(&app, &tok, &body.to_string()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {v}"
        );
    }
    let (s, _) = post(&app, &tok, "{not json").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Nothing was removed by any of them.
    let (s, _) = post(&app, &tok, &good.to_string()).await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn without_the_permission_it_is_refused() {
    let (sim, app) = app(json!({"deny": ["roleAssignmentScheduleRequests"]}));
    let tok = token(&app).await;
    let (s, v) = post(&app, &tok, &remove_body(&activation(&sim)).to_string()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["code"], "Authorization_RequestDenied");
    let (s, _) = post(&app, "not-a-token", "{}").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn role_settings_need_the_scope_filter_and_expand_their_rules() {
    let (sim, app) = app(json!({}));
    let tok = token(&app).await;
    let base = "/v1.0/policies/roleManagementPolicyAssignments";
    let (s, _, v) = get(&app, &tok, base).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "Graph requires the filter: {v}");
    let filter = "$filter=scopeId%20eq%20'%2F'%20and%20scopeType%20eq%20'DirectoryRole'";
    let (s, _, v) = get(&app, &tok, &format!("{base}?{filter}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["value"][0].get("policy").is_none(), "not expanded: {v}");
    let uri = format!("{base}?{filter}&$expand=policy($expand=rules)");
    let (s, _, v) = get(&app, &tok, &uri).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let all = v["value"].as_array().unwrap();
    assert_eq!(all.len(), sim.roles.len());
    // Security Administrator after the weakening story: no MFA, 24 h.
    let security = all
        .iter()
        .find(|p| p["roleDefinitionId"] == "194ae4cb-b126-40b2-bd5b-6091b380977d")
        .unwrap();
    let rules = security["policy"]["rules"].as_array().unwrap();
    let rule = |id: &str| rules.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(
        rule("Enablement_EndUser_Assignment")["enabledRules"],
        json!(["Justification"])
    );
    assert_eq!(
        rule("Expiration_EndUser_Assignment")["maximumDuration"],
        "PT24H"
    );
    // The audit log records the change with the rules' JSON, old and new.
    let change = sim
        .audits
        .iter()
        .find(|a| {
            a["activityDisplayName"] == "Update role setting in PIM"
                && a["targetResources"][0]["id"] == "194ae4cb-b126-40b2-bd5b-6091b380977d"
        })
        .unwrap();
    let props = change["targetResources"][1]["modifiedProperties"]
        .as_array()
        .unwrap();
    let old: Value = serde_json::from_str(props[0]["oldValue"].as_str().unwrap()).unwrap();
    assert_eq!(
        old["enabledRules"],
        json!(["MultiFactorAuthentication", "Justification"])
    );
}
