//! `warrant__http_request`: an HTTP request made by Warrant for an agent,
//! under the same egress rules as a sandbox's traffic.
//!
//! The request goes through `warrant-egress` itself, in process: the tool is
//! the proxy's only client, over an in-memory stream. So the proxy's checks
//! hold unchanged, in its order: the host name, and the whole request as the
//! agent gave it, are searched for vault secrets and well-known credentials
//! (a find blocks it as a leak); policy decides the host (`Action::"connect"`
//! for the caller and each of its ancestors, a person asked if a rule says
//! so) and the decision is recorded; only then does the proxy resolve the
//! name, refuse forbidden address ranges, and connect to the address it
//! checked. Plain `http://` is sent as a proxy request; `https://` goes
//! through a CONNECT tunnel and TLS is verified here against the Web PKI
//! roots (and any operator CA in `egress.ca_certificates`).
//!
//! An agent authenticates by naming a vault credential (`credential`), never
//! by sending one: Warrant adds the credential's header only when the URL's
//! host is one the credential is bound to and policy allows the use
//! (`Action::"use_credential"`), under a lease, recorded before the request
//! is made. An `Authorization` header from the agent is refused. The host a
//! credential is bound to counts as declared for the connection decision.

use crate::asking::{Ask, ask_person};
use crate::gateway::Gateway;
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rmcp::model::{CallToolResult, ContentBlock};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::DuplexStream;
use tokio_util::sync::CancellationToken;
use warrant_audit::events::{Alarm, AlarmKind, EgressWhere};
use warrant_broker::connection::{
    Shown, answered, asked_about, connect_verdict, connection_question, egress_record, method_of,
    name_blocked, name_leak,
};
use warrant_core::UnixMillis;
use warrant_egress::{Blocked, Destination, EgressConfig, EgressEvent, Verdict};
use warrant_identity::Claims;
use warrant_policy::{ConnectRequest, Decision};

/// The most of a response body returned to the agent.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Headers Warrant sets or that describe one hop; an agent may not.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "connection",
    "proxy-connection",
    "proxy-authorization",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    #[serde(default = "default_method")]
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
    timeout_s: Option<u64>,
    #[serde(default)]
    credential: Option<String>,
}

fn default_method() -> String {
    "GET".to_owned()
}

/// Makes the request for `caller`. `Err` is the text of a tool error.
pub async fn call(
    gw: &Arc<Gateway>,
    caller: &Claims,
    arguments: Value,
) -> Result<CallToolResult, String> {
    let args: Args = serde_json::from_value(arguments)
        .map_err(|e| format!("warrant: http_request arguments: {e}"))?;
    let timeout = args.timeout_s.map_or(DEFAULT_TIMEOUT, |s| {
        Duration::from_secs(s.clamp(1, crate::catalog::MAX_HTTP_SECONDS))
    });
    match tokio::time::timeout(timeout, request(gw, caller, args)).await {
        Ok(result) => result,
        Err(_) => Err(format!("warrant: no answer within {} s", timeout.as_secs())),
    }
}

