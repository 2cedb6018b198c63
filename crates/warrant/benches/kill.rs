//! How fast a kill takes effect: the time from `warrant kill AGENT`
//! returning to the gateway's first refusal of that agent, measured by a
//! request sent the moment the command returns. The same request by an
//! agent that is not killed is the baseline (one HTTP round trip through
//! authentication), measured in the same run.
//!
//! The real binaries: `warrant up` and the `warrant kill` / `warrant resume`
//! CLI, over the control socket. Prints median and p99; asserts nothing
//! about speed. Run with `cargo bench -p warrant --bench kill`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::{Duration, Instant};
use warrant_test_support::{Warrant, initialize_body, mcp_headers, raw_post};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");
const RUNS: usize = 100;
/// Refusals count towards the per-source limit on authentication failures
/// (20 in 10 s); spacing the runs keeps every refusal a plain 403.
const PACE: Duration = Duration::from_millis(550);

fn post(url: &str, token: &str) -> (u16, Duration) {
    let headers = mcp_headers(token);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = initialize_body();
    let started = Instant::now();
    let (status, _, _) = raw_post(url, &headers, body.as_bytes());
    (status, started.elapsed())
}

fn main() {
    let w = Warrant::new(BIN);
    let (id, token) = w.spawn_agent("runaway", &["--ttl", "2h"]);
    let (_, calm) = w.spawn_agent("calm", &["--ttl", "2h"]);
    let gw = w.up();

    let mut refused = Vec::with_capacity(RUNS);
    let mut baseline = Vec::with_capacity(RUNS);
    let mut kill_cmd = Vec::with_capacity(RUNS);
    let mut statuses = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let (status, took) = post(&gw.url, &calm);
        assert_eq!(status, 200);
        baseline.push(took);

        let started = Instant::now();
        assert_eq!(w.run(&["kill", &id]).code, 0);
        kill_cmd.push(started.elapsed());
        // From the moment the command returned.
        let (status, took) = post(&gw.url, &token);
        // 403: refused as stopped. 429: refused by the per-source limit on
        // authentication failures, which a stopped agent's requests count
        // towards (20 in 10 s) once the loop has refused it often enough.
        assert!(matches!(status, 403 | 429), "the first request after the kill got {status}");
        statuses.push(status);
        refused.push(took);
        assert_eq!(w.run(&["resume", &id]).code, 0);
        assert_eq!(post(&gw.url, &token).0, 200, "resume did not take effect");
        std::thread::sleep(PACE);
    }
    report("baseline: request by a live agent", &baseline);
    report("kill returned -> first refusal", &refused);
    report("`warrant kill` command, whole", &kill_cmd);
    let forbidden = statuses.iter().filter(|s| **s == 403).count();
    println!(
        "every one of {RUNS} first requests after `warrant kill` returned was refused: {forbidden} with 403 (stopped), {} with 429 (auth-failure limit)",
        RUNS - forbidden
    );
    drop(gw);
}

fn report(what: &str, samples: &[Duration]) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{what:<38} median {:>8.3} ms   p99 {:>8.3} ms   (n = {})",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        sorted.len()
    );
}
