//! Warrant's egress proxy: the one way out for a sandboxed agent's network
//! traffic. An HTTP/1.1 forward proxy for absolute-form `http://` requests and
//! `CONNECT host:port` tunnels (for HTTPS), one listener per agent. A name is
//! screened and decided by the embedder's [`Gate`] before it is resolved.
//! Requests the gate asks to inspect are buffered and handed to it to
//! rewrite or block before they go upstream, HTTPS included: the proxy then
//! terminates the tunnel's TLS with a [`LocalCa`] that only sandboxes trust.
//!
//! # The order of checks for each request
//!
//! This order is the security contract (see `check.rs`):
//!
//! 1. **Parse**, with the request head bounded in size
//!    ([`EgressConfig::max_header_bytes`], else 431) and in read time
//!    ([`EgressConfig::header_read_timeout`], else the connection is closed).
//!    Origin-form (`GET /path`) is not a proxy request: 400.
//! 2. **Normalise the host**: ASCII lowercase, no trailing dot; userinfo,
//!    characters outside `[a-z0-9._-]`, IPv6 zones and non-dotted-quad numeric
//!    hosts are refused (400). IDNA is not done: names must arrive as
//!    punycode. A port outside [`EgressConfig::allowed_ports`] is refused (403).
//! 3. **An IP literal is classified** now, since it needs no lookup: if it
//!    is loopback, private, link-local, cloud metadata, multicast,
//!    reserved… (the table in `ranges.rs`, IPv6 forms of IPv4 included) and
//!    not inside [`EgressConfig::allow_private`], refuse (403) without
//!    asking anyone.
//! 4. **Screen** the destination as named with [`Gate::screen`] (the
//!    embedder's scan of the name for secrets). A block is a 403, recorded
//!    as [`EgressEvent::Screened`]; the gate is not asked to decide.
//! 5. **Ask** [`Gate::decide`] about the destination as named (a
//!    [`Destination`]: host, port, method and path, no addresses), then
//!    [`Gate::record`] the verdict. The gate may wait for a person. A denial
//!    is a 403 with the gate's reason; a failed record refuses (503): fail
//!    closed.
//! 6. **Resolve the name here**, with [`EgressConfig::resolver`], only now:
//!    nothing about a name, not even a DNS query, leaves the machine before
//!    the gate has screened and allowed it. 504 on timeout, 502 when it does
//!    not resolve.
//! 7. **Classify every address** as in step 3: one that is forbidden and
//!    not exempt refuses the request (403, recorded as
//!    [`EgressEvent::Refused`] with the addresses) although the gate allowed
//!    the name.
//! 8. **Connect to a checked address**, never re-resolving (the DNS-rebinding
//!    defence), within [`EgressConfig::connect_timeout`]: 504 on timeout, 502
//!    if every address refused.
//! 9. **Relay**. Plain HTTP goes upstream in origin-form with the right `Host`
//!    and without hop-by-hop headers or `Proxy-Authorization`, over a fresh
//!    connection per request. CONNECT is answered 200 only once the upstream
//!    is connected, then bytes are copied both ways until both sides close or
//!    [`EgressConfig::idle_timeout`] passes without traffic. The end is
//!    recorded ([`EgressEvent::Finished`]: status, bytes, duration).
//!
//! # Inspection
//!
//! After the allow is recorded, [`Gate::inspects`] says whether the request
//! or tunnel is inspected (by default nothing is, and the above is all).
//!
//! - **Plain HTTP**: before anything is connected, the body is buffered (up
//!   to [`EgressConfig::max_inspected_body`], else 413), the request in its
//!   upstream form is handed to [`Gate::inspect`], which may rewrite head and
//!   body or block it (403), and what it leaves is sent with a
//!   `Content-Length`.
//! - **CONNECT**: with no [`EgressConfig::interception`] the tunnel is
//!   refused (403), never relayed uninspected. Otherwise the upstream is
//!   connected, the client gets 200 and a TLS handshake under a leaf the
//!   [`LocalCa`] minted for the CONNECT host (a client naming another host in
//!   SNI is refused), and each HTTP/1.1 request inside must name that host
//!   (else 421), is inspected as above, and goes to the checked address over
//!   TLS verified by [`Interception`]'s client settings, with the host as
//!   SNI. One upstream connection serves the tunnel, kept alive.
//!
//! The response to every inspected request is put to
//! [`Gate::filter_response`] (its head, the upstream's own reason phrase
//! dropped), which may change header values, refuse it (502), or give a
//! [`ResponseFilter`] that every byte of the body passes through as it
//! streams. A filter keeps the body's length, so the upstream's framing
//! stands; one that does not has the response cut off.
//!
//! A request that does not go after its destination was allowed, or a
//! response refused, is recorded as [`EgressEvent::Blocked`] before the
//! client is answered. An intercepted
//! tunnel records an [`EgressEvent::Finished`] per request inside it
//! ([`RequestKind::Https`], with method and path), then one for itself.
//!
//! Every refusal the proxy makes itself is recorded too
//! ([`EgressEvent::Refused`]), except connections closed for not sending a
//! request head in time: that is also how idle keep-alive connections end.
//!
//! # What it does not do
//!
//! It does not authenticate clients (the listener is reachable only by its
//! agent; `Proxy-Authorization` is dropped, not checked), looks inside TLS
//! only for the tunnels the gate inspects, does not pool upstream connections
//! (an intercepted tunnel keeps its own one alive; plain HTTP opens one per
//! request), does not proxy WebSocket upgrades over plain HTTP or inside an
//! intercepted tunnel (`Upgrade` is stripped; an uninspected CONNECT carries
//! them), and speaks neither HTTP/2 to clients nor, inside an intercepted
//! tunnel, to upstreams (ALPN offers http/1.1 only). An inspected body is
//! held whole in memory and loses its trailers; a client that pins
//! certificates cannot use an intercepted tunnel. Policy cannot see a
//! destination's addresses ([`Destination`] has none): they are judged only
//! by the range table and [`EgressConfig::allow_private`]. The proxy does not
//! look for secrets in names itself; that is [`Gate::screen`]'s work. Which
//! requests to inspect, what to rewrite, the policy and the audit log are the
//! embedder's, through [`Gate`].

