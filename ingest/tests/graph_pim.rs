//! PIM snapshots and user lookups against a local stand-in.

mod graph_mock;

use graph_mock::{Mock, Resp, TEST_LIMIT};
use privtrail_ingest::graph::{
    AssignmentType, ErrorKind, GraphClient, MemberType, PimSnapshot, fetch_pim_snapshot,
    lookup_users,
};
use serde_json::{Value, json};

/// Graph's documented example response, when the shared data is present; else the same records.
fn assignments_example() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/graph/rbacapplication-list-roleassignmentscheduleinstances.response.json"
    );
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| {
            json!({"value": [
                {"id":"lAPpYvVpN0KRkAEhdxReEAWz5Gtet_xOv8wxvTtTpfg-1","principalId":"6be4b305-b75e-4efc-bfcc-31bd3b53a5f8",
                 "roleDefinitionId":"62e90394-69f5-4237-9190-012177145e10","directoryScopeId":"/","appScopeId":null,
                 "startDateTime":null,"endDateTime":null,"assignmentType":"Assigned","memberType":"Direct",
                 "roleAssignmentOriginId":"lAPpYvVpN0KRkAEhdxReEAWz5Gtet_xOv8wxvTtTpfg-1",
                 "roleAssignmentScheduleId":"lAPpYvVpN0KRkAEhdxReEAWz5Gtet_xOv8wxvTtTpfg-1"},
                {"id":"lAPpYvVpN0KRkAEhdxReEBLS8lac5ONCgpgBiOW-8JQ-1","principalId":"56f2d212-e49c-42e3-8298-0188e5bef094",
                 "roleDefinitionId":"62e90394-69f5-4237-9190-012177145e10","directoryScopeId":"/","appScopeId":null,
                 "startDateTime":null,"endDateTime":null,"assignmentType":"Assigned","memberType":"Direct"}]})
        })
}

