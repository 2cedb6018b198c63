//! Both MCP protocol eras on both sides: agents speaking 2025-11-25 (the
//! Python SDK, `initialize` and sessions) and 2026-07-28 (rmcp's client,
//! `server/discover` and stateless requests), upstreams of either era.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use warrant_test_support::{FixtureServer, Warrant, client};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

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
fn agents_and_upstreams_of_both_eras_meet_through_the_gateway() {
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
