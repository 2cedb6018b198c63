//! One client connection: hyper's HTTP/1.1 server with bounded header size and
//! read time, each request run through [`check::clear`], then forwarded
//! (plain HTTP, inspected if the gate asks) or tunnelled (CONNECT: relayed
//! opaque, or intercepted by [`crate::intercept`] if the gate inspects it).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::{Either, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::check::{self, Cleared};
use crate::config::EgressConfig;
use crate::filter::Filtered;
use crate::gate::{EgressEvent, Gate, Refusal, ResponseFilter};
use crate::meter::{Direction, Finish, Metered};
use crate::target::TargetKind;
use crate::{gateway, inspect, intercept, tunnel};

/// What every connection of a listener shares.
pub(crate) struct Shared<G> {
    pub(crate) agent: String,
    pub(crate) config: EgressConfig,
    pub(crate) gate: Arc<G>,
    /// Connections, tunnels, upstream drivers and pending records.
    pub(crate) tasks: TaskTracker,
    pub(crate) shutdown: CancellationToken,
}

/// The body of every response the proxy sends and every request it forwards:
/// whole (its own messages, inspected requests), or streamed and metered,
/// and for a filtered response passed through the gate's filter.
pub(crate) type ProxyBody = Either<Full<Bytes>, Either<Metered<Incoming>, Filtered>>;

/// Headers that describe one hop and never cross the proxy, besides those
/// named in `Connection`. `Transfer-Encoding` is re-framed by hyper.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
];

/// Serves one client connection until it closes or the proxy shuts down.
/// `permit` is held until the connection and any tunnel it opened end.
pub(crate) async fn serve_connection<G, I>(
    shared: Arc<Shared<G>>,
    io: I,
    permit: OwnedSemaphorePermit,
) where
    G: Gate,
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let permit = Arc::new(permit);
    let service_shared = Arc::clone(&shared);
    let service = service_fn(move |req| {
        let shared = Arc::clone(&service_shared);
        let permit = Arc::clone(&permit);
        async move { Ok::<_, Infallible>(handle(shared, permit, req).await) }
    });
    let header_bytes = shared.config.effective_header_bytes();
    let conn = server(&shared.config).serve_connection(TokioIo::new(io), service).with_upgrades();
    let result = tokio::select! {
        result = conn => result,
        // Shutdown ends the connection at once: egress stops now, not later.
        () = shared.shutdown.cancelled() => return,
    };
    let Err(err) = result else { return };
    let (status, reason) = if err.is_parse_too_large() {
        (431, format!("request head larger than {header_bytes} bytes"))
    } else if err.is_parse() {
        (400, format!("malformed request: {err}"))
    } else {
        // Header timeouts (also how idle keep-alive connections end), clients
        // that vanished, I/O errors: nothing was requested, nothing to record.
        tracing::debug!(error = %err, "client connection ended");
        return;
    };
    tracing::debug!(status, reason = %reason, "malformed request refused");
    let refusal = Refusal {
        agent: shared.agent.clone(),
        target: String::new(),
        request: None,
        status: Some(status),
        reason,
    };
    if let Err(err) = shared.gate.record(EgressEvent::Refused(refusal)).await {
        tracing::warn!(error = &err as &dyn std::error::Error, "recording a refusal failed");
    }
}

/// hyper's HTTP/1.1 server as the proxy runs it for clients, in the clear or
/// inside an intercepted tunnel: keep-alive, the request head bounded in size
/// and in read time.
pub(crate) fn server(config: &EgressConfig) -> http1::Builder {
    let header_bytes = config.effective_header_bytes();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(header_bytes)
        .max_header_size(header_bytes)
        .keep_alive(true);
    builder
}

