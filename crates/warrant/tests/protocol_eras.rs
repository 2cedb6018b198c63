//! Both MCP protocol eras on both sides: agents speaking 2025-11-25
//! (`initialize`, sessions) and 2026-07-28 (`server/discover`, stateless
//! requests), upstreams of either era, every message in the era of the side
//! it reaches.
//!
//! The agents are the official SDKs' clients: the Python SDK 1.x
//! (2025-11-25 only), 2.x and the TypeScript SDK v2 (either era, by their own
//! negotiation). The 2025-11-25 upstream is the reference server
//! server-everything; the 2026-07-28 upstream is a fixture on the Python SDK
//! 2.x (`modern_server.py`) and, in the last test, rmcp's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use warrant_test_support::{
    FixtureServer, Warrant, client, e2e_dir, fixture, initialize_body, mcp_headers, node,
    node_package, raw_post, repo_root,
};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

/// An agent of the 2026-07-28 era, or of 2025-11-25.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Auto,
    Legacy,
}

impl Mode {
    fn flag(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Legacy => "legacy",
        }
    }
}

/// The Python SDK 2.x's venv.
fn python_v2() -> PathBuf {
    let p = e2e_dir().join("venv2/bin/python");
    assert!(p.exists(), "{} is missing: run scripts/setup-e2e", p.display());
    p
}

/// Runs a client driver and parses the one JSON object it prints.
fn run_json(mut cmd: Command) -> Value {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the agent printed no JSON ({e}):\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The official Python SDK 2.x client (`client_v2.py`).
fn python_agent(url: &str, token: &str, mode: Mode, script: &Value) -> Value {
    let mut cmd = Command::new(python_v2());
    cmd.arg(repo_root().join("tests/e2e/client_v2.py"))
        .args(["--url", url, "--token", token, "--mode", mode.flag()])
        .arg(script.to_string());
    run_json(cmd)
}

/// The official TypeScript SDK client (`client.mjs`).
fn typescript_agent(url: &str, token: &str, mode: Mode, script: &Value) -> Value {
    node_package("@modelcontextprotocol/client");
    let mut cmd = Command::new(node());
    cmd.arg(repo_root().join("tests/e2e/client.mjs"))
        .args(["--url", url, "--token", token, "--mode", mode.flag()])
        .arg(script.to_string())
        .env("WARRANT_E2E_NODE_MODULES", e2e_dir().join("node/node_modules"));
    run_json(cmd)
}

/// server-everything over stdio: a 2025-11-25 upstream.
fn add_everything(w: &Warrant) {
    let entry = node_package("@modelcontextprotocol/server-everything").join("dist/index.js");
    w.configure(&format!(
        "[upstreams.everything]\ncommand = [{:?}, {:?}, \"stdio\"]\ntrusted = true\n",
        node().display().to_string(),
        entry.display().to_string()
    ));
}

/// The Python SDK 2.x fixture over stdio: a 2026-07-28 upstream.
fn add_modern(w: &Warrant) {
    w.configure(&format!(
        "[upstreams.modern]\ncommand = [{:?}, {:?}]\ntrusted = true\n",
        python_v2().display().to_string(),
        fixture("modern_server.py").display().to_string()
    ));
}

fn call(tool: &str, arguments: Value) -> Value {
    json!({"op": "call", "tool": tool, "arguments": arguments})
}

/// The steps' results of a run that must have gone through.
fn results(agent: &str, out: &Value) -> Vec<Value> {
    assert_eq!(out["ok"], true, "{agent}: {out}");
    out["results"].as_array().unwrap().clone()
}

/// A call step's result, which must have no error.
fn called<'a>(agent: &str, step: &'a Value) -> &'a Value {
    assert!(step["error"].is_null(), "{agent}: {}: {step}", step["tool"]);
    step
}

fn server_info_stamp(step: &Value) -> &Value {
    &step["meta"]["io.modelcontextprotocol/serverInfo"]
}

