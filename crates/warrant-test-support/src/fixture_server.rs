//! A small MCP server on rmcp (the official Rust SDK), served over Streamable
//! HTTP on 127.0.0.1: the fixture for the 2026-07-28 protocol era (which the
//! Python SDK does not speak) and the fast upstream of the proxy benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Clone)]
struct Fixture;

fn tool(name: &'static str, description: &'static str, schema: Value, read_only: bool) -> Tool {
    let Value::Object(schema) = schema else { panic!("schema must be an object") };
    let mut t = Tool::new(name, description, Arc::new(schema));
    let mut a = ToolAnnotations::default();
    a.read_only_hint = Some(read_only);
    t.annotations = Some(a);
    t
}

impl ServerHandler for Fixture {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![
            tool(
                "add",
                "Adds two integers.",
                json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}),
                true,
            ),
            tool(
                "echo",
                "Echoes its text.",
                json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
                true,
            ),
            tool(
                "auth_digest",
                "The SHA-256 (hex) of the Authorization header this server received with the call.",
                json!({"type": "object", "properties": {}}),
                true,
            ),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        let text = match request.name.as_ref() {
            "add" => {
                let n = |k: &str| args.get(k).and_then(Value::as_i64).unwrap_or(0);
                (n("a") + n("b")).to_string()
            }
            "echo" => args.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
            "auth_digest" => {
                use sha2::Digest;
                let header = context
                    .extensions
                    .get::<http::request::Parts>()
                    .and_then(|p| p.headers.get(http::header::AUTHORIZATION))
                    .map(|v| v.as_bytes().to_vec())
                    .unwrap_or_default();
                sha2::Sha256::digest(&header).iter().map(|b| format!("{b:02x}")).collect()
            }
            other => return Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        };
        Ok(CallToolResponse::Complete(CallToolResult::success(vec![ContentBlock::text(text)])))
    }
}

/// A running fixture server; it stops with the process.
pub struct FixtureServer {
    pub url: String,
}

impl FixtureServer {
    /// Starts the server on its own thread and runtime. `stateless` serves
    /// every request without sessions, with JSON responses.
    pub fn start(stateless: bool) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let port = listener.local_addr().unwrap().port();
                let config = StreamableHttpServerConfig::default()
                    .with_allowed_hosts(["127.0.0.1".to_owned(), format!("127.0.0.1:{port}")])
                    .with_legacy_session_mode(!stateless)
                    .with_json_response(stateless);
                let service = StreamableHttpService::new(
                    || Ok(Fixture),
                    Arc::new(LocalSessionManager::default()),
                    config,
                );
                let app = axum::Router::new().nest_service("/mcp", service);
                tx.send(format!("http://127.0.0.1:{port}/mcp")).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        Self { url: rx.recv().unwrap() }
    }
}
