//! What the embedder plugs in: the [`Gate`] that decides and records, and the
//! values it sees.

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

/// The embedder's policy and audit hook, one per listener (shared by its
/// connections).
///
/// For every request that passes the proxy's own checks the proxy calls
/// [`Gate::decide`], then [`Gate::record`] with the verdict, and connects only
/// if the verdict is [`Verdict::Allow`] *and* the record succeeded.
pub trait Gate: Send + Sync + 'static {
    /// Decides one request. Called after the destination was resolved and
    /// every address found outside the forbidden ranges (or exempted).
    fn decide(&self, request: &EgressRequest) -> impl Future<Output = Verdict> + Send;

    /// Records one event. An error on a [`EgressEvent::Decided`] allow makes
    /// the proxy refuse the request (fail closed); on other events it is
    /// logged, since the refusal or the exchange already happened.
    fn record(&self, event: EgressEvent) -> impl Future<Output = Result<(), String>> + Send;
}

/// A request the gate is asked about: the destination as named, and the
/// addresses the proxy resolved, checked, and will connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressRequest {
    /// Opaque id of the agent this listener serves.
    pub agent: String,
    /// The host as the client named it: lowercased, without a trailing dot.
    /// IP literals are in their canonical text form, IPv6 without brackets.
    pub host: String,
    /// Destination port.
    pub port: u16,
    /// Plain HTTP forwarding or a CONNECT tunnel.
    pub kind: RequestKind,
    /// Every address the host resolved to, deduplicated, in resolver order.
    /// The proxy connects only to these.
    pub addresses: Vec<IpAddr>,
}

/// How the client wants to reach the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// An absolute-form `http://` request, forwarded by the proxy.
    Http {
        /// Request method, e.g. `GET`.
        method: String,
        /// Origin-form path and query sent upstream, e.g. `/a?b=c`.
        path: String,
    },
    /// A `CONNECT host:port` tunnel; the proxy sees only bytes.
    Connect,
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Connect.
    Allow,
    /// Refuse with 403; `reason` is sent to the client and recorded.
    Deny {
        /// Why, in a few words (no secrets: the agent reads it).
        reason: String,
    },
}

/// What the proxy records through [`Gate::record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EgressEvent {
    /// The proxy refused on its own, before or without asking the gate.
    Refused(Refusal),
    /// The gate's verdict, recorded before any connection is attempted.
    Decided {
        /// The request decided.
        request: EgressRequest,
        /// The verdict.
        verdict: Verdict,
    },
    /// The end of an allowed exchange or tunnel, failed or not.
    Finished {
        /// The request allowed.
        request: EgressRequest,
        /// What happened.
        outcome: Outcome,
    },
}

/// A refusal made by the proxy itself: malformed input, a bad host, a port not
/// allowed, a name that did not resolve, or a forbidden address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Opaque id of the agent this listener serves.
    pub agent: String,
    /// The request target as the client sent it (at most 512 bytes), empty
    /// when the request could not be parsed at all.
    pub target: String,
    /// The checked request when the refusal came after resolution (e.g. a
    /// forbidden address); `None` before.
    pub request: Option<EgressRequest>,
    /// The status sent to the client; `None` when the connection was closed
    /// without a response (headers not received in time).
    pub status: Option<u16>,
    /// Why, as also sent in the response body.
    pub reason: String,
}

/// How an allowed exchange or tunnel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The status the client received: the upstream's for HTTP, 200 for an
    /// established tunnel, or the proxy's 502/504 when the upstream failed;
    /// `None` if the client went away before a response.
    pub status: Option<u16>,
    /// Body bytes from the client to the upstream (tunnel: all bytes).
    pub bytes_up: u64,
    /// Body bytes from the upstream to the client (tunnel: all bytes).
    pub bytes_down: u64,
    /// From the verdict to the end of the exchange.
    pub duration: Duration,
    /// Why it ended abnormally (upstream unreachable, idle timeout, body cut
    /// short, client gone); `None` for a clean end.
    pub error: Option<String>,
}
