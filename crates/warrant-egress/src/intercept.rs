//! TLS interception of the CONNECT tunnels the gate inspects.
//!
//! The upstream is connected (to a checked address) before the client gets
//! its 200, as for an opaque tunnel. The proxy then does the TLS server
//! handshake with the client under a leaf minted by the [`LocalCa`] for the
//! CONNECT host (ALPN http/1.1 only; a client whose SNI names another host is
//! refused), and serves HTTP/1.1 on the decrypted stream, bounded as the
//! outer connection is (a tunnel quiet for
//! [`EgressConfig::header_read_timeout`](crate::EgressConfig::header_read_timeout)
//! between requests is closed). Each request inside must name the tunnel's host
//! (else 421), is put in origin-form, buffered and inspected, and goes to the
//! upstream over TLS verified by [`Interception`]'s client settings with the
//! host as SNI.
//!
//! One upstream TLS connection serves the tunnel: opened at its first request
//! on the connection made before the 200, kept alive for the next ones, and
//! opened again (to the same checked addresses, never re-resolving) if the
//! upstream closed it. A request the upstream never received is sent again
//! once on a new connection; one it may have received is not.
//!
//! Each request inside is recorded as it ends ([`EgressEvent::Finished`] of a
//! [`RequestKind::Https`]), then the tunnel itself (bytes counted on the
//! client's side, TLS included; a failed handshake as its error).
//!
//! [`EgressEvent::Finished`]: crate::EgressEvent::Finished

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::Either;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::ca::LocalCa;
use crate::check::{self, Cleared};
use crate::gate::{Blocked, EgressRequest, Gate, RequestKind};
use crate::inspect::{self, block};
use crate::meter::{Direction, Finish, Tally};
use crate::proxy::{self, ProxyBody, Shared, empty, failed};
use crate::target::{self, Target};
use crate::tls::{self, OneHost};
use crate::tunnel::Watched;

/// What intercepting a tunnel takes: the local CA whose leaves the sandbox
/// trusts, and the TLS client settings that verify the real destination.
pub struct Interception {
    ca: LocalCa,
    upstream: Arc<rustls::ClientConfig>,
}

impl Interception {
    /// `upstream_tls` verifies destinations: its roots are the embedder's
    /// choice (e.g. webpki-roots and the operator's CAs). Its ALPN list is
    /// replaced by http/1.1, the only protocol the proxy speaks upstream.
    pub fn new(ca: LocalCa, upstream_tls: &rustls::ClientConfig) -> Self {
        let mut upstream = upstream_tls.clone();
        upstream.alpn_protocols = vec![tls::HTTP_1_1.to_vec()];
        Self { ca, upstream: Arc::new(upstream) }
    }

    /// The local CA.
    pub fn ca(&self) -> &LocalCa {
        &self.ca
    }
}

impl fmt::Debug for Interception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interception").field("ca", &self.ca).finish_non_exhaustive()
    }
}

/// Mints (or reuses) the host's leaf, connects, answers 200, and serves the
/// intercepted tunnel in a task. Refused (403, recorded) when no interception
/// is configured: an inspected tunnel is never relayed blind.
pub(crate) async fn open<G: Gate>(
    shared: Arc<Shared<G>>,
    permit: Arc<OwnedSemaphorePermit>,
    cleared: Cleared,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let mut finish = Finish::new(Arc::clone(&shared), cleared.request().clone());
    let Some(interception) = shared.config.interception.clone() else {
        let reason = "this tunnel must be inspected and TLS interception is not configured";
        return block(&shared, &mut finish, StatusCode::FORBIDDEN, Blocked::refused(reason)).await;
    };
    let (tls, sni) = match tls::server_config(&interception.ca, &cleared.target().host) {
        Ok(pair) => pair,
        Err(err) => return failed(&mut finish, StatusCode::INTERNAL_SERVER_ERROR, err.to_string()),
    };
    let upstream = match check::connect(&cleared, shared.config.connect_timeout).await {
        Ok(upstream) => upstream,
        Err(err) => return failed(&mut finish, err.status(), err.to_string()),
    };
    let on_upgrade = hyper::upgrade::on(req);
    finish.status = Some(200);
    let tunnel = Arc::new(Tunnel {
        shared: Arc::clone(&shared),
        cleared,
        interception,
        upstream: tokio::sync::Mutex::new(Upstream::Dialled(upstream)),
    });
    shared.tasks.spawn(async move {
        let _permit = permit;
        let ended = match on_upgrade.await {
            Ok(upgraded) => serve(tunnel, tls, &sni, upgraded, &finish.tally).await,
            Err(err) => Some(format!("client upgrade failed: {err}")),
        };
        if let Some(error) = ended {
            finish.tally.note_error(error);
        }
        drop(finish);
    });
    empty(StatusCode::OK)
}