async fn request(gw: &Arc<Gateway>, caller: &Claims, args: Args) -> Result<CallToolResult, String> {
    let method = Method::from_bytes(args.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("warrant: `{}` is not an HTTP method", args.method))?;
    let uri: Uri = args.url.parse().map_err(|e| format!("warrant: bad URL: {e}"))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err("warrant: the URL must start with http:// or https://".into()),
    };
    let host = uri.host().ok_or("warrant: the URL has no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    for name in args.headers.keys() {
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(format!("warrant: header `{name}` is set by Warrant, not by the agent"));
        }
        if name.eq_ignore_ascii_case("authorization") {
            return Err("warrant: an agent may not send `Authorization`; name a vault credential in `credential` and Warrant adds it for the hosts it is bound to".to_owned());
        }
    }
    let credential = match &args.credential {
        None => None,
        Some(name) => Some(credential_header(gw, caller, name, &host, &args.headers).await?),
    };

    // The egress proxy, serving only this request.
    let (client, server) = tokio::io::duplex(64 * 1024);
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    // A host the named credential is bound to was declared by the operator
    // when they bound it.
    let declared = credential.is_some().then(|| host.to_ascii_lowercase());
    // What a person asked about the connection sees (a tunnel's method and
    // path are known here), and what is searched before the name goes out.
    let shown = Shown {
        scheme: if https { "https" } else { "http" },
        method: method.to_string(),
        path: Some(masked(gw, &path)),
    };
    let sent = json!({"method": method.as_str(), "url": args.url, "headers": args.headers,
                      "body": args.body});
    let gate = Arc::new(ToolGate { gw: gw.clone(), caller: caller.clone(), declared, shown, sent });
    let config = EgressConfig {
        allow_private: gw.config.egress.allow_private.clone(),
        ..EgressConfig::default()
    };
    tokio::spawn(warrant_egress::serve(
        OneConnection(Mutex::new(Some(server))),
        caller.agent_id.to_string(),
        config,
        gate,
        shutdown.clone(),
    ));
    let authority =
        if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let body = Full::new(Bytes::from(args.body.clone().unwrap_or_default()));
    let build = |target: String| {
        let mut builder = Request::builder().method(method.clone()).uri(target);
        for (name, value) in &args.headers {
            builder = builder.header(name, value);
        }
        if let Some((name, value)) = &credential {
            builder = builder.header(name, value.clone());
        }
        builder
            .header(http::header::HOST, &authority)
            .body(body.clone())
            .map_err(|e| format!("warrant: the request cannot be built: {e}"))
    };

    let response = if https {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client))
            .await
            .map_err(|e| format!("warrant: the egress proxy failed: {e}"))?;
        tokio::spawn(conn.with_upgrades());
        let connect = Request::builder()
            .method(Method::CONNECT)
            .uri(authority.clone())
            .header(http::header::HOST, &authority)
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("warrant: {e}"))?;
        let answer = sender
            .send_request(connect)
            .await
            .map_err(|e| format!("warrant: egress failed: {e}"))?;
        if answer.status() != http::StatusCode::OK {
            return Err(refusal_text(answer).await);
        }
        let tunnel = hyper::upgrade::on(answer)
            .await
            .map_err(|e| format!("warrant: the egress tunnel failed: {e}"))?;
        let tls = tls_connect(gw, &host, TokioIo::new(tunnel)).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("warrant: HTTP over TLS to `{host}` failed: {e}"))?;
        tokio::spawn(conn);
        sender.send_request(build(path)?).await
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client))
            .await
            .map_err(|e| format!("warrant: the egress proxy failed: {e}"))?;
        tokio::spawn(conn);
        sender.send_request(build(format!("http://{authority}{path}"))?).await
    }
    .map_err(|e| format!("warrant: the request failed: {e}"))?;

    let status = response.status();
    // The proxy's own refusals carry its mark (it strips the mark from
    // what destinations send).
    if response.headers().contains_key(warrant_egress::REFUSAL_HEADER) {
        return Err(refusal_text(response).await);
    }
    let headers: Map<String, Value> = response
        .headers()
        .iter()
        .filter(|(name, _)| !name.as_str().eq_ignore_ascii_case("set-cookie"))
        .map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap_or("<binary>"))))
        .collect();
    let (body, truncated) = read_capped(response.into_body()).await;
    let out = json!({
        "status": status.as_u16(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
        "truncated": truncated,
    });
    Ok(CallToolResult::success(vec![ContentBlock::text(out.to_string())]))
}

