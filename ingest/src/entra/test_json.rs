//! Generated JSON for the property tests of the readers that must agree with `serde_json`
//! (`compact.rs`, `node/parse.rs`): values of every kind, and their texts in the spellings Graph
//! and exports use.

use proptest::prelude::*;
use serde_json::Value;

/// Any JSON value: floats, long integers, strings with quotes, backslashes, control and non-ASCII
/// characters, names that repeat in spelling only after escaping.
pub(crate) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-c\"\\\\/\u{0}-\u{1f}\u{7f}é€😀 ]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-c\"\\\\\n]{0,3}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// JSON text of `v` in the forms Graph and exports use (`style` < 15): compact, pretty, spaced,
/// each plain (`style / 3 == 0`) or with `\u` escapes, `\/`, repeated names or exponents.
pub(crate) fn spelled(v: &Value, style: u8) -> String {
    let text = match style % 3 {
        0 => v.to_string(),
        1 => serde_json::to_string_pretty(v).unwrap_or_default(),
        _ => v.to_string().replace(':', " : ").replace(',', " ,\n "),
    };
    match style / 3 {
        1 => text.replace('é', "\\u00e9").replace("\\\"", "\\u0022"),
        2 => text.replace('/', "\\/"),
        3 => text.replace("{\"", "{\"a\":1,\"a\":2,\""),
        4 => text.replace(".0", "e0"),
        _ => text,
    }
}
