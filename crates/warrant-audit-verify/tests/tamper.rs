//! A log written by the real writer verifies; each kind of tampering, done
//! through a raw connection on a fresh log, is caught and names the first bad
//! record (or checkpoint). The attacks the log alone cannot reveal (a cut
//! tail, a log cut to empty, another log swapped in with its key, a history
//! re-signed with a stolen key) are shown to pass [`verify`] and to be caught
//! by [`verify_with_witness`] against the writer's witness.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{TempDir, event, public_key, sealed_log, signing_key};
use ed25519_dalek::{Signer, SigningKey};
use rusqlite::{Connection, params};
use std::path::Path;
use warrant_audit::{AuditLog, AuditOptions};
use warrant_audit_verify::{
    VerifyError, VerifyReport, Witness, WitnessDeclaration, WitnessError, latest_checkpoint,
    verify, verify_declared, verify_with_witness,
};
use warrant_core::{canonical_json, sha256_hex};

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

/// A log as a writer from before witness declarations wrote it: the schema
/// and format of the crate doc, `records` chained records and, if there are
/// any, one checkpoint sealing the last, signed with the test key.
fn legacy_log(dir: &TempDir, records: i64) {
    let conn = raw(&dir.db());
    conn.execute_batch(
        "CREATE TABLE records(seq INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL,
             kind TEXT NOT NULL, agent TEXT, body TEXT NOT NULL, prev_hash TEXT NOT NULL,
             hash TEXT NOT NULL);
         CREATE TABLE checkpoints(id INTEGER PRIMARY KEY, seq INTEGER NOT NULL,
             head_hash TEXT NOT NULL, ts_ms INTEGER NOT NULL, public_key TEXT NOT NULL,
             signature TEXT NOT NULL);
         CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO meta VALUES ('format', 'warrant-audit/v1');",
    )
    .unwrap();
    let mut prev = "0".repeat(64);
    for seq in 1..=records {
        append_forged(&conn, seq, "decision", &decision_body(seq), &mut prev);
    }
    if records > 0 {
        seal(&conn, records, &prev);
    }
}

/// A well-formed `decision` body, told apart by `n`.
fn decision_body(n: i64) -> String {
    format!(
        r#"{{"arguments":{{"n":{n}}},"custody":["operator:t"],"outcome":"deny","reason":"r","rules":["unknown-tool"],"tool":"t__x"}}"#
    )
}

/// Appends a well-formed record at `seq` after the head `prev`, as anyone
/// who can write the file can, without the key.
fn append_forged(conn: &Connection, seq: i64, kind: &str, body: &str, prev: &mut String) {
    let ts = 1_700_000_000_000 + seq;
    let hash = forge_hash(seq, ts, kind, None, body, prev);
    conn.execute(
        "INSERT INTO records VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)",
        params![seq, ts, kind, body, *prev, hash],
    )
    .unwrap();
    *prev = hash;
}

/// A checkpoint of `seq` signed with the test key.
fn seal(conn: &Connection, seq: i64, head: &str) {
    let ts = 1_700_000_000_000i64;
    let message = format!("warrant-audit-checkpoint/v1\n{seq}\n{head}\n{ts}");
    conn.execute(
        "INSERT INTO checkpoints(seq, head_hash, ts_ms, public_key, signature)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            seq,
            head,
            ts,
            hex::encode(public_key()),
            hex::encode(signing_key().sign(message.as_bytes()).to_bytes())
        ],
    )
    .unwrap();
}

fn hash_of(conn: &Connection, seq: i64) -> String {
    conn.query_row("SELECT hash FROM records WHERE seq = ?1", [seq], |r| r.get(0)).unwrap()
}

/// The record hash as the format doc defines it, computed by the attacker.
fn forge_hash(
    seq: i64,
    ts_ms: i64,
    kind: &str,
    agent: Option<&str>,
    body: &str,
    prev: &str,
) -> String {
    let preimage = serde_json::json!({
        "agent": agent, "body": body, "kind": kind, "prev": prev, "seq": seq, "ts_ms": ts_ms,
    });
    sha256_hex(canonical_json(&preimage).unwrap().as_bytes())
}

