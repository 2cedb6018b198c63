//! Response bodies the egress proxy masks as they stream into a sandbox: cut
//! into chunks anywhere, the stream comes out exactly as masking every exact
//! form in the whole body at once would make it (the stream does not look
//! for disguises), the same length, with nothing left to find.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use warrant_vault::SecretValue;
use warrant_vault::scan::{LeakScanner, StreamRedactor};

fn scanner() -> &'static LeakScanner {
    static SCANNER: OnceLock<LeakScanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        let a = SecretValue::from_string("ghp_Zq3xY7mN2pL8kR4tV6wB9cD1fG5hJ0sA2eU4".to_owned());
        let b = SecretValue::from_string("deadbeefcafe0123".to_owned());
        LeakScanner::new(&[("github", &a), ("hexy", &b)]).expect("scanner")
    })
}

fuzz_target!(|input: (Vec<u8>, Vec<u16>)| {
    let (body, cuts) = input;
    let scanner = scanner();
    let mut whole = body.clone();
    for finding in scanner.scan_exact(&body) {
        whole[finding.offset..finding.offset + finding.len].fill(b'*');
    }

    let mut stream = StreamRedactor::new();
    let mut out = Vec::new();
    let mut at = 0;
    for cut in cuts {
        let next = (at + usize::from(cut) % 64).min(body.len());
        stream.push(scanner, &body[at..next], &mut out);
        at = next;
    }
    stream.push(scanner, &body[at..], &mut out);
    stream.finish(scanner, &mut out);
    assert_eq!(out.len(), body.len());
    assert_eq!(out, whole);
    assert!(scanner.scan_exact(&out).is_empty(), "the stream left a secret");
});
