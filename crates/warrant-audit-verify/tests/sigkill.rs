//! A record the writer acknowledged survives SIGKILL of the writing process
//! (`Durability::Process`), and the log left behind verifies.
//!
//! The test re-executes its own binary as the child: with `CHILD_ENV` set,
//! `child_appends_until_killed` appends from several tasks and prints
//! `ack <seq> <hash>` after each acknowledged append; the parent kills it
//! with SIGKILL after some acks and checks each acked record is on disk with
//! the hash it was acknowledged with (which covers its kind, agent and body).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{TempDir, event, public_key, signing_key};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use warrant_audit::{AuditLog, AuditOptions, Durability};
use warrant_audit_verify::{read_records, verify};

const CHILD_ENV: &str = "WARRANT_AUDIT_SIGKILL_CHILD_DB";

/// Acks to see before the kill.
const KILL_AFTER: usize = 300;

#[test]
fn acknowledged_records_survive_sigkill_and_the_log_verifies() {
    let dir = TempDir::new();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_appends_until_killed", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.db())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let started = Instant::now();
    while acked.len() < KILL_AFTER {
        assert!(started.elapsed() < Duration::from_secs(60), "child too slow");
        let line = lines.next().expect("child exited before the kill").unwrap();
        if let Some((seq, hash)) = parse_ack(&line) {
            acked.insert(seq, hash);
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    // Acks printed before the kill landed are still in the pipe.
    for line in lines {
        if let Some((seq, hash)) = parse_ack(&line.unwrap()) {
            acked.insert(seq, hash);
        }
    }
    child.wait().unwrap();

    let report = verify(&dir.db(), &public_key()).unwrap();
    let last_acked = *acked.keys().last().unwrap();
    assert!(report.records >= last_acked, "{report:?} lost acked seq {last_acked}");
    let records = read_records(&dir.db(), 0, usize::MAX).unwrap();
    let on_disk: BTreeMap<u64, String> = records.into_iter().map(|r| (r.seq, r.hash)).collect();
    for (seq, hash) in &acked {
        assert_eq!(on_disk.get(seq), Some(hash), "acked seq {seq} is not as written");
    }
}

fn parse_ack(line: &str) -> Option<(u64, String)> {
    let mut words = line.strip_prefix("ack ")?.split(' ');
    Some((words.next()?.parse().ok()?, words.next()?.to_owned()))
}

/// The child half; does nothing unless started by the test above.
#[test]
fn child_appends_until_killed() {
    let Some(db) = std::env::var_os(CHILD_ENV).map(PathBuf::from) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let options = AuditOptions {
            durability: Durability::Process,
            checkpoint_every_records: 100,
            ..AuditOptions::default()
        };
        let log = AuditLog::open(&db, signing_key(), options).unwrap();
        let mut tasks = Vec::new();
        for task in 0..4u64 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                // Bounded, in case the parent never kills us.
                for i in 0..50_000u64 {
                    let n = task * 1_000_000 + i;
                    let record = log.append(event(n)).await.unwrap();
                    println!("ack {} {}", record.seq, record.hash);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}
