//! The official MCP reference servers from the npm registry as upstreams,
//! driven by the official Python SDK client through the real gateway.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::json;
use warrant_test_support::{Warrant, audit_records, client, node, node_package, tool_names};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

#[test]
fn server_everything_tools_are_aggregated_and_called() {
    let w = Warrant::new(BIN);
    let entry = node_package("@modelcontextprotocol/server-everything").join("dist/index.js");
    w.configure(&format!(
        "[upstreams.everything]\ncommand = [{:?}, {:?}, \"stdio\"]\ntrusted = true\n",
        node().display().to_string(),
        entry.display().to_string()
    ));
    let (_, token) = w.spawn_agent("explorer", &[]);
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&token),
        &json!([{"op": "list_tools"}, {"op": "call", "tool": "everything__echo", "arguments": {"message": "through warrant"}}]),
    );
    let tools = tool_names(&out["results"][0]);
    let (theirs, ours): (Vec<_>, Vec<_>) =
        tools.iter().partition(|t| t.starts_with("everything__"));
    assert!(theirs.len() > 3, "{tools:?}");
    assert!(ours.iter().all(|t| t.starts_with("warrant__")), "{tools:?}");
    let echoed = out["results"][1]["text"].as_str().unwrap();
    assert!(echoed.contains("through warrant"), "{out}");
    // Every tool's definition was pinned on first sight.
    let status = w.run(&["status", "--json"]).json();
    assert!(
        status["tools"].as_array().unwrap().iter().all(|t| t["pin"].as_str().unwrap().len() == 64)
    );
}

#[test]
fn server_filesystem_reads_flow_writes_ask_and_argument_rules_apply() {
    let w = Warrant::new(BIN);
    let data = w.dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("notes.txt"), "public notes").unwrap();
    std::fs::write(data.join("secret.txt"), "do not read").unwrap();
    let entry = node_package("@modelcontextprotocol/server-filesystem").join("dist/index.js");
    w.configure(
        &format!(
            "[gateway]\n[upstreams.fs]\ncommand = [{:?}, {:?}, {:?}]\n",
            node().display().to_string(),
            entry.display().to_string(),
            data.display().to_string()
        )
        .replace("[gateway]\n", ""),
    );
    let config = std::fs::read_to_string(w.home().join("warrant.toml")).unwrap();
    std::fs::write(
        w.home().join("warrant.toml"),
        config.replace("approval_timeout = \"120s\"", "approval_timeout = \"1s\""),
    )
    .unwrap();
    std::fs::write(
        w.home().join("policy/secrets.cedar"),
        "@id(\"no-secret-files\")\n@reason(\"files named secret are off limits\")\nforbid (principal, action == Action::\"call_tool\", resource)\nwhen { context.args.hasTag(\"path\") && context.args.getTag(\"path\") like \"*secret*\" };\n",
    )
    .unwrap();
    let (_, token) = w.spawn_agent("reader", &[]);
    let gw = w.up();
    let read = |path: &std::path::Path| json!({"op": "call", "tool": "fs__read_text_file", "arguments": {"path": path.display().to_string()}});
    let out = client(
        &gw.url,
        Some(&token),
        &json!([
            {"op": "list_tools"},
            read(&data.join("notes.txt")),
            read(&data.join("secret.txt")),
            {"op": "call", "tool": "fs__write_file", "arguments": {"path": data.join("new.txt").display().to_string(), "content": "x"}}
        ]),
    );
    let tools = tool_names(&out["results"][0]);
    assert!(
        tools.contains(&"fs__read_text_file".to_owned())
            && tools.contains(&"fs__write_file".to_owned()),
        "{tools:?}"
    );
    assert_eq!(out["results"][1]["text"], "public notes", "{out}");
    let denied = out["results"][2]["text"].as_str().unwrap();
    assert!(denied.contains("no-secret-files"), "{denied}");
    let asked = out["results"][3]["text"].as_str().unwrap();
    assert!(
        asked.contains("no one approved") && asked.contains("ask-before-side-effects"),
        "{asked}"
    );
    assert!(!data.join("new.txt").exists(), "an unapproved write never reaches the server");
    let records = audit_records(&w);
    assert!(records.iter().any(|r| r["body"]["rules"] == json!(["no-secret-files"])));
}
