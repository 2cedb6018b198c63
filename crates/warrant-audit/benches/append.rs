//! Durable appends per second, and append latency, with 1, 8 and 64
//! concurrent appenders, for both durability levels.
//!
//! Run with `cargo bench -p warrant-audit --bench append`. Prints figures;
//! it fails only if the log itself fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use ed25519_dalek::SigningKey;
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use warrant_audit::events::{Decision, Outcome};
use warrant_audit::{AuditEvent, AuditLog, AuditOptions, Durability, redact_arguments};

/// How long each configuration keeps appending.
const RUN_FOR: Duration = Duration::from_secs(3);

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = std::env::temp_dir().join(format!("warrant-audit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "{:<8} {:>10} {:>12} {:>12} {:>12} {:>10}",
        "mode", "appenders", "appends", "appends/s", "p50", "p99"
    );
    for durability in [Durability::Process, Durability::Power] {
        for appenders in [1usize, 8, 64] {
            let path = dir.join(format!("{durability:?}-{appenders}.db"));
            let (count, elapsed, mut latencies) =
                runtime.block_on(run(path, durability, appenders));
            latencies.sort_unstable();
            let rate = count as f64 / elapsed.as_secs_f64();
            println!(
                "{:<8} {:>10} {:>12} {:>12.0} {:>12?} {:>10?}",
                format!("{durability:?}"),
                appenders,
                count,
                rate,
                percentile(&latencies, 50),
                percentile(&latencies, 99),
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

async fn run(
    path: PathBuf,
    durability: Durability,
    appenders: usize,
) -> (usize, Duration, Vec<Duration>) {
    // The witness (a line per 1,000 records, as in production) is kept in
    // the bench's directory; syslog is left alone.
    let witness = path.with_extension("witness.jsonl");
    let options = AuditOptions {
        durability,
        witness: Some(witness),
        syslog: None,
        ..AuditOptions::default()
    };
    let log = AuditLog::open(&path, SigningKey::from_bytes(&[1; 32]), options).unwrap();
    let start = Instant::now();
    let deadline = start + RUN_FOR;
    let mut tasks = Vec::new();
    for task in 0..appenders {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let began = Instant::now();
                log.append(event(task, n)).await.unwrap();
                latencies.push(began.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = start.elapsed();
    log.close().unwrap();
    (latencies.len(), elapsed, latencies)
}

/// A decision record of typical size.
fn event(task: usize, n: u64) -> AuditEvent {
    let args = json!({"path": format!("/srv/project/file-{n}.txt"), "max_bytes": 4096});
    let decision = Decision {
        tool: "files__read_file".to_owned(),
        outcome: Outcome::Allow,
        rules: vec!["policy0".to_owned(), "policy3".to_owned()],
        reason: String::new(),
        arguments: redact_arguments(&args),
        custody: vec![
            "operator:alice".to_owned(),
            format!("spiffe://warrant.local/agent/worker/5d3c1a52-8a0b-4c1e-9f7a-{task:012}"),
        ],
        discovery: None,
        upstream: Some("files".to_owned()),
        fingerprint: Some(format!("{n:064x}")),
        task: Some("read the project".to_owned()),
        command: None,
    };
    AuditEvent::of(&decision).unwrap().agent(format!("5d3c1a52-8a0b-4c1e-9f7a-{task:012}"))
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() - 1) * p / 100]
}
