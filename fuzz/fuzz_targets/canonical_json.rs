//! Canonical JSON of any parsed value parses back to an equal value, is
//! idempotent, and the argument redaction built on it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use warrant_core::canonical_json;

fuzz_target!(|bytes: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else { return };
    let Ok(canonical) = canonical_json(&value) else { return };
    let back: Value = serde_json::from_str(&canonical).expect("canonical JSON parses");
    assert_eq!(back, value);
    assert_eq!(canonical_json(&back).expect("still canonical"), canonical);
    let _ = warrant_audit::redact_arguments(&value);
});
