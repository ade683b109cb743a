//! The records of one top-level JSON value of an Entra import ([`parse_records`]), read through
//! the borrowed [`Node`] tree when the value is plain Graph, else through `serde_json::Value`.
//!
//! Graph pages are what Entra imports mostly read, and parsing them into `Value` was
//! half of the Entra parsing thread (see `node/mod.rs`). The two paths make the same records: the
//! fast one takes only what the general one would pass through unchanged (every record a Graph
//! `directoryAudit`, none expanded, the page in the subset of JSON [`Parsed`] reads, which gives
//! each record's text as `serde_json` prints it), normalization is the same generic code, and
//! tests compare the two on real and generated pages.

use std::cell::RefCell;

use bumpalo::Bump;
use serde_json::Value;

use super::convert::{Shape, shape_of};
use super::detect::wrapped;
use super::imports::{DEFAULT_TENANT, Rec, normalized, records_of};
use super::json::{JsonValue, get};
use super::node::{Node, Parsed};

/// The records of one top-level JSON value given as its text, as [`records_of`] makes them of the
/// parsed value. A plain Graph page (or an array of Graph records, or one record) is read through
/// the borrowed [`Node`] tree instead of `Value` (half the cost of parsing it); anything else,
/// including what `Node` refuses, is parsed as `Value`; so is everything when `graph` is false (a
/// file taken for another format, whose values would otherwise be parsed twice). The error is the
/// text's JSON error.
pub(super) fn parse_records(
    text: &str,
    tenant: Option<&str>,
    graph: bool,
) -> Result<Vec<Rec>, serde_json::Error> {
    if graph && let Some(recs) = graph_records(text, tenant) {
        return Ok(recs);
    }
    let v = serde_json::from_str::<Value>(text)?;
    Ok(records_of(v, text, tenant))
}

thread_local! {
    /// The tree of the page being read. Reset for each page; it keeps its largest chunk (about
    /// three times a page's text) for the next, as a fresh one per page cost page faults.
    static ARENA: RefCell<Bump> = RefCell::new(Bump::new());
}

/// An arena grown past this by one large document is let go rather than kept for the next page
/// (a Graph page of 999 records needs about 4 MiB).
const ARENA_KEPT_BYTES: usize = 32 << 20;

/// [`parse_records`] through [`Node`], or `None` when `text` is not a plain Graph page that
/// [`Parsed`] reads: then the general path makes the same records.
fn graph_records(text: &str, tenant: Option<&str>) -> Option<Vec<Rec>> {
    ARENA.with_borrow_mut(|arena| {
        arena.reset();
        let recs = graph_records_in(text, tenant, arena);
        if arena.allocated_bytes() > ARENA_KEPT_BYTES {
            *arena = Bump::new();
        }
        recs
    })
}

