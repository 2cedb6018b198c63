//! Every MCP request is authenticated: adversarial tokens, DNS rebinding,
//! and one agent presenting another's session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::json;
use std::time::Duration;
use warrant_test_support::{
    Warrant, audit_records, client, initialize_body, mcp_headers, raw_post,
};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

fn home() -> Warrant {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    w
}

fn assert_refused(out: &serde_json::Value) {
    assert_eq!(out["ok"], false, "{out}");
    assert_eq!(out["http_status"], 401, "{out}");
}

#[test]
fn missing_garbage_and_forged_tokens_get_401_and_are_audited() {
    let w = home();
    let other = Warrant::new(BIN);
    let (_, forged) = other.spawn_agent("impostor", &[]);
    let gw = w.up();
    let list = json!([{"op": "list_tools"}]);
    assert_refused(&client(&gw.url, None, &list));
    assert_refused(&client(&gw.url, Some("not-a-token"), &list));
    assert_refused(&client(&gw.url, Some(&forged), &list));
    // A valid token with one character changed.
    let (_, good) = w.spawn_agent("real", &[]);
    let mut tampered = good.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    assert_refused(&client(&gw.url, Some(std::str::from_utf8(&tampered).unwrap()), &list));
    assert_eq!(client(&gw.url, Some(&good), &list)["ok"], true);

    let failures = audit_records(&w).into_iter().filter(|r| r["kind"] == "auth_failed").count();
    assert!(failures >= 4, "every refused request is audited, saw {failures}");
}

#[test]
fn an_expired_token_is_refused_even_after_it_was_cached() {
    let w = home();
    let gw = w.up();
    let spawned = std::time::Instant::now();
    let (_, token) = w.spawn_agent("brief", &["--ttl", "8s"]);
    let list = json!([{"op": "list_tools"}]);
    assert_eq!(client(&gw.url, Some(&token), &list)["ok"], true, "valid before expiry");
    std::thread::sleep(
        (spawned + Duration::from_millis(8300))
            .saturating_duration_since(std::time::Instant::now()),
    );
    let out = client(&gw.url, Some(&token), &list);
    assert_refused(&out);
    assert!(
        audit_records(&w).iter().any(|r| r["kind"] == "auth_failed"
            && r["body"]["reason"].as_str().unwrap().contains("expired"))
    );
}

#[test]
fn a_revoked_agent_is_refused_by_the_running_gateway() {
    let w = home();
    let (id, token) = w.spawn_agent("rogue", &[]);
    let gw = w.up();
    let list = json!([{"op": "list_tools"}]);
    assert_eq!(client(&gw.url, Some(&token), &list)["ok"], true);
    let revoked = w.run(&["agents", "revoke", &id]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    assert!(revoked.stdout.contains("refuses it now"), "{}", revoked.stdout);
    assert_refused(&client(&gw.url, Some(&token), &list));
    let agents = w.run(&["agents", "list", "--json"]).json();
    assert!(
        agents
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == id.as_str() && !a["revoked_at"].is_null())
    );
}

#[test]
fn revocation_holds_across_a_restart() {
    let w = home();
    let (id, token) = w.spawn_agent("rogue", &[]);
    assert_eq!(w.run(&["agents", "revoke", &id]).code, 0);
    let gw = w.up();
    assert_refused(&client(&gw.url, Some(&token), &json!([{"op": "list_tools"}])));
}

#[test]
fn foreign_host_and_origin_are_refused_against_dns_rebinding() {
    let w = home();
    let (_, token) = w.spawn_agent("a", &[]);
    let gw = w.up();
    let port = gw.url.split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
    let mut headers: Vec<(&str, String)> = mcp_headers(&token);
    headers.push(("Host", format!("attacker.example:{port}")));
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, _) = raw_post(&gw.url, &h, initialize_body().as_bytes());
    assert_eq!(status, 403);

    let mut headers: Vec<(&str, String)> = mcp_headers(&token);
    headers.push(("Origin", "http://attacker.example".to_owned()));
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, _) = raw_post(&gw.url, &h, initialize_body().as_bytes());
    assert_eq!(status, 403);

    // The same request from a proper local client succeeds.
    let headers = mcp_headers(&token);
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, _) = raw_post(&gw.url, &h, initialize_body().as_bytes());
    assert_eq!(status, 200);
}

#[test]
fn one_agent_cannot_use_another_agents_session() {
    let w = home();
    let (_, alice) = w.spawn_agent("alice", &[]);
    let (_, mallory) = w.spawn_agent("mallory", &[]);
    let gw = w.up();
    let headers = mcp_headers(&alice);
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, response_headers) = raw_post(&gw.url, &h, initialize_body().as_bytes());
    assert_eq!(status, 200);
    let session = response_headers
        .iter()
        .find(|(k, _)| k == "mcp-session-id")
        .map(|(_, v)| v.clone())
        .expect("a session id");

    let mut headers = mcp_headers(&mallory);
    headers.push(("Mcp-Session-Id", session));
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}).to_string();
    let (status, text, _) = raw_post(&gw.url, &h, body.as_bytes());
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("another agent"));
}

#[test]
fn a_flood_of_bad_credentials_is_throttled_without_flooding_the_log_or_locking_out_agents() {
    let w = home();
    let (_, good) = w.spawn_agent("real", &[]);
    let gw = w.up();
    let body = initialize_body();
    let mut statuses = Vec::new();
    for i in 0..40 {
        let bad = format!("Bearer garbage-{i}");
        let h = [
            ("Authorization", bad.as_str()),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ];
        statuses.push(raw_post(&gw.url, &h, body.as_bytes()).0);
    }
    assert!(statuses.iter().take(20).all(|s| *s == 401), "{statuses:?}");
    assert!(statuses.iter().skip(21).all(|s| *s == 429), "{statuses:?}");
    // A valid agent on the same (loopback) source is not locked out.
    let listed = client(&gw.url, Some(&good), &json!([{"op": "list_tools"}]));
    assert_eq!(listed["ok"], true, "{listed}");
    let failures = audit_records(&w).into_iter().filter(|r| r["kind"] == "auth_failed").count();
    assert!(failures <= 21, "the flood was audited in full: {failures} records");
}
