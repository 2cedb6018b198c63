//! The gateway and a CLI command append to one log from two processes; two
//! writers on one file must interleave into one chain, never fork it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{TempDir, event, public_key, signing_key};
use warrant_audit::{AuditLog, AuditOptions};
use warrant_audit_verify::{read_records, verify};

#[test]
fn two_writers_on_one_log_interleave_into_one_verified_chain() {
    let dir = TempDir::new();
    let options = AuditOptions { checkpoint_every_records: 7, ..AuditOptions::default() };
    let a = AuditLog::open(&dir.db(), signing_key(), options.clone()).unwrap();
    let b = AuditLog::open(&dir.db(), signing_key(), options).unwrap();
    let threads: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|log| {
            std::thread::spawn(move || {
                (0..50).map(|n| log.append_blocking(event(n)).unwrap().seq).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    seqs.sort_unstable();
    // The first opener declared the witness at seq 1; the second, with the
    // same witness, did not declare it again.
    assert_eq!(seqs, (2..=101).collect::<Vec<_>>(), "every acknowledged seq is distinct");
    a.close().unwrap();
    b.close().unwrap();
    let report = verify(&dir.db(), &public_key()).unwrap();
    assert_eq!((report.records, report.witness_declarations.len()), (101, 1));
    assert_eq!(read_records(&dir.db(), 0, 1000).unwrap().len(), 101);
}