#[track_caller]
fn assert_tampered<T: std::fmt::Debug>(
    result: Result<T, VerifyError>,
    expected_seq: u64,
    needle: &str,
) {
    match result {
        Err(VerifyError::Tampered { seq, reason }) => {
            assert_eq!(seq, expected_seq, "named the wrong record ({reason})");
            assert!(reason.contains(needle), "reason `{reason}` lacks `{needle}`");
        }
        other => panic!("expected tampering at seq {expected_seq}, got {other:?}"),
    }
}

#[track_caller]
fn assert_bad_checkpoint(
    result: Result<VerifyReport, VerifyError>,
    expected_id: i64,
    needle: &str,
) {
    match result {
        Err(VerifyError::BadCheckpoint { id, reason }) => {
            assert_eq!(id, expected_id, "named the wrong checkpoint ({reason})");
            assert!(reason.contains(needle), "reason `{reason}` lacks `{needle}`");
        }
        other => panic!("expected bad checkpoint {expected_id}, got {other:?}"),
    }
}

#[test]
fn an_intact_log_written_by_the_writer_verifies() {
    let dir = sealed_log();
    let report = verify(&dir.db(), &public_key()).unwrap();
    let head = hash_of(&raw(&dir.db()), 12);
    let declared_at: i64 = raw(&dir.db())
        .query_row("SELECT ts_ms FROM records WHERE seq = 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        report,
        VerifyReport {
            records: 12,
            checkpoints: 3,
            last_checkpoint_seq: Some(12),
            head_hash: Some(head),
            unsealed_records: 0,
            witness_declarations: vec![WitnessDeclaration {
                seq: 1,
                ts_ms: declared_at,
                path: Some(dir.witness()),
                required: false,
                written: true,
            }],
        }
    );
}

#[test]
fn a_live_log_verifies_with_its_unsealed_tail_reported() {
    let dir = TempDir::new();
    let options = AuditOptions { checkpoint_every_records: 5, ..AuditOptions::default() };
    let log = AuditLog::open(&dir.db(), signing_key(), options).unwrap();
    for n in 1..=6 {
        log.append_blocking(event(n)).unwrap();
    }
    let report = verify(&dir.db(), &public_key()).unwrap();
    assert_eq!((report.records, report.last_checkpoint_seq), (7, Some(5)));
    assert_eq!(report.unsealed_records, 2);
    log.close().unwrap();
    assert_eq!(verify(&dir.db(), &public_key()).unwrap().unsealed_records, 0);
}

#[test]
fn a_fresh_log_holds_only_its_sealed_witness_declaration() {
    let dir = TempDir::new();
    AuditLog::open(&dir.db(), signing_key(), AuditOptions::default()).unwrap().close().unwrap();
    let report = verify(&dir.db(), &public_key()).unwrap();
    assert_eq!((report.records, report.checkpoints, report.unsealed_records), (1, 1, 0));
    assert_eq!(report.witness_declarations.len(), 1);
}

#[test]
fn an_empty_log_verifies_on_its_own() {
    let dir = TempDir::new();
    legacy_log(&dir, 0);
    let report = verify(&dir.db(), &public_key()).unwrap();
    assert_eq!((report.records, report.checkpoints, report.head_hash), (0, 0, None));
}

#[test]
fn an_edited_body_is_named() {
    let dir = sealed_log();
    raw(&dir.db()).execute("UPDATE records SET body = '{\"n\":999}' WHERE seq = 7", []).unwrap();
    assert_tampered(verify(&dir.db(), &public_key()), 7, "contents");
}

#[test]
fn an_edited_kind_is_named() {
    let dir = sealed_log();
    raw(&dir.db()).execute("UPDATE records SET kind = 'decision' WHERE seq = 3", []).unwrap();
    assert_tampered(verify(&dir.db(), &public_key()), 3, "contents");
}

#[test]
fn an_edited_timestamp_is_named() {
    let dir = sealed_log();
    raw(&dir.db()).execute("UPDATE records SET ts_ms = ts_ms - 1 WHERE seq = 11", []).unwrap();
    assert_tampered(verify(&dir.db(), &public_key()), 11, "contents");
}

