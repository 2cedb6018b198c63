//! Requests a sandboxed agent sends through the egress proxy, as the
//! swapper sees them: it never panics, a swapped request keeps every length,
//! and a request it lets through never carries a real secret it did not put
//! there for a bound host.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use warrant_vault::swap::{OutgoingRequest, SwapEntry, SwapParts, Swapper};
use warrant_vault::{CredentialName, SecretValue, placeholder_for};

const SECRET: &str = "ghp_Zq3xY7mN2pL8kR4tV6wB9cD1fG5hJ0sA2eU4";

fn swapper() -> &'static (Swapper, String) {
    static SWAPPER: OnceLock<(Swapper, String)> = OnceLock::new();
    SWAPPER.get_or_init(|| {
        let secret = SecretValue::from_string(SECRET.to_owned());
        let placeholder = placeholder_for(&secret).expect("placeholder");
        let text = placeholder.as_str().to_owned();
        let entry = SwapEntry {
            name: CredentialName::new("github").expect("name"),
            placeholder,
            secret,
            hosts: vec!["api.github.com".to_owned()],
            parts: SwapParts::ALL,
        };
        (Swapper::new(vec![entry]).expect("swapper"), text)
    })
}

fuzz_target!(|input: (bool, Vec<u8>, Vec<u8>, Vec<u8>)| {
    let (bound, target, header, body) = input;
    let (swapper, placeholder) = swapper();
    // Seed the placeholder in sometimes, so the swap path is exercised.
    let mut body = body;
    if body.first() == Some(&b'P') {
        body.extend_from_slice(placeholder.as_bytes());
    }
    let host = if bound { "api.github.com" } else { "evil.example" };
    let headers = [("authorization", header.as_slice())];
    let request = OutgoingRequest { host, target: &target, headers: &headers, body: &body };
    if let Ok(swapped) = swapper.swap_request(&request) {
        assert_eq!(swapped.expose_target().len(), target.len());
        assert_eq!(swapped.expose_body().len(), body.len());
        assert_eq!(swapped.expose_header_value(0).map(<[u8]>::len), Some(header.len()));
        if !bound {
            assert!(swapped.swapped().is_empty());
        }
    }
});
