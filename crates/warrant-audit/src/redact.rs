//! The default treatment of tool arguments: record their fingerprint and
//! shape, never their values.
//!
//! Object keys are kept (they are the argument names a reviewer needs); a
//! secret used as an object key is therefore not redacted.

use serde_json::{Map, Value, json};
use warrant_core::{canonical_json, sha256_hex};

/// How many items of an array have their shape recorded.
const ARRAY_ITEMS_SHOWN: usize = 8;

/// Below this depth the shape is cut off; the fingerprint still covers it.
const MAX_SHAPE_DEPTH: usize = 32;

/// `{"sha256": <hex of the canonical JSON>, "shape": <structure>}`.
///
/// The shape keeps every object key and replaces every scalar with its type
/// name (`"string(12)"` with the length in characters, `"number"`, `"bool"`,
/// `"null"`). An array becomes `{"len": n, "items": [...]}` with the shapes of
/// its first eight items. Equal arguments give equal fingerprints whatever the
/// order of their keys. A value nested too deep to canonicalise gets
/// `"sha256": null`.
pub fn redact_arguments(args: &Value) -> Value {
    let sha256 = match canonical_json(args) {
        Ok(canonical) => Value::String(sha256_hex(canonical.as_bytes())),
        Err(_) => Value::Null,
    };
    json!({ "sha256": sha256, "shape": shape(args, 0) })
}

fn shape(value: &Value, depth: usize) -> Value {
    if depth >= MAX_SHAPE_DEPTH {
        return Value::from("truncated");
    }
    match value {
        Value::Null => Value::from("null"),
        Value::Bool(_) => Value::from("bool"),
        Value::Number(_) => Value::from("number"),
        Value::String(s) => Value::String(format!("string({})", s.chars().count())),
        Value::Array(items) => {
            let shown: Vec<Value> =
                items.iter().take(ARRAY_ITEMS_SHOWN).map(|item| shape(item, depth + 1)).collect();
            json!({ "len": items.len(), "items": shown })
        }
        Value::Object(map) => {
            let fields: Map<String, Value> =
                map.iter().map(|(key, item)| (key.clone(), shape(item, depth + 1))).collect();
            Value::Object(fields)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    const SECRETS: [&str; 5] = [
        "sk-live-4f9a8b7c6d5e4f3a2b1c",
        "hunter2-correct-horse",
        "ghp_SECRETSECRETSECRETSECRET",
        "AKIAIOSFODNN7EXAMPLE",
        "/home/alice/.ssh/id_ed25519",
    ];

    fn secret_args() -> Value {
        json!({
            "token": SECRETS[0],
            "nested": {
                "password": SECRETS[1],
                "list": [SECRETS[2], {"deep": [[SECRETS[3]]]}, 918273645, true, null],
            },
            "paths": [SECRETS[4]],
            "pin": 55667788.25,
        })
    }

    #[test]
    fn redacted_arguments_contain_no_value() {
        let redacted = redact_arguments(&secret_args());
        let text = redacted.to_string();
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} leaked into {text}");
            // Not even a recognisable fragment of it.
            assert!(!text.contains(&secret[..8]), "{secret} leaked into {text}");
        }
        assert!(!text.contains("918273645"), "{text}");
        assert!(!text.contains("55667788"), "{text}");
        assert!(!text.contains("true"), "{text}");
    }

    #[test]
    fn shape_keeps_keys_and_types() {
        let redacted = redact_arguments(&secret_args());
        let shape = &redacted["shape"];
        assert_eq!(shape["token"], json!(format!("string({})", SECRETS[0].len())));
        assert_eq!(shape["pin"], json!("number"));
        assert_eq!(shape["nested"]["list"]["len"], json!(5));
        assert_eq!(
            shape["nested"]["list"]["items"],
            json!([
                format!("string({})", SECRETS[2].len()),
                {"deep": {"len": 1, "items": [{"len": 1, "items": ["string(20)"]}]}},
                "number",
                "bool",
                "null",
            ])
        );
    }

    #[test]
    fn equal_arguments_give_equal_hashes_and_different_ones_do_not() {
        let a: Value = serde_json::from_str(r#"{"b":"x","a":[1,{"d":null,"c":"y"}]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":[1,{"c":"y","d":null}],"b":"x"}"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"a":[1,{"c":"z","d":null}],"b":"x"}"#).unwrap();
        let (ra, rb, rc) = (redact_arguments(&a), redact_arguments(&b), redact_arguments(&c));
        assert_eq!(ra["sha256"], rb["sha256"]);
        assert_eq!(ra["sha256"].as_str().unwrap().len(), 64);
        assert_ne!(ra["sha256"], rc["sha256"]);
        // Same shape, different value: only the fingerprint tells them apart.
        assert_eq!(ra["shape"], rc["shape"]);
    }

    #[test]
    fn long_arrays_are_summarised() {
        let items: Vec<Value> = (0..100).map(|i| json!(format!("secret-{i}"))).collect();
        let redacted = redact_arguments(&Value::Array(items));
        assert_eq!(redacted["shape"]["len"], json!(100));
        assert_eq!(redacted["shape"]["items"].as_array().unwrap().len(), 8);
        assert!(!redacted.to_string().contains("secret-"));
    }

    #[test]
    fn overly_deep_arguments_are_cut_off_without_leaking() {
        let mut value = json!("deep-secret-value");
        for _ in 0..300 {
            value = json!([value]);
        }
        let redacted = redact_arguments(&value);
        assert_eq!(redacted["sha256"], Value::Null);
        let text = redacted.to_string();
        assert!(text.contains("truncated"));
        assert!(!text.contains("deep-secret"));
    }
}
