//! Bearer tokens from anywhere: verification refuses them without panicking
//! (a random string is never a valid credential of this key).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use warrant_identity::{RootKey, Verifier};

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| Verifier::new(RootKey::generate().public_key()))
}

fuzz_target!(|text: &str| {
    assert!(verifier().verify(text, warrant_core::UnixMillis(0)).is_err());
});
