//! Fixtures shared by the verifier's integration tests: a scratch directory
//! and logs written by the real writer.
#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use warrant_audit::{AuditEvent, AuditLog, AuditOptions, EventKind, redact_arguments};

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
pub fn event(n: u64) -> AuditEvent {
    let kind = EventKind::ALL[(n as usize) % EventKind::ALL.len()];
    let event = AuditEvent::new(kind)
        .with("n", n)
        .with("arguments", redact_arguments(&serde_json::json!({"path": format!("/f/{n}")})));
    if n.is_multiple_of(4) { event } else { event.agent(format!("agent-{}", n % 3)) }
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
