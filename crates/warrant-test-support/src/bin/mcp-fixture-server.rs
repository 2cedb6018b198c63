//! `mcp-fixture-server [--stateless]`: serves `warrant_test_support::FixtureServer`
//! and prints `listening URL` on stdout; stops when stdin closes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

fn main() {
    let stateless = std::env::args().any(|a| a == "--stateless");
    let server = warrant_test_support::FixtureServer::start(stateless);
    println!("listening {}", server.url);
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}
