//! The HTTP face of the gateway: `/mcp` (Streamable HTTP), behind a layer
//! that checks Host and Origin (against DNS rebinding), authenticates the
//! bearer token, binds sessions to the agent that opened them, and audits
//! every refusal.

use crate::gateway::Gateway;
use crate::handler::{Authenticated, GatewayHandler};
use crate::throttle::Throttle;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use warrant_audit::events::{AuthFailed, BadRequest, ErrorStatus, RequestRefused};
use warrant_core::UnixMillis;

const SESSION_HEADER: &str = "mcp-session-id";

/// Builds the router for a gateway listening on `port`.
pub fn router(gw: Arc<Gateway>, port: u16, shutdown: CancellationToken) -> Router {
    let hosts: Arc<[String]> = allowed_hosts(port).into();
    let origins: Arc<[String]> = allowed_origins(port).into();
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts.to_vec())
        .with_allowed_origins(origins.to_vec())
        .enforce_origin_validation()
        .with_max_request_body_bytes(gw.config.gateway.max_message_bytes)
        // A 2026-07-28 request (no session) whose answer is one message gets
        // it as a JSON body rather than an SSE stream of one event.
        .with_json_response(true)
        .with_cancellation_token(shutdown);
    let handler = GatewayHandler { gw: gw.clone() };
    let mcp = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn_with_state(Guard { gw, hosts, origins }, guard))
}

fn allowed_hosts(port: u16) -> Vec<String> {
    ["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .flat_map(|h| [h.to_string(), format!("{h}:{port}")])
        .collect()
}

fn allowed_origins(port: u16) -> Vec<String> {
    ["127.0.0.1", "localhost", "[::1]"].iter().map(|h| format!("http://{h}:{port}")).collect()
}

#[derive(Clone)]
struct Guard {
    gw: Arc<Gateway>,
    /// The Host and Origin values a request may carry, made once.
    hosts: Arc<[String]>,
    origins: Arc<[String]>,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    let body = json!({"error": message}).to_string();
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"warrant\""),
        );
    }
    response
}

/// What the guard refused, and so which kind records it.
#[derive(Clone, Copy)]
enum Refused {
    /// The request itself (host, origin, body): `bad_request`.
    Request,
    /// Its credential, or its session: `auth_failed`.
    Credential,
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let gw = &guard.gw;
    let peer_addr = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let peer = peer_addr.map(|a| a.to_string()).unwrap_or_default();
    let peer_ip = peer_addr.map(|a| a.ip());
    let method = request.method().to_string();
    let audit_refusal = |reason: String, refused: Refused| {
        let gw = gw.clone();
        let (peer, method) = (peer.clone(), method.clone());
        async move {
            let recorded = match refused {
                Refused::Request => {
                    let refused = RequestRefused { reason, peer, method };
                    gw.record(None, &BadRequest::Refused(refused)).await
                }
                Refused::Credential => gw.record(None, &AuthFailed { reason, peer, method }).await,
            };
            if let Err(e) = recorded {
                tracing::error!(error = %e, "audit append failed");
            }
        }
    };

    // DNS rebinding: a browser page on another origin reaching loopback.
    let headers = request.headers();
    let host_ok = header_str(headers, "host").is_some_and(|h| guard.hosts.iter().any(|a| a == h));
    if !host_ok {
        audit_refusal("host header not allowed".into(), Refused::Request).await;
        return refuse(StatusCode::FORBIDDEN, "host not allowed");
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin.to_str().is_ok_and(|o| guard.origins.iter().any(|a| a == o));
        if !ok {
            audit_refusal("origin not allowed".into(), Refused::Request).await;
            return refuse(StatusCode::FORBIDDEN, "origin not allowed");
        }
    }

    let token = header_str(headers, "authorization").and_then(|v| v.strip_prefix("Bearer "));
    let authenticated = match token {
        Some(token) => gw.authenticate(token.trim(), UnixMillis::now()),
        None => Err(warrant_identity::AuthError::Missing),
    };
    let claims = match authenticated {
        Ok(c) => Arc::new(c),
        Err(e) => {
            let message = if matches!(e, warrant_identity::AuthError::Missing) {
                "missing bearer token: spawn an agent with `warrant agents spawn` and send its token"
                    .to_owned()
            } else {
                e.to_string()
            };
            // A flood of bad credentials must not flood the audit log: past
            // the limit a source gets 429, and one record says so.
            match gw.auth_failures.fail(peer_ip, std::time::Instant::now()) {
                Throttle::Allow => {}
                Throttle::FirstRefusal => {
                    audit_refusal(
                        format!("authentication failures from {peer} are rate-limited"),
                        Refused::Credential,
                    )
                    .await;
                    return refuse(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too many authentication failures; slow down",
                    );
                }
                Throttle::Refuse => {
                    return refuse(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too many authentication failures; slow down",
                    );
                }
            }
            audit_refusal(message.clone(), Refused::Credential).await;
            // A stopped agent is known, and refused: 403, not 401.
            let status = if matches!(e, warrant_identity::AuthError::Killed { .. }) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            return refuse(status, &message);
        }
    };
    if let Some(session) = header_str(headers, SESSION_HEADER)
        && gw.session_owner(session).is_some_and(|owner| owner != claims.agent_id)
    {
        audit_refusal(
            format!("agent {} presented another agent's session", claims.agent_id),
            Refused::Credential,
        )
        .await;
        return refuse(StatusCode::FORBIDDEN, "this session belongs to another agent");
    }

    let agent = claims.agent_id;
    // The body is read here, whole and bounded in size and time, so a client
    // that trickles or stalls its body is cut off instead of holding a
    // connection and a task forever.
    let json_answer =
        request.method() == http::Method::POST && crate::json_answer::accepts_json(headers);
    let (parts, body) = request.into_parts();
    let limits = &gw.config.gateway;
    let bytes = match tokio::time::timeout(
        limits.request_timeout,
        axum::body::to_bytes(body, limits.max_message_bytes),
    )
    .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            let too_large = e.to_string().contains("length limit");
            let (status, reason) = if too_large {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body over the {}-byte limit", limits.max_message_bytes),
                )
            } else {
                (StatusCode::BAD_REQUEST, format!("request body could not be read: {e}"))
            };
            audit_refusal(reason.clone(), Refused::Request).await;
            return refuse(status, &reason);
        }
        Err(_) => {
            let reason =
                format!("request body not received within {} s", limits.request_timeout.as_secs());
            audit_refusal(reason.clone(), Refused::Request).await;
            return refuse(StatusCode::REQUEST_TIMEOUT, &reason);
        }
    };
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(Authenticated(claims));
    let response: Response<Body> = next.run(request).await;
    let response =
        if json_answer { crate::json_answer::single_message(response).await } else { response };

    if let Some(session) = header_str(response.headers(), SESSION_HEADER)
        && !gw.bind_session(session, agent)
    {
        tracing::error!(%session, "session id reused across agents");
        return refuse(StatusCode::FORBIDDEN, "session conflict");
    }
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        let gw = gw.clone();
        let answered = BadRequest::ErrorStatus(ErrorStatus { status: status.as_u16(), peer });
        if let Err(e) = gw.record(Some(&agent), &answered).await {
            tracing::error!(error = %e, "audit append failed");
        }
    }
    response
}
