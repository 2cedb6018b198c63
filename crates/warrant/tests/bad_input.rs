//! Bad input gets a clear error, is audited, and the gateway keeps serving:
//! malformed JSON-RPC, oversized and deeply nested messages, invalid UTF-8,
//! a slow client, an upstream that hangs and one that crashes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::json;
use std::io::Write;
use std::time::Duration;
use warrant_test_support::{Warrant, audit_records, client, mcp_headers, raw_post};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

fn post(url: &str, token: &str, body: &[u8]) -> (u16, String) {
    let headers = mcp_headers(token);
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, text, _) = raw_post(url, &h, body);
    (status, text)
}

#[test]
fn malformed_oversized_nested_and_non_utf8_messages_are_refused_and_the_gateway_stays_up() {
    let w = Warrant::new(BIN);
    w.configure_gateway("max_message_bytes = 65536");
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (_, token) = w.spawn_agent("fuzzer", &[]);
    let gw = w.up();

    let (status, text) = post(&gw.url, &token, b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ");
    assert!((400..500).contains(&status), "malformed JSON: {status} {text}");
    let (status, _) = post(&gw.url, &token, b"[1, 2, 3]");
    assert!((400..500).contains(&status), "not a JSON-RPC message: {status}");
    let (status, _) = post(&gw.url, &token, &vec![b' '; 70_000]);
    assert_eq!(status, 413, "oversized");
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let (status, _) = post(&gw.url, &token, deep.as_bytes());
    assert!((400..500).contains(&status), "deep nesting: {status}");
    let (status, _) =
        post(&gw.url, &token, b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\xff\xfe\"}");
    assert!((400..500).contains(&status), "invalid UTF-8: {status}");

    // Deep arguments inside a valid call are refused by the gateway's bound.
    let mut nested = json!("leaf");
    for _ in 0..100 {
        nested = json!({"n": nested});
    }
    let out = client(
        &gw.url,
        Some(&token),
        &json!([{"op": "call", "tool": "risk__echo", "arguments": {"text": "x", "extra": nested}}, {"op": "call", "tool": "risk__add", "arguments": {"a": 1, "b": 1}}]),
    );
    let text = out["results"][0]["text"].as_str().unwrap_or_default().to_owned()
        + &out["results"][0]["error"].to_string();
    assert!(
        text.contains("deeper") || text.contains("depth") || text.contains("recursion"),
        "{out}"
    );
    assert_eq!(out["results"][1]["text"], "2", "the gateway still serves: {out}");
    let bad = audit_records(&w).into_iter().filter(|r| r["kind"] == "bad_request").count();
    assert!(bad >= 4, "refused requests are audited, saw {bad}");
}

#[test]
fn a_slow_client_is_cut_off_and_does_not_hold_up_others() {
    let w = Warrant::new(BIN);
    w.configure_gateway("request_timeout = \"1s\"");
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (_, token) = w.spawn_agent("a", &[]);
    let gw = w.up();
    let authority = gw.url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let mut slow = std::net::TcpStream::connect(&authority).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: 1000\r\n\r\n{{\"jsonrpc\""
    );
    slow.write_all(head.as_bytes()).unwrap();
    let out = client(
        &gw.url,
        Some(&token),
        &json!([{"op": "call", "tool": "risk__add", "arguments": {"a": 2, "b": 2}}]),
    );
    assert_eq!(out["results"][0]["text"], "4");
    let mut response = String::new();
    let _ = std::io::Read::read_to_string(&mut slow, &mut response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(audit_records(&w).iter().any(|r| r["kind"] == "bad_request"
        && r["body"]["reason"].as_str().is_some_and(|s| s.contains("not received within"))));
}

#[test]
fn a_hanging_upstream_times_out_cleanly_while_other_calls_proceed() {
    let w = Warrant::new(BIN);
    w.configure_gateway("call_timeout = \"2s\"");
    w.add_fixture_upstream("hang", "hang_server.py", "trusted = true");
    let (_, token) = w.spawn_agent("waiter", &[]);
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&token),
        &json!([{"op": "call_concurrently", "calls": [
            {"tool": "hang__hang", "arguments": {}},
            {"tool": "hang__quick", "arguments": {}}
        ]}]),
    );
    let results = &out["results"][0]["results"];
    assert!(results[0]["text"].as_str().unwrap().contains("did not answer within 2 s"), "{out}");
    assert_eq!(results[1]["text"], "quick");
    assert!(
        audit_records(&w)
            .iter()
            .any(|r| r["kind"] == "call_failed" && r["body"]["tool"] == "hang__hang")
    );
}

#[test]
fn a_crashing_upstream_fails_its_call_cleanly_and_is_restarted() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("crash", "crash_server.py", "trusted = true");
    let (_, token) = w.spawn_agent("crasher", &[]);
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&token),
        &json!([{"op": "call", "tool": "crash__crash", "arguments": {}}]),
    );
    let failed = &out["results"][0];
    let text =
        failed["text"].as_str().unwrap_or_default().to_owned() + &failed["error"].to_string();
    assert!(
        text.contains("crash") && (text.contains("unavailable") || text.contains("failed")),
        "{out}"
    );
    // The supervisor brings it back; the gateway never went away.
    let status = w.wait_upstreams_up();
    assert!(status["upstreams"][0]["restarts"].as_u64().unwrap() >= 1, "{status}");
    let out = client(
        &gw.url,
        Some(&token),
        &json!([{"op": "call", "tool": "crash__ok", "arguments": {}}]),
    );
    assert_eq!(out["results"][0]["text"], "ok", "{out}");
    assert!(
        audit_records(&w)
            .iter()
            .any(|r| r["kind"] == "upstream_state" && r["body"]["event"] == "down")
    );
    std::thread::sleep(Duration::from_millis(10));
}