/// One intercepted tunnel, shared by the requests inside it.
struct Tunnel<G> {
    shared: Arc<Shared<G>>,
    cleared: Cleared,
    interception: Arc<Interception>,
    upstream: tokio::sync::Mutex<Upstream>,
}

/// The tunnel's connection to the upstream.
enum Upstream {
    /// Connected before the 200, no TLS yet.
    Dialled(TcpStream),
    Open(SendRequest<ProxyBody>),
    Closed,
}

/// Serves the client's side of the tunnel; returns why it ended abnormally.
async fn serve<G: Gate>(
    tunnel: Arc<Tunnel<G>>,
    tls: Arc<ServerConfig>,
    sni: &OneHost,
    upgraded: Upgraded,
    tally: &Arc<Tally>,
) -> Option<String> {
    let shared = Arc::clone(&tunnel.shared);
    let client = Watched::new(
        TokioIo::new(upgraded),
        Arc::clone(tally),
        Direction::Up,
        Some(Direction::Down),
    );
    let timeout = shared.config.header_read_timeout;
    let handshake = tokio::time::timeout(timeout, TlsAcceptor::from(tls).accept(client));
    let stream = tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => return Some(match sni.refused() {
                Some(named) => format!(
                    "TLS handshake refused: the client named `{named}`, not the tunnel's host"
                ),
                None => format!("TLS handshake with the client failed: {err}"),
            }),
            Err(_) => return Some(format!("no TLS handshake from the client within {timeout:?}")),
        },
        () = shared.shutdown.cancelled() => return Some("proxy shutting down".to_owned()),
    };
    let service = service_fn(move |req| {
        let tunnel = Arc::clone(&tunnel);
        async move { Ok::<_, Infallible>(exchange(tunnel, req).await) }
    });
    let conn = proxy::server(&shared.config).serve_connection(TokioIo::new(stream), service);
    let result = tokio::select! {
        result = conn => result,
        () = shared.shutdown.cancelled() => return Some("proxy shutting down".to_owned()),
    };
    match result {
        Ok(()) => None,
        Err(err) if err.is_parse() => Some(format!("malformed request inside the tunnel: {err}")),
        Err(err) => {
            // Idle keep-alive ends, clients that went away: not failures.
            tracing::debug!(error = %err, "intercepted tunnel ended");
            None
        }
    }
}

/// One request inside the tunnel: checked to name the tunnel's host, put in
/// origin-form, inspected, sent, and its response streamed back.
async fn exchange<G: Gate>(tunnel: Arc<Tunnel<G>>, req: Request<Incoming>) -> Response<ProxyBody> {
    let shared = &tunnel.shared;
    let target = tunnel.cleared.target();
    let path = req.uri().path_and_query().map_or("/", PathAndQuery::as_str).to_owned();
    let request = EgressRequest {
        kind: RequestKind::Https { method: req.method().to_string(), path: path.clone() },
        ..tunnel.cleared.request().clone()
    };
    let mut finish = Finish::new(Arc::clone(shared), request);
    if req.method() == Method::CONNECT {
        let reason = Blocked::refused("CONNECT inside an intercepted tunnel is refused");
        return block(shared, &mut finish, StatusCode::METHOD_NOT_ALLOWED, reason).await;
    }
    if let Err(reason) = names_tunnel_host(target, &req) {
        let reason = Blocked::refused(reason);
        return block(shared, &mut finish, StatusCode::MISDIRECTED_REQUEST, reason).await;
    }
    let (mut head, body) = req.into_parts();
    let uri = path.parse::<Uri>().map_err(|err| format!("bad path: {err}"));
    let host = HeaderValue::try_from(target.host.header_value(target.port, 443))
        .map_err(|err| format!("bad host: {err}"));
    match (uri, host) {
        (Ok(uri), Ok(host)) => proxy::prepare_head(&mut head, uri, host),
        (Err(message), _) | (_, Err(message)) => {
            return failed(&mut finish, StatusCode::BAD_REQUEST, message);
        }
    }
    let body = match inspect::inspect(shared, &mut finish, &mut head, body).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    let request = Request::from_parts(head, Either::Left(body));
    match tunnel.send(request, &finish.tally).await {
        Ok(response) => inspect::respond(shared, finish, response).await,
        Err((status, message)) => failed(&mut finish, status, message),
    }
}