#[test]
fn an_edited_agent_or_hash_column_is_named() {
    let dir = sealed_log();
    raw(&dir.db()).execute("UPDATE records SET agent = NULL WHERE seq = 2", []).unwrap();
    assert_tampered(verify(&dir.db(), &public_key()), 2, "contents");

    let dir = sealed_log();
    raw(&dir.db()).execute("UPDATE records SET hash = prev_hash WHERE seq = 9", []).unwrap();
    assert_tampered(verify(&dir.db(), &public_key()), 9, "contents");
}

#[test]
fn a_deleted_middle_record_is_named() {
    let dir = sealed_log();
    raw(&dir.db()).execute("DELETE FROM records WHERE seq = 6", []).unwrap();
    assert_tampered(verify(&dir.db(), &public_key()), 6, "missing");
}

#[test]
fn a_deleted_record_hidden_by_renumbering_is_named() {
    let dir = sealed_log();
    let conn = raw(&dir.db());
    conn.execute("DELETE FROM records WHERE seq = 6", []).unwrap();
    for seq in 7..=12 {
        conn.execute("UPDATE records SET seq = ?1 WHERE seq = ?2", [seq - 1, seq]).unwrap();
    }
    assert_tampered(verify(&dir.db(), &public_key()), 6, "prev_hash");
}