async fn handle<G: Gate>(
    shared: Arc<Shared<G>>,
    permit: Arc<OwnedSemaphorePermit>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    if let Some(gateway) = shared.config.gateway
        && req.uri().scheme().is_none()
        && req.uri().authority().is_none()
        && req.method() != http::Method::CONNECT
    {
        return gateway::to_gateway(&shared, gateway, req).await;
    }
    let cleared = match check::clear(&shared, req.method(), req.uri()).await {
        Ok(cleared) => cleared,
        Err(refused) => return text(refused.status, &refused.message),
    };
    let inspected = shared.gate.inspects(cleared.request());
    match (&cleared.target().kind, inspected) {
        (TargetKind::Connect, true) => intercept::open(shared, permit, cleared, req).await,
        (TargetKind::Connect, false) => open_tunnel(shared, permit, cleared, req).await,
        (TargetKind::Http { .. }, inspected) => forward(shared, cleared, req, inspected).await,
    }
}

/// Connects, answers 200, and relays the upgraded connection in a task.
async fn open_tunnel<G: Gate>(
    shared: Arc<Shared<G>>,
    permit: Arc<OwnedSemaphorePermit>,
    cleared: Cleared,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let mut finish = Finish::new(Arc::clone(&shared), cleared.request().clone());
    let upstream = match check::connect(&cleared, shared.config.connect_timeout).await {
        Ok(upstream) => upstream,
        Err(err) => return failed(&mut finish, err.status(), err.to_string()),
    };
    let on_upgrade = hyper::upgrade::on(req);
    finish.status = Some(200);
    let idle = shared.config.idle_timeout;
    let shutdown = shared.shutdown.clone();
    shared.tasks.spawn(async move {
        let _permit = permit;
        match on_upgrade.await {
            Ok(upgraded) => {
                let tally = Arc::clone(&finish.tally);
                let ended = tunnel::relay(TokioIo::new(upgraded), upstream, idle, tally, &shutdown);
                if let Some(error) = ended.await {
                    finish.tally.note_error(error);
                }
            }
            Err(err) => finish.tally.note_error(format!("client upgrade failed: {err}")),
        }
        drop(finish);
    });
    empty(StatusCode::OK)
}

/// Forwards an absolute-form request in origin-form over a new connection to
/// the checked address and streams the response back. An `inspected` request
/// is buffered and put to [`Gate::inspect`] before anything is connected.
async fn forward<G: Gate>(
    shared: Arc<Shared<G>>,
    cleared: Cleared,
    req: Request<Incoming>,
    inspected: bool,
) -> Response<ProxyBody> {
    let mut finish = Finish::new(Arc::clone(&shared), cleared.request().clone());
    let idle = shared.config.idle_timeout;
    let (mut head, body) = req.into_parts();
    if let Err(message) = to_origin_form(&cleared, &mut head) {
        return failed(&mut finish, StatusCode::BAD_REQUEST, message);
    }
    let body: ProxyBody = if inspected {
        match inspect::inspect(&shared, &mut finish, &mut head, body).await {
            Ok(body) => Either::Left(body),
            Err(refusal) => return refusal,
        }
    } else {
        let metered = Metered::new(body, Arc::clone(&finish.tally), Direction::Up, idle);
        Either::Right(Either::Left(metered))
    };
    let stream = match check::connect(&cleared, shared.config.connect_timeout).await {
        Ok(stream) => stream,
        Err(err) => return failed(&mut finish, err.status(), err.to_string()),
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    {
        Ok(pair) => pair,
        Err(err) => {
            let message = format!("upstream handshake failed: {err}");
            return failed(&mut finish, StatusCode::BAD_GATEWAY, message);
        }
    };
    drive(&shared, conn, "upstream");
    // The wait for the response head ends only after `idle` with no byte moving
    // (a slow upload keeps it alive).
    let tally = Arc::clone(&finish.tally);
    let sent = sender.send_request(Request::from_parts(head, body));
    match tally.unless_idle(idle, sent).await {
        Some(Ok(response)) if inspected => inspect::respond(&shared, finish, response).await,
        Some(Ok(response)) => relay_response(finish, response, idle, None),
        Some(Err(err)) => {
            failed(&mut finish, StatusCode::BAD_GATEWAY, format!("upstream failed: {err}"))
        }
        None => {
            let message = format!("upstream sent no response within {idle:?}");
            failed(&mut finish, StatusCode::GATEWAY_TIMEOUT, message)
        }
    }
}

/// Streams an upstream's response to the client, without hop-by-hop headers
/// or a [`crate::REFUSAL_HEADER`] (only the proxy may mark a response as its
/// own), through `filter` if there is one; the exchange is recorded when the
/// body ends or is dropped.
pub(crate) fn relay_response<G: Gate>(
    mut finish: Finish<G>,
    response: Response<Incoming>,
    idle: Duration,
    filter: Option<Box<dyn ResponseFilter>>,
) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(crate::REFUSAL_HEADER);
    parts.version = Version::HTTP_11;
    finish.status = Some(parts.status.as_u16());
    let tally = Arc::clone(&finish.tally);
    let body = Metered::new(body, tally, Direction::Down, idle).owning(finish);
    let body = match filter {
        Some(filter) => Either::Right(Filtered::new(body, filter)),
        None => Either::Left(body),
    };
    Response::from_parts(parts, Either::Right(body))
}

