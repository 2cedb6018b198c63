//! The writer against a real SQLite file, read back with a raw connection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use ed25519_dalek::SigningKey;
use rusqlite::Connection;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use warrant_audit::{AuditError, AuditEvent, AuditLog, AuditOptions, EventKind};

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("warrant-audit-w-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // The log lives in `home/`, so its default witness (beside the home)
        // is inside this directory and removed with it.
        std::fs::create_dir_all(dir.join("home")).unwrap();
        Self(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("home").join("audit.db")
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
    AuditEvent::danger_untyped(EventKind::Decision, json!({"n": n}))
        .agent(format!("agent-{}", n % 3))
}

/// (seq, prev_hash, hash) of every record, in seq order.
fn chain(path: &Path) -> Vec<(u64, String, String)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn.prepare("SELECT seq, prev_hash, hash FROM records ORDER BY seq").unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn assert_contiguous_chain(rows: &[(u64, String, String)]) {
    let mut prev = "0".repeat(64);
    for (i, (seq, prev_hash, hash)) in rows.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "seq gap");
        assert_eq!(prev_hash, &prev, "chain break at {seq}");
        prev.clone_from(hash);
    }
}

fn checkpoints(path: &Path) -> Vec<(u64, String)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn.prepare("SELECT seq, head_hash FROM checkpoints ORDER BY id").unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn chain_continues_across_close_and_reopen() {
    let dir = TempDir::new();
    let log = AuditLog::open(&dir.db(), key(), AuditOptions::default()).unwrap();
    // Seq 1 is the witness declaration the first open writes.
    for n in 0..5 {
        assert_eq!(log.append_blocking(event(n)).unwrap().seq, n + 2);
    }
    log.close().unwrap();

    let log = AuditLog::open(&dir.db(), key(), AuditOptions::default()).unwrap();
    let sixth = log.append_blocking(event(5)).unwrap();
    assert_eq!(sixth.seq, 7, "the same witness is not declared again");
    log.close().unwrap();

    let rows = chain(&dir.db());
    assert_eq!(rows.len(), 7);
    assert_contiguous_chain(&rows);
    assert_eq!(rows[6].2, sixth.hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_are_group_committed_into_one_contiguous_chain() {
    let dir = TempDir::new();
    let options = AuditOptions { checkpoint_every_records: 0, ..AuditOptions::default() };
    let log = AuditLog::open(&dir.db(), key(), options).unwrap();
    let mut tasks = Vec::new();
    for task in 0..32u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..50 {
                seqs.push(log.append(event(task * 1000 + i)).await.unwrap().seq);
            }
            seqs
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        let seqs = task.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one task's appends are ordered");
        acked.extend(seqs);
    }
    acked.sort_unstable();
    // After the witness declaration at seq 1.
    assert_eq!(acked, (2..=1601).collect::<Vec<u64>>(), "every ack names a distinct seq");
    log.close().unwrap();
    let rows = chain(&dir.db());
    assert_eq!(rows.len(), 1601);
    assert_contiguous_chain(&rows);
}

#[test]
fn close_writes_a_final_checkpoint_of_the_head() {
    let dir = TempDir::new();
    let log = AuditLog::open(&dir.db(), key(), AuditOptions::default()).unwrap();
    for n in 0..3 {
        log.append_blocking(event(n)).unwrap();
    }
    let head = log.append_blocking(event(3)).unwrap();
    log.close().unwrap();
    assert_eq!(checkpoints(&dir.db()), vec![(5, head.hash)]);

    // Reopening and closing with nothing new seals nothing new.
    AuditLog::open(&dir.db(), key(), AuditOptions::default()).unwrap().close().unwrap();
    assert_eq!(checkpoints(&dir.db()).len(), 1);
}

#[test]
fn checkpoints_follow_the_record_count_and_explicit_requests() {
    let dir = TempDir::new();
    let options = AuditOptions { checkpoint_every_records: 10, ..AuditOptions::default() };
    let log = AuditLog::open(&dir.db(), key(), options).unwrap();
    // 24 events after the witness declaration: 25 records.
    for n in 0..24 {
        log.append_blocking(event(n)).unwrap();
    }
    let forced = log.checkpoint().unwrap().expect("records since the last checkpoint");
    assert_eq!(forced.seq, 25);
    assert_eq!(log.checkpoint().unwrap(), None, "nothing new to seal");
    log.close().unwrap();
    let seqs: Vec<u64> = checkpoints(&dir.db()).into_iter().map(|(seq, _)| seq).collect();
    assert_eq!(seqs, vec![10, 20, 25]);
}

#[test]
fn elapsed_time_triggers_a_checkpoint_only_when_there_are_new_records() {
    let dir = TempDir::new();
    let options =
        AuditOptions { checkpoint_every: Duration::from_millis(100), ..AuditOptions::default() };
    // The first open declares its witness, and close seals the declaration.
    AuditLog::open(&dir.db(), key(), options.clone()).unwrap().close().unwrap();
    assert_eq!(checkpoints(&dir.db()).len(), 1);
    let log = AuditLog::open(&dir.db(), key(), options).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(checkpoints(&dir.db()).len(), 1, "an idle log is not sealed");
    log.append_blocking(event(0)).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(checkpoints(&dir.db()).len(), 2);
    log.close().unwrap();
    assert_eq!(checkpoints(&dir.db()).len(), 2);
}

#[test]
fn dropping_every_handle_seals_the_log_in_the_background() {
    let dir = TempDir::new();
    let log = AuditLog::open(&dir.db(), key(), AuditOptions::default()).unwrap();
    let head = log.append_blocking(event(0)).unwrap();
    drop(log);
    for _ in 0..100 {
        if !checkpoints(&dir.db()).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(checkpoints(&dir.db()), vec![(2, head.hash)]);
}

#[tokio::test]
async fn append_after_close_fails_from_every_clone() {
    let dir = TempDir::new();
    let log = AuditLog::open(&dir.db(), key(), AuditOptions::default()).unwrap();
    let clone = log.clone();
    log.append(event(0)).await.unwrap();
    log.close().unwrap();
    assert!(matches!(clone.append(event(1)).await, Err(AuditError::Closed)));
    assert!(matches!(log.append_blocking(event(2)), Err(AuditError::Closed)));
    assert!(matches!(clone.checkpoint(), Err(AuditError::Closed)));
    log.close().unwrap();
    assert_eq!(chain(&dir.db()).len(), 2, "the witness declaration and the first event");
}

#[test]
fn a_database_of_another_format_is_refused() {
    let dir = TempDir::new();
    let conn = Connection::open(dir.db()).unwrap();
    conn.execute_batch(
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
         INSERT INTO meta VALUES ('format', 'warrant-audit/v9');",
    )
    .unwrap();
    drop(conn);
    let err = AuditLog::open(&dir.db(), key(), AuditOptions::default()).err().unwrap();
    assert!(matches!(&err, AuditError::UnknownFormat { found, .. } if found == "warrant-audit/v9"));
    assert!(err.to_string().contains("`warrant-audit/v9`"), "{err}");

    let other = dir.0.join("other.db");
    Connection::open(&other).unwrap().execute_batch("CREATE TABLE notes(x TEXT);").unwrap();
    let err = AuditLog::open(&other, key(), AuditOptions::default()).err().unwrap();
    assert!(matches!(err, AuditError::UnknownFormat { .. }), "{err}");
}

#[test]
fn a_log_sealed_by_another_key_is_refused() {
    let dir = TempDir::new();
    let log = AuditLog::open(&dir.db(), key(), AuditOptions::default()).unwrap();
    log.append_blocking(event(0)).unwrap();
    log.close().unwrap();
    let other = SigningKey::from_bytes(&[8; 32]);
    let err = AuditLog::open(&dir.db(), other, AuditOptions::default()).err().unwrap();
    assert!(matches!(err, AuditError::KeyMismatch { .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn the_database_is_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let log = AuditLog::open(&dir.db(), key(), AuditOptions::default()).unwrap();
    log.append_blocking(event(0)).unwrap();
    for name in ["audit.db", "audit.db-wal", "audit.db-shm"] {
        let mode = std::fs::metadata(dir.0.join("home").join(name)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name} has mode {mode:o}");
    }
    log.close().unwrap();
}

#[test]
fn a_failed_database_refuses_every_later_append() {
    let dir = TempDir::new();
    let log = AuditLog::open(&dir.db(), key(), AuditOptions::default()).unwrap();
    log.append_blocking(event(0)).unwrap();
    // The table vanishes behind the log's back: the next write fails and the
    // writer must stop accepting records.
    let conn = Connection::open(dir.db()).unwrap();
    conn.execute("ALTER TABLE records RENAME TO gone", []).unwrap();
    drop(conn);
    assert!(matches!(log.append_blocking(event(1)), Err(AuditError::Write { .. })));
    assert!(matches!(log.append_blocking(event(2)), Err(AuditError::Failed { .. })));
    assert!(matches!(log.checkpoint(), Err(AuditError::Failed { .. })));
    assert!(log.close().is_err());
}

#[test]
fn detail_is_stored_as_canonical_json() {
    let dir = TempDir::new();
    let log = AuditLog::open(&dir.db(), key(), AuditOptions::default()).unwrap();
    let detail = json!({"z": {"b": 1, "a": [true, null]}, "a": "x"});
    let event = AuditEvent::danger_untyped(EventKind::CallForwarded, detail);
    log.append_blocking(event).unwrap();
    log.close().unwrap();
    let conn = Connection::open(dir.db()).unwrap();
    let (kind, agent, body): (String, Option<String>, String) = conn
        .query_row("SELECT kind, agent, body FROM records WHERE seq = 2", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(kind, "call_forwarded");
    assert_eq!(agent, None);
    assert_eq!(body, r#"{"a":"x","z":{"a":[true,null],"b":1}}"#);
}

#[test]
fn a_typed_body_is_stored_under_its_kind_and_reads_back_as_it() {
    use warrant_audit_events::{AgentKilled, Event, GatewayStopped, StopReason};
    let dir = TempDir::new();
    let log = AuditLog::open(&dir.db(), key(), AuditOptions::default()).unwrap();
    let killed = AgentKilled {
        targets: vec!["a1".into()],
        by: "warrant:quarantine".into(),
        descendants: None,
        reason: Some("10 denials".into()),
    };
    log.append_body_blocking(Some("a1"), &killed).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let stopped = GatewayStopped { reason: StopReason::Signal };
    runtime.block_on(log.append_body(None, &stopped)).unwrap();
    log.close().unwrap();
    let conn = Connection::open(dir.db()).unwrap();
    let row = |seq: i64| -> (String, Option<String>, String) {
        conn.query_row("SELECT kind, agent, body FROM records WHERE seq = ?1", [seq], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
    };
    let (kind, agent, body) = row(2);
    assert_eq!((kind.as_str(), agent.as_deref()), ("agent_killed", Some("a1")));
    assert_eq!(body, r#"{"by":"warrant:quarantine","reason":"10 denials","targets":["a1"]}"#);
    assert_eq!(Event::parse(&kind, &body).unwrap(), Event::from(killed));
    let (kind, agent, body) = row(3);
    assert_eq!(
        (kind.as_str(), agent, body.as_str()),
        ("gateway_stopped", None, r#"{"reason":"signal"}"#)
    );
}

/// The `n` of every record that has one, in seq order.
fn ns(path: &Path) -> Vec<u64> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn.prepare("SELECT body FROM records ORDER BY seq").unwrap();
    let bodies: Vec<String> =
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    bodies
        .iter()
        .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["n"].as_u64())
        .collect()
}

#[test]
fn a_queued_record_keeps_its_place_and_close_writes_it() {
    let dir = TempDir::new();
    let options = AuditOptions { checkpoint_every_records: 0, ..AuditOptions::default() };
    let log = AuditLog::open(&dir.db(), key(), options).unwrap();
    // Alternating queued and waited-for appends: each queued record is in
    // the chain before the record appended after it.
    for n in 0..40 {
        if n % 2 == 0 {
            log.append_queued(event(n)).unwrap();
        } else {
            log.append_blocking(event(n)).unwrap();
        }
    }
    // The last is queued and nobody waits for it: close writes it.
    log.append_queued(event(40)).unwrap();
    log.close().unwrap();
    assert_eq!(ns(&dir.db()), (0..=40).collect::<Vec<u64>>());
    assert_contiguous_chain(&chain(&dir.db()));
    assert!(matches!(log.append_queued(event(41)), Err(AuditError::Closed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_records_among_concurrent_appends_are_all_written_in_each_callers_order() {
    let dir = TempDir::new();
    let options = AuditOptions { checkpoint_every_records: 0, ..AuditOptions::default() };
    let log = AuditLog::open(&dir.db(), key(), options).unwrap();
    let mut tasks = Vec::new();
    for task in 0..16u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                let event = event(task * 1000 + i);
                if i % 2 == 0 {
                    log.append(event).await.unwrap();
                } else {
                    log.append_queued(event).unwrap();
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    log.close().unwrap();
    let written = ns(&dir.db());
    assert_eq!(written.len(), 16 * 40, "every record, queued or not, is written");
    for task in 0..16u64 {
        let mine: Vec<u64> = written.iter().copied().filter(|n| n / 1000 == task).collect();
        assert_eq!(mine, (0..40).map(|i| task * 1000 + i).collect::<Vec<_>>());
    }
    assert_contiguous_chain(&chain(&dir.db()));
}

#[test]
fn a_queued_record_no_append_follows_is_written_by_the_writer_thread() {
    let dir = TempDir::new();
    let log = AuditLog::open(&dir.db(), key(), AuditOptions::default()).unwrap();
    log.append_blocking(event(0)).unwrap();
    log.append_queued(event(1)).unwrap();
    // Nothing else is appended and the log stays open: the record lingers
    // for a moment, then the writer thread writes it.
    let mut written = Vec::new();
    for _ in 0..100 {
        written = ns(&dir.db());
        if written.len() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(written, vec![0, 1]);
    assert_contiguous_chain(&chain(&dir.db()));
    log.close().unwrap();
}

#[test]
fn dropping_every_handle_writes_the_queued_records_before_the_seal() {
    let dir = TempDir::new();
    let options = AuditOptions { checkpoint_every_records: 0, ..AuditOptions::default() };
    let log = AuditLog::open(&dir.db(), key(), options).unwrap();
    for n in 0..5 {
        log.append_queued(event(n)).unwrap();
    }
    drop(log);
    for _ in 0..100 {
        if !checkpoints(&dir.db()).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(ns(&dir.db()), (0..5).collect::<Vec<u64>>());
    let rows = chain(&dir.db());
    assert_eq!(checkpoints(&dir.db()), vec![(6, rows[5].2.clone())], "the seal is of the last");
}
