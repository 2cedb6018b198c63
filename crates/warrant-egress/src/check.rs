//! The security contract of one request, in order: parse the target, check the
//! port, resolve the name *here*, classify every address, ask the gate, record
//! the verdict, and only then connect, to a checked address.
//!
//! The result of passing is a [`Cleared`], which only [`clear`] constructs and
//! which [`connect`] requires, so a connection without the checks does not
//! compile. Its addresses are the ones classified: the name is never resolved
//! again (that would reopen the door to DNS rebinding).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use http::{Method, StatusCode, Uri};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::gate::{EgressEvent, EgressRequest, Gate, Refusal, RequestKind, Verdict};
use crate::proxy::Shared;
use crate::ranges::{forbidden_reason, is_exempt};
use crate::target::{self, Host, Target, TargetKind};

/// A refusal to send to the client (already recorded).
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

/// A request that passed every check and whose allow verdict was recorded.
#[derive(Debug)]
pub(crate) struct Cleared {
    target: Target,
    request: EgressRequest,
}

/// Why connecting to a cleared destination failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("connecting to `{authority}` timed out after {timeout:?}")]
    Timeout { authority: String, timeout: Duration },
    #[error("connecting to `{authority}` failed: {source}")]
    Failed { authority: String, source: std::io::Error },
}

impl Cleared {
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    pub(crate) fn request(&self) -> &EgressRequest {
        &self.request
    }
}

impl ConnectError {
    /// The status the client gets: 504 for a timeout, 502 otherwise.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Failed { .. } => StatusCode::BAD_GATEWAY,
        }
    }
}

/// Runs every check on a request and records the outcome through the gate.
/// A refusal is recorded before it is returned.
pub(crate) async fn clear<G: Gate>(
    shared: &Shared<G>,
    method: &Method,
    uri: &Uri,
) -> Result<Cleared, Refused> {
    let raw = excerpt_target(uri);
    let target = match target::parse(method, uri) {
        Ok(target) => target,
        Err(err) => {
            let message = format!("bad request target: {err}");
            return Err(refuse(shared, raw, None, StatusCode::BAD_REQUEST, message).await);
        }
    };
    let host = target.host.text();
    let authority = authority(&target.host, target.port);
    if !shared.config.port_allowed(target.port) {
        let message = format!("egress to {authority} refused: port {} is not allowed", target.port);
        return Err(refuse(shared, raw, None, StatusCode::FORBIDDEN, message).await);
    }

    let addresses = match resolve(&target.host, target.port, shared.config.resolve_timeout).await {
        Ok(addresses) => addresses,
        Err((status, why)) => {
            let message = format!("egress to {host} failed: {why}");
            return Err(refuse(shared, raw, None, status, message).await);
        }
    };
    let kind = match &target.kind {
        TargetKind::Http { path } => {
            RequestKind::Http { method: method.to_string(), path: path.clone() }
        }
        TargetKind::Connect => RequestKind::Connect,
    };
    let request = EgressRequest {
        agent: shared.agent.clone(),
        host: host.clone(),
        port: target.port,
        kind,
        addresses,
    };

    for &ip in &request.addresses {
        let Some(why) = forbidden_reason(ip) else { continue };
        if is_exempt(ip, &shared.config.allow_private) {
            continue;
        }
        let message = match target.host {
            Host::Ip(_) => format!("egress to {host} refused: {why}"),
            Host::Name(_) => format!("egress to {host} refused: resolves to {ip}, {why}"),
        };
        return Err(refuse(shared, raw, Some(request), StatusCode::FORBIDDEN, message).await);
    }

    let verdict = shared.gate.decide(&request).await;
    let recorded = shared
        .gate
        .record(EgressEvent::Decided { request: request.clone(), verdict: verdict.clone() })
        .await;
    match (verdict, recorded) {
        (Verdict::Deny { reason }, recorded) => {
            if let Err(err) = recorded {
                tracing::warn!(error = %err, "recording a denial failed");
            }
            let message = format!("egress to {authority} refused: {reason}");
            Err(Refused { status: StatusCode::FORBIDDEN, message })
        }
        (Verdict::Allow, Err(err)) => {
            tracing::warn!(error = %err, "recording an allow failed; refusing");
            let message =
                format!("egress to {authority} refused: the decision could not be recorded");
            Err(Refused { status: StatusCode::SERVICE_UNAVAILABLE, message })
        }
        (Verdict::Allow, Ok(())) => Ok(Cleared { target, request }),
    }
}

