//! The witness as the writer keeps it: every checkpoint, the final seal
//! included, copied outside the log; required when set, best effort by
//! default; caught up on reopen; also sent to syslog.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use ed25519_dalek::SigningKey;
use rusqlite::Connection;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use warrant_audit::{
    AuditError, AuditEvent, AuditLog, AuditOptions, EventKind, default_witness_path,
};

/// A scratch directory holding a home (`home/audit.db`), removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("warrant-audit-wi-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("home")).unwrap();
        Self(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("home").join("audit.db")
    }

    fn default_witness(&self) -> PathBuf {
        self.0.join("home-witness.jsonl")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn event(n: u64) -> AuditEvent {
    AuditEvent::danger_untyped(EventKind::Decision, serde_json::json!({"n": n}))
}

/// Options that keep syslog out of the test.
fn options() -> AuditOptions {
    AuditOptions { checkpoint_every_records: 3, syslog: None, ..AuditOptions::default() }
}

fn witness_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// (seq, agent, body) of every witness declaration in the log.
fn declarations(db: &Path) -> Vec<(i64, Option<String>, Value)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT seq, agent, body FROM records WHERE kind = 'audit_witness' ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| {
        let body: String = r.get(2)?;
        Ok((r.get(0)?, r.get(1)?, serde_json::from_str(&body).unwrap()))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Every checkpoint row, as the witness writes it.
fn checkpoint_rows(db: &Path) -> Vec<Value> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT seq, head_hash, ts_ms, public_key, signature FROM checkpoints ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(serde_json::json!({
            "seq": r.get::<_, i64>(0)?, "head_hash": r.get::<_, String>(1)?,
            "ts_ms": r.get::<_, i64>(2)?, "public_key": r.get::<_, String>(3)?,
            "signature": r.get::<_, String>(4)?,
        }))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[test]
fn every_checkpoint_and_the_final_seal_are_copied_to_the_default_witness() {
    let dir = TempDir::new();
    assert_eq!(default_witness_path(&dir.db()), Some(dir.default_witness()));
    let log = AuditLog::open(&dir.db(), key(), options()).unwrap();
    // Six events after the witness declaration: seven records.
    for n in 0..6 {
        log.append_blocking(event(n)).unwrap();
    }
    log.close().unwrap();
    let rows = checkpoint_rows(&dir.db());
    let seqs: Vec<_> = rows.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [3, 6, 7], "two by count, one seal on close");
    assert_eq!(witness_lines(&dir.default_witness()), rows);
    let text = std::fs::read_to_string(dir.default_witness()).unwrap();
    assert!(text.starts_with("{\"head_hash\":"), "canonical, keys sorted: {text}");
}

#[test]
fn a_reopened_log_adds_no_duplicate_and_restores_a_deleted_witness() {
    let dir = TempDir::new();
    let log = AuditLog::open(&dir.db(), key(), options()).unwrap();
    for n in 0..3 {
        log.append_blocking(event(n)).unwrap();
    }
    log.close().unwrap();
    assert_eq!(witness_lines(&dir.default_witness()).len(), 2);

    AuditLog::open(&dir.db(), key(), options()).unwrap().close().unwrap();
    assert_eq!(witness_lines(&dir.default_witness()).len(), 2, "the last line is already there");

    std::fs::remove_file(dir.default_witness()).unwrap();
    AuditLog::open(&dir.db(), key(), options()).unwrap().close().unwrap();
    let lines = witness_lines(&dir.default_witness());
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["seq"], 4, "caught up with the newest checkpoint");
}

#[test]
fn a_configured_witness_gets_the_lines_and_must_be_writable() {
    let dir = TempDir::new();
    let elsewhere = dir.0.join("elsewhere.jsonl");
    let configured = AuditOptions { witness: Some(elsewhere.clone()), ..options() };
    let log = AuditLog::open(&dir.db(), key(), configured).unwrap();
    log.append_blocking(event(0)).unwrap();
    log.close().unwrap();
    assert_eq!(witness_lines(&elsewhere).len(), 1);
    assert!(!dir.default_witness().exists(), "the default is not written as well");

    let missing_dir = dir.0.join("no-such-dir").join("w.jsonl");
    let unwritable = AuditOptions { witness: Some(missing_dir), ..options() };
    let err = AuditLog::open(&dir.db(), key(), unwritable).err().unwrap();
    assert!(matches!(err, AuditError::Witness { .. }), "{err}");
}

