//! Prints the built-in rule set's throughput next to the leak scanner's (10
//! and 1000 secrets), on the false-positive corpus and on a 4 KiB tool
//! argument. Run with `cargo bench -p warrant-vault --bench rules`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

#[path = "../tests/corpus/mod.rs"]
mod corpus;

use std::hint::black_box;
use std::time::{Duration, Instant};
use warrant_vault::SecretValue;
use warrant_vault::rules::RuleSet;
use warrant_vault::scan::LeakScanner;

const CORPUS_RUNS: usize = 30;
const ARGUMENT_RUNS: usize = 5000;

fn main() {
    let corpus: Vec<u8> = corpus::corpus().into_iter().flat_map(|(_, chunk)| chunk).collect();
    let argument = tool_argument(&corpus);
    println!(
        "inputs: corpus {:.2} MB, tool argument {} bytes",
        corpus.len() as f64 / 1e6,
        argument.len()
    );

    let start = Instant::now();
    let rules = RuleSet::builtin().unwrap();
    println!(
        "rule set: {} rules, built in {:.1} ms",
        rules.rule_ids().count(),
        ms(start.elapsed())
    );
    report("rules", &corpus, &argument, |input| rules.scan(input).len());

    for count in [10, 1000] {
        let values: Vec<SecretValue> = (0..count)
            .map(|i| SecretValue::from_string(format!("tok_{i:06}_{:016x}", mix(i as u64))))
            .collect();
        let names: Vec<String> = (0..count).map(|i| format!("cred{i}")).collect();
        let pairs: Vec<(&str, &SecretValue)> =
            names.iter().map(String::as_str).zip(&values).collect();
        let start = Instant::now();
        let scanner = LeakScanner::new(&pairs).unwrap();
        println!(
            "leak scanner: {count} secrets, {} patterns, built in {:.1} ms",
            scanner.pattern_count(),
            ms(start.elapsed())
        );
        report(&format!("leak scanner ({count})"), &corpus, &argument, |input| {
            scanner.scan(input).len()
        });
    }
}

/// Median and p99 throughput over repeated runs, on the corpus and on the
/// argument; p99 is the slow tail (the 99th-percentile time).
fn report(what: &str, corpus: &[u8], argument: &[u8], scan: impl Fn(&[u8]) -> usize) {
    for (input, runs, label) in
        [(corpus, CORPUS_RUNS, "corpus"), (argument, ARGUMENT_RUNS, "4 KiB argument")]
    {
        let mut findings = 0;
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                findings = black_box(scan(black_box(input)));
                start.elapsed()
            })
            .collect();
        times.sort();
        let median = times[times.len() / 2];
        let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
        let mbps = |d: Duration| input.len() as f64 / 1e6 / d.as_secs_f64();
        println!(
            "  {what:<20} {label:<15} median {:>8.0} MB/s ({:>9.1} µs)   p99 {:>8.0} MB/s ({:>9.1} µs)   {findings} findings, {runs} runs",
            mbps(median),
            us(median),
            mbps(p99),
            us(p99),
        );
    }
}

/// A typical tool argument: a JSON object asking to write a file, 4 KiB.
fn tool_argument(corpus: &[u8]) -> Vec<u8> {
    let source = String::from_utf8_lossy(&corpus[corpus.len() / 3..][..8192]).into_owned();
    let json = serde_json::json!({
        "path": "src/client/retry.rs",
        "content": source,
        "create_dirs": true,
    })
    .to_string();
    json.as_bytes()[..4096].to_vec()
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