/// The header that carries credential `name` to `host`, after the use was
/// decided, leased and recorded. The value is marked sensitive; the agent's
/// own headers may not name the same header.
async fn credential_header(
    gw: &Arc<Gateway>,
    caller: &Claims,
    name: &str,
    host: &str,
    agent_headers: &BTreeMap<String, String>,
) -> Result<(http::HeaderName, http::HeaderValue), String> {
    let use_ = warrant_broker::broker::Use {
        credential: name,
        via: warrant_broker::broker::Via::HttpRequest,
        tool: "warrant__http_request",
        host: &host.to_ascii_lowercase(),
    };
    let grant = gw.use_credential(caller, &use_, false).await?;
    let header = grant.binding.header.as_deref().ok_or_else(|| {
        format!("warrant: credential `{name}` has no header to go in (it is bound to an environment variable only)")
    })?;
    if agent_headers.keys().any(|h| h.eq_ignore_ascii_case(header)) {
        return Err(format!(
            "warrant: header `{header}` carries credential `{name}`; the agent may not set it too"
        ));
    }
    let header = http::HeaderName::from_bytes(header.as_bytes())
        .map_err(|_| format!("warrant: credential `{name}` names an invalid header"))?;
    let value =
        warrant_broker::broker::header_value(grant.binding.format.as_deref(), &grant.secret)
            .map_err(|why| format!("warrant: credential `{name}` {why}"))?;
    Ok((header, value))
}

async fn refusal_text(response: http::Response<hyper::body::Incoming>) -> String {
    let status = response.status().as_u16();
    let (body, _) = read_capped(response.into_body()).await;
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    if text.starts_with("warrant:") {
        text
    } else {
        format!("warrant: egress refused ({status}): {text}")
    }
}

async fn read_capped(body: hyper::body::Incoming) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut truncated = false;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Ok(data) = frame.into_data() {
            let room = MAX_RESPONSE_BYTES.saturating_sub(out.len());
            if data.len() > room {
                out.extend_from_slice(data.get(..room).unwrap_or_default());
                truncated = true;
                break;
            }
            out.extend_from_slice(&data);
        }
    }
    (out, truncated)
}

/// TLS to `host` over the tunnel, verified against the Web PKI roots and
/// the operator's extra CAs.
async fn tls_connect<S>(
    gw: &Arc<Gateway>,
    host: &str,
    io: S,
) -> Result<tokio_rustls::client::TlsStream<S>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // Built once per gateway; a configuration that cannot be built answers
    // every call with why.
    let built = gw.tls_client.get_or_init(|| {
        warrant_broker::upstream_tls::tls_client_config(&gw.config.egress.ca_certificates)
    });
    let config = match built {
        Ok(config) => Arc::clone(config),
        Err(e) => return Err(format!("warrant: {}", warrant_core::text::with_causes(e))),
    };
    let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
        .map_err(|_| format!("warrant: `{host}` is not a TLS server name"))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, io)
        .await
        .map_err(|e| format!("warrant: TLS with `{host}` failed: {e}"))
}

/// A listener that yields one in-memory connection, then waits forever.
struct OneConnection(Mutex<Option<DuplexStream>>);

impl warrant_egress::Listener for OneConnection {
    type Io = DuplexStream;

    fn accept(&mut self) -> impl Future<Output = io::Result<Self::Io>> + Send {
        let next = self.0.lock().ok().and_then(|mut s| s.take());
        async move {
            match next {
                Some(stream) => Ok(stream),
                None => std::future::pending().await,
            }
        }
    }
}

/// `path` with vault secrets and well-known credentials cut out, for a
/// person's eyes.
fn masked(gw: &Gateway, path: &str) -> String {
    match gw.with_screens(|s| s.redacted(&Value::String(path.to_owned()))) {
        Some((Value::String(clean), _)) => clean,
        Some(_) => "[REDACTED]".to_owned(),
        None => path.to_owned(),
    }
}

/// Screens the name and the request, then policy decides the host for the
/// caller and every ancestor; the gateway's audit log records.
struct ToolGate {
    gw: Arc<Gateway>,
    caller: Claims,
    /// The host a named credential is bound to, if any.
    declared: Option<String>,
    /// The request as a person asked about it sees it.
    shown: Shown,
    /// The request as the agent gave it (without the credential Warrant
    /// adds), searched before the name goes out.
    sent: Value,
}

