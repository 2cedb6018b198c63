//! The choke point end to end: the real binary, a real MCP client (the
//! official Python SDK) and a real stdio upstream, through allow, deny, ask,
//! validation and the audit log.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::{Value, json};
use std::time::Duration;
use warrant_test_support::{Warrant, audit_records, client, tool_names, wait_for_approval};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

fn risk_home(extra_config: &str) -> Warrant {
    let w = Warrant::new(BIN);
    if !extra_config.is_empty() {
        w.configure(extra_config);
    }
    w.add_fixture_upstream("risk", "risk_server.py", "");
    w
}

fn call(tool: &str, arguments: Value) -> Value {
    json!({"op": "call", "tool": tool, "arguments": arguments})
}

#[test]
fn allowed_call_reaches_the_upstream_and_is_audited_before_and_after() {
    let w = risk_home("");
    let (agent, token) = w.spawn_agent("reader", &["--task", "sum numbers"]);
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&token),
        &json!([{"op": "list_tools"}, call("risk__add", json!({"a": 2, "b": 3}))]),
    );
    assert_eq!(out["ok"], true, "{out}");
    let names = tool_names(&out["results"][0]);
    assert!(
        names.contains(&"risk__add".to_owned()) && names.contains(&"risk__delete_note".to_owned()),
        "{names:?}"
    );
    let result = &out["results"][1];
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(result["text"], "5");

    let records = audit_records(&w);
    let decision = records
        .iter()
        .position(|r| r["kind"] == "decision" && r["body"]["tool"] == "risk__add")
        .unwrap();
    let result_at = records
        .iter()
        .position(|r| r["kind"] == "call_result" && r["body"]["tool"] == "risk__add")
        .unwrap();
    assert!(decision < result_at, "the decision is recorded before the result");
    let d = &records[decision];
    assert_eq!(d["agent"], agent.as_str());
    assert_eq!(d["body"]["outcome"], "allow");
    assert_eq!(d["body"]["rules"], json!(["allow-known-tools"]));
    assert_eq!(d["body"]["task"], "sum numbers");
    // Argument values are redacted to shape and hash by default.
    assert_eq!(d["body"]["arguments"]["shape"], json!({"a": "number", "b": "number"}));
    assert!(!d["body"].to_string().contains("\"a\":2"));
}

#[test]
fn denied_call_names_its_rule_and_reason_and_the_tool_is_hidden() {
    let w = risk_home("");
    std::fs::write(
        w.home().join("policy/no-email.cedar"),
        "@id(\"no-email\")\n@reason(\"email is off limits for agents\")\nforbid (principal, action == Action::\"call_tool\", resource == Tool::\"risk__send_email\");\n",
    )
    .unwrap();
    let (_, token) = w.spawn_agent("mailer", &[]);
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&token),
        &json!([{"op": "list_tools"}, call("risk__send_email", json!({"to": "a@example.com", "body": "hi"}))]),
    );
    assert!(!tool_names(&out["results"][0]).contains(&"risk__send_email".to_owned()));
    let denied = &out["results"][1];
    assert_eq!(denied["is_error"], true);
    let text = denied["text"].as_str().unwrap();
    assert!(text.contains("no-email") && text.contains("email is off limits for agents"), "{text}");
    let records = audit_records(&w);
    assert!(records.iter().any(|r| r["kind"] == "decision"
        && r["body"]["outcome"] == "deny"
        && r["body"]["rules"] == json!(["no-email"])));
    assert!(
        !records
            .iter()
            .any(|r| r["kind"] == "call_result" && r["body"]["tool"] == "risk__send_email"),
        "a denied call is never forwarded"
    );
}