/// Runs an outgoing connection's driver in a task until it ends or the proxy
/// shuts down.
pub(crate) fn drive<G, C>(shared: &Shared<G>, conn: C, peer: &'static str)
where
    G: Gate,
    C: Future<Output = Result<(), hyper::Error>> + Send + 'static,
{
    let shutdown = shared.shutdown.clone();
    shared.tasks.spawn(async move {
        tokio::select! {
            result = conn => if let Err(err) = result {
                tracing::debug!(error = %err, peer, "connection failed");
            },
            () = shutdown.cancelled() => {}
        }
    });
}

/// The request head as the upstream should see it: origin-form, its own
/// `Host`, no hop-by-hop headers.
fn to_origin_form(cleared: &Cleared, head: &mut Parts) -> Result<(), String> {
    let target = cleared.target();
    let TargetKind::Http { path } = &target.kind else {
        return Err("not an HTTP request".to_owned());
    };
    let uri: Uri = path.parse().map_err(|err| format!("bad path: {err}"))?;
    let host = HeaderValue::try_from(target.host.header_value(target.port, 80))
        .map_err(|err| format!("bad host: {err}"))?;
    prepare_head(head, uri, host);
    Ok(())
}

/// Sets the URI and `Host` of a request about to go upstream, and removes
/// what belongs to the client's hop only.
pub(crate) fn prepare_head(head: &mut Parts, uri: Uri, host: HeaderValue) {
    strip_hop_by_hop(&mut head.headers);
    head.headers.insert(header::HOST, host);
    head.uri = uri;
    head.version = Version::HTTP_11;
    head.extensions = http::Extensions::new();
}

/// Removes hop-by-hop headers, including every header `Connection` names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in &named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

/// Answers with the proxy's own `status` and records the exchange as failed.
pub(crate) fn failed<G: Gate>(
    finish: &mut Finish<G>,
    status: StatusCode,
    message: String,
) -> Response<ProxyBody> {
    let response = text(status, &message);
    finish.fail(status.as_u16(), message);
    response
}

/// A refusal or failure: the status and `warrant: <message>` as plain text,
/// marked with [`crate::REFUSAL_HEADER`].
pub(crate) fn text(status: StatusCode, message: &str) -> Response<ProxyBody> {
    let mut response =
        Response::new(Either::Left(Full::new(Bytes::from(format!("warrant: {message}\n")))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response.headers_mut().insert(crate::REFUSAL_HEADER, HeaderValue::from_static("refused"));
    response
}

pub(crate) fn empty(status: StatusCode) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Left(Full::new(Bytes::new())));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_removed() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, X-Secret"),
            ("proxy-connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic Zm9vOmJhcg=="),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("x-secret", "1"),
            ("accept", "*/*"),
        ] {
            headers.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        strip_hop_by_hop(&mut headers);
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["accept"]);
    }
}
