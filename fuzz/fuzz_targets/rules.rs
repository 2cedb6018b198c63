//! Bytes scanned by the well-known-credential rules and the leak scanner:
//! neither panics, findings lie inside the input and do not overlap, and
//! redaction leaves no finding behind.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use warrant_vault::SecretValue;
use warrant_vault::rules::RuleSet;
use warrant_vault::scan::LeakScanner;

fn scanners() -> &'static (RuleSet, LeakScanner) {
    static SCANNERS: OnceLock<(RuleSet, LeakScanner)> = OnceLock::new();
    SCANNERS.get_or_init(|| {
        let secret = SecretValue::from_string("s3cr3t-Value-0123456789".to_owned());
        let scanner = LeakScanner::new(&[("test", &secret)]).expect("scanner");
        (RuleSet::builtin().expect("rules"), scanner)
    })
}

fuzz_target!(|data: &[u8]| {
    let (rules, scanner) = scanners();
    let mut end = 0;
    for finding in rules.scan(data) {
        assert!(finding.offset >= end && finding.offset + finding.len <= data.len());
        end = finding.offset + finding.len;
    }
    let parts: Vec<&[u8]> = data.split(|b| *b == b'|').collect();
    for finding in scanner.scan_parts(&parts) {
        assert!(finding.offset + finding.len <= data.len());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let redacted = rules.redact(text);
        assert!(rules.scan(redacted.as_bytes()).is_empty(), "redaction left a finding");
    }
});