mod ca;
mod check;
mod config;
mod filter;
mod gate;
mod gateway;
mod inspect;
mod intercept;
mod listener;
mod meter;
mod proxy;
mod ranges;
mod resolve;
mod target;
mod tls;
mod tunnel;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub use crate::ca::{CaError, LocalCa, MintError};
pub use crate::config::EgressConfig;
pub use crate::intercept::Interception;

/// The header on responses the proxy makes itself (refusals and failures),
/// so a client can tell them from a destination's; removed from whatever a
/// destination sends.
pub const REFUSAL_HEADER: &str = "x-warrant-egress";
pub use crate::gate::{
    Blocked, Destination, EgressEvent, EgressRequest, Gate, Outcome, Refusal, RequestKind,
    ResponseFilter, Verdict,
};
pub use crate::listener::Listener;
pub use crate::resolve::{Resolver, Resolving, SystemResolver};

/// Serves `agent`'s egress on `listener` until `shutdown` is cancelled.
///
/// At most [`EgressConfig::max_connections`] client connections are served at
/// once; more wait in the listen backlog. On shutdown it stops accepting,
/// closes every connection and tunnel at once, and returns after the records
/// of their ends have been handed to the gate.
pub async fn serve<L, G>(
    mut listener: L,
    agent: String,
    config: EgressConfig,
    gate: Arc<G>,
    shutdown: CancellationToken,
) where
    L: Listener,
    G: Gate,
{
    let span = tracing::info_span!("egress", agent = %agent);
    let limit = Arc::new(Semaphore::new(config.effective_max_connections()));
    let shared =
        Arc::new(proxy::Shared { agent, config, gate, tasks: TaskTracker::new(), shutdown });
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let permit = tokio::select! {
            () = shared.shutdown.cancelled() => break,
            permit = Arc::clone(&limit).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = shared.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok(io) => {
                backoff = ACCEPT_BACKOFF_MIN;
                let connection = proxy::serve_connection(Arc::clone(&shared), io, permit);
                shared.tasks.spawn(connection.instrument(span.clone()));
            }
            Err(err) => {
                // Out of descriptors and the like: wait rather than spin.
                span.in_scope(|| tracing::warn!(error = %err, "accepting a connection failed"));
                drop(permit);
                tokio::select! {
                    () = shared.shutdown.cancelled() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
    shared.tasks.close();
    shared.tasks.wait().await;
}

const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Entry points for the fuzz targets in `fuzz/` (built with `--cfg fuzzing`
/// by cargo-fuzz): the parsers of what an agent sends the proxy.
#[cfg(fuzzing)]
pub mod fuzzing {
    /// Parses a request target as the proxy does; `Some(host text)` when it
    /// is accepted.
    pub fn target(method: &http::Method, uri: &http::Uri) -> Option<String> {
        crate::target::parse(method, uri).ok().map(|t| t.host.text())
    }

    /// Why `ip` is forbidden, if it is.
    pub fn forbidden(ip: std::net::IpAddr) -> Option<String> {
        crate::ranges::forbidden_reason(ip)
    }
}