#[test]
fn a_witness_inside_the_home_is_refused() {
    let dir = TempDir::new();
    let inside = AuditOptions { witness: Some(dir.0.join("home/keys/w.jsonl")), ..options() };
    let err = AuditLog::open(&dir.db(), key(), inside).err().unwrap();
    assert!(matches!(err, AuditError::WitnessInHome { .. }), "{err}");
}

#[test]
fn a_configured_witness_that_fails_later_refuses_every_later_record() {
    let dir = TempDir::new();
    let witness = dir.0.join("w.jsonl");
    let configured = AuditOptions { witness: Some(witness.clone()), ..options() };
    let log = AuditLog::open(&dir.db(), key(), configured).unwrap();
    log.append_blocking(event(0)).unwrap();
    // A directory where the file was: no append can succeed, even as root.
    std::fs::remove_file(&witness).unwrap();
    std::fs::create_dir(&witness).unwrap();
    assert!(matches!(log.checkpoint(), Err(AuditError::Witness { .. })));
    assert!(matches!(log.append_blocking(event(1)), Err(AuditError::Failed { .. })));
    assert!(log.close().is_err());
}

#[test]
fn a_record_count_seal_whose_copy_fails_keeps_its_records_and_refuses_the_next() {
    let dir = TempDir::new();
    let witness = dir.0.join("w.jsonl");
    let configured = AuditOptions { witness: Some(witness.clone()), ..options() };
    let log = AuditLog::open(&dir.db(), key(), configured).unwrap();
    std::fs::remove_file(&witness).unwrap();
    std::fs::create_dir(&witness).unwrap();
    for n in 0..2 {
        // The second is seq 3 (after the witness declaration): it seals,
        // and is committed.
        log.append_blocking(event(n)).unwrap();
    }
    assert!(matches!(log.append_blocking(event(3)), Err(AuditError::Failed { .. })));
}

#[test]
fn a_default_witness_that_cannot_be_written_does_not_stop_the_log() {
    let dir = TempDir::new();
    std::fs::create_dir(dir.default_witness()).unwrap();
    let log = AuditLog::open(&dir.db(), key(), options()).unwrap();
    for n in 0..5 {
        log.append_blocking(event(n)).unwrap();
    }
    log.close().unwrap();
    assert_eq!(checkpoint_rows(&dir.db()).len(), 2);
    let declared = serde_json::json!({
        "path": dir.default_witness(), "required": false, "written": false,
    });
    assert_eq!(declarations(&dir.db()), [(1, None, declared)], "the log says it has no witness");
}

#[test]
fn the_log_declares_its_witness_once_and_again_when_it_changes() {
    let dir = TempDir::new();
    let elsewhere = dir.0.join("elsewhere.jsonl");
    let configured = AuditOptions { witness: Some(elsewhere.clone()), ..options() };
    for opts in [options(), options(), configured.clone(), configured] {
        let log = AuditLog::open(&dir.db(), key(), opts).unwrap();
        log.append_blocking(event(0)).unwrap();
        log.close().unwrap();
    }
    let default = serde_json::json!({
        "path": dir.default_witness(), "required": false, "written": true,
    });
    let configured = serde_json::json!({"path": elsewhere, "required": true, "written": true});
    assert_eq!(
        declarations(&dir.db()),
        [(1, None, default), (4, None, configured)],
        "first at the head of the log, then only when the witness changed"
    );
}

#[cfg(unix)]
#[test]
fn witness_lines_are_sent_to_the_syslog_socket() {
    use std::os::unix::net::UnixDatagram;
    let dir = TempDir::new();
    let socket_path = dir.0.join("log.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let with_syslog = AuditOptions { syslog: Some(socket_path), ..options() };
    let log = AuditLog::open(&dir.db(), key(), with_syslog).unwrap();
    log.append_blocking(event(0)).unwrap();
    log.close().unwrap();
    let mut buf = vec![0; 4096];
    let n = socket.recv(&mut buf).unwrap();
    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
    let prefix = format!("<13>warrant-audit[{}]: ", std::process::id());
    let line = message.strip_prefix(&prefix).unwrap_or_else(|| panic!("{message}"));
    assert_eq!(serde_json::from_str::<Value>(line).unwrap(), checkpoint_rows(&dir.db())[0]);
}
