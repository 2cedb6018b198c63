//! What the embedder plugs in: the [`Gate`] that screens, decides and
//! records, and the values it sees.

use std::future::Future;
use std::net::IpAddr;
use std::time::Duration;

/// The embedder's policy and audit hook, one per listener (shared by its
/// connections).
///
/// For every request that passes the proxy's own checks of its form, the
/// proxy puts the [`Destination`] as named to [`Gate::screen`], then to
/// [`Gate::decide`], then [`Gate::record`]s the verdict; only after an allow
/// *and* its record does it resolve the name, classify the addresses, and
/// connect. It then asks [`Gate::inspects`], and if so, puts each HTTP
/// request to [`Gate::inspect`] before it goes upstream.
pub trait Gate: Send + Sync + 'static {
    /// Why [`Gate::record`] failed (the embedder's audit log's error). The
    /// proxy logs it with its causes.
    type RecordError: std::error::Error + Send + Sync + 'static;

    /// Screens a destination's name before anything about it leaves the
    /// machine: resolving a name sends it to name servers the agent may
    /// control, so a name that carries a secret must be stopped here. Called
    /// before [`Gate::decide`]; a [`Blocked`] answer refuses the request
    /// (403), is recorded as [`EgressEvent::Screened`], and the gate is not
    /// asked to decide. The default lets every name through: an embedder that
    /// holds secrets must scan here.
    fn screen(
        &self,
        destination: &Destination,
    ) -> impl Future<Output = Result<(), Blocked>> + Send {
        let _ = destination;
        std::future::ready(Ok(()))
    }

    /// Decides one destination, as named: nothing has been resolved yet (an
    /// IP literal was found outside the forbidden ranges, or exempted), and
    /// no name is resolved unless this allows it. It may wait, e.g. for a
    /// person to approve: the name is resolved only after the answer.
    fn decide(&self, destination: &Destination) -> impl Future<Output = Verdict> + Send;

    /// Records one event. An error on a [`EgressEvent::Decided`] allow makes
    /// the proxy refuse the request (fail closed); on other events it is
    /// logged, since the refusal or the exchange already happened.
    fn record(
        &self,
        event: EgressEvent,
    ) -> impl Future<Output = Result<(), Self::RecordError>> + Send;

    /// Whether an allowed request must pass through [`Gate::inspect`]: a
    /// plain-HTTP request ([`RequestKind::Http`]) is then buffered before it
    /// goes upstream; a tunnel ([`RequestKind::Connect`]) has its TLS
    /// terminated by the proxy with [`EgressConfig::interception`](crate::EgressConfig::interception)
    /// (refused if there is none), and every request inside it is buffered
    /// and inspected. Called once per request or tunnel, after the allow
    /// verdict was recorded. The default inspects nothing: requests stream
    /// and tunnels stay opaque.
    fn inspects(&self, request: &EgressRequest) -> bool {
        let _ = request;
        false
    }

    /// Inspects one HTTP request about to go upstream, and may rewrite it
    /// (e.g. put a credential in place of a placeholder) or block it.
    ///
    /// `request` says where it goes: [`RequestKind::Http`] for plain HTTP,
    /// [`RequestKind::Https`] for a request inside an intercepted tunnel
    /// (method and path as the client sent them). `head` is the request as it
    /// will be sent: origin-form URI, `Host` set, hop-by-hop headers removed.
    /// `body` is the whole body (at most
    /// [`EgressConfig::max_inspected_body`](crate::EgressConfig::max_inspected_body)).
    /// The head and body may be changed freely; the proxy then frames the
    /// body with `Content-Length` itself. The connection is already chosen:
    /// changing `Host` or the URI does not change where the request goes.
    ///
    /// A [`Blocked`] answer sends the client a 403 with its reason, records
    /// [`EgressEvent::Blocked`], and sends nothing upstream.
    ///
    /// It is synchronous and runs on the proxy's runtime: CPU work on the
    /// request only (anything it needs, such as credentials, must already be
    /// in memory). The default lets every request through unchanged.
    fn inspect(
        &self,
        request: &EgressRequest,
        head: &mut http::request::Parts,
        body: &mut Vec<u8>,
    ) -> Result<(), Blocked> {
        let _ = (request, head, body);
        Ok(())
    }

    /// How the response to an inspected request is filtered on its way back
    /// to the client. Called once the upstream's response head arrived, for
    /// every request [`Gate::inspect`] let through (plain HTTP and inside an
    /// intercepted tunnel). `head` may be changed (e.g. header values
    /// masked); the proxy then removes hop-by-hop headers as usual.
    ///
    /// `Ok(Some(filter))` passes every byte of the body through the
    /// [`ResponseFilter`]; `Ok(None)` streams it unchanged. A [`Blocked`]
    /// answer drops the upstream's response and sends the client a 502 with
    /// its reason, recorded as [`EgressEvent::Blocked`] (for a response that
    /// cannot be inspected, e.g. one compressed although the request asked
    /// for none).
    ///
    /// Synchronous, on the proxy's runtime, like [`Gate::inspect`]. The
    /// default filters nothing.
    fn filter_response(
        &self,
        request: &EgressRequest,
        head: &mut http::response::Parts,
    ) -> Result<Option<Box<dyn ResponseFilter>>, Blocked> {
        let _ = (request, head);
        Ok(None)
    }
}