#[test]
fn agents_of_2026_07_28_call_a_2025_11_25_upstream() {
    let w = Warrant::new(BIN);
    add_everything(&w);
    let (_, token) = w.spawn_agent("modern-agent", &[]);
    let gw = w.up();
    let script = json!([
        {"op": "list_tools"},
        call("everything__echo", json!({"message": "through warrant"})),
        call("everything__get-structured-content", json!({"location": "New York"}))
    ]);
    for (agent, out) in [
        ("python 2.x", python_agent(&gw.url, &token, Mode::Auto, &script)),
        ("typescript", typescript_agent(&gw.url, &token, Mode::Auto, &script)),
    ] {
        assert_eq!(out["protocol_version"], "2026-07-28", "{agent}: {out}");
        let steps = results(agent, &out);
        assert!(steps[0]["error"].is_null(), "{agent}: {}", steps[0]);
        // The upstream's result had no resultType, which the agent's era
        // requires: the SDKs refused it.
        let echo = called(agent, &steps[1]);
        assert_eq!(echo["text"], "Echo: through warrant", "{agent}");
        let weather = called(agent, &steps[2]);
        assert!(weather["structured"]["temperature"].is_number(), "{agent}: {weather}");
        assert_eq!(server_info_stamp(weather)["name"], "warrant", "{agent}: {weather}");
    }
}

#[test]
fn agents_of_2025_11_25_call_a_2026_07_28_upstream() {
    let w = Warrant::new(BIN);
    add_modern(&w);
    let (_, token) = w.spawn_agent("legacy-agent", &[]);
    let gw = w.up();
    let script = json!([
        {"op": "list_tools"},
        call("modern__add", json!({"a": 40, "b": 2})),
        call("modern__evens", json!({"n": 3})),
        call("modern__count", json!({"n": 4}))
    ]);
    let python_1 = client(&gw.url, Some(&token), &script);
    for (agent, out) in [
        ("python 1.x", python_1),
        ("python 2.x", python_agent(&gw.url, &token, Mode::Legacy, &script)),
        ("typescript", typescript_agent(&gw.url, &token, Mode::Legacy, &script)),
    ] {
        assert_eq!(out["protocol_version"], "2025-11-25", "{agent}: {out}");
        let steps = results(agent, &out);
        // Non-object output schemas are shown wrapped (without, the 2.x and
        // TypeScript SDKs refused the whole listing).
        assert!(steps[0]["error"].is_null(), "{agent}: {}", steps[0]);
        let tools = steps[0]["tools"].as_array().unwrap();
        let evens = tools.iter().find(|t| t["name"] == "modern__evens").unwrap();
        assert_eq!(
            evens["outputSchema"],
            json!({"type": "object", "properties": {"result": {"type": "array", "items": {"type": "integer"}}}, "required": ["result"]}),
            "{agent}"
        );
        assert_eq!(called(agent, &steps[1])["structured"], json!({"result": 42}), "{agent}");
        // Array and scalar structured content arrive as the listing said
        // (without, every SDK refused them; the 1.x session died).
        let evens = called(agent, &steps[2]);
        assert_eq!(evens["structured"], json!({"result": [0, 2, 4]}), "{agent}");
        let count = called(agent, &steps[3]);
        assert_eq!(count["structured"], json!({"result": 4}), "{agent}");
        assert_eq!(count["text"], "4", "{agent}: a bare value comes with its text");
        // Nothing of 2026-07-28 in a 2025-11-25 result.
        for step in &steps[1..] {
            assert!(step["meta"].is_null(), "{agent}: {step}");
        }
    }
}

