//! The scenario: documented record shapes, determinism, and schedule instances that match the story.

use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn time_of(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v["activityDateTime"].as_str().unwrap_or_default())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

#[test]
fn scenario_records_have_the_documented_fields() {
    let sim = scenario(now(), 7);
    assert_eq!(
        sim.audits,
        scenario(now(), 7).audits,
        "deterministic per seed"
    );
    assert_ne!(sim.audits, scenario(now(), 8).audits);
    let mut ids = HashSet::new();
    for a in &sim.audits {
        for k in [
            "id",
            "category",
            "correlationId",
            "result",
            "resultReason",
            "activityDisplayName",
            "activityDateTime",
            "loggedByService",
            "operationType",
        ] {
            assert!(a[k].is_string(), "{k} in {a}");
        }
        assert!(
            ids.insert(a["id"].as_str().unwrap_or_default().to_owned()),
            "duplicate id"
        );
        let t = a["activityDateTime"].as_str().unwrap_or_default();
        assert_eq!(t.len(), "2026-11-24T09:15:02.1234567Z".len(), "{t}");
        let t = time_of(a);
        assert!(t < now() && t > now() - Duration::hours(5 * 24 + 12), "{t}");
        let by = &a["initiatedBy"];
        assert!(
            by["user"]["userPrincipalName"].is_string() || by["app"]["displayName"].is_string(),
            "{by}"
        );
        for tr in a["targetResources"].as_array().expect("targets") {
            for k in [
                "id",
                "displayName",
                "type",
                "userPrincipalName",
                "modifiedProperties",
            ] {
                assert!(tr.get(k).is_some(), "{k} in {tr}");
            }
        }
        assert!(
            a["additionalDetails"]
                .as_array()
                .expect("details")
                .iter()
                .all(|d| d["key"].is_string() && d["value"].is_string())
        );
    }
    // The PIM pair: Core Directory's add by MS-PIM with JSON-quoted role properties.
    let core = sim
        .audits
        .iter()
        .find(|a| {
            a["activityDisplayName"] == "Add member to role"
                && a["initiatedBy"]["app"]["displayName"] == "MS-PIM"
        })
        .expect("core add");
    let props = &core["targetResources"][0]["modifiedProperties"];
    assert!(
        props
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["displayName"] == "Role.TemplateId"))
    );
    assert!(props.as_array().is_some_and(|p| {
        p.iter().any(|p| {
            p["displayName"] == "Role.DisplayName"
                && p["newValue"].as_str().is_some_and(|v| v.starts_with('"'))
        })
    }));
    let pim = sim
        .audits
        .iter()
        .filter(|a| a["correlationId"] == core["correlationId"] && a["loggedByService"] == "PIM")
        .count();
    assert!(pim >= 1, "the PIM record shares the correlationId");
}

#[test]
fn scenario_state_matches_its_story() {
    for seed in [0, 1, 7, 42, u64::MAX] {
        let sim = scenario(now(), seed);
        let count = |name: &str| {
            sim.audits
                .iter()
                .filter(|a| a["activityDisplayName"] == name)
                .count()
        };
        assert_eq!(count("Add member to role completed (PIM activation)"), 11);
        assert_eq!(count("Add member to role requested (PIM activation)"), 12);
        assert_eq!(count("Remove member from role (PIM activation expired)"), 6);
        assert_eq!(
            count("Remove member from role completed (PIM deactivate)"),
            3
        );
        assert_eq!(
            count("Add member to role request approved (PIM activation)"),
            1
        );
        assert_eq!(
            count("Add member to role request denied (PIM activation)"),
            1
        );
        assert_eq!(count("Add member to role outside of PIM (permanent)"), 1);
        assert_eq!(count("Add member to role in PIM completed (permanent)"), 1);
        assert_eq!(
            count("Add eligible member to role in PIM completed (timebound)"),
            1
        );
        let time = |v: &Value, k: &str| {
            v[k].as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        // The activation whose removal never came: Activated, ended ~8 h ago, no expiry record.
        let stuck = sim
            .assignments
            .iter()
            .find(|a| {
                a["assignmentType"] == "Activated"
                    && time(a, "endDateTime").is_some_and(|e| e < now() - Duration::hours(7))
            })
            .expect("never-removed activation");
        assert_eq!(stuck["roleDefinitionId"], scenario::PRA);
        let request = stuck["id"].as_str().unwrap_or_default();
        let about: Vec<&Value> = sim
            .audits
            .iter()
            .filter(|a| {
                a["targetResources"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["id"] == request))
            })
            .collect();
        assert_eq!(about.len(), 2, "requested + completed only");
        assert!(
            sim.assignments
                .iter()
                .any(|a| a["assignmentType"] == "Activated"
                    && time(a, "endDateTime").is_some_and(|e| e > now()))
        );
        let permanent = sim
            .assignments
            .iter()
            .filter(|a| a["assignmentType"] == "Assigned" && a["endDateTime"].is_null())
            .count();
        assert_eq!(
            permanent, 4,
            "break-glass, grace, frank (PIM permanent), ivan (outside PIM)"
        );
        assert_eq!(sim.eligibilities.len(), 7);
        // bob: four activations within one day.
        let bob: Vec<DateTime<Utc>> = sim
            .audits
            .iter()
            .filter(|a| {
                a["activityDisplayName"] == "Add member to role completed (PIM activation)"
                    && a["initiatedBy"]["user"]["userPrincipalName"] == "bob@contoso.com"
            })
            .map(time_of)
            .collect();
        assert_eq!(bob.len(), 4);
        assert!(
            bob.iter().max().copied().unwrap_or_default()
                - bob.iter().min().copied().unwrap_or_default()
                < Duration::hours(24)
        );
        let facts = scenario_facts(&sim);
        assert!(facts.iter().any(|(_, q, n)| q == "event_code:\"Add member to role completed (PIM activation)\" AND actor:\"bob@contoso.com\"" && *n == 4));
        assert!(facts.iter().any(|(_, q, n)| q
            == "event_code:\"Add member to role\" AND actor:\"breakglass@contoso.com\""
            && *n == 1));
        assert_eq!(
            facts
                .iter()
                .find(|(_, q, _)| q == "event_code:\"Add member to role\"")
                .map(|f| f.2),
            Some(13)
        );
    }
}