#[test]
fn approval_gated_call_waits_and_gets_the_real_result_once() {
    let w = risk_home("");
    let (_, token) = w.spawn_agent("writer", &[]);
    let gw = w.up();
    let url = gw.url.clone();
    let t = token.clone();
    let caller = std::thread::spawn(move || {
        client(
            &url,
            Some(&t),
            &json!([
                call("risk__write_note", json!({"name": "plan", "text": "ship it"})),
                call("risk__read_note", json!({"name": "plan"}))
            ]),
        )
    });
    let id = wait_for_approval(&w, "risk__write_note");
    let approved = w.run(&["approve", &id, "--by", "alice"]);
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    let out = caller.join().unwrap();
    assert_eq!(out["results"][0]["is_error"], false, "{out}");
    assert_eq!(out["results"][0]["text"], "wrote note plan");
    assert_eq!(out["results"][1]["text"], "ship it");
    // One-shot: the approval is gone.
    let again = w.run(&["approve", &id]);
    assert_ne!(again.code, 0);
    assert!(again.stderr.contains("no pending approval"), "{}", again.stderr);
    let records = audit_records(&w);
    assert!(records.iter().any(|r| r["kind"] == "approval_resolved"
        && r["body"]["outcome"] == "approved"
        && r["body"]["by"] == "alice"));
}

#[test]
fn a_person_can_deny_and_silence_denies_after_the_timeout() {
    let w = risk_home("");
    let config = std::fs::read_to_string(w.home().join("warrant.toml")).unwrap();
    std::fs::write(
        w.home().join("warrant.toml"),
        config.replace("approval_timeout = \"120s\"", "approval_timeout = \"2s\""),
    )
    .unwrap();
    let (_, token) = w.spawn_agent("deleter", &[]);
    let gw = w.up();
    let (url, t) = (gw.url.clone(), token.clone());
    let caller = std::thread::spawn(move || {
        client(&url, Some(&t), &json!([call("risk__delete_note", json!({"name": "welcome"}))]))
    });
    let id = wait_for_approval(&w, "risk__delete_note");
    assert_eq!(w.run(&["deny", &id, "--by", "bob"]).code, 0);
    let out = caller.join().unwrap();
    let text = out["results"][0]["text"].as_str().unwrap();
    assert!(text.contains("denied") && text.contains("bob"), "{text}");

    let timed = client(
        &gw.url,
        Some(&token),
        &json!([call("risk__delete_note", json!({"name": "welcome"}))]),
    );
    let text = timed["results"][0]["text"].as_str().unwrap();
    assert!(text.contains("no one approved this call within 2 s"), "{text}");
    let records = audit_records(&w);
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "approval_resolved" && r["body"]["outcome"] == "timed_out")
    );
    assert!(
        !records
            .iter()
            .any(|r| r["kind"] == "call_result" && r["body"]["tool"] == "risk__delete_note")
    );
}

