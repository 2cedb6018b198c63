//! The limits and exceptions of one egress listener.

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::intercept::Interception;
use crate::resolve::{Resolver, SystemResolver};

/// Smallest header limit hyper accepts for its read buffer; smaller
/// `max_header_bytes` values are raised to it.
pub(crate) const MIN_HEADER_BYTES: usize = 8 * 1024;

/// Limits and exceptions for one listener. [`EgressConfig::default`] is the
/// strict setting: no private destination, any port.
#[derive(Debug, Clone)]
pub struct EgressConfig {
    /// Destinations inside a forbidden range (loopback, private, link-local…)
    /// that are nevertheless allowed, e.g. `127.0.0.1/32` for a local dev
    /// server. An address is exempt only if a network here contains it (or,
    /// for an IPv4-mapped IPv6 address, the IPv4 address it maps). The gate is
    /// still asked. Default: empty.
    pub allow_private: Vec<IpNet>,
    /// Destination ports allowed; `None` allows any port (1–65535).
    /// Default: `None`.
    pub allowed_ports: Option<Vec<u16>>,
    /// What resolves names, once the gate has allowed them. Default: the
    /// operating system's ([`SystemResolver`]).
    pub resolver: Arc<dyn Resolver>,
    /// Longest a name resolution may take before the request fails with 504.
    /// Default: 5 s.
    pub resolve_timeout: Duration,
    /// Longest the proxy spends connecting to the upstream, across all of the
    /// checked addresses, before failing with 504. Default: 10 s.
    pub connect_timeout: Duration,
    /// Longest a client may take to send a request's headers, counted from
    /// the start of the connection or the end of the previous exchange; the
    /// connection is then closed. Inside an intercepted tunnel it bounds the
    /// client's TLS handshake and the wait for each request the same way.
    /// Default: 10 s.
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers) accepted; larger ones
    /// get 431. Values under 8 KiB are raised to 8 KiB. Default: 32 KiB.
    pub max_header_bytes: usize,
    /// Longest a relay may go without a byte moving: a tunnel in either
    /// direction, the wait for an upstream's response head (then 504), or a
    /// body being streamed. Default: 300 s.
    pub idle_timeout: Duration,
    /// Most client connections served at once (tunnels included); further
    /// clients wait in the listen backlog until one ends. Values under 1 are
    /// raised to 1. Default: 256.
    pub max_connections: usize,
    /// Where requests in origin-form (`POST /mcp`, not a proxy request) go:
    /// the gateway's own loopback endpoint. This is how a sandbox, whose only
    /// way out is this proxy, reaches Warrant's MCP endpoint; the gateway
    /// authenticates and decides those requests itself. `None`: origin-form
    /// requests get 400. Default: `None`.
    pub gateway: Option<std::net::SocketAddr>,
    /// Largest request body buffered for [`Gate::inspect`](crate::Gate::inspect);
    /// a larger one gets 413 and is not sent (it cannot be inspected, so it
    /// does not go). Each inspected request in flight may hold this much
    /// memory. Default: 8 MiB.
    pub max_inspected_body: usize,
    /// The local certificate authority and upstream TLS settings with which
    /// tunnels that [`Gate::inspects`](crate::Gate::inspects) are
    /// intercepted. `None`: such tunnels are refused (403), never relayed
    /// uninspected. Default: `None`.
    pub interception: Option<Arc<Interception>>,
}

impl Default for EgressConfig {
    fn default() -> Self {
        Self {
            allow_private: Vec::new(),
            allowed_ports: None,
            resolver: Arc::new(SystemResolver),
            resolve_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 32 * 1024,
            idle_timeout: Duration::from_secs(300),
            max_connections: 256,
            gateway: None,
            max_inspected_body: 8 * 1024 * 1024,
            interception: None,
        }
    }
}

impl EgressConfig {
    /// The header limit actually enforced (see [`EgressConfig::max_header_bytes`]).
    pub(crate) fn effective_header_bytes(&self) -> usize {
        self.max_header_bytes.max(MIN_HEADER_BYTES)
    }

    /// The connection limit actually enforced: at least one.
    pub(crate) fn effective_max_connections(&self) -> usize {
        self.max_connections.max(1)
    }

    /// Whether `port` may be reached at all.
    pub(crate) fn port_allowed(&self, port: u16) -> bool {
        self.allowed_ports.as_ref().is_none_or(|ports| ports.contains(&port))
    }
}
