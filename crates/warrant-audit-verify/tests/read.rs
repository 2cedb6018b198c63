//! Reading records back for `audit tail` and `audit export`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{TempDir, event, sealed_log, signing_key};
use serde_json::{Value, json};
use warrant_audit::{AuditLog, AuditOptions};
use warrant_audit_verify::{head_seq, read_records};

#[test]
fn records_are_read_in_pages_after_a_seq() {
    let dir = sealed_log();
    let page = read_records(&dir.db(), 4, 3).unwrap();
    let seqs: Vec<u64> = page.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![5, 6, 7]);
    // Event n is at seq n + 1, after the witness declaration.
    assert_eq!(page[1].body, Value::Object(event(5).detail().clone()));
    assert_eq!(page[1].kind, "agent_revoked");
    assert_eq!(page[1].agent.as_deref(), Some("agent-2"));
    assert_eq!(page[1].prev_hash, page[0].hash);
    assert!(read_records(&dir.db(), 12, 10).unwrap().is_empty());
    assert_eq!(read_records(&dir.db(), 0, usize::MAX).unwrap().len(), 12);
    assert_eq!(head_seq(&dir.db()).unwrap(), Some(12));
}

#[test]
fn an_exported_record_carries_an_rfc3339_time() {
    let dir = sealed_log();
    let record = read_records(&dir.db(), 0, 1).unwrap().remove(0);
    let line = serde_json::to_value(&record).unwrap();
    let time = line["time"].as_str().unwrap();
    assert_eq!(time.len(), "2026-01-01T00:00:00.000Z".len(), "{time}");
    assert!(time.ends_with('Z') && time.contains('T'), "{time}");
    assert_eq!(line["ts_ms"], json!(record.ts_ms));
    assert_eq!(line["seq"], json!(1));
    for field in ["kind", "agent", "body", "prev_hash", "hash"] {
        assert!(line.get(field).is_some(), "missing {field}");
    }
}

#[test]
fn an_empty_log_has_no_head() {
    let dir = TempDir::new();
    AuditLog::open(&dir.db(), signing_key(), AuditOptions::default()).unwrap().close().unwrap();
    assert_eq!(head_seq(&dir.db()).unwrap(), Some(1), "the witness declaration");
    rusqlite::Connection::open(dir.db())
        .unwrap()
        .execute_batch("DELETE FROM checkpoints; DELETE FROM records;")
        .unwrap();
    assert_eq!(head_seq(&dir.db()).unwrap(), None);
    assert!(read_records(&dir.db(), 0, 10).unwrap().is_empty());
}

#[test]
fn an_exported_record_reads_as_its_kinds_type() {
    let dir = sealed_log();
    let records = read_records(&dir.db(), 0, usize::MAX).unwrap();
    assert_eq!(records[0].kind, "audit_witness");
    assert!(records[0].event().is_err(), "the writer's own record has no event type");
    for record in &records[1..] {
        let event = record.event().unwrap();
        assert_eq!(event.kind().as_str(), record.kind);
        // The same fields, but for a `null` one the type leaves out.
        let typed = serde_json::to_value(&event).unwrap();
        for (key, value) in record.body.as_object().unwrap() {
            assert_eq!(typed.get(key).unwrap_or(&Value::Null), value, "seq {}", record.seq);
        }
    }
}
