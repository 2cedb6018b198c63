//! Upstreams that attack the gateway through their tool definitions: remote
//! and file `$ref`s, catastrophic regexes, huge enums, and a listing nested
//! too deep to parse. The gateway fetches nothing, hangs on nothing, and keeps
//! serving the other upstreams.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::json;
use std::time::{Duration, Instant};
use warrant_test_support::{Warrant, client, upstream_tool_names};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

#[test]
fn hostile_schemas_are_refused_at_admission_and_their_tools_hidden() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream(
        "hostile",
        "hostile_schema_server.py",
        "trusted = true\nenv = { HOSTILE_SCHEMA_TOOLS = \"remote_ref,file_ref,catastrophic,huge_enum\" }",
    );
    let (_, token) = w.spawn_agent("victim", &[]);
    let gw = w.up();
    let evil = format!("{}!", "a".repeat(100_000));
    let out = client(
        &gw.url,
        Some(&token),
        &json!([
            {"op": "list_tools"},
            {"op": "call", "tool": "hostile__remote_ref", "arguments": {}},
            {"op": "call", "tool": "hostile__catastrophic", "arguments": {"s": evil}},
            {"op": "call", "tool": "hostile__catastrophic", "arguments": {"s": "aaaa"}}
        ]),
    );
    let visible = upstream_tool_names(&out["results"][0]);
    assert_eq!(
        visible,
        vec!["hostile__catastrophic".to_owned()],
        "only the compilable schema is offered"
    );
    let refused = out["results"][1]["text"].as_str().unwrap();
    assert!(refused.contains("cannot be called") && refused.contains("refused"), "{refused}");
    let no_match = out["results"][2]["text"].as_str().unwrap();
    assert!(no_match.contains("does not match"), "{no_match}");
    assert_eq!(out["results"][3]["text"], "ok");
    let status = w.run(&["status", "--json"]).json();
    let errors: Vec<&str> = status["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["schema_error"].as_str())
        .collect();
    assert_eq!(errors.len(), 3, "{status}");
}

#[test]
fn an_unparseable_tool_listing_takes_down_only_its_own_upstream() {
    let w = Warrant::new(BIN);
    w.configure_gateway("call_timeout = \"3s\"");
    w.add_fixture_upstream(
        "deep",
        "hostile_schema_server.py",
        "env = { HOSTILE_SCHEMA_TOOLS = \"deep\" }",
    );
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (_, token) = w.spawn_agent("victim", &[]);
    // `up` waits for every upstream; this one never comes up, so start by hand.
    let child = w
        .command(&["up", "--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let out = w.run(&["status", "--json"]);
        if out.code == 0 {
            let v = out.json();
            let ups = v["upstreams"].as_array().unwrap();
            let risk_up = ups.iter().any(|u| u["name"] == "risk" && u["state"] == "up");
            let deep_failed = ups.iter().any(|u| u["name"] == "deep" && !u["last_error"].is_null());
            if risk_up && deep_failed {
                break v;
            }
        }
        assert!(Instant::now() < deadline, "{}", out.stdout);
        std::thread::sleep(Duration::from_millis(100));
    };
    let gw = warrant_test_support::Running {
        child: Some(child),
        url: status["mcp_url"].as_str().unwrap().to_owned(),
        lines: std::sync::mpsc::channel().1,
    };
    assert_eq!(status["health"], "degraded");
    let out = client(
        &gw.url,
        Some(&token),
        &json!([{"op": "call", "tool": "risk__add", "arguments": {"a": 1, "b": 2}}]),
    );
    assert_eq!(out["results"][0]["text"], "3");
}

#[test]
fn a_tool_listing_that_never_ends_is_refused_not_gathered() {
    let w = Warrant::new(BIN);
    // Long enough that, without a bound on pages, the listing would still
    // be gathered when the test looks.
    w.configure_gateway("call_timeout = \"120s\"");
    w.add_fixture_upstream("endless", "endless_list_server.py", "");
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let child = w
        .command(&["up", "--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Stopped on drop, a failed assertion included.
    let _gw = warrant_test_support::Running {
        child: Some(child),
        url: String::new(),
        lines: std::sync::mpsc::channel().1,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let error = loop {
        let out = w.run(&["status", "--json"]);
        if out.code == 0 {
            let v = out.json();
            let endless = v["upstreams"]
                .as_array()
                .unwrap()
                .iter()
                .find(|u| u["name"] == "endless")
                .and_then(|u| u["last_error"].as_str().map(str::to_owned));
            if let Some(error) = endless {
                break error;
            }
        }
        assert!(Instant::now() < deadline, "the endless listing was never refused: {}", out.stdout);
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(error.contains("pages") || error.contains("tools"), "{error}");
    assert!(!error.contains("timed out"), "refused by its size, not by the clock: {error}");
}
