//! Bytes searched for secrets in disguise (the skeleton pass: separators,
//! format characters, compatibility forms, HTML references, UTF-16, tag
//! characters and variation selectors, rotations, lists of byte values; and
//! the automaton of C escapes) and for pieces of secrets: nothing panics,
//! findings lie inside the input in order without overlapping, masking
//! keeps the length and leaves no finding, and a session's exposure only
//! grows until it refuses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use warrant_vault::SecretValue;
use warrant_vault::fragments::Exposure;
use warrant_vault::scan::LeakScanner;

fn scanner() -> &'static LeakScanner {
    static SCANNER: OnceLock<LeakScanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        let a = SecretValue::from_string("ghp_Zq3xY7mN2pL8kR4tV6wB9cD1fG5hJ0sA2eU4".to_owned());
        let b = SecretValue::from_string("deadbeefcafe0123deadbeefcafe0123".to_owned());
        let c = SecretValue::from_string("n0t-a-Word-9x8y7z6w5v".to_owned());
        LeakScanner::new(&[("github", &a), ("hexy", &b), ("escape", &c)]).expect("scanner")
    })
}

fuzz_target!(|data: &[u8]| {
    let scanner = scanner();
    let mut end = 0;
    for finding in scanner.scan(data) {
        assert!(finding.offset >= end, "findings overlap or are out of order");
        end = finding.offset + finding.len;
        assert!(end <= data.len(), "a finding runs past the input");
    }
    let mut masked = data.to_vec();
    scanner.mask(&mut masked);
    assert_eq!(masked.len(), data.len());
    assert!(scanner.scan_exact(&masked).is_empty(), "masking left an exact form");

    let parts: Vec<&[u8]> = data.split(|b| *b == b'|').collect();
    let mut session = Exposure::default();
    for part in &parts {
        if !session.admit(scanner, &scanner.fragments(&[*part])).is_empty() {
            break;
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = scanner.redact(text);
    }
});