#[test]
fn agents_of_2026_07_28_call_a_2026_07_28_upstream_and_hear_of_its_changes() {
    let w = Warrant::new(BIN);
    add_modern(&w);
    let (_, token) = w.spawn_agent("modern-agent", &[]);
    let gw = w.up();
    let script = json!([
        call("modern__evens", json!({"n": 3})),
        call("modern__count", json!({"n": 4})),
        {"op": "listen"}
    ]);
    let typescript = typescript_agent(&gw.url, &token, Mode::Auto, &script);
    let python = python_agent(
        &gw.url,
        &token,
        Mode::Auto,
        &json!([
            call("modern__evens", json!({"n": 3})),
            call("modern__count", json!({"n": 4})),
            {"op": "listen"},
            // The upstream changes this tool after its first call, and says
            // so on its own listen stream.
            call("modern__lookup", json!({"q": "socks"})),
            {"op": "wait_tools_changed", "timeout_s": 30},
            {"op": "list_tools"}
        ]),
    );
    for (agent, out) in [("typescript", &typescript), ("python 2.x", &python)] {
        assert_eq!(out["protocol_version"], "2026-07-28", "{agent}: {out}");
        let steps = results(agent, out);
        let evens = called(agent, &steps[0]);
        assert_eq!(evens["structured"], json!([0, 2, 4]), "{agent}: as the upstream sent it");
        // The stamp names the server the agent talks to, not the upstream.
        assert_eq!(server_info_stamp(evens)["name"], "warrant", "{agent}: {evens}");
        let count = called(agent, &steps[1]);
        assert_eq!((&count["structured"], &count["text"]), (&json!(4), &json!("4")), "{agent}");
        // Without, Warrant advertised tools.listChanged and answered the
        // only route to it with method-not-found.
        assert!(steps[2]["error"].is_null(), "{agent}: {}", steps[2]);
        assert_eq!(steps[2]["honored"]["toolsListChanged"], true, "{agent}: {}", steps[2]);
    }
    let steps = results("python 2.x", &python);
    assert_eq!(called("python 2.x", &steps[3])["text"], "result for socks");
    // Warrant heard the rug pull on its stream to the upstream, held the
    // changed tool back, and told the agent on the agent's stream.
    assert_eq!(steps[4]["received"], true, "{python}");
    let names: Vec<&str> =
        steps[5]["tools"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(!names.contains(&"modern__lookup") && names.contains(&"modern__add"), "{names:?}");
    let lookup = wait_for_state(&w, "modern__lookup", "quarantined");
    assert!(lookup["reason"].as_str().unwrap().contains("definition changed"), "{lookup}");
}

/// The JSON-RPC messages of a Streamable HTTP response body (SSE or JSON).
fn messages(body: &str) -> Vec<Value> {
    let lines = body.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim);
    let parsed: Vec<Value> = lines.filter_map(|l| serde_json::from_str(l).ok()).collect();
    if parsed.is_empty() { serde_json::from_str(body).into_iter().collect() } else { parsed }
}

#[test]
fn agents_of_2025_11_25_call_a_2025_11_25_upstream_and_see_no_2026_vocabulary() {
    let w = Warrant::new(BIN);
    add_everything(&w);
    let (_, token) = w.spawn_agent("legacy-agent", &[]);
    let gw = w.up();
    let script =
        json!([call("everything__get-structured-content", json!({"location": "Chicago"}))]);
    for (agent, out) in [
        ("python 1.x", client(&gw.url, Some(&token), &script)),
        ("typescript", typescript_agent(&gw.url, &token, Mode::Legacy, &script)),
    ] {
        let steps = results(agent, &out);
        let weather = called(agent, &steps[0]);
        assert!(weather["structured"]["humidity"].is_number(), "{agent}: {weather}");
    }
    // On the wire: what the SDKs would tolerate is checked byte by byte.
    let headers = mcp_headers(&token);
    let mut sent: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, reply_headers) = raw_post(&gw.url, &sent, initialize_body().as_bytes());
    assert_eq!(status, 200);
    let session = reply_headers.iter().find(|(k, _)| k == "mcp-session-id").unwrap().1.clone();
    sent.push(("Mcp-Session-Id", &session));
    sent.push(("MCP-Protocol-Version", "2025-11-25"));
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    raw_post(&gw.url, &sent, initialized.to_string().as_bytes());
    let request = |id: u32, method: &str, params: Value| {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let (status, body, _) = raw_post(&gw.url, &sent, body.to_string().as_bytes());
        assert_eq!(status, 200, "{body}");
        messages(&body).into_iter().find(|m| m["id"] == id).unwrap()
    };
    let listed = request(2, "tools/list", json!({}));
    let called = request(
        3,
        "tools/call",
        json!({"name": "everything__echo", "arguments": {"message": "m"}}),
    );
    for reply in [&listed, &called] {
        let result = reply["result"].as_object().unwrap();
        for key in ["resultType", "ttlMs", "cacheScope", "_meta"] {
            assert!(!result.contains_key(key), "`{key}` in a 2025-11-25 result: {reply}");
        }
    }
    assert_eq!(called["result"]["content"][0]["text"], "Echo: m");
}

