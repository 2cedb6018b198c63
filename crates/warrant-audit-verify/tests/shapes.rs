//! A body that is not its kind's shape, in a chain that holds, is reported
//! ([`VerifyError::Malformed`]) by every verification, after every other
//! finding. A tampered body breaks the chain first, so each test gets one
//! past the chain as an attacker could: appended after the last checkpoint
//! (anyone who can write the file), or rewritten, re-chained and re-sealed
//! with the audit key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{append_forged, public_key, rechain_and_reseal, sample_body, sealed_log};
use rusqlite::Connection;
use warrant_audit::EventKind;
use warrant_audit_verify::{
    Failed, VerifyError, Witness, latest_checkpoint, verify, verify_declared, verify_with_witness,
};

#[track_caller]
fn assert_malformed<T: std::fmt::Debug>(
    result: Result<T, VerifyError>,
    expected_seq: u64,
    expected_kind: &str,
    needle: &str,
) {
    match result {
        Err(VerifyError::Malformed { seq, kind, reason }) => {
            assert_eq!((seq, kind.as_str()), (expected_seq, expected_kind), "{reason}");
            assert!(reason.contains(needle), "reason `{reason}` lacks `{needle}`");
        }
        other => panic!("expected record {expected_seq} malformed, got {other:?}"),
    }
}

#[test]
fn a_record_of_another_shape_appended_after_the_last_checkpoint_is_named() {
    let dir = sealed_log();
    append_forged(&Connection::open(dir.db()).unwrap(), 13, "decision", r#"{"n":"forged"}"#);
    assert_malformed(verify(&dir.db(), &public_key()), 13, "decision", "unknown field `n`");
    assert_malformed(verify_declared(&dir.db(), &public_key(), None), 13, "decision", "`n`");
    let witness = Witness::read(&dir.witness(), None).unwrap();
    assert_malformed(verify_with_witness(&dir.db(), &witness, &public_key()), 13, "decision", "n");
    // What a witness records is the chain's: the log can still be witnessed.
    assert_eq!(latest_checkpoint(&dir.db(), &public_key()).unwrap().unwrap().seq, 12);
}

#[test]
fn a_body_rewritten_to_another_kinds_shape_and_resealed_with_the_key_is_named() {
    let dir = sealed_log();
    let conn = Connection::open(dir.db()).unwrap();
    let kind: String =
        conn.query_row("SELECT kind FROM records WHERE seq = 7", [], |r| r.get(0)).unwrap();
    assert_eq!(kind, "agent_killed");
    let stopped = sample_body(EventKind::GatewayStopped).to_string();
    conn.execute("UPDATE records SET body = ?1 WHERE seq = 7", [stopped]).unwrap();
    rechain_and_reseal(&conn, 7);
    let error = verify(&dir.db(), &public_key()).unwrap_err();
    assert_malformed(Err::<(), _>(error), 7, "agent_killed", "missing field `targets`");
}

#[test]
fn a_kind_this_version_does_not_know_is_named() {
    let dir = sealed_log();
    append_forged(&Connection::open(dir.db()).unwrap(), 13, "coffee_made", "{}");
    assert_malformed(verify(&dir.db(), &public_key()), 13, "coffee_made", "no such kind");
}

#[test]
fn only_the_first_malformed_record_is_named() {
    let dir = sealed_log();
    let conn = Connection::open(dir.db()).unwrap();
    append_forged(&conn, 13, "tools_listed", r#"{"shown":"all"}"#);
    append_forged(&conn, 14, "decision", "{}");
    assert_malformed(verify(&dir.db(), &public_key()), 13, "tools_listed", "invalid type");
}

#[test]
fn a_broken_chain_is_reported_before_a_malformed_body_even_an_earlier_one() {
    let dir = sealed_log();
    let conn = Connection::open(dir.db()).unwrap();
    conn.execute("UPDATE records SET body = '{}' WHERE seq = 7", []).unwrap();
    rechain_and_reseal(&conn, 7);
    conn.execute("UPDATE records SET agent = 'someone' WHERE seq = 9", []).unwrap();
    match verify(&dir.db(), &public_key()) {
        Err(VerifyError::Tampered { seq: 9, .. }) => {}
        other => panic!("expected tampering at 9, got {other:?}"),
    }
}

#[test]
fn a_removed_witness_is_reported_before_a_malformed_body() {
    let dir = sealed_log();
    append_forged(&Connection::open(dir.db()).unwrap(), 13, "decision", "{}");
    std::fs::remove_file(dir.witness()).unwrap();
    match verify_declared(&dir.db(), &public_key(), None) {
        Err(VerifyError::WitnessRemoved { seq: 1, .. }) => {}
        other => panic!("expected the removed witness, got {other:?}"),
    }
}

#[test]
fn a_malformed_record_is_a_failure_with_its_seq_for_scripts() {
    let dir = sealed_log();
    append_forged(&Connection::open(dir.db()).unwrap(), 13, "decision", "{}");
    let error = verify(&dir.db(), &public_key()).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(
            "audit record 13 is not a well-formed `decision` record: missing field `tool`"
        ),
        "{message}"
    );
    let json = serde_json::to_value(Failed::new(&error)).unwrap();
    assert_eq!(json["error"]["kind"], "record_malformed");
    assert_eq!(json["error"]["seq"], 13);
}
