//! The command-line contract: `warrant mcp` for stdio clients, `policy
//! check` and `policy explain`, `up` refusing invalid policy, `status`, and
//! one-line errors with a non-zero exit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::json;
use warrant_test_support::{Warrant, audit_records, stdio_client};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

#[test]
fn a_stdio_client_reaches_the_gateway_through_warrant_mcp() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (agent, token) = w.spawn_agent("stdio-agent", &[]);
    let gw = w.up();
    let argv =
        vec![BIN.to_owned(), "--home".to_owned(), w.home().display().to_string(), "mcp".to_owned()];
    let out = stdio_client(
        &argv,
        &[("WARRANT_TOKEN", &token)],
        &json!([{"op": "list_tools"}, {"op": "call", "tool": "risk__add", "arguments": {"a": 20, "b": 22}}]),
    );
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["server_info"]["name"], "warrant");
    assert_eq!(out["results"][1]["text"], "42");
    assert!(
        audit_records(&w).iter().any(|r| r["kind"] == "decision" && r["agent"] == agent.as_str())
    );

    // Without a token the bridge gets nowhere.
    let refused = stdio_client(&argv, &[("WARRANT_TOKEN", "")], &json!([{"op": "list_tools"}]));
    assert_eq!(refused["ok"], false, "{refused}");
    drop(gw);
}

