//! Warrant's own file tools work beneath the agent's workspace and nowhere
//! else: `..`, absolute paths and symlinks that lead out are refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::{Value, json};
use warrant_test_support::{Warrant, client, tool_names};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

fn call(tool: &str, arguments: Value) -> Value {
    json!({"op": "call", "tool": tool, "arguments": arguments})
}

fn text(out: &Value, i: usize) -> String {
    out["results"][i]["text"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn file_tools_stay_beneath_the_workspace() {
    let w = Warrant::new(BIN);
    std::fs::write(
        w.home().join("policy/default.cedar"),
        "@id(\"all\") permit (principal, action == Action::\"call_tool\", resource);",
    )
    .unwrap();
    let root = w.dir.path().join("area");
    let workspace = root.join("workspace");
    let outside = root.join("outside");
    std::fs::create_dir_all(workspace.join("docs")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(workspace.join("docs/notes.txt"), "inside").unwrap();
    std::fs::write(outside.join("secret.txt"), "SECRET").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), workspace.join("link-out")).unwrap();
    std::os::unix::fs::symlink("../outside", workspace.join("dir-out")).unwrap();
    std::os::unix::fs::symlink("docs/notes.txt", workspace.join("link-in")).unwrap();

    let ws = workspace.to_str().unwrap();
    let (_, token) = w.spawn_agent("editor", &["--workspace", ws]);
    let (_, homeless) = w.spawn_agent("homeless", &[]);
    let gw = w.up();
    let secret_abs = outside.join("secret.txt");
    let out = client(
        &gw.url,
        Some(&token),
        &json!([
            {"op": "list_tools"},
            call("warrant__read_file", json!({"path": "docs/notes.txt"})),
            call("warrant__read_file", json!({"path": "link-in"})),
            call("warrant__read_file", json!({"path": format!("{ws}/docs/notes.txt")})),
            call("warrant__read_file", json!({"path": "../outside/secret.txt"})),
            call("warrant__read_file", json!({"path": secret_abs.to_str().unwrap()})),
            call("warrant__read_file", json!({"path": "link-out"})),
            call("warrant__read_file", json!({"path": "dir-out/secret.txt"})),
            call("warrant__read_file", json!({"path": "docs/../../outside/secret.txt"})),
            call("warrant__read_file", json!({"path": "/etc/passwd"})),
            call("warrant__list_dir", json!({})),
            call("warrant__write_file", json!({"path": "new/deep/file.txt", "content": "made", "create_dirs": true})),
            call("warrant__write_file", json!({"path": "../escaped.txt", "content": "x"})),
            call("warrant__write_file", json!({"path": "link-out", "content": "overwritten"})),
            call("warrant__write_file", json!({"path": "dir-out/planted.txt", "content": "x"})),
            call("warrant__write_file", json!({"path": "docs/notes.txt", "content": " more", "append": true})),
        ]),
    );
    let listed = tool_names(&out["results"][0]);
    for t in ["warrant__read_file", "warrant__write_file", "warrant__list_dir"] {
        assert!(listed.contains(&t.to_owned()), "{listed:?}");
    }
    assert_eq!(text(&out, 1), "inside");
    assert_eq!(text(&out, 2), "inside", "a symlink that stays inside is fine");
    assert_eq!(text(&out, 3), "inside", "an absolute path inside is fine");
    for i in 4..=9 {
        let t = text(&out, i);
        assert!(out["results"][i]["is_error"] == true && !t.contains("SECRET"), "step {i}: {t}");
        assert!(t.contains("workspace") || t.contains("outside"), "step {i}: {t}");
    }
    let listing: Value = serde_json::from_str(&text(&out, 10)).unwrap();
    let names: Vec<&str> =
        listing.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"docs") && names.contains(&"link-out"), "{names:?}");
    assert!(!out["results"][11]["is_error"].as_bool().unwrap(), "{}", text(&out, 11));
    assert_eq!(std::fs::read_to_string(workspace.join("new/deep/file.txt")).unwrap(), "made");
    for i in 12..=14 {
        assert_eq!(out["results"][i]["is_error"], true, "step {i}: {}", text(&out, i));
    }
    assert!(!root.join("escaped.txt").exists());
    assert!(!outside.join("planted.txt").exists());
    assert_eq!(std::fs::read_to_string(outside.join("secret.txt")).unwrap(), "SECRET");
    assert_eq!(std::fs::read_to_string(workspace.join("docs/notes.txt")).unwrap(), "inside more");

    // No workspace, no file tools; a child works in its root's workspace.
    let out = client(&gw.url, Some(&homeless), &json!([call("warrant__list_dir", json!({}))]));
    assert!(text(&out, 0).contains("no workspace"), "{out}");
    let child = w.run(&["agents", "spawn", "helper", "--json", "--parent-token", &token]).json();
    let out = client(
        &gw.url,
        child["token"].as_str(),
        &json!([call("warrant__read_file", json!({"path": "docs/notes.txt"}))]),
    );
    assert_eq!(text(&out, 0), "inside more");
}
