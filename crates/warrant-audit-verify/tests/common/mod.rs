//! Fixtures shared by the verifier's integration tests: a scratch directory
//! and logs written by the real writer.
#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use warrant_audit::{AuditEvent, AuditLog, AuditOptions, Event, EventKind};

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("warrant-audit-v-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // The log lives in `home/`, so its default witness (beside the home)
        // is inside this directory and removed with it.
        std::fs::create_dir_all(dir.join("home")).unwrap();
        Self(dir)
    }

    pub fn db(&self) -> PathBuf {
        self.0.join("home").join("audit.db")
    }

    /// The writer's default witness of [`db`](Self::db).
    pub fn witness(&self) -> PathBuf {
        self.0.join("home-witness.jsonl")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

pub fn public_key() -> [u8; 32] {
    signing_key().verifying_key().to_bytes()
}

/// The n-th test event: kinds and agents vary so that swaps are visible.
/// Its body is a well-formed one of its kind (the verifier checks shapes).
pub fn event(n: u64) -> AuditEvent {
    let kind = EventKind::ALL[(n as usize) % EventKind::ALL.len()];
    let event = AuditEvent::of_event(&Event::from_value(kind, sample_body(kind)).unwrap()).unwrap();
    if n.is_multiple_of(4) { event } else { event.agent(format!("agent-{}", n % 3)) }
}

/// The first body of `kind` among the shapes its call sites write, which
/// `warrant-audit-events` keeps (and tests its types against) as data.
pub fn sample_body(kind: EventKind) -> Value {
    static SAMPLES: OnceLock<Vec<Value>> = OnceLock::new();
    let samples = SAMPLES.get_or_init(|| {
        serde_json::from_str(include_str!("../../../warrant-audit-events/tests/records.json"))
            .unwrap()
    });
    let sample = samples.iter().find(|s| s["kind"] == kind.as_str()).unwrap();
    sample["body"].clone()
}

/// A closed log of 12 records, checkpointed every 5: the writer's witness
/// declaration at seq 1, then events 1 to 11 at seqs 2 to 12; checkpoints 1,
/// 2, 3 seal seqs 5, 10 and (on close) 12.
pub fn sealed_log() -> TempDir {
    let dir = TempDir::new();
    let options = AuditOptions { checkpoint_every_records: 5, ..AuditOptions::default() };
    let log = AuditLog::open(&dir.db(), signing_key(), options).unwrap();
    for n in 1..=11 {
        assert_eq!(log.append_blocking(event(n)).unwrap().seq, n + 1);
    }
    log.close().unwrap();
    dir
}

/// The record hash as the format doc defines it, computed by an attacker.
pub fn forge_hash(
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
    warrant_core::sha256_hex(warrant_core::canonical_json(&preimage).unwrap().as_bytes())
}

/// Appends a record at `seq` chained to the record before it, as anyone
/// who can write the file can, without the key. Its hash.
pub fn append_forged(conn: &rusqlite::Connection, seq: i64, kind: &str, body: &str) -> String {
    let prev: String =
        conn.query_row("SELECT hash FROM records WHERE seq = ?1", [seq - 1], |r| r.get(0)).unwrap();
    let ts = 1_700_000_000_000 + seq;
    let hash = forge_hash(seq, ts, kind, None, body, &prev);
    conn.execute(
        "INSERT INTO records VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?6)",
        rusqlite::params![seq, ts, kind, body, prev, hash],
    )
    .unwrap();
    hash
}

/// Recomputes every hash from record `from` on, then replaces every
/// checkpoint with one sealing the last record, signed with the audit key:
/// what whoever holds the key can do to rewrite history.
pub fn rechain_and_reseal(conn: &rusqlite::Connection, from: i64) {
    use ed25519_dalek::Signer;
    let mut prev: String = conn
        .query_row("SELECT hash FROM records WHERE seq = ?1", [from - 1], |r| r.get(0))
        .unwrap();
    let last: i64 = conn.query_row("SELECT max(seq) FROM records", [], |r| r.get(0)).unwrap();
    for seq in from..=last {
        let (ts, kind, agent, body): (i64, String, Option<String>, String) = conn
            .query_row("SELECT ts_ms, kind, agent, body FROM records WHERE seq = ?1", [seq], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        let hash = forge_hash(seq, ts, &kind, agent.as_deref(), &body, &prev);
        conn.execute(
            "UPDATE records SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            rusqlite::params![prev, hash, seq],
        )
        .unwrap();
        prev = hash;
    }
    let ts = 1_700_000_000_000i64;
    let message = format!("warrant-audit-checkpoint/v1\n{last}\n{prev}\n{ts}");
    conn.execute("DELETE FROM checkpoints", []).unwrap();
    conn.execute(
        "INSERT INTO checkpoints(seq, head_hash, ts_ms, public_key, signature)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            last,
            prev,
            ts,
            hex::encode(public_key()),
            hex::encode(signing_key().sign(message.as_bytes()).to_bytes())
        ],
    )
    .unwrap();
}