fn graph_records_in(text: &str, tenant: Option<&str>, arena: &Bump) -> Option<Vec<Rec>> {
    let parsed = Parsed::new(text, arena)?;
    let node = &parsed.root;
    let (records, texts): (&[Node], Vec<&str>) = match node {
        Node::Object(m) => match wrapped(m) {
            // The general path takes the first member of that name in any case: when that is
            // another array (the name in two spellings), leave the page to it rather than pair
            // one array's records with the other's texts.
            Some((key, records)) => {
                let (at, first) = m.first_named_at(key)?;
                if !first.array().is_some_and(|a| std::ptr::eq(a, records)) {
                    return None;
                }
                (records, parsed.element_texts(Some(at)).collect())
            }
            None => (std::slice::from_ref(node), vec![parsed.text()]),
        },
        Node::Array(a) => (*a, parsed.element_texts(None).collect()),
        _ => return None,
    };
    // What `to_directory_audit` passes on unchanged, and `flatten` does not expand.
    let plain = |r: &Node| {
        r.as_map().is_some_and(|m| {
            shape_of(m) == Some(Shape::Graph)
                && get(m, "tables").is_none_or(|t| t.array().is_none())
        })
    };
    if texts.len() != records.len() || !records.iter().all(plain) {
        return None;
    }
    let tenant = tenant.unwrap_or(DEFAULT_TENANT);
    let recs = records
        .iter()
        .zip(texts)
        .map(|(r, raw)| normalized(r, tenant, raw.to_owned()))
        .collect();
    Some(recs)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, json};

    use super::*;

    /// What the general path alone makes of `text` (`ingested_at` cleared: it is the clock).
    fn general(text: &str, tenant: Option<&str>) -> Option<Vec<Rec>> {
        let v = serde_json::from_str::<Value>(text).ok()?;
        Some(settled(records_of(v, text, tenant)))
    }

    fn settled(mut recs: Vec<Rec>) -> Vec<Rec> {
        for r in &mut recs {
            if let Rec::Event(e) = r {
                e.ingested_at = chrono::DateTime::UNIX_EPOCH;
            }
        }
        recs
    }

    fn both(text: &str, tenant: Option<&str>) -> (Option<Vec<Rec>>, Option<Vec<Rec>>) {
        (
            graph_records(text, tenant).map(settled),
            general(text, tenant),
        )
    }

    #[test]
    fn real_pages_take_the_fast_path_and_read_the_same() {
        let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/graph/");
        let files = [
            format!("{shared}directoryaudit-list.example1.response.json"),
            format!("{shared}directoryaudit-list.example2.response.json"),
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/entra/pim_flows.json"
            )
            .to_owned(),
        ];
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{f}: {e}"));
            for tenant in [None, Some("contoso")] {
                let (fast, slow) = both(&text, tenant);
                let fast = fast.unwrap_or_else(|| panic!("{f}: not read through Node"));
                assert!(!fast.is_empty(), "{f}");
                assert_eq!(Some(fast), slow, "{f}");
            }
        }
    }

    #[test]
    fn a_large_document_does_not_keep_its_arena() {
        // Fifty numbers per record: about 1.7 KiB of tree each.
        let numbers: Vec<String> = (0..50).map(|n| n.to_string()).collect();
        let numbers = numbers.join(",");
        let rec = |i: usize| {
            format!(
                r#"{{"id":"{i}","activityDisplayName":"a","activityDateTime":"2024-01-01T00:00:00Z","n":[{numbers}]}}"#
            )
        };
        let page = |n: usize| {
            let recs: Vec<String> = (0..n).map(rec).collect();
            format!(r#"{{"value":[{}]}}"#, recs.join(","))
        };
        let kept = || ARENA.with_borrow(Bump::allocated_bytes);
        assert_eq!(graph_records(&page(100), None).map(|r| r.len()), Some(100));
        assert!(kept() < ARENA_KEPT_BYTES);
        // 40,000 such records overflow the limit.
        assert_eq!(
            graph_records(&page(40_000), None).map(|r| r.len()),
            Some(40_000)
        );
        assert!(kept() < 1 << 20, "{} bytes kept", kept());
    }

    #[test]
    fn other_shapes_take_the_general_path() {
        let la = r#"[{"Id":"i","TenantId":"t","ActivityDisplayName":"Add member to role","TimeGenerated":"2024-01-01T00:00:00Z","InitiatedBy":"{}"}]"#;
        let mixed = r#"{"value":[{"id":"1","activityDisplayName":"a","activityDateTime":"2024-01-01T00:00:00Z"},{"nope":1}]}"#;
        let tables = r#"{"id":"1","activityDisplayName":"a","activityDateTime":"2024-01-01T00:00:00Z","tables":[]}"#;
        let escaped_wrapper = r#"{"valu\u0065":[{"id":"1","activityDisplayName":"a","activityDateTime":"2024-01-01T00:00:00Z"}]}"#;
        let azure = r#"{"records":[{"time":"2024-01-01T00:00:00Z","operationName":"x","category":"AuditLogs","properties":{}}]}"#;
        // The wrapper's name in two spellings: records and texts come from the same (first) one.
        let rec = |id: &str| {
            format!(
                r#"{{"id":"{id}","activityDisplayName":"a","activityDateTime":"2024-01-01T00:00:00Z"}}"#
            )
        };
        let two = format!(
            r#"{{"Value":[{}],"value":[{}]}}"#,
            rec("first"),
            rec("second")
        );
        for t in [
            la,
            mixed,
            tables,
            escaped_wrapper,
            azure,
            "[1]",
            "\"x\"",
            "{",
            &two,
        ] {
            assert!(graph_records(t, None).is_none(), "{t}");
            assert_eq!(
                parse_records(t, None, true).ok().map(settled),
                general(t, None),
                "{t}"
            );
        }
        // An empty page is plain Graph too.
        let (fast, slow) = both(r#"{"@odata.context":"x","value":[]}"#, None);
        assert_eq!(fast, Some(vec![]));
        assert_eq!(fast, slow);
    }

    const NAMES: [&str; 6] = [
        "Add member to role completed (PIM activation)",
        "Add member to role requested (PIM activation)",
        "Remove member from role (PIM activation expired)",
        "Add member to role",
        "Update role setting in PIM",
        "Add member to group",
    ];

    /// A member name in one of the spellings records use.
    fn cased(name: &'static str) -> impl Strategy<Value = String> {
        prop_oneof![
            3 => Just(name.to_owned()),
            1 => Just(name.to_ascii_uppercase()),
            1 => Just(name.to_ascii_lowercase()),
        ]
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => "[a-zA-Z0-9 @.\"\\\\é-]{0,12}".prop_map(Value::String),
            1 => Just(Value::String("00000000-0000-0000-0000-000000000000".into())),
            1 => Just(Value::String("2024-05-06T10:00:00Z".into())),
            1 => (-999i64..1000).prop_map(Value::from),
            1 => Just(Value::Null),
            1 => any::<bool>().prop_map(Value::Bool),
        ]
    }

    fn object(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
        let k = proptest::sample::select(keys).prop_flat_map(cased);
        prop::collection::vec((k, scalar()), 0..6)
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
    }

    fn target() -> impl Strategy<Value = Value> {
        let prop = object(&["displayName", "oldValue", "newValue"]).prop_map(|mut p| {
            if let Some(m) = p.as_object_mut() {
                m.insert(
                    "displayName".into(),
                    json!(["Role.TemplateId", "Role.DisplayName", "x"][m.len() % 3]),
                );
                m.insert(
                    "newValue".into(),
                    json!("\"62e90394-69f5-4237-9190-012177145e10\""),
                );
            }
            p
        });
        (
            object(&["id", "displayName", "userPrincipalName", "groupType"]),
            prop_oneof![
                Just("User"),
                Just("Role"),
                Just("Group"),
                Just("ServicePrincipal"),
                Just("AdministrativeUnit"),
                Just("Other"),
            ],
            prop::collection::vec(prop, 0..3),
        )
            .prop_map(|(mut t, ty, props)| {
                if let Some(m) = t.as_object_mut() {
                    m.insert("type".into(), json!(ty));
                    m.insert("modifiedProperties".into(), Value::Array(props));
                }
                t
            })
    }

    fn record() -> impl Strategy<Value = Value> {
        let detail = (
            proptest::sample::select(&[
                "Justification",
                "ExpirationTime",
                "RoleName",
                "TemplateId",
                "DirectoryScopeId",
                "other",
            ]),
            scalar(),
        )
            .prop_map(|(k, v)| json!({"key": k, "value": v}));
        (
            "[a-f0-9-]{1,12}",
            proptest::sample::select(&NAMES),
            0u32..100_000,
            object(&[
                "result",
                "resultReason",
                "correlationId",
                "loggedByService",
                "category",
            ]),
            prop::collection::vec(target(), 0..4),
            prop::collection::vec(detail, 0..4),
            object(&["userPrincipalName", "displayName", "id"]),
            object(&[
                "displayName",
                "appId",
                "servicePrincipalName",
                "servicePrincipalId",
            ]),
        )
            .prop_map(|(id, name, secs, extra, targets, details, user, app)| {
                let mut m = extra.as_object().cloned().unwrap_or_default();
                m.insert("id".into(), json!(id));
                m.insert("activityDisplayName".into(), json!(name));
                let t = chrono::DateTime::UNIX_EPOCH + chrono::Duration::seconds(i64::from(secs));
                m.insert(
                    "activityDateTime".into(),
                    json!(privtrail_model::format_time(t)),
                );
                m.insert("targetResources".into(), Value::Array(targets));
                m.insert("additionalDetails".into(), Value::Array(details));
                m.insert("initiatedBy".into(), json!({"user": user, "app": app}));
                Value::Object(m)
            })
    }

    /// The text of `v` as exports write it: compact, pretty, spaced, with `\u` escapes or
    /// repeated member names (the last then counts).
    fn spelled(v: &Value, style: u8) -> String {
        let text = match style % 3 {
            0 => v.to_string(),
            1 => serde_json::to_string_pretty(v).unwrap(),
            _ => v
                .to_string()
                .replace("\":", "\" : ")
                .replace(",\"", " ,\n \""),
        };
        match style / 3 {
            1 => text.replace('é', "\\u00e9"),
            2 => text.replacen("{\"", "{\"id\":\"dup\",\"", 2),
            3 => text.replace("\"type\"", "\"type\":\"Role\",\"type\""),
            _ => text,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn generated_pages_read_the_same_both_ways(
            recs in prop::collection::vec(record(), 0..5),
            layout in 0u8..3,
            style in 0u8..12,
            tenant in proptest::option::of(Just("t1")),
        ) {
            let v = match layout {
                0 => json!({"@odata.context": "x", "value": recs}),
                1 => Value::Array(recs),
                _ => recs.into_iter().next().unwrap_or_else(|| json!({})),
            };
            let text = spelled(&v, style);
            let (fast, slow) = both(&text, tenant);
            // Escapes and repeated names leave the page to the general path (the record's text
            // is then printed from the parsed value); the plain spellings must not.
            prop_assert!(fast.is_some() || style / 3 != 0 || v == json!({}), "{}", text);
            if let Some(fast) = fast {
                prop_assert_eq!(Some(fast), slow);
            }
            prop_assert_eq!(parse_records(&text, tenant, true).ok().map(settled), general(&text, tenant));
            prop_assert_eq!(parse_records(&text, tenant, false).ok().map(settled), general(&text, tenant));
        }
    }
}
