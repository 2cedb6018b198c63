//! Cost of verifying an agent credential: a cache miss (signature check and
//! Datalog run) against a cache hit (a SHA-256 and a map lookup).
//!
//! Run with `cargo bench -p warrant-identity --bench verify`. Prints figures;
//! asserts nothing about speed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};
use warrant_core::{AgentName, UnixMillis};
use warrant_identity::{AgentToken, IssueRequest, RootKey, TrustDomain, Verifier, issue};

const NOW: UnixMillis = UnixMillis(1_800_000_000_000);

fn main() {
    let root = RootKey::generate();
    let domain = TrustDomain::parse("warrant.local").unwrap();
    let mint = || -> AgentToken {
        let req = IssueRequest {
            trust_domain: &domain,
            name: AgentName::parse("researcher").unwrap(),
            task: "summarise the inbox and draft replies".into(),
            spawned_by: "operator:alice".into(),
            ttl: Duration::from_secs(3600),
            now: NOW,
        };
        issue(&root, req).unwrap().1
    };

    let n = 2_000;
    let started = Instant::now();
    let tokens: Vec<AgentToken> = (0..n).map(|_| mint()).collect();
    report("issue", started.elapsed(), n);
    println!("token length: {} bytes", tokens[0].expose_secret().len());

    // Every token is new to the verifier: a miss, then an insert.
    let verifier = Verifier::new(root.public_key());
    let started = Instant::now();
    for token in &tokens {
        black_box(verifier.verify(token.expose_secret(), NOW).unwrap());
    }
    report("verify, uncached", started.elapsed(), n);

    // The same tokens again: all hits.
    let started = Instant::now();
    for _ in 0..10 {
        for token in &tokens {
            black_box(verifier.verify(token.expose_secret(), NOW).unwrap());
        }
    }
    report("verify, cached", started.elapsed(), 10 * n);
}

fn report(what: &str, elapsed: Duration, n: usize) {
    let per_op = elapsed.as_secs_f64() * 1e6 / n as f64;
    println!("{what:<18} {per_op:>9.2} µs/op  ({n} ops in {elapsed:.2?})");
}
