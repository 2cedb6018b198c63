//! Origin-form requests (`POST /mcp`), relayed to the gateway's own loopback
//! endpoint: how a sandbox whose only way out is this proxy reaches Warrant.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use http_body_util::Either;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::gate::Gate;
use crate::meter::{Direction, Metered, Tally};
use crate::proxy::{ProxyBody, Shared, drive, strip_hop_by_hop, text};

/// An MCP event stream may be quiet for long; the gateway ends it.
const GATEWAY_IDLE: Duration = Duration::from_secs(24 * 60 * 60);

/// Relays an origin-form request to the gateway's own endpoint, with the
/// gateway's `Host` (which it checks) and no hop-by-hop headers. Not a
/// connection out: no gate, no record here; the gateway authenticates,
/// decides and audits what it receives.
pub(crate) async fn to_gateway<G: Gate>(
    shared: &Arc<Shared<G>>,
    gateway: SocketAddr,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let timeout = shared.config.connect_timeout;
    let stream = match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(gateway)).await
    {
        Ok(Ok(stream)) => {
            // Requests and answers are small: no waiting for a delayed ACK.
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(%err, "cannot set TCP_NODELAY toward the gateway");
            }
            stream
        }
        Ok(Err(err)) => {
            return text(StatusCode::BAD_GATEWAY, &format!("the gateway is not reachable: {err}"));
        }
        Err(_) => return text(StatusCode::GATEWAY_TIMEOUT, "the gateway did not answer"),
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    {
        Ok(pair) => pair,
        Err(err) => {
            return text(StatusCode::BAD_GATEWAY, &format!("gateway handshake failed: {err}"));
        }
    };
    drive(shared, conn, "gateway");
    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    // The gateway checks Host (and any Origin) against its own address.
    let Ok(host) = HeaderValue::try_from(gateway.to_string()) else {
        return text(StatusCode::BAD_GATEWAY, "the gateway address is not a header value");
    };
    parts.headers.insert(header::HOST, host);
    parts.headers.remove(header::ORIGIN);
    parts.version = Version::HTTP_11;
    parts.extensions = http::Extensions::new();
    match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            parts.version = Version::HTTP_11;
            let tally = Arc::new(Tally::new());
            let body = Metered::new(body, tally, Direction::Down, GATEWAY_IDLE);
            Response::from_parts(parts, Either::Right(Either::Left(body)))
        }
        Err(err) => text(StatusCode::BAD_GATEWAY, &format!("the gateway failed: {err}")),
    }
}
