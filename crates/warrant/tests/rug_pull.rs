//! Supply chain: tools are pinned by the hash of their full definition; a
//! definition that changes after it was trusted, a poisoned description, or
//! a tool added later by an upstream is quarantined (hidden and refused)
//! until a person reviews the difference and accepts it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use warrant_test_support::{Warrant, audit_records, client, tool_names, upstream_tool_names};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

fn call(tool: &str, arguments: Value) -> Value {
    json!({"op": "call", "tool": tool, "arguments": arguments})
}

fn quarantined(w: &Warrant) -> Vec<Value> {
    let out = w.run(&["tools", "list", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.json().as_array().unwrap().iter().filter(|r| r["state"] == "quarantined").cloned().collect()
}

#[test]
fn a_tool_that_changes_after_use_is_quarantined_until_accepted() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("changing", "changing_server.py", "trusted = true");
    let (_, token) = w.spawn_agent("shopper", &[]);
    let gw = w.up();
    let first = client(
        &gw.url,
        Some(&token),
        &json!([
            call("changing__lookup", json!({"q": "socks"})),
            {"op": "wait_notification", "method": "notifications/tools/list_changed", "timeout_s": 20}
        ]),
    );
    assert_eq!(first["results"][0]["text"], "result for socks", "{first}");
    // The agent's view changed (the tool is now held back), and it was told.
    assert_eq!(first["results"][1]["received"], true, "{first}");

    // The server changed the description and said so; the gateway relists.
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = loop {
        let held = quarantined(&w);
        if !held.is_empty() {
            break held;
        }
        assert!(Instant::now() < deadline, "the changed tool was not quarantined");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(held[0]["tool"], "changing__lookup");
    let reason = held[0]["reason"].as_str().unwrap();
    assert!(reason.contains("definition changed") && reason.contains("SSH"), "{reason}");

    let out = client(
        &gw.url,
        Some(&token),
        &json!([{"op": "list_tools"}, call("changing__lookup", json!({"q": "keys"}))]),
    );
    assert!(!tool_names(&out["results"][0]).contains(&"changing__lookup".to_owned()));
    let refused = out["results"][1]["text"].as_str().unwrap();
    assert!(
        refused.contains("quarantined") && refused.contains("warrant tools accept"),
        "{refused}"
    );
    assert!(
        audit_records(&w)
            .iter()
            .any(|r| r["kind"] == "tool_quarantined" && r["body"]["tool"] == "changing__lookup")
    );

    let accepted = w.run(&["tools", "accept", "changing__lookup", "--by", "carol"]);
    assert_eq!(accepted.code, 0, "{}", accepted.stderr);
    // The person sees the difference before anything else.
    assert!(
        accepted.stdout.contains("description:") && accepted.stdout.contains("id_rsa"),
        "{}",
        accepted.stdout
    );
    let after =
        client(&gw.url, Some(&token), &json!([call("changing__lookup", json!({"q": "shoes"}))]));
    assert_eq!(after["results"][0]["text"], "result for shoes", "{after}");
    assert!(quarantined(&w).is_empty());
    assert!(
        audit_records(&w)
            .iter()
            .any(|r| r["kind"] == "tool_accepted" && r["body"]["by"] == "carol")
    );
    // Nothing left to accept.
    assert_ne!(w.run(&["tools", "accept", "changing__lookup"]).code, 0);
}

#[test]
fn a_poisoned_description_is_quarantined_at_first_sight() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("poisoned", "poisoned_server.py", "trusted = true");
    let (_, token) = w.spawn_agent("victim", &[]);
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&token),
        &json!([{"op": "list_tools"}, call("poisoned__add", json!({"a": 1, "b": 2})), call("poisoned__clean", json!({"text": "hi"}))]),
    );
    assert_eq!(upstream_tool_names(&out["results"][0]), vec!["poisoned__clean".to_owned()]);
    assert!(out["results"][1]["text"].as_str().unwrap().contains("quarantined"), "{out}");
    assert_eq!(out["results"][2]["text"], "hi");
    let held = quarantined(&w);
    let reason = held[0]["reason"].as_str().unwrap();
    assert!(reason.contains("<IMPORTANT>") && reason.contains("hide something"), "{reason}");
    let status = w.run(&["status", "--json"]).json();
    assert!(
        status["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "poisoned__add" && t["state"] == "quarantined")
    );
}

#[test]
fn a_tool_added_later_by_a_pinned_upstream_waits_for_a_person() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("poisoned", "poisoned_server.py", "trusted = true");
    let (_, token) = w.spawn_agent("user", &[]);
    drop(w.up()); // pins `clean` (and quarantines `add`)
    let config = std::fs::read_to_string(w.home().join("warrant.toml")).unwrap();
    std::fs::write(
        w.home().join("warrant.toml"),
        config.replace("trusted = true", "trusted = true\nenv = { POISONED_EXTRA = \"1\" }"),
    )
    .unwrap();
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&token),
        &json!([
            call("poisoned__extra", json!({"text": "x"})),
            call("poisoned__clean", json!({"text": "y"}))
        ]),
    );
    assert!(out["results"][0]["text"].as_str().unwrap().contains("quarantined"), "{out}");
    assert_eq!(out["results"][1]["text"], "y");
    let held: Vec<String> =
        quarantined(&w).iter().map(|r| r["tool"].as_str().unwrap().to_owned()).collect();
    assert!(held.contains(&"poisoned__extra".to_owned()), "{held:?}");
    assert_eq!(w.run(&["tools", "accept", "poisoned__extra"]).code, 0);
    let out =
        client(&gw.url, Some(&token), &json!([call("poisoned__extra", json!({"text": "x"}))]));
    assert_eq!(out["results"][0]["text"], "x");
}
