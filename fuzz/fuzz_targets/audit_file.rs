//! An audit log file with arbitrary contents: verification and reading
//! return an error or a report, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("audit.db");
    std::fs::write(&path, bytes).expect("write");
    let _ = warrant_audit_verify::verify(&path, &[7; 32]);
    let _ = warrant_audit_verify::read_records(&path, 0, 100);
});