impl warrant_egress::Gate for ToolGate {
    type RecordError = warrant_audit::AuditError;

    /// Before anything about the name leaves: the name (in the forms a DNS
    /// label can cut a secret into) and the whole request are searched for
    /// vault secrets and well-known credentials. The gateway searched the
    /// arguments already; this holds for the name's own forms, and does not
    /// rest on the order of the handler's steps.
    async fn screen(&self, destination: &Destination) -> Result<(), Blocked> {
        let known = self.gw.broker.as_ref().map(|broker| broker.known());
        let scanner = known.as_ref().map(|known| &known.scanner);
        let custody = Some(self.caller.custody());
        let found = match name_leak(&destination.host, scanner, &self.gw.rules) {
            Some(leak) => Some(name_blocked(destination, &leak, custody)),
            None => match self.gw.with_screens(|s| s.outgoing(&self.sent)) {
                warrant_broker::leak::Outgoing::Clean => None,
                warrant_broker::leak::Outgoing::Block(leak)
                | warrant_broker::leak::Outgoing::Redacted(_, leak) => Some((
                    format!("blocked: the request carries {}", leak.describe()),
                    Alarm {
                        alarm: AlarmKind::SecretLeak,
                        message:
                            "an agent tried to send a secret out through warrant__http_request"
                                .to_owned(),
                        tool: None,
                        where_: Some(EgressWhere::EgressRequest),
                        host: None,
                        port: None,
                        found: Some(leak.record()),
                        custody,
                    },
                )),
            },
        };
        let Some((reason, alarm)) = found else { return Ok(()) };
        tracing::error!(agent = %self.caller.agent_id, %reason, "ALARM: an agent tried to send a secret out");
        if let Err(e) = self.gw.record(Some(&self.caller.agent_id), &alarm).await {
            tracing::error!(error = %e, "recording an alarm failed");
        }
        self.gw.count_denial(&self.caller.agent_id).await;
        Err(Blocked::leak(reason))
    }

    async fn decide(&self, destination: &Destination) -> Verdict {
        let method = method_of(&destination.kind);
        let me = warrant_identity::Claims::facts(&self.caller);
        let chain = warrant_identity::Claims::ancestor_facts(&self.caller);
        // Decided for the caller and each ancestor (warrant-policy): any
        // denial refuses; otherwise the first rule that asks is put to a
        // person, once for the whole chain.
        let decision = self.gw.policy.decide_connect_in_custody(
            &ConnectRequest {
                agent: &me,
                host: &destination.host,
                port: destination.port,
                method: &method,
                declared: self.declared.as_deref() == Some(destination.host.as_str()),
                now: UnixMillis::now(),
            },
            &chain,
        );
        let asks = match &decision {
            Decision::Allow { .. } => None,
            Decision::Ask { rules, .. } => rules.first().cloned(),
            Decision::Deny { .. } => return connect_verdict(&decision, ""),
        };
        let Some(rule) = asks else { return Verdict::Allow };
        let agent_name = self.caller.name.to_string();
        let question = connection_question(
            self.caller.agent_id,
            agent_name,
            destination,
            &self.shown,
            &rule.id,
            rule.ask.as_deref().unwrap_or_default(),
        );
        // The call's own cancellation (a kill, the agent gone) drops this
        // future, which withdraws the approval.
        match ask_person(&self.gw, Ask::from_question(question.clone()), std::future::pending())
            .await
        {
            Ok(answer) => answered(&answer, &question),
            Err(e) => Verdict::Deny { reason: format!("{}: {e}", asked_about(&question)) },
        }
    }

    async fn record(&self, event: EgressEvent) -> Result<(), warrant_audit::AuditError> {
        let record = egress_record(&event, Some(self.caller.custody()));
        self.gw.record_event(Some(&self.caller.agent_id), &record).await
    }
}
