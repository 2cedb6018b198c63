//! Discovery mode → suggest → enforce: a new user goes from "it blocks
//! everything" to a tight policy without switching security off for good.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::{Value, json};
use warrant_test_support::{Warrant, audit_records, client};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

fn call(tool: &str, arguments: Value) -> Value {
    json!({"op": "call", "tool": tool, "arguments": arguments})
}

fn texts(out: &Value) -> Vec<String> {
    out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn observed_calls_become_a_policy_that_allows_exactly_them() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    std::fs::write(
        w.home().join("policy/no-email.cedar"),
        "@id(\"no-email\")\nforbid (principal, action == Action::\"call_tool\", resource == Tool::\"risk__send_email\");\n",
    )
    .unwrap();
    let (_, token) = w.spawn_agent("learner", &[]);
    let observed = json!([
        call("risk__add", json!({"a": 1, "b": 2})),
        call("risk__write_note", json!({"name": "plan", "text": "ship \"it\""})),
        call("risk__send_email", json!({"to": "team@example.com", "body": "done"}))
    ]);

    let gw = w.up_with(&["--discover"]);
    assert_eq!(w.run(&["status", "--json"]).json()["discover"], true);
    let out = client(&gw.url, Some(&token), &observed);
    // Nothing waited for a person and nothing was refused: discovery.
    assert_eq!(
        texts(&out),
        vec!["3", "wrote note plan", "sent email to team@example.com (4 chars)"],
        "{out}"
    );
    drop(gw);
    let records = audit_records(&w);
    let would = |what: &str, tool: &str| {
        records.iter().any(|r| {
            r["kind"] == "decision" && r["body"]["discovery"] == what && r["body"]["tool"] == tool
        })
    };
    assert!(
        would("would ask", "risk__write_note")
            && would("would deny", "risk__send_email")
            && would("allow", "risk__add")
    );

    let suggested = w.run(&["policy", "suggest", "--agent", "learner"]);
    assert_eq!(suggested.code, 0, "{}", suggested.stderr);
    std::fs::remove_file(w.home().join("policy/default.cedar")).unwrap();
    std::fs::remove_file(w.home().join("policy/no-email.cedar")).unwrap();
    std::fs::write(w.home().join("policy/suggested.cedar"), &suggested.stdout).unwrap();
    let check = w.run(&["policy", "check"]);
    assert_eq!(check.code, 0, "{}\n{}", check.stderr, suggested.stdout);

    // Enforcing: exactly the observed calls go through, without asking.
    let gw = w.up();
    let again = client(&gw.url, Some(&token), &observed);
    assert_eq!(
        texts(&again),
        vec!["3", "wrote note plan", "sent email to team@example.com (4 chars)"],
        "{again}"
    );
    let new = client(
        &gw.url,
        Some(&token),
        &json!([
            call("risk__write_note", json!({"name": "plan", "text": "something else"})),
            call("risk__add", json!({"a": 5, "b": 5})),
            call("risk__delete_note", json!({"name": "plan"}))
        ]),
    );
    for text in texts(&new) {
        assert!(text.contains("denied"), "{new}");
    }
    // The policy is per agent.
    let (_, other) = w.spawn_agent("someone-else", &[]);
    let theirs =
        client(&gw.url, Some(&other), &json!([call("risk__add", json!({"a": 1, "b": 2}))]));
    assert!(texts(&theirs)[0].contains("denied"), "{theirs}");
}

#[test]
fn suggest_without_observations_says_what_to_do() {
    let w = Warrant::new(BIN);
    let out = w.run(&["policy", "suggest", "--agent", "nobody"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("--discover"), "{}", out.stderr);
}

#[test]
fn discovery_for_one_agent_leaves_every_other_agent_enforced() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    std::fs::write(
        w.home().join("policy/no-email.cedar"),
        "@id(\"no-email\")\nforbid (principal, action == Action::\"call_tool\", resource == Tool::\"risk__send_email\");\n",
    )
    .unwrap();
    let (_, learner) = w.spawn_agent("learner", &[]);
    let (_, other) = w.spawn_agent("other", &[]);
    let email = json!([call("risk__send_email", json!({"to": "a@example.com", "body": "x"}))]);

    let gw = w.up_with(&["--discover-agent", "learner"]);
    let status = w.run(&["status", "--json"]).json();
    assert_eq!(status["discover_agents"], json!(["learner"]), "{status}");
    assert_eq!(
        texts(&client(&gw.url, Some(&learner), &email)),
        ["sent email to a@example.com (1 chars)"]
    );
    let refused = texts(&client(&gw.url, Some(&other), &email));
    assert!(refused[0].contains("no-email"), "{refused:?}");
    drop(gw);

    let suggested = w.run(&["policy", "suggest", "--agent", "learner"]);
    assert_eq!(suggested.code, 0, "{}", suggested.stderr);
    assert!(suggested.stdout.contains("risk__send_email"), "{}", suggested.stdout);
    let none = w.run(&["policy", "suggest", "--agent", "other"]);
    assert!(!none.stdout.contains("risk__send_email"), "{}", none.stdout);
    assert_ne!(w.run(&["up", "--discover-agent", "no/such"]).code, 0);
}
