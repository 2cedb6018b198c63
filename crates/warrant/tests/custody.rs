//! Custody: agents spawn agents, and a child never does more than its
//! parent could; revoking or stopping an agent stops its descendants, calls
//! in flight included.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use biscuit_auth::{BlockBuilder, UnverifiedBiscuit};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use warrant_test_support::{Warrant, audit_records, client, tool_names, wait_for_decision};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

/// The lead may call read-only tools and spawn; a `helper` may call
/// anything its own policy sees.
const POLICY: &str = r#"
@id("lead-reads")
permit (principal, action == Action::"call_tool", resource)
when { principal.name == "lead" && resource.read_only };

@id("lead-spawns")
permit (principal, action == Action::"call_tool", resource == Tool::"warrant__spawn_agent")
when { principal.name == "lead" };

@id("helpers-do-anything")
permit (principal, action == Action::"call_tool", resource)
when { principal.name == "helper" || principal.name == "scout" };
"#;

fn call(tool: &str, arguments: Value) -> Value {
    json!({"op": "call", "tool": tool, "arguments": arguments})
}

fn with_policy(w: &Warrant) {
    std::fs::write(w.home().join("policy/default.cedar"), POLICY).unwrap();
}

/// `agents spawn NAME --parent-token TOKEN ...`; the parsed JSON or the
/// failed output's stderr.
fn spawn_child(w: &Warrant, name: &str, parent: &str, extra: &[&str]) -> Result<Value, String> {
    let mut args = vec!["agents", "spawn", name, "--json", "--parent-token", parent];
    args.extend_from_slice(extra);
    let out = w.run(&args);
    if out.code == 0 { Ok(out.json()) } else { Err(out.stderr) }
}

#[test]
fn a_child_gets_only_what_its_parent_had_and_its_chain_is_in_every_record() {
    let w = Warrant::new(BIN);
    with_policy(&w);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    w.configure_gateway("max_agent_depth = 2");
    let (lead_id, lead) = w.spawn_agent("lead", &["--task", "triage the notes"]);
    let helper = spawn_child(&w, "helper", &lead, &["--tools", "risk__read_note,risk__echo"])
        .expect("spawn a child");
    assert_eq!(helper["depth"], 1);
    assert_eq!(helper["parent"], lead_id.as_str());
    assert_eq!(helper["custody"].as_array().unwrap().len(), 3, "{helper}");
    let helper_token = helper["token"].as_str().unwrap().to_owned();

    // Widening at spawn time is refused, naming what was asked for.
    let err = spawn_child(&w, "wider", &helper_token, &["--tools", "risk__read_note,risk__add"])
        .unwrap_err();
    assert!(err.contains("risk__add"), "{err}");
    // Depth is capped (here at 2): a grandchild is fine, a great-grandchild not.
    let grandchild = spawn_child(&w, "helper", &helper_token, &[]).expect("depth 2");
    let err = spawn_child(&w, "deeper", grandchild["token"].as_str().unwrap(), &[]).unwrap_err();
    assert!(err.contains("depth 3") && err.contains("limit of 2"), "{err}");

    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&helper_token),
        &json!([
            {"op": "list_tools"},
            call("risk__read_note", json!({"name": "a"})),
            // Its own policy permits echo, but the lead may only read.
            call("risk__echo", json!({"text": "hi"})),
            // The lead could read-only `add`, but it was not delegated.
            call("risk__add", json!({"a": 1, "b": 2})),
        ]),
    );
    assert_eq!(tool_names(&out["results"][0]), ["risk__read_note"], "{out}");
    assert!(!out["results"][1]["is_error"].as_bool().unwrap(), "{out}");
    let echo = out["results"][2]["text"].as_str().unwrap();
    assert!(echo.contains("beyond what ancestor `lead` may do"), "{echo}");
    let add = out["results"][3]["text"].as_str().unwrap();
    assert!(add.contains("not-delegated") && add.contains("risk__read_note"), "{add}");

    // A block the holder appends to its own token does not widen it.
    let widened = {
        let code = r#"delegated_tool(1, "risk__add"); tools_restricted(1);"#;
        let token = UnverifiedBiscuit::from_base64(&helper_token).unwrap();
        let block = BlockBuilder::new().code(code).unwrap();
        token.append(block).unwrap().to_base64().unwrap()
    };
    let out = client(&gw.url, Some(&widened), &json!([call("risk__add", json!({"a": 1, "b": 2}))]));
    let text = out["results"][0]["text"].as_str().unwrap_or_else(|| panic!("{out}"));
    assert!(text.contains("not-delegated"), "{out}");

    // The decision records carry the whole chain: operator, lead, helper.
    let records = audit_records(&w);
    let decision = records
        .iter()
        .find(|r| r["kind"] == "decision" && r["body"]["tool"] == "risk__read_note")
        .unwrap();
    let custody = decision["body"]["custody"].as_array().unwrap();
    assert_eq!(custody.len(), 3, "{decision}");
    assert!(custody[0].as_str().unwrap().starts_with("operator:"));
    assert!(custody[1].as_str().unwrap().contains(&lead_id));
    assert_eq!(custody[2], helper["spiffe_id"]);

    // `agents list` shows the tree: each child right under its parent.
    let list = w.run(&["agents", "list", "--json"]).json();
    let order: Vec<&str> =
        list.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(order, ["lead", "helper", "helper"], "{list}");
    assert_eq!(list[1]["parent"], lead_id.as_str());
    let text = w.run(&["agents", "list"]).stdout;
    assert!(text.contains("└ helper"), "{text}");
}

