//! `warrant mcp`: a stdio MCP server for clients that only speak stdio,
//! relaying every message to the running gateway's `/mcp` with the agent's
//! token. It makes no decisions of its own: the gateway authenticates,
//! decides and records exactly as for an HTTP client.

use rmcp::service::{RoleClient, RoleServer};
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, Transport};

/// The bridge stopped on an error.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(
        "WARRANT_TOKEN is not set: spawn an agent with `warrant agents spawn NAME --json` and pass its token"
    )]
    NoToken,
    #[error("relaying to the gateway failed: {0}")]
    Upstream(String),
    #[error("writing to stdout failed: {0}")]
    Downstream(String),
}

/// Relays between stdio and the gateway at `url` until either side closes.
pub async fn run(url: &str, token: &str) -> Result<(), BridgeError> {
    if token.trim().is_empty() {
        return Err(BridgeError::NoToken);
    }
    let (stdin, stdout) = rmcp::transport::io::stdio();
    let mut down = AsyncRwTransport::<RoleServer, _, _>::new_server(stdin, stdout);
    let mut up: StreamableHttpClientTransport<_> = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).auth_header(token.trim()),
    );
    let result = loop {
        tokio::select! {
            message = Transport::<RoleServer>::receive(&mut down) => match message {
                Some(m) => {
                    if let Err(e) = Transport::<RoleClient>::send(&mut up, m).await {
                        break Err(BridgeError::Upstream(e.to_string()));
                    }
                }
                None => break Ok(()),
            },
            message = Transport::<RoleClient>::receive(&mut up) => match message {
                Some(m) => {
                    if let Err(e) = Transport::<RoleServer>::send(&mut down, m).await {
                        break Err(BridgeError::Downstream(e.to_string()));
                    }
                }
                None => break Err(BridgeError::Upstream("the gateway closed the connection".into())),
            },
        }
    };
    let _ = Transport::<RoleClient>::close(&mut up).await;
    result
}
