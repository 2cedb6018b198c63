//! The security contract of one request, in order: parse the target, check the
//! port, judge an IP literal by the range table, have the gate screen the
//! name and decide it, record the verdict, and only after an allow resolve
//! the name *here*, classify every address, and connect, to a checked
//! address. Nothing about a name leaves the machine (no DNS query) before the
//! gate has screened and allowed it.
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

use crate::config::EgressConfig;
use crate::gate::{Destination, EgressEvent, EgressRequest, Gate, Refusal, RequestKind, Verdict};
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

/// Runs every check on a request, in the order of the contract (see the
/// crate's doc), and records the outcome through the gate. A refusal is
/// recorded before it is returned.
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
    let authority = authority(&target.host, target.port);
    if !shared.config.port_allowed(target.port) {
        let message = format!("egress to {authority} refused: port {} is not allowed", target.port);
        return Err(refuse(shared, raw, None, StatusCode::FORBIDDEN, message).await);
    }
    let kind = match &target.kind {
        TargetKind::Http { path } => {
            RequestKind::Http { method: method.to_string(), path: path.clone() }
        }
        TargetKind::Connect => RequestKind::Connect,
    };
    let destination = Destination {
        agent: shared.agent.clone(),
        host: target.host.text(),
        port: target.port,
        kind,
    };

    // An IP literal needs no lookup: it is judged by the range table before
    // anyone is asked, so no one is asked about the metadata service.
    if let Host::Ip(ip) = target.host {
        let request = destination.clone().resolved(vec![ip]);
        classify(shared, &raw, &target, request).await?;
    }
    screen(shared, &authority, &destination).await?;
    decide(shared, &authority, &destination).await?;

    // Only now may anything about the name leave the machine.
    let addresses = match resolve(&shared.config, &target.host, target.port).await {
        Ok(addresses) => addresses,
        Err((status, why)) => {
            let message = format!("egress to {} failed: {why}", destination.host);
            return Err(refuse(shared, raw, None, status, message).await);
        }
    };
    let request = classify(shared, &raw, &target, destination.resolved(addresses)).await?;
    Ok(Cleared { target, request })
}

/// Puts the destination to [`Gate::screen`]; a block is recorded as
/// [`EgressEvent::Screened`] and refused with 403.
async fn screen<G: Gate>(
    shared: &Shared<G>,
    authority: &str,
    destination: &Destination,
) -> Result<(), Refused> {
    let Err(blocked) = shared.gate.screen(destination).await else { return Ok(()) };
    tracing::debug!(reason = %blocked.reason, leak = blocked.leak, "egress screened out");
    let event = EgressEvent::Screened {
        destination: destination.clone(),
        reason: blocked.reason.clone(),
        leak: blocked.leak,
    };
    if let Err(err) = shared.gate.record(event).await {
        tracing::warn!(
            error = &err as &dyn std::error::Error,
            "recording a screened destination failed"
        );
    }
    let message = format!("egress to {authority} refused: {}", blocked.reason);
    Err(Refused { status: StatusCode::FORBIDDEN, message })
}

/// Asks [`Gate::decide`] and records the verdict; only an allow whose record
/// succeeded passes (fail closed).
async fn decide<G: Gate>(
    shared: &Shared<G>,
    authority: &str,
    destination: &Destination,
) -> Result<(), Refused> {
    let verdict = shared.gate.decide(destination).await;
    let recorded = shared
        .gate
        .record(EgressEvent::Decided { destination: destination.clone(), verdict: verdict.clone() })
        .await;
    match (verdict, recorded) {
        (Verdict::Deny { reason }, recorded) => {
            if let Err(err) = recorded {
                tracing::warn!(error = &err as &dyn std::error::Error, "recording a denial failed");
            }
            let message = format!("egress to {authority} refused: {reason}");
            Err(Refused { status: StatusCode::FORBIDDEN, message })
        }
        (Verdict::Allow, Err(err)) => {
            tracing::warn!(
                error = &err as &dyn std::error::Error,
                "recording an allow failed; refusing"
            );
            let message =
                format!("egress to {authority} refused: the decision could not be recorded");
            Err(Refused { status: StatusCode::SERVICE_UNAVAILABLE, message })
        }
        (Verdict::Allow, Ok(())) => Ok(()),
    }
}

/// Refuses (403, recorded) a request with any address in a forbidden range
/// that [`EgressConfig::allow_private`](crate::EgressConfig::allow_private)
/// does not exempt; passes it on otherwise.
async fn classify<G: Gate>(
    shared: &Shared<G>,
    raw: &str,
    target: &Target,
    request: EgressRequest,
) -> Result<EgressRequest, Refused> {
    let forbidden = request.addresses.iter().find_map(|&ip| {
        let why = forbidden_reason(ip)?;
        (!is_exempt(ip, &shared.config.allow_private)).then_some((ip, why))
    });
    let Some((ip, why)) = forbidden else { return Ok(request) };
    let host = &request.host;
    let message = match target.host {
        Host::Ip(_) => format!("egress to {host} refused: {why}"),
        Host::Name(_) => format!("egress to {host} refused: resolves to {ip}, {why}"),
    };
    let raw = raw.to_owned();
    Err(refuse(shared, raw, Some(request), StatusCode::FORBIDDEN, message).await)
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
        tracing::warn!(error = &err as &dyn std::error::Error, "recording a refusal failed");
    }
    Refused { status, message }
}

/// Resolves `host` with the configured resolver (IP literals as
/// themselves), deduplicated, in order.
async fn resolve(
    config: &EgressConfig,
    host: &Host,
    port: u16,
) -> Result<Vec<IpAddr>, (StatusCode, String)> {
    let name = match host {
        Host::Ip(ip) => return Ok(vec![*ip]),
        Host::Name(name) => name,
    };
    let timeout = config.resolve_timeout;
    let found = match tokio::time::timeout(timeout, config.resolver.resolve(name, port)).await {
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
    for ip in found {
        if !addresses.contains(&ip) {
            addresses.push(ip);
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
