//! Upstream MCP servers: started (stdio) or connected (Streamable HTTP),
//! supervised, restarted with backoff, and called with a timeout.
//!
//! A stdio server is Warrant's child. It gets a minimal environment (`PATH`,
//! `HOME`, locale, `TMPDIR`, plus what `warrant.toml` gives it), not the
//! operator's whole environment, so secrets in the gateway's environment do
//! not leak into every server.

mod http_client;

use rmcp::ClientHandler;
use rmcp::model::{CallToolRequestParams, CallToolResponse, JsonObject, ProtocolVersion, Tool};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, NotificationContext, Peer, RoleClient};
use rmcp::transport::TokioChildProcess;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde::Serialize;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use warrant_audit::events::ConnectionEvent;
use warrant_audit::{AuditError, AuditEvent, AuditLog};
use warrant_core::text::with_causes;
use warrant_core::{ToolName, UnixMillis, UpstreamName};
use warrant_policy::Permit;
use warrant_state::config::{Protocol, UpstreamConfig, UpstreamTransport};
use warrant_vault::SecretValue;

/// Environment variables a stdio upstream inherits from the gateway.
const INHERITED_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER"];
/// Calls in flight at once to one Streamable HTTP upstream (rmcp's default
/// is 16).
const MAX_HTTP_IN_FLIGHT: usize = 128;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// An upstream that stayed up this long starts its next backoff afresh.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);

/// How an upstream is doing, for `warrant status`.
#[derive(Debug, Clone, Serialize)]
pub struct UpstreamStatus {
    pub name: String,
    pub state: &'static str,
    pub transport: &'static str,
    pub tools: usize,
    pub restarts: u64,
    pub last_error: Option<String>,
    pub since: String,
}

/// A call to an upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("upstream `{0}` is unavailable (it is restarting); try again shortly")]
    Unavailable(String),
    #[error("upstream `{upstream}` did not answer within {secs} s")]
    Timeout { upstream: String, secs: u64 },
    #[error("upstream `{upstream}` failed the call: {message}")]
    Failed { upstream: String, message: String },
    #[error(
        "the call's permit is for `{tool}`, not a tool of upstream `{upstream}`; nothing was sent"
    )]
    NotPermitted { upstream: String, tool: String },
    #[error("upstream `{upstream}` answered in a form Warrant cannot relay: {reason}")]
    Unrelayable {
        upstream: String,
        #[source]
        reason: crate::eras::Unrelayable,
    },
}

