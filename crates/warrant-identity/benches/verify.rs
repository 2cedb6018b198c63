//! Cost of checking an agent credential on every call:
//!
//! - verification of an operator's agent and of child agents (depth 1 and
//!   4), on a cache miss (signature checks and the Datalog run, which for a
//!   child includes reading and checking its delegation chain, the
//!   attenuation check) and on a cache hit (a SHA-256 and a map lookup);
//! - the revocation and kill check the gateway makes after verifying: every
//!   id of the chain against a set of 1,000 revoked agents (the same lookup
//!   as `Gateway::authenticate`);
//! - minting: `issue` and `delegate`.
//!
//! Run with `cargo bench -p warrant-identity --bench verify`. Prints median
//! and p99 per operation; asserts nothing about speed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};
use warrant_core::{AgentId, AgentName, UnixMillis};
use warrant_identity::{
    AgentToken, Claims, DelegateRequest, IssueRequest, RootKey, TrustDomain, Verifier, delegate,
    issue,
};

const NOW: UnixMillis = UnixMillis(1_800_000_000_000);
const N: usize = 1_000;

fn main() {
    let root = RootKey::generate();
    let domain = TrustDomain::parse("warrant.local").unwrap();
    let mint = || -> (Claims, AgentToken) {
        let req = IssueRequest {
            trust_domain: &domain,
            name: AgentName::parse("researcher").unwrap(),
            task: "summarise the inbox and draft replies".into(),
            spawned_by: "operator:alice".into(),
            ttl: Duration::from_secs(3600),
            now: NOW,
        };
        issue(&root, req).unwrap()
    };
    let child = |parent: &(Claims, AgentToken)| -> (Claims, AgentToken) {
        let req = DelegateRequest {
            trust_domain: &domain,
            name: AgentName::parse("helper").unwrap(),
            task: "read the notes".into(),
            ttl: Duration::from_secs(1800),
            tools: Some(["notes__read".to_owned(), "notes__search".to_owned()].into()),
            now: NOW,
            max_depth: 4,
        };
        delegate(&root, parent.1.expose_secret(), &parent.0, req).unwrap()
    };

    let mut roots = Vec::with_capacity(N);
    let issue_times = sample(N, || roots.push(mint()));
    report("issue (operator's agent)", &issue_times);
    let mut depth1 = Vec::with_capacity(N);
    let delegate_times = sample(N, || depth1.push(child(&roots[depth1.len()])));
    report("delegate (depth 1)", &delegate_times);
    let depth4: Vec<(Claims, AgentToken)> = depth1
        .iter()
        .take(N / 4)
        .map(|c| {
            let mut t = child(c);
            t = child(&t);
            child(&t)
        })
        .collect();
    println!(
        "token length: {} bytes (depth 0), {} (depth 1), {} (depth 4)",
        roots[0].1.expose_secret().len(),
        depth1[0].1.expose_secret().len(),
        depth4[0].1.expose_secret().len()
    );

    for (label, tokens) in
        [("depth 0", &roots[..]), ("depth 1", &depth1[..]), ("depth 4", &depth4[..])]
    {
        // Every token is new to this verifier: a miss, then an insert.
        let verifier = Verifier::new(root.public_key());
        let mut i = 0;
        let misses = sample(tokens.len(), || {
            black_box(verifier.verify(tokens[i].1.expose_secret(), NOW).unwrap());
            i += 1;
        });
        report(&format!("verify {label}, uncached"), &misses);
        // The same tokens again: all hits.
        let mut i = 0;
        let hits = sample(tokens.len() * 10, || {
            black_box(verifier.verify(tokens[i % tokens.len()].1.expose_secret(), NOW).unwrap());
            i += 1;
        });
        report(&format!("verify {label}, cached"), &hits);
    }

    // The gateway's check after verification: no agent of the chain revoked
    // or stopped. 1,000 revoked agents, none of them in this chain.
    let revoked: HashSet<AgentId> = (0..1_000).map(|_| AgentId::random()).collect();
    for (label, claims) in [("depth 0", &roots[0].0), ("depth 4", &depth4[0].0)] {
        let batch = 1_000;
        let times = sample(2_000, || {
            for _ in 0..batch {
                black_box(black_box(claims).chain_ids().find(|id| revoked.contains(id)));
            }
        });
        let per_check: Vec<Duration> = times.iter().map(|t| *t / batch).collect();
        report(&format!("revocation check {label}, 1,000 revoked"), &per_check);
    }
}

/// Times `n` runs of `op`, each on its own.
fn sample(n: usize, mut op: impl FnMut()) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let started = Instant::now();
            op();
            started.elapsed()
        })
        .collect()
}

fn report(what: &str, samples: &[Duration]) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{what:<40} median {:>9.3} µs   p99 {:>9.3} µs   (n = {})",
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        sorted.len()
    );
}