#[test]
fn an_inserted_record_with_a_correct_hash_is_named() {
    let dir = sealed_log();
    let conn = raw(&dir.db());
    for seq in (4..=12).rev() {
        conn.execute("UPDATE records SET seq = ?1 WHERE seq = ?2", [seq + 1, seq]).unwrap();
    }
    let prev = hash_of(&conn, 3);
    let (ts, body) = (1_700_000_000_000i64, r#"{"n":"forged"}"#);
    let hash = forge_hash(4, ts, "decision", Some("agent-1"), body, &prev);
    conn.execute(
        "INSERT INTO records VALUES (4, ?1, 'decision', 'agent-1', ?2, ?3, ?4)",
        params![ts, body, prev, hash],
    )
    .unwrap();
    assert_tampered(verify(&dir.db(), &public_key()), 4, "inserted");
}

#[test]
fn swapped_records_are_named() {
    let dir = sealed_log();
    let conn = raw(&dir.db());
    let columns = "ts_ms, kind, agent, body, prev_hash, hash";
    conn.execute_batch(&format!(
        "CREATE TEMP TABLE t AS SELECT seq, {columns} FROM records WHERE seq IN (3, 8);
         UPDATE records SET ({columns}) = (SELECT {columns} FROM t WHERE t.seq = 8) WHERE seq = 3;
         UPDATE records SET ({columns}) = (SELECT {columns} FROM t WHERE t.seq = 3) WHERE seq = 8;"
    ))
    .unwrap();
    assert_tampered(verify(&dir.db(), &public_key()), 3, "prev_hash");
}

#[test]
fn a_rewritten_chain_is_caught_by_the_checkpoint_that_sealed_it() {
    // The attacker edits record 7 and recomputes every later hash, so the
    // chain itself is consistent; only the signed checkpoint at 10 knows.
    let dir = sealed_log();
    let conn = raw(&dir.db());
    conn.execute("UPDATE records SET body = '{\"n\":0}' WHERE seq = 7", []).unwrap();
    let mut prev = hash_of(&conn, 6);
    for seq in 7..=12i64 {
        let (ts, kind, agent, body): (i64, String, Option<String>, String) = conn
            .query_row("SELECT ts_ms, kind, agent, body FROM records WHERE seq = ?1", [seq], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        let hash = forge_hash(seq, ts, &kind, agent.as_deref(), &body, &prev);
        conn.execute(
            "UPDATE records SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            params![prev, hash, seq],
        )
        .unwrap();
        prev = hash;
    }
    assert_tampered(verify(&dir.db(), &public_key()), 10, "checkpoint 2");
}

#[test]
fn truncation_past_a_checkpoint_is_named() {
    let dir = sealed_log();
    raw(&dir.db()).execute("DELETE FROM records WHERE seq > 7", []).unwrap();
    assert_tampered(verify(&dir.db(), &public_key()), 8, "checkpoint 2 seals seq 10");
}

#[test]
fn truncating_unsealed_records_is_not_detectable_as_documented() {
    let dir = sealed_log();
    let conn = raw(&dir.db());
    conn.execute("DELETE FROM checkpoints WHERE seq = 12", []).unwrap();
    assert_eq!(verify(&dir.db(), &public_key()).unwrap().unsealed_records, 2);
    conn.execute("DELETE FROM records WHERE seq > 10", []).unwrap();
    let report = verify(&dir.db(), &public_key()).unwrap();
    assert_eq!((report.records, report.unsealed_records), (10, 0));
}

#[test]
fn a_forged_checkpoint_signature_is_named() {
    let dir = sealed_log();
    let conn = raw(&dir.db());
    let signature: String =
        conn.query_row("SELECT signature FROM checkpoints WHERE id = 2", [], |r| r.get(0)).unwrap();
    let flipped = if signature.starts_with('0') { "1" } else { "0" };
    let forged = format!("{flipped}{}", &signature[1..]);
    conn.execute("UPDATE checkpoints SET signature = ?1 WHERE id = 2", [forged]).unwrap();
    assert_bad_checkpoint(verify(&dir.db(), &public_key()), 2, "does not verify");
}

#[test]
fn a_checkpoint_moved_to_another_record_is_named() {
    let dir = sealed_log();
    let conn = raw(&dir.db());
    let head = hash_of(&conn, 7);
    conn.execute("UPDATE checkpoints SET seq = 7, head_hash = ?1 WHERE id = 2", [head]).unwrap();
    assert_bad_checkpoint(verify(&dir.db(), &public_key()), 2, "does not verify");
}

#[test]
fn a_checkpoint_signed_with_another_key_is_named() {
    let dir = sealed_log();
    let conn = raw(&dir.db());
    let intruder = SigningKey::from_bytes(&[9; 32]);
    let head = hash_of(&conn, 12);
    let ts = 1_700_000_000_000i64;
    let message = format!("warrant-audit-checkpoint/v1\n12\n{head}\n{ts}");
    let signature = hex::encode(intruder.sign(message.as_bytes()).to_bytes());
    let public = hex::encode(intruder.verifying_key().as_bytes());
    conn.execute(
        "INSERT INTO checkpoints(id, seq, head_hash, ts_ms, public_key, signature)
         VALUES (4, 12, ?1, ?2, ?3, ?4)",
        params![head, ts, public, signature],
    )
    .unwrap();
    assert_bad_checkpoint(verify(&dir.db(), &public_key()), 4, "not the expected");

    // A valid signature by the intruder's key that claims the expected key.
    let expected = hex::encode(public_key());
    conn.execute("UPDATE checkpoints SET public_key = ?1 WHERE id = 4", [expected]).unwrap();
    assert_bad_checkpoint(verify(&dir.db(), &public_key()), 4, "does not verify");
}

#[test]
fn verifying_with_the_wrong_public_key_fails_at_the_first_checkpoint() {
    let dir = sealed_log();
    let other = SigningKey::from_bytes(&[3; 32]).verifying_key().to_bytes();
    assert_bad_checkpoint(verify(&dir.db(), &other), 1, "not the expected");
}

#[test]
fn a_file_that_is_not_a_v1_log_is_refused() {
    let dir = sealed_log();
    raw(&dir.db()).execute("UPDATE meta SET value = 'warrant-audit/v2'", []).unwrap();
    let err = verify(&dir.db(), &public_key()).unwrap_err();
    assert!(matches!(&err, VerifyError::Format { reason, .. } if reason.contains("v2")), "{err}");

    let junk = dir.0.join("junk.db");
    std::fs::write(&junk, b"this is not a database at all, just some bytes").unwrap();
    let err = verify(&junk, &public_key()).unwrap_err();
    assert!(matches!(err, VerifyError::Open { .. } | VerifyError::Format { .. }), "{err}");

    let missing = dir.0.join("missing.db");
    assert!(matches!(verify(&missing, &public_key()), Err(VerifyError::Open { .. })));
    assert!(!missing.exists(), "verification must not create a log");
}

/// The witness the writer kept beside the home, pinned from its first line.
fn witness_of(dir: &TempDir) -> Witness {
    Witness::read(&dir.witness(), None).unwrap()
}

/// Checkpoints 5, 10 and 12 are in the witness.
#[test]
fn an_intact_log_verifies_against_its_witness_and_exports_its_latest_line() {
    let dir = sealed_log();
    let report = verify_with_witness(&dir.db(), &witness_of(&dir), &public_key()).unwrap();
    assert_eq!((report.witnessed_seq, report.witness_lines), (Some(12), 3));
    assert_eq!((report.unwitnessed_records, report.torn_tail), (0, false));
    let latest = latest_checkpoint(&dir.db(), &public_key()).unwrap().unwrap();
    let text = std::fs::read_to_string(dir.witness()).unwrap();
    assert_eq!(text.lines().last(), Some(latest.to_line().as_str()));
}

#[test]
fn a_tail_cut_with_its_last_checkpoint_is_caught_by_the_witness() {
    let dir = sealed_log();
    let conn = raw(&dir.db());
    conn.execute("DELETE FROM checkpoints WHERE seq = 12", []).unwrap();
    conn.execute("DELETE FROM records WHERE seq > 10", []).unwrap();
    assert_eq!(verify(&dir.db(), &public_key()).unwrap().records, 10, "the log alone looks whole");
    let err = verify_with_witness(&dir.db(), &witness_of(&dir), &public_key()).unwrap_err();
    assert!(matches!(err, VerifyError::Shrunken { log_seq: 10, witnessed_seq: 12 }), "{err}");
}

#[test]
fn a_log_cut_with_its_checkpoints_down_to_empty_is_reported_as_shrunken() {
    let dir = sealed_log();
    let conn = raw(&dir.db());
    conn.execute_batch("DELETE FROM checkpoints; DELETE FROM records WHERE seq > 3;").unwrap();
    assert!(verify(&dir.db(), &public_key()).is_ok(), "the log alone looks whole");
    let err = verify_with_witness(&dir.db(), &witness_of(&dir), &public_key()).unwrap_err();
    assert!(matches!(err, VerifyError::Shrunken { log_seq: 3, witnessed_seq: 12 }), "{err}");

    conn.execute("DELETE FROM records", []).unwrap();
    assert_eq!(verify(&dir.db(), &public_key()).unwrap().records, 0);
    let err = verify_with_witness(&dir.db(), &witness_of(&dir), &public_key()).unwrap_err();
    assert!(matches!(err, VerifyError::Shrunken { log_seq: 0, witnessed_seq: 12 }), "{err}");
}

#[test]
fn another_logs_database_swapped_in_with_its_key_is_refused() {
    let dir = sealed_log();
    let other_dir = TempDir::new();
    let other_key = SigningKey::from_bytes(&[9; 32]);
    let log = AuditLog::open(&other_dir.db(), other_key.clone(), AuditOptions::default()).unwrap();
    for n in 1..=20 {
        log.append_blocking(event(n)).unwrap();
    }
    log.close().unwrap();
    drop(log); // the last handle: SQLite folds the WAL into the file
    std::fs::copy(other_dir.db(), dir.db()).unwrap();
    let other_public = other_key.verifying_key().to_bytes();
    let alone = verify(&dir.db(), &other_public);
    assert!(alone.is_ok(), "with its own key the swapped log is whole: {alone:?}");

    // The home now offers the other key: the witness pinned the first.
    let err = verify_with_witness(&dir.db(), &witness_of(&dir), &other_public).unwrap_err();
    assert!(matches!(err, VerifyError::KeyReplaced { .. }), "{err}");
    // With the home's key left alone, the swapped log's checkpoints are foreign.
    let err = verify_with_witness(&dir.db(), &witness_of(&dir), &public_key()).unwrap_err();
    assert!(matches!(err, VerifyError::BadCheckpoint { id: 1, .. }), "{err}");
}

#[test]
fn a_fresh_log_swapped_in_is_reported_as_shrunken() {
    // The fresh log holds only its witness declaration, sealed.
    let dir = sealed_log();
    std::fs::remove_file(dir.db()).unwrap();
    AuditLog::open(&dir.db(), signing_key(), AuditOptions::default()).unwrap().close().unwrap();
    assert!(verify(&dir.db(), &public_key()).is_ok());
    let err = verify_with_witness(&dir.db(), &witness_of(&dir), &public_key()).unwrap_err();
    assert!(matches!(err, VerifyError::Shrunken { log_seq: 1, witnessed_seq: 12 }), "{err}");
}

#[test]
fn a_history_re_signed_with_a_stolen_key_is_caught_by_the_witness() {
    // An attacker with the operator's uid holds the signing key: they cut the
    // log at 6, write other records 7 to 12 (a declaration of their own
    // witness, then five events) and seal them. Every chain link
    // and signature in the log is then valid; only the witness remembers
    // what seq 10 and 12 hashed to.
    let dir = sealed_log();
    raw(&dir.db())
        .execute_batch("DELETE FROM checkpoints WHERE seq > 5; DELETE FROM records WHERE seq > 6;")
        .unwrap();
    let options =
        AuditOptions { witness: Some(dir.0.join("attacker.jsonl")), ..Default::default() };
    let log = AuditLog::open(&dir.db(), signing_key(), options).unwrap();
    for n in 100..105 {
        log.append_blocking(event(n)).unwrap();
    }
    log.close().unwrap();
    assert_eq!(verify(&dir.db(), &public_key()).unwrap().records, 12);
    assert_tampered(
        verify_with_witness(&dir.db(), &witness_of(&dir), &public_key()),
        10,
        "witnessed checkpoint",
    );
}

#[test]
fn records_after_the_latest_witnessed_checkpoint_are_not_protected_as_documented() {
    let dir = TempDir::new();
    let options = AuditOptions { checkpoint_every_records: 5, ..AuditOptions::default() };
    let log = AuditLog::open(&dir.db(), signing_key(), options).unwrap();
    for n in 1..=6 {
        log.append_blocking(event(n)).unwrap();
    }
    let report = verify_with_witness(&dir.db(), &witness_of(&dir), &public_key()).unwrap();
    assert_eq!((report.witnessed_seq, report.unwitnessed_records), (Some(5), 2));
    raw(&dir.db()).execute("DELETE FROM records WHERE seq > 5", []).unwrap();
    let report = verify_with_witness(&dir.db(), &witness_of(&dir), &public_key()).unwrap();
    assert_eq!((report.log.records, report.unwitnessed_records), (5, 0));
}

#[test]
fn an_emptied_witness_is_refused_for_a_log_with_checkpoints() {
    let dir = sealed_log();
    std::fs::write(dir.witness(), "").unwrap();
    let err = verify_with_witness(&dir.db(), &witness_of(&dir), &public_key()).unwrap_err();
    assert!(matches!(err, VerifyError::Unwitnessed { checkpoints: 3 }), "{err}");
}

#[test]
fn a_witness_line_that_is_forged_or_foreign_is_refused() {
    let dir = sealed_log();
    let text = std::fs::read_to_string(dir.witness()).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let signature = first["signature"].as_str().unwrap();
    let flipped = if signature.starts_with('0') { "1" } else { "0" };
    let forged = text.replacen(signature, &format!("{flipped}{}", &signature[1..]), 1);
    assert!(matches!(Witness::parse(&forged, None), Err(WitnessError::Signature { line: 1 })));

    // Pinned by the operator, a witness of another key is refused at once.
    let other = SigningKey::from_bytes(&[9; 32]).verifying_key().to_bytes();
    let err = Witness::parse(&text, Some(&other)).unwrap_err();
    assert!(matches!(err, WitnessError::OtherKey { line: 1, .. }), "{err}");

    // Two signed heads for one seq: the key signed two histories.
    let intruder = signing_key();
    let (seq, ts) = (12u64, 1_700_000_000_000i64);
    let head = "ab".repeat(32);
    let message = format!("warrant-audit-checkpoint/v1\n{seq}\n{head}\n{ts}");
    let line = serde_json::json!({
        "head_hash": head, "public_key": hex::encode(public_key()), "seq": seq,
        "signature": hex::encode(intruder.sign(message.as_bytes()).to_bytes()), "ts_ms": ts,
    });
    let conflicting = format!("{text}{line}\n");
    let err = Witness::parse(&conflicting, None).unwrap_err();
    assert!(matches!(err, WitnessError::Conflict { line: 4, earlier: 3, seq: 12 }), "{err}");
}

#[test]
fn a_torn_last_witness_line_is_skipped_and_reported() {
    let dir = sealed_log();
    let text = std::fs::read_to_string(dir.witness()).unwrap();
    let torn = format!("{text}{{\"head_hash\":\"ab");
    let witness = Witness::parse(&torn, None).unwrap();
    let report = verify_with_witness(&dir.db(), &witness, &public_key()).unwrap();
    assert!(report.torn_tail);
    assert_eq!(report.witnessed_seq, Some(12));
}

// The witness the log declares: `verify_declared` is `audit verify` without
// --witness.

#[test]
fn a_cut_tail_with_its_declared_witness_deleted_is_reported_as_removed() {
    let dir = sealed_log();
    raw(&dir.db())
        .execute_batch(
            "DELETE FROM checkpoints WHERE seq = 12; DELETE FROM records WHERE seq > 10;",
        )
        .unwrap();
    std::fs::remove_file(dir.witness()).unwrap();
    assert_eq!(verify(&dir.db(), &public_key()).unwrap().records, 10, "the log alone looks whole");
    let err = verify_declared(&dir.db(), &public_key(), None).unwrap_err();
    assert!(matches!(&err, VerifyError::WitnessRemoved { seq: 1, path } if *path == dir.witness()));
    assert!(err.to_string().contains("the witness was removed"), "{err}");
}

#[test]
fn an_emptied_declared_witness_is_refused() {
    let dir = sealed_log();
    std::fs::write(dir.witness(), "").unwrap();
    let err = verify_declared(&dir.db(), &public_key(), None).unwrap_err();
    assert!(matches!(err, VerifyError::Unwitnessed { checkpoints: 3 }), "{err}");
}

#[test]
fn a_declared_witness_cut_behind_the_log_is_reported() {
    // The log is left whole; its witness loses its last line (the seal of
    // seq 12), as if cut back together with a log that was then restored.
    let dir = sealed_log();
    let text = std::fs::read_to_string(dir.witness()).unwrap();
    let kept: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(dir.witness(), format!("{}\n", kept.join("\n"))).unwrap();
    let err = verify_declared(&dir.db(), &public_key(), None).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::WitnessBehind {
                declared_at: 1,
                witnessed_seq: 10,
                checkpoint_seq: 12,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_witness_still_there_is_checked_as_before() {
    let dir = sealed_log();
    let checked = verify_declared(&dir.db(), &public_key(), None).unwrap();
    assert_eq!(checked.declared.len(), 1);
    assert_eq!(checked.witnesses.len(), 1, "the declared witness is the default one");
    assert!(checked.witnesses[0].declared);
    assert_eq!(checked.witnesses[0].report.witnessed_seq, Some(12));

    raw(&dir.db())
        .execute_batch(
            "DELETE FROM checkpoints WHERE seq = 12; DELETE FROM records WHERE seq > 10;",
        )
        .unwrap();
    let err = verify_declared(&dir.db(), &public_key(), None).unwrap_err();
    assert!(matches!(err, VerifyError::Shrunken { log_seq: 10, witnessed_seq: 12 }), "{err}");
}

#[test]
fn a_log_cut_to_empty_with_its_witness_deleted_is_refused() {
    // Cutting back to before the declaration at seq 1 leaves nothing.
    let dir = sealed_log();
    raw(&dir.db()).execute_batch("DELETE FROM checkpoints; DELETE FROM records;").unwrap();
    std::fs::remove_file(dir.witness()).unwrap();
    assert!(verify(&dir.db(), &public_key()).is_ok(), "the log alone looks whole");
    let err = verify_declared(&dir.db(), &public_key(), None).unwrap_err();
    assert!(matches!(err, VerifyError::Emptied), "{err}");
}

#[test]
fn an_unsealed_declaration_of_no_witness_does_not_release_the_sealed_one() {
    // Without the key, the attacker cuts back to the checkpoint of seq 10,
    // appends a well-formed declaration that no witness was written, and
    // deletes the witness.
    let dir = sealed_log();
    let conn = raw(&dir.db());
    conn.execute_batch(
        "DELETE FROM checkpoints WHERE seq = 12; DELETE FROM records WHERE seq > 10;",
    )
    .unwrap();
    let mut prev = hash_of(&conn, 10);
    let body = r#"{"path":null,"required":false,"written":false}"#;
    append_forged(&conn, 11, "audit_witness", body, &mut prev);
    std::fs::remove_file(dir.witness()).unwrap();
    let report = verify(&dir.db(), &public_key()).unwrap();
    assert_eq!(report.witness_declarations.len(), 2);
    let err = verify_declared(&dir.db(), &public_key(), None).unwrap_err();
    assert!(matches!(err, VerifyError::WitnessRemoved { seq: 1, .. }), "{err}");
}

#[test]
fn a_declaration_the_writer_would_not_write_is_refused() {
    let dir = sealed_log();
    let conn = raw(&dir.db());
    let mut prev = hash_of(&conn, 12);
    append_forged(&conn, 13, "audit_witness", r#"{"written":true}"#, &mut prev);
    assert_tampered(verify(&dir.db(), &public_key()), 13, "witness declaration");
}

#[test]
fn a_log_from_before_declarations_verifies_with_no_witness_as_before() {
    let dir = TempDir::new();
    legacy_log(&dir, 4);
    let checked = verify_declared(&dir.db(), &public_key(), None).unwrap();
    assert_eq!((checked.log.records, checked.declared.len()), (4, 0));
    assert!(checked.witnesses.is_empty(), "no witness, which the caller warns about");
}

#[test]
fn a_default_witness_that_could_not_be_written_is_declared_as_such_and_not_required() {
    let dir = TempDir::new();
    std::fs::create_dir(dir.witness()).unwrap();
    let log = AuditLog::open(&dir.db(), signing_key(), AuditOptions::default()).unwrap();
    log.append_blocking(event(1)).unwrap();
    log.close().unwrap();
    std::fs::remove_dir(dir.witness()).unwrap();
    let checked = verify_declared(&dir.db(), &public_key(), None).unwrap();
    assert_eq!(checked.declared.len(), 1);
    assert!(!checked.declared[0].written);
    assert_eq!(checked.declared[0].path.as_deref(), Some(dir.witness().as_path()));
    assert!(checked.witnesses.is_empty());
}

#[test]
fn a_log_upgraded_from_before_declarations_and_cut_back_past_its_first_one_is_not_detected_as_documented()
 {
    // Four records from an old writer, then this writer opens the log and
    // declares its witness at seq 5. Cut back to seq 4, checkpoints with it,
    // and with the witness deleted, the log is an old log again.
    let dir = TempDir::new();
    legacy_log(&dir, 4);
    let options = AuditOptions { syslog: None, ..AuditOptions::default() };
    let log = AuditLog::open(&dir.db(), signing_key(), options).unwrap();
    assert_eq!(log.append_blocking(event(1)).unwrap().seq, 6, "declared at seq 5");
    log.close().unwrap();
    drop(log);
    assert_eq!(verify_declared(&dir.db(), &public_key(), None).unwrap().declared[0].seq, 5);
    raw(&dir.db())
        .execute_batch("DELETE FROM checkpoints WHERE seq > 4; DELETE FROM records WHERE seq > 4;")
        .unwrap();
    std::fs::remove_file(dir.witness()).unwrap();
    let checked = verify_declared(&dir.db(), &public_key(), None).unwrap();
    assert!(checked.declared.is_empty() && checked.witnesses.is_empty());
}

#[test]
fn a_pinned_key_that_is_not_the_logs_is_refused_without_a_witness() {
    let dir = TempDir::new();
    legacy_log(&dir, 2);
    let other = SigningKey::from_bytes(&[9; 32]).verifying_key().to_bytes();
    let err = verify_declared(&dir.db(), &public_key(), Some(&other)).unwrap_err();
    assert!(matches!(err, VerifyError::KeyReplaced { .. }), "{err}");
}