/// Why a connection to an upstream could not be made, or ended. Shown in
/// `warrant status` and recorded with its causes, credentials cut out.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("credential `{name}` is configured but the vault is not unlocked")]
    NoVault { name: String },
    #[error("credential `{name}` not released: audit log")]
    CredentialUnrecorded {
        name: String,
        #[source]
        source: AuditError,
    },
    /// The broker refused the credential; `reason` is its decision's.
    #[error("credential `{name}`: {reason}")]
    CredentialRefused { name: String, reason: String },
    #[error("`{name}` is not a header name")]
    HeaderName {
        name: String,
        #[source]
        source: http::header::InvalidHeaderName,
    },
    #[error("the credential for header `{name}` {why}")]
    HeaderValue { name: String, why: &'static str },
    #[error("cannot start `{command}`")]
    Start {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the HTTP client")]
    HttpClient(#[source] reqwest::Error),
    #[error("handshake failed")]
    Handshake(#[source] Box<rmcp::service::ClientInitializeError>),
    #[error(transparent)]
    List(#[from] ListError),
    #[error("connection closed")]
    Closed,
    #[error("restarting: a credential it receives changed")]
    CredentialChanged,
}

/// `tools/list` failed, or went past Warrant's bounds.
#[derive(Debug, thiserror::Error)]
enum ListError {
    #[error("tools/list failed")]
    Failed(#[source] rmcp::ServiceError),
    #[error("tools/list timed out")]
    TimedOut,
    #[error("tools/list offered more than {MAX_TOOLS} tools; refused")]
    TooManyTools,
    #[error("tools/list went on past {MAX_TOOL_PAGES} pages; refused")]
    TooManyPages,
}

/// One configured upstream.
pub struct Upstream {
    pub name: UpstreamName,
    pub config: UpstreamConfig,
    call_timeout: Duration,
    peer: RwLock<Option<Peer<RoleClient>>>,
    status: RwLock<UpstreamStatus>,
    /// Where its credentials come from (`None`: it has none).
    broker: Option<Arc<warrant_broker::broker::Broker>>,
    /// Where the release of its credentials at each start is recorded.
    audit: AuditLog,
    /// Notified to make the supervisor restart it (a credential rotated).
    restart: Notify,
}

/// What the supervisor reports back.
pub trait UpstreamEvents: Send + Sync + 'static {
    /// The upstream's tool list, on connect and on every change.
    fn tools(&self, upstream: &Upstream, tools: Vec<Tool>) -> usize;
    /// The upstream came up or went down.
    fn state(&self, upstream: &Upstream, event: ConnectionEvent, error: Option<String>);
}

impl Upstream {
    pub fn new(
        name: UpstreamName,
        config: UpstreamConfig,
        call_timeout: Duration,
        broker: Option<Arc<warrant_broker::broker::Broker>>,
        audit: AuditLog,
    ) -> Self {
        let transport = match config.transport {
            UpstreamTransport::Stdio { .. } => "stdio",
            UpstreamTransport::Http { .. } => "http",
        };
        let status = UpstreamStatus {
            name: name.to_string(),
            state: "starting",
            transport,
            tools: 0,
            restarts: 0,
            last_error: None,
            since: UnixMillis::now().to_rfc3339(),
        };
        Self {
            name,
            config,
            call_timeout,
            peer: RwLock::new(None),
            status: RwLock::new(status),
            broker,
            audit,
            restart: Notify::new(),
        }
    }

    /// Makes the supervisor drop the connection (stopping a stdio child)
    /// and start afresh, e.g. with a rotated credential.
    pub fn restart(&self) {
        self.restart.notify_one();
    }

    /// The values of its credentials, by variable or header, released now
    /// by the broker for this start (configured for this upstream, leased to
    /// it, recorded before use).
    async fn credential_values(
        &self,
    ) -> Result<Vec<(String, SecretValue, Option<String>)>, ConnectionError> {
        let mut values = Vec::new();
        for (key, name) in &self.config.credentials {
            let broker = self
                .broker
                .as_ref()
                .ok_or_else(|| ConnectionError::NoVault { name: name.clone() })?;
            let authorized = broker.authorize_spawn(self.name.as_str(), name, true);
            for record in &authorized.records {
                let appended = async { self.audit.append(AuditEvent::of_event(record)?).await };
                appended.await.map_err(|source| ConnectionError::CredentialUnrecorded {
                    name: name.clone(),
                    source,
                })?;
            }
            let grant = authorized.grant.map_err(|reason| ConnectionError::CredentialRefused {
                name: name.clone(),
                reason,
            })?;
            values.push((key.clone(), grant.secret, grant.binding.format.clone()));
        }
        Ok(values)
    }

    /// `text` from or about this upstream with vault secrets and well-known
    /// credentials cut out, before it is logged, recorded or shown.
    pub fn redacted(&self, text: &str) -> String {
        let known = self.broker.as_ref().map(|broker| broker.known());
        let Some(rules) = warrant_broker::connection::builtin_rules() else {
            // Without the rule set only the vault's secrets can be cut.
            return match &known {
                Some(k) => k.scanner.redact(text),
                None => text.to_owned(),
            };
        };
        let screens = warrant_broker::leak::Screens {
            scanner: known.as_deref().map(|k| &k.scanner),
            rules,
            well_known: warrant_vault::rules::Action::Redact,
        };
        screens.redacted_text(text)
    }

    pub fn status(&self) -> Option<UpstreamStatus> {
        self.status.read().ok().map(|s| s.clone())
    }

    /// Calls the tool `permit` is for, once, within `timeout`. The permit is
    /// spent: one decision, one call. A permit for another upstream's tool
    /// sends nothing.
    pub async fn call(
        &self,
        permit: Permit,
        arguments: Option<JsonObject>,
        timeout: Duration,
    ) -> Result<CallToolResponse, CallError> {
        let tool = match ToolName::parse(permit.tool()) {
            Ok(name) if name.upstream() == &self.name => name.tool().to_owned(),
            _ => {
                return Err(CallError::NotPermitted {
                    upstream: self.name.to_string(),
                    tool: permit.tool().to_owned(),
                });
            }
        };
        drop(permit);
        let peer = self
            .peer
            .read()
            .ok()
            .and_then(|p| p.clone())
            .ok_or_else(|| CallError::Unavailable(self.name.to_string()))?;
        let mut params = CallToolRequestParams::new(tool);
        params.arguments = arguments;
        match tokio::time::timeout(timeout, peer.call_tool_once(params)).await {
            Err(_) => {
                Err(CallError::Timeout { upstream: self.name.to_string(), secs: timeout.as_secs() })
            }
            Ok(Ok(response)) => {
                let upstream = self.name.to_string();
                crate::eras::from_upstream(response)
                    .map(CallToolResponse::Complete)
                    .map_err(|reason| CallError::Unrelayable { upstream, reason })
            }
            Ok(Err(rmcp::ServiceError::TransportClosed)) => {
                Err(CallError::Unavailable(self.name.to_string()))
            }
            Ok(Err(e)) => {
                Err(CallError::Failed { upstream: self.name.to_string(), message: e.to_string() })
            }
        }
    }

    fn set_state(&self, state: &'static str, error: Option<String>, tools: Option<usize>) {
        if let Ok(mut s) = self.status.write() {
            if s.state != state {
                s.since = UnixMillis::now().to_rfc3339();
            }
            if state == "restarting" {
                s.restarts += 1;
            }
            s.state = state;
            if error.is_some() {
                s.last_error = error;
            }
            if let Some(n) = tools {
                s.tools = n;
            }
        }
    }

    fn set_peer(&self, peer: Option<Peer<RoleClient>>) {
        if let Ok(mut p) = self.peer.write() {
            *p = peer;
        }
    }

    /// Runs the upstream until `shutdown`: connect, list tools, wait for it
    /// to end, back off, and again.
    pub async fn supervise(
        self: Arc<Self>,
        events: Arc<dyn UpstreamEvents>,
        shutdown: CancellationToken,
    ) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = Instant::now();
            match self.run_once(events.as_ref(), &shutdown).await {
                Ok(()) => return,
                Err(error) => {
                    // The upstream's own words (a handshake refusal, a
                    // transport error) may quote a credential it was given.
                    let error = self.redacted(&with_causes(&error));
                    tracing::warn!(upstream = %self.name, %error, "upstream down");
                    self.set_peer(None);
                    self.set_state("restarting", Some(error.clone()), None);
                    events.state(&self, ConnectionEvent::Down, Some(error));
                }
            }
            if started.elapsed() > HEALTHY_AFTER {
                backoff = FIRST_BACKOFF;
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One connection's life. `Ok` means shutdown was asked for.
    async fn run_once(
        &self,
        events: &dyn UpstreamEvents,
        shutdown: &CancellationToken,
    ) -> Result<(), ConnectionError> {
        let changed = Arc::new(Notify::new());
        let handler = UpstreamClient { changed: changed.clone() };
        let lifecycle = match self.config.protocol {
            Protocol::Auto => ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: Some(ProtocolVersion::V_2025_11_25),
            },
            Protocol::Legacy => ClientLifecycleMode::Initialize,
            Protocol::Stateless => ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        };
        let running = match &self.config.transport {
            UpstreamTransport::Stdio { command, env, cwd } => {
                let secrets = self.credential_values().await?;
                let transport = spawn_stdio(self, command, env, &secrets, cwd.as_deref()).map_err(
                    |source| ConnectionError::Start { command: command.join(" "), source },
                )?;
                drop(secrets);
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    r = handler.serve_with_lifecycle(transport, lifecycle) => r,
                }
            }
            UpstreamTransport::Http { url } => {
                // Every agent's calls to this upstream share one session; let
                // as many be in flight as agents are likely to make at once.
                let headers = credential_headers(self.credential_values().await?)?;
                let client = http_client::client().map_err(ConnectionError::HttpClient)?;
                let transport = rmcp::transport::StreamableHttpClientTransport::with_client(
                    client,
                    StreamableHttpClientTransportConfig::with_uri(url.as_str())
                        .max_concurrent_requests(MAX_HTTP_IN_FLIGHT)
                        .custom_headers(headers),
                );
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    r = handler.serve_with_lifecycle(transport, lifecycle) => r,
                }
            }
        }
        .map_err(|e| ConnectionError::Handshake(Box::new(e)))?;

        let peer = running.peer().clone();
        let stop = running.cancellation_token();
        // A 2026-07-28 upstream announces tool changes only on a stream
        // opened to it: open it before the listing it must not miss.
        let follow = crate::eras::listen::follow_upstream(
            self.name.as_str(),
            &peer,
            changed.clone(),
            self.call_timeout,
        );
        let _following = tokio::select! {
            () = shutdown.cancelled() => {
                stop.cancel();
                return Ok(());
            }
            following = follow => following,
        };
        // Listing is bounded like a call: a server that never answers it is
        // as dead as one that exits.
        let list_timeout = self.call_timeout;
        let list = |peer: Peer<RoleClient>| async move {
            tokio::time::timeout(list_timeout, list_bounded(&peer))
                .await
                .map_err(|_| ListError::TimedOut)?
        };
        let tools = tokio::select! {
            () = shutdown.cancelled() => {
                stop.cancel();
                return Ok(());
            }
            tools = list(peer.clone()) => tools?,
        };
        let count = events.tools(self, tools);
        self.set_peer(Some(peer.clone()));
        self.set_state("up", None, Some(count));
        events.state(self, ConnectionEvent::Up, None);

        let waiting = running.waiting();
        tokio::pin!(waiting);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    self.set_peer(None);
                    stop.cancel();
                    let _ = waiting.await;
                    // Give the transport's child-kill task a moment to run
                    // before the runtime goes away.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return Ok(());
                }
                _ = &mut waiting => return Err(ConnectionError::Closed),
                () = self.restart.notified() => {
                    self.set_peer(None);
                    stop.cancel();
                    let _ = waiting.await;
                    return Err(ConnectionError::CredentialChanged);
                }
                () = changed.notified() => {
                    match list(peer.clone()).await {
                        Ok(tools) => {
                            let count = events.tools(self, tools);
                            self.set_state("up", None, Some(count));
                        }
                        Err(e) => {
                            let error = self.redacted(&with_causes(&e));
                            tracing::warn!(upstream = %self.name, %error, "relisting tools failed");
                        }
                    }
                }
            }
        }
    }
}