/// A filter over one response body, chunk by chunk, from
/// [`Gate::filter_response`].
///
/// It must keep the body's length: over the whole body it writes exactly as
/// many bytes as it is given, so the upstream's framing (`Content-Length`)
/// stays true. A filter that does not is caught at the end of the body, and
/// the response is cut off with an error rather than sent wrongly framed.
pub trait ResponseFilter: Send + 'static {
    /// Takes the next `chunk` of the body and appends to `out` what may go to
    /// the client now; it may hold bytes back until later chunks arrive.
    fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>);

    /// The body ended: appends to `out` everything still held back. Called
    /// once, also when the body ends early (an upstream that went away).
    fn finish(&mut self, out: &mut Vec<u8>);
}

/// [`Gate::inspect`]'s refusal of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// Why, in a few words: sent to the client as `warrant: <reason>` and
    /// recorded. No secrets: the agent reads it.
    pub reason: String,
    /// Whether it was blocked for carrying a secret out (a leak), rather than
    /// refused for another reason (a policy denial, something that could not
    /// be inspected). Passed on in [`EgressEvent::Blocked`] for the
    /// embedder's records.
    pub leak: bool,
}

impl Blocked {
    /// A request blocked for carrying a secret out.
    pub fn leak(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), leak: true }
    }

    /// A request or response refused for any other reason.
    pub fn refused(reason: impl Into<String>) -> Self {
        Self { reason: reason.into(), leak: false }
    }
}

/// What the gate screens and decides: the destination as the client named
/// it, before anything about it was looked up.
///
/// It has no addresses on purpose: they are known only once the name has
/// been resolved, which must wait for the gate's allow. Policy that needs
/// addresses cannot be written here; the proxy's own range check
/// ([`EgressConfig::allow_private`](crate::EgressConfig::allow_private))
/// judges them after the allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Opaque id of the agent this listener serves.
    pub agent: String,
    /// The host as the client named it: lowercased, without a trailing dot.
    /// IP literals are in their canonical text form, IPv6 without brackets.
    pub host: String,
    /// Destination port.
    pub port: u16,
    /// Plain HTTP forwarding (with its method and path) or a CONNECT tunnel
    /// (whose requests are not known yet).
    pub kind: RequestKind,
}

/// An allowed request once its name was resolved: the destination as named,
/// and the addresses the proxy checked and will connect to.
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

