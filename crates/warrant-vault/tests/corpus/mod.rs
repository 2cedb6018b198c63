//! A corpus of ordinary tool output that holds no credential, for measuring
//! false positives (tests/rules.rs) and throughput (benches/rules.rs).
//!
//! Small realistic samples are committed under `samples/`; most of the bulk
//! is generated here, deterministically, in the shapes that trouble secret
//! scanners: hex digests, base64 (integrity hashes, images, node ids),
//! UUIDs, minified code, YAML with `secretKeyRef`, API responses full of URLs.
//! A few of the vault crate's own source files are read at run time.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod generate;

use std::path::Path;

/// Named chunks of the corpus, about 2.5 MB in all.
pub fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut chunks = samples();
    chunks.extend(generate::all());
    chunks.extend(own_sources());
    chunks
}

fn samples() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/samples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "samples missing from {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let name = format!("samples/{}", path.file_name().unwrap().to_string_lossy());
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// This crate's own library sources (not its tests, which build fake tokens).
fn own_sources() -> Vec<(String, Vec<u8>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = format!("src/{}", path.file_name().unwrap().to_string_lossy());
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A small deterministic generator (xorshift64*), so the corpus is the same
/// on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() >> 33) as usize % n.max(1)
    }

    pub fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 56) as u8).collect()
    }

    pub fn hex(&mut self, n_bytes: usize) -> String {
        hex::encode(self.bytes(n_bytes))
    }

    pub fn chars(&mut self, alphabet: &str, n: usize) -> String {
        let alphabet = alphabet.as_bytes();
        (0..n).map(|_| alphabet[self.below(alphabet.len())] as char).collect()
    }

    pub fn uuid(&mut self) -> String {
        let h = self.hex(16);
        format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
    }
}