/// The headers an HTTP upstream's credentials go in, each formatted as its
/// binding says (`Bearer {}`) and marked sensitive.
fn credential_headers(
    values: Vec<(String, SecretValue, Option<String>)>,
) -> Result<std::collections::HashMap<http::HeaderName, http::HeaderValue>, ConnectionError> {
    let mut headers = std::collections::HashMap::new();
    for (name, secret, format) in values {
        let header = match http::HeaderName::from_bytes(name.as_bytes()) {
            Ok(header) => header,
            Err(source) => return Err(ConnectionError::HeaderName { name, source }),
        };
        let value = match warrant_broker::broker::header_value(format.as_deref(), &secret) {
            Ok(value) => value,
            Err(why) => return Err(ConnectionError::HeaderValue { name, why }),
        };
        headers.insert(header, value);
    }
    Ok(headers)
}

fn spawn_stdio(
    upstream: &Upstream,
    command: &[String],
    env: &std::collections::BTreeMap<String, String>,
    secrets: &[(String, SecretValue, Option<String>)],
    cwd: Option<&str>,
) -> std::io::Result<TokioChildProcess> {
    let (program, args) =
        command.split_first().ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).env_clear().kill_on_drop(true);
    for key in INHERITED_ENV {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    cmd.envs(env);
    for (key, secret, _) in secrets {
        // The child's environment block is built from this copy when it
        // starts; `Command` does not zeroize it.
        use std::os::unix::ffi::OsStrExt;
        cmd.env(key, std::ffi::OsStr::from_bytes(secret.expose_secret()));
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let (child, stderr) =
        TokioChildProcess::builder(cmd).stderr(std::process::Stdio::piped()).spawn()?;
    if let Some(stderr) = stderr {
        tokio::spawn(drain_stderr(upstream.name.to_string(), upstream.broker.clone(), stderr));
    }
    Ok(child)
}

/// An upstream's stderr goes to the debug log, line by line and truncated,
/// so a chatty or hostile server can neither flood the gateway's log nor
/// block on a full pipe. A server given a credential may print it: vault
/// secrets are cut out of each line first.
/// The most pages of `tools/list` Warrant follows from one upstream, and the
/// most tools it takes: a server that sends a cursor with every page would
/// otherwise be gathered until the time limit, growing the gateway's memory
/// by hundreds of megabytes. Past either bound the listing fails, and the
/// upstream is restarted like one that did not answer.
const MAX_TOOL_PAGES: usize = 100;
const MAX_TOOLS: usize = 10_000;

/// `tools/list`, page after page, within [`MAX_TOOL_PAGES`] and [`MAX_TOOLS`].
async fn list_bounded(peer: &Peer<RoleClient>) -> Result<Vec<Tool>, ListError> {
    let mut tools = Vec::new();
    let mut cursor = None;
    for _ in 0..MAX_TOOL_PAGES {
        let page = peer
            .list_tools(Some(rmcp::model::PaginatedRequestParams::default().with_cursor(cursor)))
            .await
            .map_err(ListError::Failed)?;
        tools.extend(page.tools);
        if tools.len() > MAX_TOOLS {
            return Err(ListError::TooManyTools);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(tools),
        }
    }
    Err(ListError::TooManyPages)
}

async fn drain_stderr(
    upstream: String,
    broker: Option<Arc<warrant_broker::broker::Broker>>,
    stderr: tokio::process::ChildStderr,
) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(stderr).split(b'\n');
    while let Ok(Some(line)) = lines.next_segment().await {
        let text = String::from_utf8_lossy(line.get(..line.len().min(512)).unwrap_or_default());
        let text = match &broker {
            Some(broker) => broker.known().scanner.redact(&text),
            None => text.into_owned(),
        };
        tracing::debug!(%upstream, line = %text, "upstream stderr");
    }
}

