//! End to end: importing exported Entra audit history, and linking the two records Entra writes
//! for one PIM change.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Env, data, file_row};

fn fixture(name: &str) -> String {
    format!(
        "{}/ingest/tests/fixtures/entra/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn pim_flows_import_and_pairs_are_linked_once() {
    let env = Env::new();
    let (summary, code) = env.ingest(&[&fixture("pim_flows.json")]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(file_row(&summary, "pim_flows.json")["format"], "graph");
    assert_eq!(summary["total"]["stored"], 23);

    // Every PIM activity of SPEC §1.1 arrives with its action.
    for (action, min) in [
        ("role.activation.requested", 1),
        ("role.activation.denied", 1),
        ("role.activated", 1),
        ("role.deactivated", 1),
        ("role.activation.expired", 1),
        ("role.assigned", 1),
        ("role.unassigned", 1),
        ("role.eligibility.assigned", 1),
    ] {
        assert!(env.count(&format!("action:{action}")) >= min, "{action}");
    }
    assert_eq!(
        env.count("action:role.assigned AND via_pim:false"),
        2,
        "outside PIM"
    );

    // Core Directory's MS-PIM records point at PIM's record of the same change.
    let linked = env.search_json("linked_to:*", &[]);
    assert!(!linked.is_empty());
    for e in &linked {
        let partner_id = e["linked_to"].as_str().unwrap();
        let partner = env.search_json(&format!("id:{partner_id}"), &[]);
        assert_eq!(partner.len(), 1, "partner of {e}");
        let p = &partner[0];
        assert_eq!(p["target"], e["target"]);
        assert_eq!(p["privilege_id"], e["privilege_id"]);
        assert!(p["linked_to"].is_null(), "the first record is not linked");
    }
    // The activation pairs (shared correlation id, and 20 s apart without one) count once.
    let activations = env.search_json(
        "action:role.activated OR (action:role.assigned AND via_pim:true)",
        &[],
    );
    let unlinked: Vec<_> = activations
        .iter()
        .filter(|e| e["linked_to"].is_null())
        .collect();
    let linked_n = activations.len() - unlinked.len();
    assert!(linked_n >= 2, "{activations:?}");

    // Re-import: nothing new, and nothing linked twice.
    let (again, _) = env.ingest(&[&fixture("pim_flows.json")]);
    assert_eq!(again["total"]["stored"], 0);
    assert_eq!(env.search_json("linked_to:*", &[]).len(), linked.len());
}

#[test]
fn a_partner_stored_earlier_is_found_in_the_store() {
    let env = Env::new();
    let all: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("pim_flows.json")).unwrap()).unwrap();
    let records = all["value"].as_array().unwrap();
    let (core, pim): (Vec<_>, Vec<_>) = records
        .iter()
        .partition(|r| r["loggedByService"] == "Core Directory");
    let write = |name: &str, rs: &[&serde_json::Value]| {
        let p = env.dir.path().join(name);
        std::fs::write(&p, serde_json::json!({ "value": rs }).to_string()).unwrap();
        p.display().to_string()
    };
    let first = write("core.json", &core);
    let second = write("pim.json", &pim);
    env.ingest(&[&first]);
    assert_eq!(env.count("linked_to:*"), 0);
    env.ingest(&[&second]);
    let linked = env.search_json("linked_to:*", &[]);
    assert!(!linked.is_empty());
    for e in &linked {
        assert_ne!(
            e["event_code"], "Add member to role",
            "PIM's record arrived second: {e}"
        );
    }
}

#[test]
fn exported_history_formats_import() {
    let env = Env::new();
    let (summary, code) = env.ingest(&[
        &data("entra-loganalytics/AADAuditEvents.json"),
        &data("graph/directoryaudit-list.example1.response.json"),
        &fixture("azure_monitor.jsonl"),
        &fixture("loganalytics_auditlogs.csv"),
    ]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(
        file_row(&summary, "AADAuditEvents.json")["format"],
        "loganalytics"
    );
    assert_eq!(
        file_row(&summary, "example1.response.json")["format"],
        "graph"
    );
    assert_eq!(
        file_row(&summary, "azure_monitor.jsonl")["format"],
        "azure-monitor"
    );
    assert_eq!(
        file_row(&summary, "loganalytics_auditlogs.csv")["format"],
        "loganalytics"
    );
    // The Log Analytics export: 4 rows, two identical (same id, stored once).
    let la = file_row(&summary, "AADAuditEvents.json");
    assert_eq!(la["records"], 4);
    assert_eq!(la["stored"], 3);
    assert_eq!(la["duplicates"], 1);
    let apps = env.search_json("actor:\"pgustavo@simulandlabs.com\"", &[]);
    assert_eq!(apps.len(), 3);
    assert!(
        apps.iter()
            .all(|e| e["action"] == "entra.audit" && e["source"] == "entra")
    );

    // A schedule-instances body is not an audit log: a clear error, the rest imports.
    let (s2, code2) = env.ingest(&[&data(
        "graph/rbacapplication-list-roleassignmentscheduleinstances.response.json",
    )]);
    assert_eq!(code2, 1);
    let row = &s2["files"][0];
    assert!(
        row["failed"].as_str().unwrap().contains("not an audit log"),
        "{row}"
    );
}
