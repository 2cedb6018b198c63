//! Canonical JSON and SHA-256 fingerprints.
//!
//! Canonical form: object keys sorted by their UTF-8 bytes, no insignificant
//! whitespace, numbers and strings as `serde_json` writes them. Two values that
//! are equal as JSON have the same canonical bytes, whatever order their keys
//! arrived in, so a fingerprint of the canonical bytes names the value.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The nesting limit for canonicalisation; deeper values are refused rather
/// than risk exhausting the stack.
const MAX_DEPTH: usize = 128;

/// Canonicalisation refused a value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalJsonError {
    #[error("value nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Writes `value` in canonical form.
pub fn canonical_json(value: &Value) -> Result<String, CanonicalJsonError> {
    let mut out = String::new();
    write_value(value, &mut out, 0)?;
    Ok(out)
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write_value(value: &Value, out: &mut String, depth: usize) -> Result<(), CanonicalJsonError> {
    if depth > MAX_DEPTH {
        return Err(CanonicalJsonError::TooDeep);
    }
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_value(item, out, depth + 1)?;
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out, depth + 1)?;
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_change_canonical_form() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":[1,2],"x":"s"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":"s","y":[1,2]},"b":1}"#).unwrap();
        assert_eq!(canonical_json(&a).unwrap(), canonical_json(&b).unwrap());
        assert_eq!(canonical_json(&a).unwrap(), r#"{"a":{"x":"s","y":[1,2]},"b":1}"#);
    }

    #[test]
    fn different_values_have_different_fingerprints() {
        let a = canonical_json(&json!({"path": "/tmp/a"})).unwrap();
        let b = canonical_json(&json!({"path": "/tmp/b"})).unwrap();
        assert_ne!(sha256_hex(a.as_bytes()), sha256_hex(b.as_bytes()));
    }

    #[test]
    fn strings_are_escaped() {
        let v = json!({"k\"": "line\nbreak"});
        assert_eq!(canonical_json(&v).unwrap(), r#"{"k\"":"line\nbreak"}"#);
    }

    #[test]
    fn overly_deep_values_are_refused() {
        let mut v = json!(1);
        for _ in 0..200 {
            v = json!([v]);
        }
        assert_eq!(canonical_json(&v), Err(CanonicalJsonError::TooDeep));
    }
}