/// A 2026-07-28 agent: rmcp's client in discover mode. Returns the tool
/// names it sees and the text of `tool(arguments)`.
async fn stateless_agent(
    url: &str,
    token: &str,
    tool: &str,
    arguments: Value,
) -> (Vec<String>, String) {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).auth_header(token),
    );
    let lifecycle =
        ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] };
    let running = ().serve_with_lifecycle(transport, lifecycle).await.expect("discover handshake");
    let tools = running.peer().list_all_tools().await.unwrap();
    let mut params = CallToolRequestParams::new(tool.to_owned());
    params.arguments = arguments.as_object().cloned();
    let result = running.peer().call_tool(params).await.unwrap();
    let text = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("");
    let _ = running.cancel().await;
    (tools.into_iter().map(|t| t.name.to_string()).collect(), text)
}

#[test]
fn rmcp_agents_and_upstreams_of_both_eras_meet_through_the_gateway() {
    let modern = FixtureServer::start(true);
    let legacy = FixtureServer::start(false);
    let w = Warrant::new(BIN);
    w.configure(&format!(
        "[upstreams.modern]\nurl = {:?}\nprotocol = \"2026-07-28\"\n",
        modern.url
    ));
    w.configure(&format!(
        "[upstreams.legacy]\nurl = {:?}\nprotocol = \"2025-11-25\"\n",
        legacy.url
    ));
    w.configure(&format!("[upstreams.auto]\nurl = {:?}\n", modern.url));
    w.add_fixture_upstream("py", "risk_server.py", "");
    let (_, token) = w.spawn_agent("polyglot", &[]);
    let gw = w.up();

    // A 2025-11-25 agent calls upstreams of both eras.
    let out = client(
        &gw.url,
        Some(&token),
        &json!([
            {"op": "call", "tool": "modern__add", "arguments": {"a": 40, "b": 2}},
            {"op": "call", "tool": "legacy__echo", "arguments": {"text": "old school"}},
            {"op": "call", "tool": "auto__add", "arguments": {"a": 1, "b": 1}},
            {"op": "call", "tool": "py__add", "arguments": {"a": 3, "b": 4}}
        ]),
    );
    assert_eq!(out["protocol_version"], "2025-11-25");
    let texts: Vec<&str> =
        out["results"].as_array().unwrap().iter().map(|r| r["text"].as_str().unwrap()).collect();
    assert_eq!(texts, vec!["42", "old school", "2", "7"], "{out}");

    // A 2026-07-28 agent: no initialize, no session, per-request metadata.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tools, text) =
        rt.block_on(stateless_agent(&gw.url, &token, "legacy__add", json!({"a": 5, "b": 6})));
    assert!(
        tools.contains(&"modern__echo".to_owned()) && tools.contains(&"py__read_note".to_owned()),
        "{tools:?}"
    );
    assert_eq!(text, "11");
    let (_, text) =
        rt.block_on(stateless_agent(&gw.url, &token, "py__add", json!({"a": 1, "b": 2})));
    assert_eq!(text, "3");

    // A 2026-07-28 agent without a token is refused like any other.
    let refused = rt.block_on(async {
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(gw.url.as_str()),
        );
        let lifecycle = ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        };
        ().serve_with_lifecycle(transport, lifecycle).await.map(|_| ())
    });
    assert!(refused.is_err());
}

/// Polls `tools list --json` until `tool` shows `state` (30 s at most);
/// returns its row.
fn wait_for_state(w: &Warrant, tool: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = w.run(&["tools", "list", "--json"]).json();
        let row = listed.as_array().unwrap().iter().find(|t| t["tool"] == tool).cloned();
        if let Some(row) = row.filter(|t| t["state"] == state) {
            return row;
        }
        assert!(Instant::now() < deadline, "{tool} never became {state}: {listed}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
