//! Connections through the egress proxy, of a `warrant run` sandbox (agent
//! set, no custody) or of `warrant__http_request` (with the caller's
//! custody). Paths are kept only up to their query.

use crate::shapes::{BlockedWhere, Outcome, ScreenWhere, shapes};
use serde::{Deserialize, Serialize};

shapes! {
    /// `egress_refused`: the proxy refused on its own (bad input, a port or
    /// address not allowed, a name that did not resolve), the name screen
    /// refused without finding a secret, or the proxy did not send a
    /// request the gate allowed (too large to inspect, another host than
    /// its tunnel, policy refused a credential's use).
    #[derive(Eq)]
    pub enum EgressRefused {
        Proxy(ProxyRefusal) => "a refusal by the proxy",
        Screened(ScreenedName) => "a screened name",
        Blocked(BlockedRequest) => "a blocked request",
    }
}

/// The proxy refused before or after asking the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyRefusal {
    /// The request target as sent (at most 512 bytes); empty when the
    /// request could not be parsed.
    pub target: String,
    /// The status sent; `null` when the connection was closed without one.
    pub status: Option<u16>,
    pub reason: String,
    /// The request with the forbidden addresses, when that was why;
    /// `null` otherwise.
    pub request: Option<ShownRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<Vec<String>>,
}

/// A destination refused by the name screen before it was resolved. The
/// name is not recorded: when a secret was found, it holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreenedName {
    #[serde(rename = "where")]
    pub where_: ScreenWhere,
    pub port: u16,
    pub method: String,
    pub reason: String,
    /// Always 403.
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<Vec<String>>,
}

/// A request the gate allowed but the proxy did not send (or a response
/// the client did not get).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockedRequest {
    pub host: String,
    pub port: u16,
    pub method: String,
    /// `null` for a tunnel.
    pub path: Option<String>,
    /// The addresses the name resolved to.
    pub addresses: Vec<String>,
    pub status: u16,
    pub reason: String,
    #[serde(rename = "where")]
    pub where_: BlockedWhere,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<Vec<String>>,
}

/// A request as records show it: the destination and where it resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShownRequest {
    pub host: String,
    pub port: u16,
    /// `CONNECT` for a tunnel.
    pub method: String,
    /// `null` for a tunnel.
    pub path: Option<String>,
    pub addresses: Vec<String>,
}

/// `egress_decision`: the gate's verdict on a destination, before the name
/// is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressDecision {
    pub host: String,
    pub port: u16,
    pub method: String,
    /// `null` for a tunnel.
    pub path: Option<String>,
    /// `allow` or `deny` (a connection policy asks about is put to a person
    /// first).
    pub outcome: Outcome,
    /// Why it was denied; `null` when allowed.
    pub reason: Option<String>,
    /// The run declared this host. `warrant run` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<bool>,
    /// `warrant__http_request` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<Vec<String>>,
}

/// `egress_finished`: an allowed exchange or tunnel ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressFinished {
    pub host: String,
    pub port: u16,
    pub method: String,
    pub path: Option<String>,
    pub addresses: Vec<String>,
    /// The status the client received; `null` if it went away first.
    pub status: Option<u16>,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub duration_ms: u64,
    /// Why it ended abnormally; `null` for a clean end.
    pub error: Option<String>,
    /// `warrant__http_request` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<Vec<String>>,
}