#[test]
fn an_agent_spawns_a_child_through_the_built_in_tool() {
    let w = Warrant::new(BIN);
    with_policy(&w);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (_, lead) = w.spawn_agent("lead", &[]);
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&lead),
        &json!([call(
            "warrant__spawn_agent",
            json!({"name": "scout", "task": "read one note", "tools": ["risk__read_note", "warrant__spawn_agent"], "ttl": "10m"})
        )]),
    );
    let text = out["results"][0]["text"].as_str().unwrap();
    let child: Value = serde_json::from_str(text).unwrap_or_else(|_| panic!("{out}"));
    assert_eq!(child["depth"], 1);
    let token = child["token"].as_str().unwrap();

    let out = client(
        &gw.url,
        Some(token),
        &json!([
            {"op": "list_tools"},
            call("risk__read_note", json!({"name": "a"})),
            // More than it has: refused, naming the tool.
            call("warrant__spawn_agent", json!({"name": "wider", "tools": ["risk__add"]})),
            // Less: fine, and that grandchild cannot spawn in turn.
            call("warrant__spawn_agent", json!({"name": "scout", "tools": ["risk__read_note"]})),
        ]),
    );
    let mut listed = tool_names(&out["results"][0]);
    listed.sort();
    assert_eq!(listed, ["risk__read_note", "warrant__spawn_agent"], "{out}");
    assert!(!out["results"][1]["is_error"].as_bool().unwrap(), "{out}");
    let wider = out["results"][2]["text"].as_str().unwrap();
    assert!(
        out["results"][2]["is_error"].as_bool().unwrap() && wider.contains("risk__add"),
        "{wider}"
    );
    let grandchild: Value = serde_json::from_str(out["results"][3]["text"].as_str().unwrap())
        .unwrap_or_else(|_| panic!("{out}"));
    assert_eq!(grandchild["depth"], 2);
    let out = client(
        &gw.url,
        Some(grandchild["token"].as_str().unwrap()),
        &json!([call("warrant__spawn_agent", json!({"name": "again"}))]),
    );
    let text = out["results"][0]["text"].as_str().unwrap_or_else(|| panic!("{out}"));
    assert!(text.contains("not-delegated"), "{out}");

    // The credential is handed to the agent and to nobody else: the audit
    // log records the spawn but never the token.
    let records = audit_records(&w);
    assert!(records.iter().any(|r| r["kind"] == "agent_spawned" && r["body"]["name"] == "scout"));
    let log = serde_json::to_string(&records).unwrap();
    assert!(!log.contains(token), "a child's token reached the audit log");
    let listed = w.run(&["agents", "list", "--json"]).json();
    assert!(listed.as_array().unwrap().iter().any(|a| a["name"] == "scout" && a["depth"] == 1));
}

#[test]
fn revoking_or_stopping_a_parent_stops_its_descendants_calls_in_flight_included() {
    let w = Warrant::new(BIN);
    w.configure_gateway("call_timeout = \"60s\"");
    w.add_fixture_upstream("hang", "hang_server.py", "trusted = true");
    let (lead_id, lead) = w.spawn_agent("lead", &[]);
    let child = spawn_child(&w, "worker", &lead, &[]).unwrap();
    let grandchild = spawn_child(&w, "sub", child["token"].as_str().unwrap(), &[]).unwrap();
    let sub = grandchild["token"].as_str().unwrap().to_owned();
    let (other_id, other) = w.spawn_agent("other", &[]);
    let other_child = spawn_child(&w, "worker", &other, &[]).unwrap();
    let other_sub = other_child["token"].as_str().unwrap().to_owned();
    let gw = w.up();

    // The grandchild's call hangs upstream; revoking the root ends it.
    let (url, t) = (gw.url.clone(), sub.clone());
    let stuck =
        std::thread::spawn(move || client(&url, Some(&t), &json!([call("hang__hang", json!({}))])));
    wait_for_decision(&w, "hang__hang");
    let started = Instant::now();
    let revoked = w.run(&["agents", "revoke", &lead_id]);
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    assert!(revoked.stdout.contains("2 descendant"), "{}", revoked.stdout);
    let out = stuck.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "the call outlived the revocation");
    assert!(
        out["results"][0]["text"].as_str().unwrap().contains("stopped by the operator"),
        "{out}"
    );
    let refused = client(&gw.url, Some(&sub), &json!([{"op": "list_tools"}]));
    assert_eq!(refused["http_status"], 401, "{refused}");
    let list = w.run(&["agents", "list", "--json"]).json();
    let sub_row = list.as_array().unwrap().iter().find(|a| a["name"] == "sub").unwrap();
    assert_eq!(sub_row["state"], "revoked");
    assert_eq!(sub_row["because_of"], lead_id.as_str());

    // Stopping a root stops its child too, and holds across a restart.
    assert_eq!(
        client(&gw.url, Some(&other_sub), &json!([call("hang__quick", json!({}))]))["results"][0]["text"],
        "quick"
    );
    let killed = w.run(&["kill", &other_id]);
    assert_eq!(killed.code, 0, "{}", killed.stderr);
    assert!(killed.stdout.contains("1 descendant"), "{}", killed.stdout);
    assert_eq!(
        client(&gw.url, Some(&other_sub), &json!([{"op": "list_tools"}]))["http_status"],
        403
    );
    drop(gw);
    let gw = w.up();
    assert_eq!(
        client(&gw.url, Some(&other_sub), &json!([{"op": "list_tools"}]))["http_status"],
        403
    );
    assert_eq!(w.run(&["resume", &other_id]).code, 0);
    assert_eq!(
        client(&gw.url, Some(&other_sub), &json!([call("hang__quick", json!({}))]))["results"][0]["text"],
        "quick"
    );
    // A revoked root's children cannot be given children of their own.
    let err = spawn_child(&w, "late", child["token"].as_str().unwrap(), &[]).unwrap_err();
    assert!(err.contains("revoked"), "{err}");
}
