//! The kill switch: `warrant kill` stops an agent's in-flight calls and
//! pending approvals at once, refuses its new requests, holds across a
//! restart, and is lifted only by `warrant resume`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::json;
use std::time::{Duration, Instant};
use warrant_test_support::{Warrant, audit_records, client, wait_for_approval, wait_for_decision};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

fn call(tool: &str) -> serde_json::Value {
    json!([{"op": "call", "tool": tool, "arguments": {}}])
}

#[test]
fn kill_cancels_an_in_flight_call_refuses_new_ones_and_holds_across_a_restart() {
    let w = Warrant::new(BIN);
    w.configure_gateway("call_timeout = \"60s\"");
    let marker = w.dir.path().join("cancelled");
    w.add_fixture_upstream(
        "hang",
        "hang_server.py",
        &format!(
            "trusted = true\nenv = {{ HANG_CANCELLED_MARKER = {:?} }}",
            marker.display().to_string()
        ),
    );
    let (id, token) = w.spawn_agent("runaway", &[]);
    let (_, bystander) = w.spawn_agent("bystander", &[]);
    let gw = w.up();
    let (url, t) = (gw.url.clone(), token.clone());
    let stuck = std::thread::spawn(move || client(&url, Some(&t), &call("hang__hang")));
    wait_for_decision(&w, "hang__hang");

    let started = Instant::now();
    let killed = w.run(&["kill", &id, "--by", "alice"]);
    assert_eq!(killed.code, 0, "{}", killed.stderr);
    assert!(killed.stdout.contains("refuses it now"), "{}", killed.stdout);
    let out = stuck.join().unwrap();
    // The hanging call ended because of the kill, long before its 60 s timeout.
    assert!(started.elapsed() < Duration::from_secs(20));
    let text = out["results"][0]["text"].as_str().unwrap();
    assert!(text.contains("stopped by the operator"), "{out}");
    // The upstream was told (MCP notifications/cancelled), not just abandoned.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the upstream never saw the cancellation");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "cancelled");

    let refused = client(&gw.url, Some(&token), &call("hang__quick"));
    assert_eq!(
        (refused["ok"].as_bool(), refused["http_status"].as_u64()),
        (Some(false), Some(403)),
        "{refused}"
    );
    assert_eq!(
        client(&gw.url, Some(&bystander), &call("hang__quick"))["results"][0]["text"],
        "quick"
    );

    // Still stopped after a restart, until resumed.
    drop(gw);
    let gw = w.up();
    assert_eq!(client(&gw.url, Some(&token), &call("hang__quick"))["http_status"], 403);
    let resumed = w.run(&["resume", "runaway"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(client(&gw.url, Some(&token), &call("hang__quick"))["results"][0]["text"], "quick");

    let records = audit_records(&w);
    assert!(records.iter().any(|r| r["kind"] == "agent_killed"
        && r["body"]["by"] == "alice"
        && r["body"]["targets"] == json!([id])));
    assert!(records.iter().any(|r| r["kind"] == "agent_resumed"));
    assert!(
        records.iter().any(|r| r["kind"] == "call_failed" && r["body"]["tool"] == "hang__hang")
    );
}

#[test]
fn kill_all_refuses_pending_approvals_and_every_agent() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (_, a) = w.spawn_agent("a", &[]);
    let (_, b) = w.spawn_agent("b", &[]);
    let gw = w.up();
    let (url, t) = (gw.url.clone(), a.clone());
    let waiting = std::thread::spawn(move || {
        client(
            &url,
            Some(&t),
            &json!([{"op": "call", "tool": "risk__delete_note", "arguments": {"name": "welcome"}}]),
        )
    });
    let approval = wait_for_approval(&w, "risk__delete_note");
    assert_eq!(w.run(&["kill", "--all"]).code, 0);
    let out = waiting.join().unwrap();
    assert!(
        out["results"][0]["text"].as_str().unwrap().contains("stopped by the operator"),
        "{out}"
    );
    // The request is gone: nobody can approve it any more.
    assert_ne!(w.run(&["approve", &approval]).code, 0);
    assert!(w.run(&["approvals", "--json"]).json().as_array().unwrap().is_empty());
    for token in [&a, &b] {
        assert_eq!(
            client(&gw.url, Some(token), &json!([{"op": "list_tools"}]))["http_status"],
            403
        );
    }
    assert_eq!(w.run(&["resume", "--all"]).code, 0);
    assert_eq!(client(&gw.url, Some(&b), &json!([{"op": "list_tools"}]))["ok"], true);
    // No call of the killed session ever reached the upstream.
    assert!(
        !audit_records(&w)
            .iter()
            .any(|r| r["kind"] == "call_result" && r["body"]["tool"] == "risk__delete_note")
    );
}

#[test]
fn kill_without_a_running_gateway_is_persisted_and_unknown_agents_are_refused() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (_, token) = w.spawn_agent("early", &[]);
    let out = w.run(&["kill", "early"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("holds when one starts"), "{}", out.stdout);
    let missing = w.run(&["kill", "nobody"]);
    assert_ne!(missing.code, 0);
    assert!(missing.stderr.contains("nobody"), "{}", missing.stderr);
    let gw = w.up();
    assert_eq!(client(&gw.url, Some(&token), &json!([{"op": "list_tools"}]))["http_status"], 403);
}

#[test]
fn a_burst_of_denials_quarantines_the_agent_until_a_person_resumes_it() {
    let w = Warrant::new(BIN);
    w.configure_gateway("quarantine_denials = 3\nquarantine_window = \"60s\"");
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (id, token) = w.spawn_agent("prober", &[]);
    let (_, calm) = w.spawn_agent("calm", &[]);
    let gw = w.up();
    let probes: Vec<_> = ["risk__nope", "risk__nada", "risk__zilch"]
        .iter()
        .map(|t| json!({"op": "call", "tool": t, "arguments": {}}))
        .collect();
    let out = client(&gw.url, Some(&token), &json!(probes));
    assert!(out["results"].as_array().unwrap().iter().all(|r| r["is_error"] == true), "{out}");
    let after = client(&gw.url, Some(&token), &json!([{"op": "list_tools"}]));
    assert_eq!(after["http_status"], 403, "{after}");
    assert_eq!(client(&gw.url, Some(&calm), &json!([{"op": "list_tools"}]))["ok"], true);

    let status = w.run(&["status", "--json"]).json();
    let alert = &status["alerts"][0];
    assert_eq!(alert["agent_id"], id.as_str());
    assert!(alert["reason"].as_str().unwrap().contains("3 denials"), "{status}");
    assert!(audit_records(&w).iter().any(|r| r["kind"] == "agent_killed"
        && r["body"]["by"] == "warrant:auto-quarantine"
        && r["agent"] == id.as_str()));

    // Persisted like an operator's kill: it survives a restart.
    drop(gw);
    let gw = w.up();
    assert_eq!(client(&gw.url, Some(&token), &json!([{"op": "list_tools"}]))["http_status"], 403);
    assert_eq!(w.run(&["resume", &id]).code, 0);
    assert_eq!(client(&gw.url, Some(&token), &json!([{"op": "list_tools"}]))["ok"], true);
}