impl<G: Gate> Tunnel<G> {
    /// Sends `request` on the tunnel's upstream connection and waits for the
    /// response head (until the idle timeout).
    async fn send(
        &self,
        mut request: Request<ProxyBody>,
        tally: &Tally,
    ) -> Result<Response<Incoming>, (StatusCode, String)> {
        let idle = self.shared.config.idle_timeout;
        let mut retried = false;
        loop {
            let sent = {
                let mut slot = self.upstream.lock().await;
                self.ready(&mut slot).await?.try_send_request(request)
            };
            let Some(result) = tally.unless_idle(idle, sent).await else {
                // The connection still waits for that response: not reusable.
                *self.upstream.lock().await = Upstream::Closed;
                let message = format!("upstream sent no response within {idle:?}");
                return Err((StatusCode::GATEWAY_TIMEOUT, message));
            };
            match result {
                Ok(response) => return Ok(response),
                Err(mut err) => match err.take_message() {
                    // Never written: the kept-alive connection had closed.
                    Some(unsent) if !retried => {
                        *self.upstream.lock().await = Upstream::Closed;
                        request = unsent;
                        retried = true;
                    }
                    _ => {
                        let message = format!("upstream failed: {}", err.error());
                        return Err((StatusCode::BAD_GATEWAY, message));
                    }
                },
            }
        }
    }

    /// The upstream connection, ready for a request: the kept-alive one, or
    /// a new one to a checked address with TLS verified for the host.
    async fn ready<'a>(
        &self,
        slot: &'a mut Upstream,
    ) -> Result<&'a mut SendRequest<ProxyBody>, (StatusCode, String)> {
        let timeout = self.shared.config.connect_timeout;
        if let Upstream::Open(sender) = slot
            && !matches!(tokio::time::timeout(timeout, sender.ready()).await, Ok(Ok(())))
        {
            *slot = Upstream::Closed;
        }
        if !matches!(slot, Upstream::Open(_)) {
            let stream = match std::mem::replace(slot, Upstream::Closed) {
                Upstream::Dialled(stream) => stream,
                Upstream::Open(_) | Upstream::Closed => check::connect(&self.cleared, timeout)
                    .await
                    .map_err(|err| (err.status(), err.to_string()))?,
            };
            *slot = Upstream::Open(self.handshake(stream).await?);
        }
        match slot {
            Upstream::Open(sender) => Ok(sender),
            Upstream::Dialled(_) | Upstream::Closed => {
                Err((StatusCode::BAD_GATEWAY, "no upstream connection".to_owned()))
            }
        }
    }

    /// TLS (SNI the host, verified by the interception's settings), then
    /// HTTP/1.1, on a connection to a checked address.
    async fn handshake(
        &self,
        stream: TcpStream,
    ) -> Result<SendRequest<ProxyBody>, (StatusCode, String)> {
        let target = self.cleared.target();
        let authority = check::authority(&target.host, target.port);
        let name = tls::server_name(&target.host)
            .map_err(|err| (StatusCode::BAD_GATEWAY, format!("bad TLS name: {err}")))?;
        let timeout = self.shared.config.connect_timeout;
        let connector = TlsConnector::from(Arc::clone(&self.interception.upstream));
        let stream = match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => {
                let message = format!("TLS to `{authority}` failed: {err}");
                return Err((StatusCode::BAD_GATEWAY, message));
            }
            Err(_) => {
                let message = format!("TLS to `{authority}` timed out after {timeout:?}");
                return Err((StatusCode::GATEWAY_TIMEOUT, message));
            }
        };
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|err| {
                (StatusCode::BAD_GATEWAY, format!("upstream handshake failed: {err}"))
            })?;
        proxy::drive(&self.shared, conn, "upstream");
        Ok(sender)
    }
}

/// Whether the request's authority and every `Host` header name the
/// tunnel's host (and its port, when they name one): a request for another
/// host must not ride on this host's connection and credentials.
fn names_tunnel_host(target: &Target, req: &Request<Incoming>) -> Result<(), String> {
    let tunnel = check::authority(&target.host, target.port);
    let mismatch = |named: &str| {
        format!("the request names `{}`, not the tunnel's `{tunnel}`", target::excerpt(named))
    };
    let headers = req.headers().get_all(header::HOST).iter().map(|value| value.to_str());
    let authority = req.uri().authority().map(|authority| Ok(authority.as_str()));
    for named in authority.into_iter().chain(headers) {
        let named = named.map_err(|_| "the Host header is not text".to_owned())?;
        match target::parse_host_header(named, target.port) {
            Ok((host, port)) if host == target.host && port == target.port => {}
            _ => return Err(mismatch(named)),
        }
    }
    Ok(())
}
