//! The faults a hostile or broken Graph shows a collector: `@odata.nextLink` cycles, records dated
//! in the future, absurd token lifetimes.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::tests::{app, get, time_of, token};

const AUDITS: &str =
    "/v1.0/auditLogs/directoryAudits?$filter=activityDateTime%20ge%202026-11-10T00:00:00Z&$top=999";

/// Follows links from `uri` for at most `max` pages; returns the URLs requested.
async fn walk(app: &axum::Router, tok: &str, uri: &str, max: usize) -> Vec<String> {
    let mut asked = Vec::new();
    let mut next = Some(uri.to_owned());
    while let Some(u) = next.take() {
        if asked.len() == max {
            break;
        }
        let (s, _, v) = get(app, tok, &u).await;
        assert_eq!(s, StatusCode::OK, "{u}: {v}");
        asked.push(u);
        next = v["@odata.nextLink"].as_str().map(str::to_owned);
    }
    asked
}

#[tokio::test]
async fn a_cycling_listing_links_its_last_page_back_to_its_first() {
    let (sim, app) =
        app(json!({"page_size": 20, "next_link_cycle": ["directoryAudits", "roleDefinitions"]}));
    let tok = token(&app).await;
    let pages = sim.audits.len().div_ceil(20);
    assert!(pages >= 2, "the scenario fills several pages");
    let asked = walk(&app, &tok, AUDITS, 2 * pages + 1).await;
    assert_eq!(asked.len(), 2 * pages + 1, "the listing never ends");
    // Page 1 again (as the server spells it), then page 2 exactly as the first time round.
    assert!(!asked[pages].contains("skiptoken"), "{}", asked[pages]);
    assert_eq!(asked[pages + 1], asked[1]);

    let roles = walk(
        &app,
        &tok,
        "/v1.0/roleManagement/directory/roleDefinitions",
        50,
    )
    .await;
    assert_eq!(roles.len(), 50);
    // Collections without the fault still end.
    let ends = walk(
        &app,
        &tok,
        "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances",
        50,
    )
    .await;
    assert!(ends.len() < 50);
}

#[tokio::test]
async fn dated_audits_are_served_beside_the_scenario() {
    let (sim, app) = app(json!({"dated_audits": ["2099-01-01T00:00:00Z"]}));
    let tok = token(&app).await;
    let (s, _, v) = get(&app, &tok, AUDITS).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let first = &v["value"][0];
    assert_eq!(
        first["activityDateTime"], "2099-01-01T00:00:00Z",
        "newest first"
    );
    assert!(
        first["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("dated-0-"))
    );
    let copied = sim
        .audits
        .iter()
        .max_by_key(|a| time_of(a))
        .expect("records");
    assert_ne!(first["correlationId"], copied["correlationId"]);
    assert_eq!(first["activityDisplayName"], copied["activityDisplayName"]);

    let bad: Result<super::Faults, _> =
        serde_json::from_value(json!({"dated_audits": ["next year"]}));
    let state = super::server::State::new(sim.clone(), bad.expect("shape"), "x".into());
    assert!(state.is_err());
    let cycle: super::Faults =
        serde_json::from_value(json!({"next_link_cycle": ["users"]})).expect("shape");
    assert!(super::server::State::new(sim, cycle, "x".into()).is_err());
}

#[tokio::test]
async fn a_token_lifetime_of_two_to_the_63_is_issued_and_accepted() {
    let (_, app) = app(json!({"token_lifetime_secs": 1u64 << 63}));
    let tok = token(&app).await;
    let (s, _, v) = get(&app, &tok, AUDITS).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(matches!(v["value"], Value::Array(_)));
}