#[test]
fn an_approval_covers_only_the_exact_call_it_was_asked_for() {
    let w = risk_home("");
    let config = std::fs::read_to_string(w.home().join("warrant.toml")).unwrap();
    std::fs::write(
        w.home().join("warrant.toml"),
        config.replace("approval_timeout = \"120s\"", "approval_timeout = \"8s\""),
    )
    .unwrap();
    let (_, token) = w.spawn_agent("writer", &[]);
    let gw = w.up();
    let (url, t) = (gw.url.clone(), token.clone());
    let first = std::thread::spawn(move || {
        client(
            &url,
            Some(&t),
            &json!([call("risk__write_note", json!({"name": "a", "text": "harmless"}))]),
        )
    });
    let id = wait_for_approval(&w, "risk__write_note");
    // Same tool, changed arguments: a different call, with its own request.
    let (url, t) = (gw.url.clone(), token.clone());
    let second = std::thread::spawn(move || {
        client(
            &url,
            Some(&t),
            &json!([call("risk__write_note", json!({"name": "a", "text": "evil"}))]),
        )
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let pending = loop {
        let pending = w.run(&["approvals", "--json"]).json();
        if pending.as_array().unwrap().len() == 2 || std::time::Instant::now() > deadline {
            break pending;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let fingerprints: Vec<&str> =
        pending.as_array().unwrap().iter().map(|p| p["fingerprint"].as_str().unwrap()).collect();
    assert_eq!(fingerprints.len(), 2);
    assert_ne!(fingerprints[0], fingerprints[1]);
    assert_eq!(w.run(&["approve", &id]).code, 0);
    let a = first.join().unwrap();
    let b = second.join().unwrap();
    assert_eq!(a["results"][0]["text"], "wrote note a");
    assert!(b["results"][0]["text"].as_str().unwrap().contains("no one approved"), "{b}");
    let read =
        client(&gw.url, Some(&token), &json!([call("risk__read_note", json!({"name": "a"}))]));
    assert_eq!(read["results"][0]["text"], "harmless");
}

#[test]
fn arguments_are_validated_against_the_schema_before_policy() {
    let w = risk_home("");
    let (_, token) = w.spawn_agent("adder", &[]);
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&token),
        &json!([
            call("risk__add", json!({"a": 1, "b": "two"})),
            call("risk__add", json!({"a": 1})),
            call("risk__nope", json!({})),
            call("nonsense", json!({}))
        ]),
    );
    let texts: Vec<&str> =
        out["results"].as_array().unwrap().iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert!(texts[0].contains("invalid-arguments") && texts[0].contains("/b"), "{}", texts[0]);
    assert!(
        texts[1].contains("invalid-arguments") && texts[1].contains("required"),
        "{}",
        texts[1]
    );
    assert!(texts[2].contains("unknown-tool"), "{}", texts[2]);
    assert!(texts[3].contains("unknown-tool"), "{}", texts[3]);
    let records = audit_records(&w);
    let denials = records
        .iter()
        .filter(|r| r["kind"] == "decision" && r["body"]["outcome"] == "deny")
        .count();
    assert_eq!(denials, 4);
    assert!(!records.iter().any(|r| r["kind"] == "call_result"));
}

/// An approver sees what they approve: every argument's value (not its
/// shape), the tool's own description and the rule's reason, made safe for
/// the terminal; credentials masked. The audit log keeps its redaction.
#[test]
fn an_approver_sees_the_values_of_what_they_approve_and_the_log_keeps_them_redacted() {
    let w = risk_home("");
    let config = std::fs::read_to_string(w.home().join("warrant.toml")).unwrap();
    let config = config.replace("well_known = \"block\"", "well_known = \"redact\"");
    std::fs::write(w.home().join("warrant.toml"), config).unwrap();
    let (_, token) = w.spawn_agent("payer", &[]);
    let gw = w.up();
    let credential = format!("ghp_{}", "a1B2c3D4e5".repeat(4).get(..36).unwrap());
    let text = format!("pay DE89370400440532013000 now \u{1b}[2J\u{202e}gnp.exe {credential}");
    let (url, t, args) = (gw.url.clone(), token.clone(), json!({"name": "payee", "text": text}));
    let caller = std::thread::spawn(move || {
        client(&url, Some(&t), &json!([call("risk__write_note", args)]))
    });
    let pending = warrant_test_support::wait_for_pending(&w, "risk__write_note");
    let shown = pending["arguments"]["text"].as_str().unwrap();
    assert!(shown.contains("DE89370400440532013000"), "the value itself: {pending}");
    assert!(!shown.contains(&credential), "a credential is masked: {pending}");
    assert!(!pending["description"].as_str().unwrap().is_empty(), "{pending}");

    let listed = w.run(&["approvals"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains("text: \"pay DE89370400440532013000 now"), "{}", listed.stdout);
    assert!(listed.stdout.contains("name: \"payee\""), "{}", listed.stdout);
    assert!(listed.stdout.contains("tool says: "), "{}", listed.stdout);
    assert!(listed.stdout.contains("\\u{001b}[2J\\u{202e}gnp.exe"), "{}", listed.stdout);
    assert!(!listed.stdout.contains('\u{1b}') && !listed.stdout.contains('\u{202e}'));
    assert!(!listed.stdout.contains(&credential), "{}", listed.stdout);

    let id = pending["id"].as_str().unwrap();
    assert_eq!(w.run(&["deny", id]).code, 0);
    caller.join().unwrap();
    let log = serde_json::to_string(&audit_records(&w)).unwrap();
    assert!(!log.contains("DE89370400440532013000"), "the log keeps argument values redacted");
}
