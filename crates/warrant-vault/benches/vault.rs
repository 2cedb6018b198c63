//! Prints unlock time, scan throughput (one buffer with and without the
//! disguise pass, and streamed through the response mask, which looks for
//! exact forms only) and per-call scan latency.
//! Run with `cargo bench -p warrant-vault --bench vault`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::{Duration, Instant};
use warrant_vault::scan::{LeakScanner, StreamRedactor};
use warrant_vault::{Binding, CredentialName, KdfParams, SecretValue, Vault};

fn main() {
    unlock_time();
    for count in [10, 1000] {
        scan_figures(count);
    }
}

fn unlock_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.db");
    let pass = SecretValue::from_string("correct horse battery staple".to_owned());
    let vault = Vault::create(&path, &pass, KdfParams::recommended()).unwrap();
    let value = SecretValue::from_string("ghp_benchmarkvalue".to_owned());
    vault.add(&CredentialName::new("github").unwrap(), &value, Binding::default()).unwrap();
    drop(vault);
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let vault = Vault::unlock(&path, &pass).unwrap();
            let elapsed = start.elapsed();
            drop(vault);
            elapsed
        })
        .collect();
    times.sort();
    println!(
        "unlock (Argon2id m=64 MiB t=3 p=1): median {:.1} ms over {} runs (min {:.1}, max {:.1})",
        ms(times[times.len() / 2]),
        times.len(),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
}

fn scan_figures(count: usize) {
    let values: Vec<SecretValue> = (0..count)
        .map(|i| SecretValue::from_string(format!("tok_{i:06}_{:016x}", mix(i as u64))))
        .collect();
    let names: Vec<String> = (0..count).map(|i| format!("cred{i}")).collect();
    let pairs: Vec<(&str, &SecretValue)> = names.iter().map(String::as_str).zip(&values).collect();
    let start = Instant::now();
    let scanner = LeakScanner::new(&pairs).unwrap();
    println!(
        "scanner over {count} secrets: {} patterns, built in {:.1} ms",
        scanner.pattern_count(),
        ms(start.elapsed())
    );

    let text = random_text(10 * 1024 * 1024);
    let mut best = Duration::MAX;
    let mut findings = 0;
    for _ in 0..3 {
        let start = Instant::now();
        findings = scanner.scan(&text).len();
        best = best.min(start.elapsed());
    }
    println!(
        "  throughput: {:.0} MB/s over 10 MiB of text (best of 3, {findings} findings)",
        text.len() as f64 / 1e6 / best.as_secs_f64()
    );
    // The exact forms alone, without the disguise pass that `scan` adds.
    let mut best_exact = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        std::hint::black_box(scanner.scan_exact(&text));
        best_exact = best_exact.min(start.elapsed());
    }
    println!(
        "  exact forms only: {:.0} MB/s (best of 3; the disguise pass is {:.0}% of the scan's time)",
        text.len() as f64 / 1e6 / best_exact.as_secs_f64(),
        100.0 * (1.0 - best_exact.as_secs_f64() / best.as_secs_f64())
    );

    // A response body streamed through the mask in 16 KiB chunks, as the
    // egress proxy passes it on; against the one-buffer scan above.
    let mut best_stream = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let mut stream = StreamRedactor::new();
        let mut out = Vec::with_capacity(text.len());
        for chunk in text.chunks(16 * 1024) {
            stream.push(&scanner, chunk, &mut out);
        }
        stream.finish(&scanner, &mut out);
        std::hint::black_box(&out);
        best_stream = best_stream.min(start.elapsed());
    }
    println!(
        "  streaming mask, 16 KiB chunks: {:.0} MB/s (best of 3; {:.2}x the one-buffer scan's time; holds back {} bytes)",
        text.len() as f64 / 1e6 / best_stream.as_secs_f64(),
        best_stream.as_secs_f64() / best.as_secs_f64(),
        scanner.longest_form().saturating_sub(1)
    );

    let blob = &text[..4096];
    let mut latencies: Vec<Duration> = (0..2000)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(scanner.scan(std::hint::black_box(blob)));
            start.elapsed()
        })
        .collect();
    latencies.sort();
    println!(
        "  4 KiB argument blob: median {:.1} µs, p99 {:.1} µs over {} calls",
        us(latencies[latencies.len() / 2]),
        us(latencies[latencies.len() * 99 / 100]),
        latencies.len()
    );
}

/// Word-like ASCII text: JSON-ish tool arguments, not uniform noise.
fn random_text(len: usize) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "the",
        "path",
        "\"file\":",
        "src/main.rs",
        "token",
        "tok_",
        "0x1f",
        "base64==",
        "{\"arg\": 42}",
        "lorem",
        "ipsum",
        "\n",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    while out.len() < len {
        state = mix(state);
        out.extend_from_slice(WORDS[(state % WORDS.len() as u64) as usize].as_bytes());
        out.push(b' ');
    }
    out.truncate(len);
    out
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