/// Warrant's client side toward an upstream: it only listens for tool-list
/// changes; it offers the upstream no capabilities (no sampling, no roots).
#[derive(Clone)]
struct UpstreamClient {
    changed: Arc<Notify>,
}

impl ClientHandler for UpstreamClient {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.changed.notify_one();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use warrant_policy::{
        AgentFacts, CallRequest, Decision, PolicyEngine, PolicySource, ToolFacts,
    };

    /// A permit for `upstream__tool`, from a policy that allows everything.
    fn permit_for(upstream: &str, tool: &str) -> Permit {
        let engine = PolicyEngine::new(&[PolicySource::new(
            "all.cedar",
            "permit (principal, action, resource);",
        )])
        .unwrap();
        let operator = "operator:test".to_owned();
        let agent = AgentFacts {
            id: "7d3c2f4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f".into(),
            name: "a".into(),
            task: String::new(),
            spiffe_id: String::new(),
            spawned_by: operator.clone(),
            depth: 0,
            custody: vec![operator],
        };
        let facts = ToolFacts {
            name: format!("{upstream}__{tool}"),
            tool: tool.into(),
            upstream: upstream.into(),
            read_only: true,
            destructive: false,
            idempotent: true,
            open_world: false,
            trusted: true,
        };
        let request = CallRequest {
            agent: &agent,
            tool: &facts,
            arguments: &serde_json::json!({}),
            tainted: false,
            now: UnixMillis::now(),
            command: None,
        };
        match engine.decide(&request) {
            Decision::Allow { permit, .. } => permit,
            other => panic!("not allowed: {other:?}"),
        }
    }

