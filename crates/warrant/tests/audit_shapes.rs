//! Every record the gateway writes on the paths an agent can take has its
//! kind's shape: a session that lists tools, makes an allowed call, a
//! denied one, one a person approves, one whose result carries a vault
//! secret (cut out) and one whose arguments carry it (blocked), then
//! `warrant audit verify`, which reads every body as its kind's type
//! (`warrant-audit-events`) and fails on any field a call site adds or
//! leaves out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::{Value, json};
use std::collections::BTreeSet;
use warrant_test_support::{Warrant, audit_records, client, fixture, python, wait_for_approval};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");
/// Made up for this test; shaped like nothing a rule knows, so only the
/// vault finds it.
const SECRET: &str = "wrnt-test-6f1c2a9e0b7d4e13a5c8f2d6";

fn call(tool: &str, arguments: Value) -> Value {
    json!({"op": "call", "tool": tool, "arguments": arguments})
}

#[test]
fn a_session_through_every_kind_of_call_leaves_a_log_that_verifies() {
    let w = Warrant::new(BIN);
    w.set_env("WARRANT_VAULT_PASSPHRASE", "correct horse battery staple");
    let added = w.run_with_input(
        &["vault", "add", "github", "--host", "api.github.com", "--env", "GITHUB_TOKEN"],
        &format!("{SECRET}\n"),
    );
    assert_eq!(added.code, 0, "{}", added.stderr);
    w.configure_gateway("quarantine_denials = 0");
    w.add_fixture_upstream("risk", "risk_server.py", "");
    w.configure(&format!(
        "[upstreams.gh]\ncommand = [{:?}, {:?}]\ncredentials = {{ GITHUB_TOKEN = \"github\" }}\n",
        python().display().to_string(),
        fixture("token_server.py").display().to_string(),
    ));
    std::fs::write(
        w.home().join("policy/no-email.cedar"),
        "@id(\"no-email\")\n@reason(\"email is off limits for agents\")\nforbid (principal, action == Action::\"call_tool\", resource == Tool::\"risk__send_email\");\n",
    )
    .unwrap();
    let (_, token) = w.spawn_agent("worker", &["--task", "check every record"]);
    let gw = w.up();

    let url = gw.url.clone();
    let bearer = token.clone();
    let session = std::thread::spawn(move || {
        client(
            &url,
            Some(&bearer),
            &json!([
                {"op": "list_tools"},
                call("risk__add", json!({"a": 2, "b": 3})),
                call("risk__send_email", json!({"to": "a@example.com", "body": "hi"})),
                call("risk__nope", json!({})),
                call("gh__leaky_whoami", json!({})),
                call("gh__echo", json!({"text": format!("here it is: {SECRET}")})),
                call("risk__write_note", json!({"name": "plan", "text": "ship it"})),
            ]),
        )
    });
    let id = wait_for_approval(&w, "risk__write_note");
    let approved = w.run(&["approve", &id, "--by", "alice"]);
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    let out = session.join().unwrap();
    let results = out["results"].as_array().unwrap_or_else(|| panic!("{out}"));
    // Allowed, denied, unknown, redacted, blocked, approved.
    let failed: Vec<bool> = results.iter().skip(1).map(|r| r["is_error"] == true).collect();
    assert_eq!(failed, [false, true, true, false, true, false], "{out}");
    drop(gw); // SIGTERM: the shutdown checkpoint seals everything

    let kinds: BTreeSet<String> =
        audit_records(&w).iter().map(|r| r["kind"].as_str().unwrap().to_owned()).collect();
    for kind in [
        "gateway_started",
        "upstream_state",
        "credential_use",
        "lease_started",
        "tools_listed",
        "decision",
        "call_result",
        "secret_redacted",
        "leak_blocked",
        "alarm",
        "approval_requested",
        "approval_resolved",
        "gateway_stopped",
    ] {
        assert!(kinds.contains(kind), "no `{kind}` record: {kinds:?}");
    }
    let verified = w.run(&["audit", "verify"]);
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
}
