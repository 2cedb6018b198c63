//! The gateway's own life, its HTTP guard, its upstreams and their tools.

use crate::shapes::{ConnectionEvent, NamedReason, ToolPin, ToolsEvent, shapes};
use serde::{Deserialize, Serialize};

/// `gateway_started`: `warrant up` is serving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayStarted {
    /// Where agents reach it (`http://127.0.0.1:PORT/mcp`).
    pub mcp_url: String,
    pub pid: u32,
    /// The policy sources loaded, by name.
    pub policies: Vec<String>,
    /// Every rule id of the loaded policy.
    pub rules: Vec<String>,
    /// The configured upstreams, by name.
    pub upstreams: Vec<String>,
    /// Discovery mode is on.
    pub discover: bool,
    /// The agent names discovery is limited to; empty for every agent.
    pub discover_agents: Vec<String>,
}

/// `gateway_stopped`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayStopped {
    pub reason: StopReason,
}

/// Why the gateway stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// SIGINT or SIGTERM.
    Signal,
    /// The HTTP server failed.
    Error,
}

/// `auth_failed`: the guard refused a request's credential (agent NULL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFailed {
    /// What was wrong, as the client was told.
    pub reason: String,
    /// The client's address (`ip:port`); empty when unknown.
    pub peer: String,
    /// The HTTP method.
    pub method: String,
}

shapes! {
    /// `bad_request`: the guard refused a request before the handler, or
    /// the handler answered an authenticated agent with an error status.
    #[derive(Eq)]
    pub enum BadRequest {
        /// Refused by the guard (host, origin, body size or time); agent NULL.
        Refused(RequestRefused) => "a refusal by the guard",
        /// An error status for an authenticated agent's request.
        ErrorStatus(ErrorStatus) => "an error status",
    }
}

/// A request the guard refused before any handler saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRefused {
    pub reason: String,
    pub peer: String,
    pub method: String,
}

/// A 4xx or 5xx answered to an authenticated agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorStatus {
    pub status: u16,
    pub peer: String,
}

/// `tool_quarantined`: one tool held back at admission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolQuarantined {
    /// The qualified name (`UPSTREAM__tool`).
    pub tool: String,
    pub reason: String,
}

/// `tool_accepted`: `warrant tools accept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolAccepted {
    pub tool: String,
    pub by: String,
    /// The pin it had before (`null` for a tool never pinned).
    pub pinned: Option<String>,
    /// The pin accepted.
    pub accepted: Option<String>,
    /// Why it had been quarantined.
    pub reason: Option<String>,
}

/// `tools_listed`: an agent was shown its tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsListed {
    pub shown: u64,
    pub hidden: u64,
    /// The caller's chain of custody: who spawned the root, then the SPIFFE
    /// id of each agent down to the caller.
    pub custody: Vec<String>,
}

shapes! {
    /// `upstream_state`: an upstream listed its tools, or its connection
    /// came up or went down (agent NULL).
    #[derive(Eq)]
    pub enum UpstreamState {
        Tools(UpstreamTools) => "a tool listing",
        Connection(UpstreamConnection) => "a connection change",
    }
}

/// What an upstream's listing admitted, refused and held back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTools {
    pub upstream: String,
    pub event: ToolsEvent,
    /// Admitted tools with their pins (quarantined ones included).
    pub tools: Vec<ToolPin>,
    /// Tools that could not be admitted at all.
    pub refused: Vec<RefusedTool>,
    /// Admitted tools whose input schema cannot be used (calls refused).
    pub unusable_schemas: Vec<NamedReason>,
    pub quarantined: Vec<NamedReason>,
}

/// A tool an upstream offered that could not be admitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusedTool {
    pub upstream: String,
    pub tool: String,
    pub reason: String,
}

/// An upstream's connection came up or went down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConnection {
    pub upstream: String,
    pub event: ConnectionEvent,
    /// Why it went down; `null` when it came up.
    pub error: Option<String>,
    /// The vault credentials it was given (names only).
    pub credentials: Vec<String>,
}

/// `policy_loaded`. No writer records this kind yet; until one does, its
/// body is empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyLoaded {}