    #[test]
    fn a_connection_error_reads_as_it_did_with_its_cause_kept() {
        let source = std::io::Error::new(std::io::ErrorKind::NotFound, "not found");
        let error = ConnectionError::Start { command: "gh-mcp --stdio".into(), source };
        assert!(std::error::Error::source(&error).is_some());
        assert_eq!(with_causes(&error), "cannot start `gh-mcp --stdio`: not found");
        let listed = ConnectionError::from(ListError::TooManyPages);
        assert_eq!(with_causes(&listed), "tools/list went on past 100 pages; refused");
    }

    #[tokio::test]
    async fn a_permit_for_another_upstreams_tool_sends_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let options = warrant_audit::AuditOptions {
            witness: Some(dir.path().join("witness.jsonl")),
            syslog: None,
            ..Default::default()
        };
        let audit = AuditLog::open(&home.join("audit.db"), key, options).unwrap();
        let config = UpstreamConfig {
            transport: UpstreamTransport::Http { url: "http://127.0.0.1:9/mcp".into() },
            trusted: false,
            protocol: Protocol::Auto,
            quarantine_new_tools: true,
            credentials: Default::default(),
        };
        let name = UpstreamName::parse("notes").unwrap();
        let upstream = Upstream::new(name, config, Duration::from_secs(1), None, audit);
        let refused = upstream.call(permit_for("mail", "send"), None, Duration::from_secs(1)).await;
        assert!(matches!(refused, Err(CallError::NotPermitted { .. })), "{refused:?}");
        // The upstream's own tool gets past the permit check (and finds the
        // upstream not connected).
        let own = upstream.call(permit_for("notes", "send"), None, Duration::from_secs(1)).await;
        assert!(matches!(own, Err(CallError::Unavailable(_))), "{own:?}");
    }
}