fn pim_server(r: &graph_mock::Req, base: &str) -> Resp {
    if r.is_token() {
        return Resp::token("t1");
    }
    let p = r.path.as_str();
    match (p, r.query.as_str()) {
        ("/v1.0/roleManagement/directory/roleAssignmentScheduleInstances", "") => {
            let mut page = assignments_example();
            page["@odata.nextLink"] = json!(format!(
                "{base}/v1.0/roleManagement/directory/roleAssignmentScheduleInstances?$skiptoken=2"
            ));
            Resp::json(200, page)
        }
        ("/v1.0/roleManagement/directory/roleAssignmentScheduleInstances", "$skiptoken=2") => {
            Resp::json(
                200,
                json!({"value": [{
                "id": "act-1", "principalId": "u-1", "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
                "directoryScopeId": "/", "startDateTime": "2026-01-10T12:00:00Z",
                "endDateTime": "2026-01-10T14:00:00Z", "assignmentType": "Activated", "memberType": "Direct",
                "roleAssignmentOriginId": "elig-1", "roleAssignmentScheduleId": "sched-1"}]}),
            )
        }
        ("/v1.0/roleManagement/directory/roleEligibilityScheduleInstances", _) => Resp::json(
            200,
            json!({"value": [{
                "id": "elig-1", "principalId": "u-1", "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
                "directoryScopeId": "/", "startDateTime": "2025-06-01T00:00:00Z", "endDateTime": null,
                "memberType": "Direct", "roleEligibilityScheduleId": "es-1"}]}),
        ),
        ("/v1.0/roleManagement/directory/roleDefinitions", _) => Resp::json(
            200,
            json!({"value": [{
            "id": "62e90394-69f5-4237-9190-012177145e10", "displayName": "Global Administrator",
            "templateId": "62e90394-69f5-4237-9190-012177145e10", "isBuiltIn": true, "isEnabled": true}]}),
        ),
        ("/v1.0/policies/roleManagementPolicyAssignments", q)
            if q.contains("scopeType%20eq%20'DirectoryRole'")
                || q.contains("scopeType eq 'DirectoryRole'") =>
        {
            Resp::json(
                200,
                json!({"value": [{
                "id": "Directory_t_p1_62e90394-69f5-4237-9190-012177145e10", "policyId": "Directory_t_p1",
                "scopeId": "/", "scopeType": "DirectoryRole",
                "roleDefinitionId": "62e90394-69f5-4237-9190-012177145e10",
                "policy": {"id": "Directory_t_p1", "rules": [
                    {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
                     "id": "Enablement_EndUser_Assignment", "enabledRules": ["MultiFactorAuthentication"]}]}}]}),
            )
        }
        ("/v1.0/users/u-1", _) => Resp::json(
            200,
            json!({
            "id": "u-1", "userPrincipalName": "bob@contoso.com", "displayName": "Bob",
            "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-1104"}),
        ),
        ("/v1.0/users/forbidden", _) => Resp::json(
            403,
            json!({"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}),
        ),
        _ => Resp::json(
            404,
            json!({"error":{"code":"Request_ResourceNotFound","message":"not found"}}),
        ),
    }
}

#[tokio::test]
async fn snapshot_reads_every_page_of_every_collection() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start_with_base(pim_server).await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let snap = fetch_pim_snapshot(&client).await.expect("snapshot");
        assert_eq!(snap.assignments.len(), 3);
        let permanent = &snap.assignments[0];
        assert_eq!(
            permanent.principal_id,
            "6be4b305-b75e-4efc-bfcc-31bd3b53a5f8"
        );
        assert_eq!(permanent.assignment_type, Some(AssignmentType::Assigned));
        assert_eq!(permanent.end_date_time, None);
        let act = &snap.assignments[2];
        assert_eq!(act.assignment_type, Some(AssignmentType::Activated));
        assert_eq!(act.member_type, Some(MemberType::Direct));
        assert_eq!(act.role_assignment_origin_id.as_deref(), Some("elig-1"));
        assert_eq!(
            act.end_date_time.map(|t| t.to_rfc3339()),
            Some("2026-01-10T14:00:00+00:00".into())
        );
        assert_eq!(snap.eligibilities.len(), 1);
        assert_eq!(snap.eligibilities[0].assignment_type, None);
        assert_eq!(snap.eligibilities[0].schedule_id.as_deref(), Some("es-1"));
        assert_eq!(
            snap.role_name("62e90394-69f5-4237-9190-012177145e10"),
            Some("Global Administrator")
        );
        assert_eq!(snap.roles[0].is_built_in, Some(true));
        // Stored as JSON by the binary: it must come back equal.
        let back: PimSnapshot =
            serde_json::from_str(&serde_json::to_string(&snap).expect("ser")).expect("de");
        assert_eq!(back, snap);
        // The roles' settings, asked with the scope filter Graph requires and expanded.
        let policies = snap.policies.as_ref().expect("settings read");
        assert_eq!(policies.len(), 1);
        assert_eq!(policies[0].rules[0]["id"], "Enablement_EndUser_Assignment");
        assert_eq!(mock.graph_requests().len(), 5);
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn user_lookups_are_cached_and_skip_non_users() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start_with_base(pim_server).await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let ids = ["u-1".to_owned(), "group-9".to_owned(), "u-1".to_owned()];
        let users = lookup_users(&client, &ids).await.expect("lookup");
        assert_eq!(users.len(), 1);
        assert_eq!(
            users[0].user_principal_name.as_deref(),
            Some("bob@contoso.com")
        );
        assert_eq!(
            users[0].on_premises_security_identifier.as_deref(),
            Some("S-1-5-21-1-2-3-1104")
        );
        let first = mock.graph_requests();
        assert_eq!(first.len(), 2, "u-1 once, group-9 once");
        assert_eq!(
            first[0].query,
            "$select=id,userPrincipalName,displayName,onPremisesSecurityIdentifier"
        );
        // A second snapshot's lookups hit the cache, the 404 included.
        let again = lookup_users(&client, &ids).await.expect("lookup");
        assert_eq!(again, users);
        assert_eq!(mock.graph_requests().len(), 2);

        let err = lookup_users(&client, &["forbidden".to_owned()])
            .await
            .unwrap_err();
        assert_eq!(
            err.kind,
            ErrorKind::Permission {
                permission: "User.Read.All".into()
            }
        );
        assert_eq!(err.endpoint, "/users/{id}");
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_forbidden_snapshot_names_the_role_management_permission() {
    tokio::time::timeout(TEST_LIMIT, async {
        let mock = Mock::start(|r| {
            if r.is_token() {
                Resp::token("t")
            } else {
                Resp::json(403, json!({"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}))
            }
        })
        .await;
        let client = GraphClient::new(mock.settings()).expect("client");
        let err = fetch_pim_snapshot(&client).await.unwrap_err();
        assert_eq!(
            err.kind,
            ErrorKind::Permission { permission: "RoleManagement.Read.Directory".into() }
        );
        assert!(err.message.contains("/roleManagement/directory/roleAssignmentScheduleInstances"));
    })
    .await
    .expect("test timed out");
}