/// Connects to the first reachable checked address, all attempts within
/// `timeout`.
pub(crate) async fn connect(
    cleared: &Cleared,
    timeout: Duration,
) -> Result<TcpStream, ConnectError> {
    let deadline = Instant::now() + timeout;
    let port = cleared.target.port;
    let authority = || authority(&cleared.target.host, port);
    let mut last = None;
    for &ip in &cleared.request.addresses {
        match tokio::time::timeout_at(deadline, TcpStream::connect(SocketAddr::new(ip, port))).await
        {
            Ok(Ok(stream)) => {
                // Latency over throughput: requests and TLS records are small.
                if let Err(err) = stream.set_nodelay(true) {
                    tracing::debug!(error = %err, "TCP_NODELAY not set upstream");
                }
                return Ok(stream);
            }
            Ok(Err(err)) => last = Some(err),
            Err(_) => return Err(ConnectError::Timeout { authority: authority(), timeout }),
        }
    }
    let source = last.unwrap_or_else(|| std::io::Error::other("no address to connect to"));
    Err(ConnectError::Failed { authority: authority(), source })
}

/// `host:port`, IPv6 bracketed, for messages.
pub(crate) fn authority(host: &Host, port: u16) -> String {
    match host {
        Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
        other => format!("{}:{port}", other.text()),
    }
}

/// Records a refusal made by the proxy itself and returns it.
pub(crate) async fn refuse<G: Gate>(
    shared: &Shared<G>,
    target: String,
    request: Option<EgressRequest>,
    status: StatusCode,
    message: String,
) -> Refused {
    tracing::debug!(status = status.as_u16(), reason = %message, "egress refused");
    let refusal = Refusal {
        agent: shared.agent.clone(),
        target,
        request,
        status: Some(status.as_u16()),
        reason: message.clone(),
    };
    if let Err(err) = shared.gate.record(EgressEvent::Refused(refusal)).await {
        tracing::warn!(error = %err, "recording a refusal failed");
    }
    Refused { status, message }
}

/// Resolves `host` (IP literals as themselves), deduplicated, in order.
async fn resolve(
    host: &Host,
    port: u16,
    timeout: Duration,
) -> Result<Vec<IpAddr>, (StatusCode, String)> {
    let name = match host {
        Host::Ip(ip) => return Ok(vec![*ip]),
        Host::Name(name) => name,
    };
    let found =
        match tokio::time::timeout(timeout, tokio::net::lookup_host((name.as_str(), port))).await {
            Err(_) => {
                return Err((
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("resolving timed out after {timeout:?}"),
                ));
            }
            Ok(Err(err)) => {
                return Err((StatusCode::BAD_GATEWAY, format!("name did not resolve ({err})")));
            }
            Ok(Ok(found)) => found,
        };
    let mut addresses: Vec<IpAddr> = Vec::new();
    for addr in found {
        if !addresses.contains(&addr.ip()) {
            addresses.push(addr.ip());
        }
    }
    if addresses.is_empty() {
        return Err((StatusCode::BAD_GATEWAY, "name resolved to no address".to_owned()));
    }
    Ok(addresses)
}

/// The request target as sent, bounded, for the record.
fn excerpt_target(uri: &Uri) -> String {
    const MAX_TARGET_CHARS: usize = 512;
    uri.to_string().chars().take(MAX_TARGET_CHARS).collect()
}
