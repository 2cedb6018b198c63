//! The official MCP conformance suite against the real gateway's `/mcp`,
//! for the scenarios that need no fixture tools, with a baseline of expected
//! failures (tests/e2e/conformance-baseline.txt).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::process::Command;
use warrant_test_support::{Warrant, node, repo_root};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

#[test]
fn conformance_scenarios_match_the_baseline() {
    let _ = node();
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (_, token) = w.spawn_agent("conformance", &[]);
    let gw = w.up();
    let out = Command::new("bash")
        .arg(repo_root().join("tests/e2e/conformance.sh"))
        .arg(&gw.url)
        .arg(&token)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}\n{stderr}");
    assert!(out.status.success(), "conformance differs from the baseline:\n{stdout}\n{stderr}");
}