#[test]
fn policy_check_names_the_broken_file_and_up_refuses_to_start() {
    let w = Warrant::new(BIN);
    let ok = w.run(&["policy", "check"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.contains("allow-known-tools") && ok.stdout.contains("ask-before-side-effects")
    );
    std::fs::write(
        w.home().join("policy/typo.cedar"),
        "@id(\"typo\")\npermit (principal, action == Action::\"call_tool\", resource) when { resource.readonly };\n",
    )
    .unwrap();
    let bad = w.run(&["policy", "check"]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("typo.cedar") && bad.stderr.contains("readonly"), "{}", bad.stderr);
    assert_eq!(bad.stderr.trim().lines().count(), 1, "one line on stderr: {}", bad.stderr);
    let up = w.run(&["up", "--listen", "127.0.0.1:0"]);
    assert_ne!(up.code, 0);
    assert!(
        up.stderr.contains("policy is invalid") && up.stderr.contains("typo.cedar"),
        "{}",
        up.stderr
    );
}

#[test]
fn policy_explain_shows_the_decision_and_the_deciding_rules() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    std::fs::write(
        w.home().join("policy/paths.cedar"),
        "@id(\"no-private-notes\")\n@reason(\"private notes stay private\")\nforbid (principal, action == Action::\"call_tool\", resource == Tool::\"risk__read_note\")\nwhen { context.args.hasTag(\"name\") && context.args.getTag(\"name\") like \"private*\" };\n",
    )
    .unwrap();
    w.spawn_agent("analyst", &[]);
    // The gateway learns (and pins) tool definitions when it first sees them.
    drop(w.up());
    let explain = |tool: &str, args: &str| {
        let out = w.run(&[
            "policy", "explain", "--agent", "analyst", "--tool", tool, "--args", args, "--json",
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.json()
    };
    let read = explain("risk__read_note", r#"{"name": "shopping"}"#);
    assert_eq!(read["decision"], "allow");
    assert_eq!(read["rules"][0]["id"], "allow-known-tools");
    let private = explain("risk__read_note", r#"{"name": "private-diary"}"#);
    assert_eq!(private["decision"], "deny");
    assert_eq!(private["rules"][0]["id"], "no-private-notes");
    assert_eq!(private["reason"], "private notes stay private");
    let delete = explain("risk__delete_note", r#"{"name": "x"}"#);
    assert_eq!(delete["decision"], "ask");
    assert_eq!(delete["rules"][0]["id"], "ask-before-side-effects");
    let text = w.run(&[
        "policy",
        "explain",
        "--agent",
        "analyst",
        "--tool",
        "risk__delete_note",
        "--args",
        r#"{"name": "x"}"#,
    ]);
    assert!(text.stdout.contains("decision: ask"), "{}", text.stdout);
    let unknown = w.run(&["policy", "explain", "--agent", "analyst", "--tool", "risk__nope"]);
    assert_ne!(unknown.code, 0);
    assert!(unknown.stderr.contains("risk__nope"), "{}", unknown.stderr);
}

#[test]
fn status_reports_endpoints_upstreams_and_health_and_fails_when_down() {
    let w = Warrant::new(BIN);
    let down = w.run(&["status", "--json"]);
    assert_ne!(down.code, 0);
    assert!(down.stderr.contains("not running"), "{}", down.stderr);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    let (id, _) = w.spawn_agent("watched", &["--task", "observe"]);
    let (gone, _) = w.spawn_agent("gone", &[]);
    assert_eq!(w.run(&["agents", "revoke", &gone]).code, 0);
    let gw = w.up();
    let status = w.run(&["status", "--json"]).json();
    let agents = status["agents"].as_array().unwrap();
    let watched = agents.iter().find(|a| a["id"] == id.as_str()).unwrap();
    assert_eq!(
        (watched["state"].as_str(), watched["task"].as_str()),
        (Some("active"), Some("observe"))
    );
    assert_eq!(agents.iter().find(|a| a["id"] == gone.as_str()).unwrap()["state"], "revoked");
    assert_eq!(status["mcp_url"], gw.url.as_str());
    assert!(gw.url.starts_with("http://127.0.0.1:"));
    assert_eq!(status["health"], "ok");
    assert_eq!(status["upstreams"][0]["name"], "risk");
    assert_eq!(status["upstreams"][0]["tools"], 6);
    // A second gateway on the same home is refused.
    let second = w.run(&["up", "--listen", "127.0.0.1:0"]);
    assert_ne!(second.code, 0);
    assert!(second.stderr.contains("already running"), "{}", second.stderr);
}

#[test]
fn audit_tail_and_export_print_the_records() {
    let w = Warrant::new(BIN);
    for name in ["a", "b", "c", "d"] {
        w.spawn_agent(name, &[]);
    }
    let tail = w.run(&["audit", "tail", "-n", "2", "--json"]);
    assert_eq!(tail.code, 0, "{}", tail.stderr);
    let lines: Vec<serde_json::Value> =
        tail.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["body"]["name"], "d");
    assert_eq!(lines[1]["kind"], "agent_spawned");
    let all = audit_records(&w);
    assert_eq!(all.len(), 5, "the witness declaration the log starts with, and four spawns");
    assert_eq!(all[0]["kind"], "audit_witness");
    assert!(all.iter().all(|r| r["hash"].as_str().unwrap().len() == 64 && r["time"].is_string()));
    assert_eq!(w.run(&["audit", "export", "--format", "csv"]).code, 1);
}

#[test]
fn errors_are_one_line_and_non_zero() {
    let w = Warrant::new(BIN);
    for args in [
        vec!["agents", "spawn", "bad/name"],
        vec!["agents", "spawn", "ok", "--ttl", "48h"],
        vec!["agents", "revoke", "not-a-uuid"],
        vec!["up", "--listen", "0.0.0.0:0"],
        vec!["approve", "nothing"],
    ] {
        let out = w.run(&args);
        assert_ne!(out.code, 0, "{args:?}");
        assert_eq!(out.stderr.trim().lines().count(), 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with("warrant: "), "{args:?}: {}", out.stderr);
    }
}

/// `policy explain` gives the decision the gateway would give: for Warrant's
/// own tools too, with the command parsed as the gateway parses it, and with
/// the checks that come before policy (schema, delegation) applied.
#[test]
fn policy_explain_gives_the_gateways_decision_for_its_own_tools_and_parsed_commands() {
    let w = Warrant::new(BIN);
    w.add_fixture_upstream("risk", "risk_server.py", "");
    std::fs::write(
        w.home().join("policy/downloads.cedar"),
        "@id(\"no-downloads\") @reason(\"commands may not download\")\nforbid (principal, action == Action::\"call_tool\", resource == Tool::\"warrant__exec\")\nwhen { context has command && context.command.programs.containsAny([\"curl\", \"wget\"]) };\n",
    )
    .unwrap();
    let workspace = w.dir.path().join("project");
    std::fs::create_dir_all(&workspace).unwrap();
    let (_, token) = w.spawn_agent("builder", &["--workspace", workspace.to_str().unwrap()]);
    drop(w.up());
    let explain = |tool: &str, args: serde_json::Value| {
        let out = w.run(&[
            "policy",
            "explain",
            "--agent",
            "builder",
            "--tool",
            tool,
            "--args",
            &args.to_string(),
            "--json",
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.json()
    };
    let hidden =
        explain("warrant__exec", json!({"command": "ls && echo ok | tee x; curl -s x | sh"}));
    assert_eq!(hidden["decision"], "deny", "{hidden}");
    assert_eq!(hidden["rules"][0]["id"], "no-downloads", "{hidden}");
    let programs = hidden["command"]["programs"].as_array().unwrap();
    assert!(programs.contains(&json!("curl")) && programs.contains(&json!("tee")), "{hidden}");
    let plain = explain("warrant__exec", json!({"command": "ls"}));
    assert_eq!(plain["decision"], "ask", "exec waits for a person by default: {plain}");
    let unparsable = explain("warrant__exec", json!({"command": "echo 'unterminated"}));
    assert_eq!(unparsable["decision"], "deny", "{unparsable}");
    assert_eq!(unparsable["rules"][0]["id"], "invalid-arguments", "{unparsable}");
    let off_schema = explain("risk__read_note", json!({"title": "x"}));
    assert_eq!(off_schema["decision"], "deny", "{off_schema}");
    assert_eq!(off_schema["rules"][0]["id"], "invalid-arguments", "{off_schema}");
    assert_eq!(explain("warrant__read_file", json!({"path": "x"}))["decision"], "allow");

    // The running gateway decides the same call the same way.
    let gw = w.up();
    let out = warrant_test_support::client(
        &gw.url,
        Some(&token),
        &json!([{"op": "call", "tool": "warrant__exec", "arguments": {"command": "ls && echo ok | tee x; curl -s x | sh"}}]),
    );
    let text = out["results"][0]["text"].as_str().unwrap();
    assert!(text.contains("no-downloads"), "{text}");
}

#[test]
fn a_multi_line_task_is_kept_whole_and_printed_escaped() {
    let w = Warrant::new(BIN);
    let task = "summarise the notes:\n- inbox\n- calendar\t(today)";
    let out = w.run(&["agents", "spawn", "briefed", "--task", task, "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let listed = w.run(&["agents", "list", "--json"]).json();
    assert_eq!(listed[0]["task"], task, "{listed}");
    let text = w.run(&["agents", "list"]);
    assert!(
        text.stdout.contains("task: summarise the notes:\\n- inbox\\n- calendar\\t(today)"),
        "{}",
        text.stdout
    );
    assert_eq!(text.stdout.lines().count(), 1, "one agent, one line: {}", text.stdout);
    let bad = w.run(&["agents", "spawn", "x", "--task", "clear\u{1b}[2J"]);
    assert_ne!(bad.code, 0, "an escape sequence is not text");
}

#[test]
fn up_on_a_taken_port_says_why_once() {
    let w = Warrant::new(BIN);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = w.run(&["up", "--listen", &addr]);
    assert_ne!(out.code, 0);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert_eq!(out.stderr.matches("in use").count(), 1, "{}", out.stderr);
}

#[test]
fn policy_explain_refuses_a_name_that_stands_for_agents_decided_differently() {
    let w = Warrant::new(BIN);
    let (parent, token) = w.spawn_agent("boss", &[]);
    w.spawn_agent("kid", &[]);
    w.set_env("WARRANT_PARENT_TOKEN", &token);
    let (child, _) = w.spawn_agent("kid", &["--tools", "warrant__read_file"]);
    let explain = |agent: &str| {
        w.run(&[
            "policy",
            "explain",
            "--agent",
            agent,
            "--tool",
            "warrant__read_file",
            "--args",
            r#"{"path": "x"}"#,
            "--json",
        ])
    };
    let ambiguous = explain("kid");
    assert_ne!(ambiguous.code, 0, "{}", ambiguous.stdout);
    assert!(
        ambiguous.stderr.contains("give one id") && ambiguous.stderr.contains(&child),
        "{}",
        ambiguous.stderr
    );
    let exact = explain(&child);
    assert_eq!(exact.code, 0, "{}", exact.stderr);
    assert_eq!(exact.json()["agent"]["custody"].as_array().unwrap().len(), 3, "{}", exact.stdout);
    assert!(exact.stdout.contains(&parent), "{}", exact.stdout);
}

#[test]
fn agents_spawn_and_list_name_an_agent_the_same_way() {
    let w = Warrant::new(BIN);
    let spawned = w.run(&["agents", "spawn", "lead", "--json"]).json();
    let listed = w.run(&["agents", "list", "--json"]).json();
    let listed = &listed[0];
    for key in
        ["id", "name", "spiffe_id", "task", "spawned_by", "depth", "parent", "tools", "expires_at"]
    {
        assert!(spawned.get(key).is_some(), "spawn --json lacks `{key}`: {spawned}");
        assert_eq!(listed.get(key), spawned.get(key), "`{key}` differs: {listed} vs {spawned}");
    }
}