impl Destination {
    /// The request this destination became once resolved to `addresses`.
    pub(crate) fn resolved(self, addresses: Vec<IpAddr>) -> EgressRequest {
        let Self { agent, host, port, kind } = self;
        EgressRequest { agent, host, port, kind, addresses }
    }
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
    /// A `CONNECT host:port` tunnel: the proxy sees only bytes, unless
    /// [`Gate::inspects`] asked for its TLS to be intercepted.
    Connect,
    /// One request inside an intercepted `CONNECT` tunnel, decrypted by the
    /// proxy; `host`, `port` and `addresses` are the tunnel's. Never put to
    /// [`Gate::decide`] (the tunnel was); seen by [`Gate::inspect`] and in
    /// records.
    Https {
        /// Request method, e.g. `GET`.
        method: String,
        /// Origin-form path and query as the client sent them, e.g. `/a?b=c`.
        path: String,
    },
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
    /// The proxy refused on its own: before asking the gate (bad input, a
    /// port not allowed, a forbidden IP literal), or after its allow (the
    /// name did not resolve, or resolved to a forbidden address).
    Refused(Refusal),
    /// [`Gate::screen`] blocked a destination: nothing about it was resolved
    /// and the gate was not asked to decide. The client got a 403.
    Screened {
        /// The destination blocked.
        destination: Destination,
        /// Why, as also sent in the response body.
        reason: String,
        /// [`Blocked::leak`] of the gate's answer.
        leak: bool,
    },
    /// The gate's verdict, recorded before the name is resolved and before
    /// any connection is attempted.
    Decided {
        /// The destination decided, as named.
        destination: Destination,
        /// The verdict.
        verdict: Verdict,
    },
    /// A request the gate allowed but the proxy did not send upstream: the
    /// gate's [`Gate::inspect`] blocked it (403), its body was too large to
    /// inspect (413), it named another host than its tunnel (421), or it had
    /// to be inspected and could not be (a tunnel with no interception
    /// configured: 403). Also a response the client did not get: the gate's
    /// [`Gate::filter_response`] refused it (502). Recorded before the
    /// client is answered; the exchange's [`EgressEvent::Finished`] follows
    /// as usual.
    Blocked {
        /// The request blocked: [`RequestKind::Http`] or
        /// [`RequestKind::Https`] (with its method and path), or
        /// [`RequestKind::Connect`] for a tunnel refused as a whole.
        request: EgressRequest,
        /// The status sent to the client.
        status: u16,
        /// Why, as also sent in the response body.
        reason: String,
        /// [`Blocked::leak`] of the gate's answer; false for the proxy's own
        /// refusals.
        leak: bool,
    },
    /// The end of an allowed exchange or tunnel, failed or not. An
    /// intercepted tunnel has one per request inside it
    /// ([`RequestKind::Https`]), then one for the tunnel itself.
    Finished {
        /// The request allowed.
        request: EgressRequest,
        /// What happened.
        outcome: Outcome,
    },
}

/// A refusal made by the proxy itself: malformed input, a bad host, a port not
/// allowed, a forbidden IP literal; or, after the gate allowed it, a name
/// that did not resolve or resolved to a forbidden address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Opaque id of the agent this listener serves.
    pub agent: String,
    /// The request target as the client sent it (at most 512 bytes), empty
    /// when the request could not be parsed at all.
    pub target: String,
    /// The request with the addresses found to be forbidden (an IP literal,
    /// or a name the gate allowed that resolved to them); `None` otherwise.
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
    /// established tunnel, the proxy's 502/504 when the upstream failed, or
    /// its refusal when the request was blocked; `None` if the client went
    /// away before a response.
    pub status: Option<u16>,
    /// Body bytes from the client (an inspected body as the client sent it,
    /// before any rewrite; a tunnel: all bytes, TLS records included for an
    /// intercepted one).
    pub bytes_up: u64,
    /// Body bytes from the upstream to the client (tunnel: all bytes).
    pub bytes_down: u64,
    /// From the verdict to the end of the exchange.
    pub duration: Duration,
    /// Why it ended abnormally (upstream unreachable, idle timeout, body cut
    /// short, client gone); `None` for a clean end.
    pub error: Option<String>,
}
