//! The choke point: Warrant's MCP gateway.
//!
//! This crate runs `warrant up`: it loads the home (config, policy, keys),
//! opens the audit log, starts and supervises the upstream MCP servers,
//! serves agents over Streamable HTTP on loopback, and answers the CLI on a
//! private Unix socket. `warrant mcp`, the stdio bridge, lives here too.
//!
//! It deliberately holds no policy logic (that is `warrant-policy`, pure),
//! no token cryptography (`warrant-identity`), and no log format
//! (`warrant-audit`): it wires them together in the one order the product
//! promises — authenticate, validate, decide, record, then act.

mod approvals;
mod asking;
mod builtin;
mod catalog;
mod control;
mod eras;
pub mod explain;
mod files;
mod gateway;
mod handler;
mod http;
mod http_tool;
mod json_answer;
mod quarantine;
mod screen;
mod throttle;
mod tools;
mod upstream;

pub use approvals::PendingView;
use warrant_state::config::{self, Config};
use warrant_state::home::{self, Home};
use warrant_state::pins;

use crate::gateway::{Events, Gateway};
use crate::pins::PinStore;
use crate::upstream::Upstream;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use warrant_audit::AuditLog;
use warrant_audit::events::{GatewayStarted, GatewayStopped, StopReason};

/// `warrant up` could not start, or stopped on an error. The text says what
/// Warrant was doing; the cause is the source.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Home(#[from] home::HomeError),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("policy is invalid, refusing to start")]
    Policy(#[source] warrant_policy::PolicyError),
    #[error("identity")]
    Identity(#[source] warrant_identity::IdentityError),
    #[error(transparent)]
    Name(#[from] warrant_core::NameError),
    #[error("audit log")]
    Audit(#[source] warrant_audit::AuditError),
    #[error("state store `{}`", path.display())]
    State {
        path: std::path::PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Control(#[from] warrant_control::ControlError),
    #[error("vault")]
    Vault(#[source] warrant_broker::BrokerError),
    #[error(
        "upstream `{upstream}` needs vault credential `{credential}`, but there is no vault; add it with `warrant vault add {credential}`"
    )]
    NoVault { upstream: String, credential: String },
    #[error(
        "upstream `{upstream}` needs vault credential `{credential}`, which is not in the vault; add it with `warrant vault add {credential}`"
    )]
    MissingCredential { upstream: String, credential: String },
    #[error("leak rules")]
    LeakRules(#[source] warrant_vault::VaultError),
    #[error("cannot listen on `{addr}`")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server failed")]
    Serve(#[source] std::io::Error),
}

/// Options of `warrant up` beyond `warrant.toml`.
#[derive(Debug, Default, Clone)]
pub struct UpOptions {
    /// Overrides `gateway.listen` (must be loopback).
    pub listen: Option<SocketAddr>,
    /// Discovery mode: let denied and asked calls through, recorded as
    /// "would deny" / "would ask", and keep them for `policy suggest`.
    pub discover: bool,
    /// Discovery mode for these agent names only (implies `discover` for
    /// them; everyone else is enforced).
    pub discover_agents: Vec<String>,
}

/// Runs the gateway until SIGINT or SIGTERM.
pub async fn serve(home: &Home, options: UpOptions) -> Result<(), GatewayError> {
    // First, before any key is made, loaded or unlocked: the helper that
    // launches `warrant__exec` sandboxes starts as a fresh image of this
    // binary, so no sandbox's init is ever a copy of a process holding them.
    let launcher = start_sandbox_helper();
    home.init()?;
    home.check()?;
    let mut config = Config::load(&home.config())?;
    if let Some(listen) = options.listen {
        if !listen.ip().is_loopback() {
            return Err(config::ConfigError::Invalid {
                path: "--listen".into(),
                message: format!(
                    "`{listen}` is not a loopback address; Warrant only listens on loopback"
                ),
            }
            .into());
        }
        config.gateway.listen = listen;
    }
    let sources = home.read_policies()?;
    let policy = config.policy_engine(&sources).map_err(GatewayError::Policy)?;
    let root = warrant_identity::RootKey::load(&home.root_key()).map_err(GatewayError::Identity)?;
    let verifier = warrant_identity::Verifier::new(root.public_key());
    let state_err = |source| GatewayError::State { path: home.state_db(), source };
    let registry =
        warrant_identity::Registry::open(&home.state_db()).map_err(GatewayError::Identity)?;
    let revoked = registry.revoked_ids().map_err(GatewayError::Identity)?;
    let killed = registry.kills().map_err(GatewayError::Identity)?;
    let pins = PinStore::open(&home.state_db()).map_err(state_err)?;
    for name in &options.discover_agents {
        warrant_core::AgentName::parse(name)?;
    }
    let discovering = options.discover || !options.discover_agents.is_empty();
    let observations = if discovering {
        Some(warrant_state::discovery::Observations::open(&home.state_db()).map_err(state_err)?)
    } else {
        None
    };

    let audit = AuditLog::open(&home.audit_db(), home.load_audit_key()?, config.audit_options())
        .map_err(GatewayError::Audit)?;

    let broker = open_broker(home, &config)?;
    let rules = warrant_vault::rules::RuleSet::builtin().map_err(GatewayError::LeakRules)?;
    let upstreams: BTreeMap<_, _> = config
        .upstreams
        .iter()
        .map(|(name, up)| {
            let up = Upstream::new(
                name.clone(),
                up.clone(),
                config.gateway.call_timeout,
                broker.clone(),
                audit.clone(),
            );
            (name.clone(), Arc::new(up))
        })
        .collect();
    let listen = config.gateway.listen;
    let gw = Arc::new(Gateway::new(
        observations,
        config,
        policy,
        verifier,
        revoked,
        killed,
        audit.clone(),
        upstreams,
        launcher,
        std::sync::Arc::new(registry),
        pins,
        root,
        options.discover_agents.clone(),
        broker,
        rules,
    ));
    gw.install_builtins();

    let (control, control_key) = warrant_control::bind(&home.control_socket())?;
    let tcp = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| GatewayError::Listen { addr: listen, source })?;
    let local = tcp.local_addr().map_err(GatewayError::Serve)?;
    let mcp_url = format!("http://{local}/mcp");
    let _ = gw.mcp_url.set(mcp_url.clone());

    let started = GatewayStarted {
        mcp_url: mcp_url.clone(),
        pid: std::process::id(),
        policies: sources.iter().map(|s| s.name.clone()).collect(),
        rules: gw.policy.rule_ids(),
        upstreams: gw.upstreams.keys().map(ToString::to_string).collect(),
        discover: discovering,
        discover_agents: options.discover_agents.clone(),
    };
    gw.record(None, &started).await.map_err(GatewayError::Audit)?;

    let shutdown = CancellationToken::new();
    let mut supervisors = Vec::new();
    for up in gw.upstreams.values() {
        let events = Arc::new(Events(gw.clone()));
        supervisors.push(tokio::spawn(up.clone().supervise(events, shutdown.clone())));
    }
    if gw.broker.is_some() {
        tokio::spawn(watch_vault(gw.clone(), shutdown.clone()));
    }
    let owner = warrant_control::owner_uid(home.root()).map_err(GatewayError::Serve)?;
    let control_task =
        tokio::spawn(control::serve(control, control_key, gw.clone(), owner, shutdown.clone()));

    if discovering {
        let who = if options.discover_agents.is_empty() {
            "every agent".to_owned()
        } else {
            format!("agents named {}", options.discover_agents.join(", "))
        };
        eprintln!(
            "warrant: DISCOVERY MODE for {who}: calls that policy would deny or ask about go through, recorded as \"would deny\"/\"would ask\"; run `warrant policy suggest --agent NAME` afterwards"
        );
    }
    eprintln!("warrant: gateway up, MCP endpoint {mcp_url}");
    tracing::info!(%mcp_url, "gateway up");
    let app = http::router(gw.clone(), local.port(), shutdown.clone())
        .into_make_service_with_connect_info::<SocketAddr>();
    let stop = shutdown.clone();
    let served = axum::serve(without_delay(tcp), app)
        .with_graceful_shutdown(async move {
            wait_for_signal().await;
            stop.cancel();
        })
        .await;

    shutdown.cancel();
    // Every `warrant__exec` sandbox dies now, with the helper: the runtime
    // waits for the blocking threads that wait on them before it exits.
    if let Ok(launcher) = &gw.launcher {
        launcher.close();
    }
    for s in supervisors {
        let _ = s.await;
    }
    let _ = control_task.await;
    let _ = std::fs::remove_file(home.control_socket());
    let reason = if served.is_ok() { StopReason::Signal } else { StopReason::Error };
    let _ = gw.record(None, &GatewayStopped { reason }).await;
    audit.close().map_err(GatewayError::Audit)?;
    eprintln!("warrant: gateway stopped");
    served.map_err(GatewayError::Serve)
}

/// Unlocks the vault when there is one: Warrant needs it both to inject
/// credentials and to recognise them in what agents send. Refuses to start
/// when an upstream names a credential that cannot be had.
fn open_broker(
    home: &Home,
    config: &Config,
) -> Result<Option<Arc<warrant_broker::Broker>>, GatewayError> {
    let needed: Vec<(String, String)> = config
        .upstreams
        .iter()
        .flat_map(|(u, c)| c.credentials.values().map(move |name| (u.to_string(), name.clone())))
        .collect();
    if !home.vault().exists() {
        if let Some((upstream, name)) = needed.first() {
            return Err(GatewayError::NoVault {
                upstream: upstream.clone(),
                credential: name.clone(),
            });
        }
        return Ok(None);
    }
    let opened = warrant_broker::Broker::unlock_home(
        home,
        &config.vault,
        "Warrant unlocks the vault to broker credentials and to find them in what agents send",
    )
    .map_err(GatewayError::Vault)?;
    let known = opened.known();
    for (upstream, name) in &needed {
        if !known.credentials.contains_key(name) {
            return Err(GatewayError::MissingCredential {
                upstream: upstream.clone(),
                credential: name.clone(),
            });
        }
    }
    Ok(Some(Arc::new(opened)))
}

/// Follows changes the CLI makes to the vault: a rotated or removed
/// credential rebuilds the leak scanner and restarts the upstreams that
/// receive it.
async fn watch_vault(gw: Arc<Gateway>, shutdown: CancellationToken) {
    let Some(broker) = gw.broker.clone() else { return };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
        let changed = match tokio::task::block_in_place(|| broker.refresh()) {
            Ok(changed) => changed,
            Err(e) => {
                tracing::warn!(error = %e, "re-reading the vault failed");
                continue;
            }
        };
        for upstream in gw.upstreams.values() {
            if upstream.config.credentials.values().any(|name| changed.contains(name)) {
                tracing::info!(upstream = %upstream.name, "a credential changed; restarting the upstream");
                upstream.restart();
            }
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) =
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        // Without signal handlers the gateway could not stop cleanly; it then
        // runs until killed, which the audit log tolerates.
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// The hidden argument that makes the `warrant` binary the sandbox helper.
pub const SANDBOX_HELPER_ARG: &str = "__sandbox-helper";

/// Starts the sandbox helper (`/proc/self/exe __sandbox-helper`: the same
/// binary even if the file was replaced since). If it cannot start,
/// `warrant__exec` refuses with the reason; the rest of the gateway runs.
fn start_sandbox_helper()
-> Result<Arc<warrant_sandbox::Launcher>, Arc<warrant_sandbox::LauncherError>> {
    let command = warrant_sandbox::HelperCommand::new("/proc/self/exe").arg(SANDBOX_HELPER_ARG);
    match warrant_sandbox::Launcher::start(command) {
        Ok(launcher) => Ok(Arc::new(launcher)),
        Err(e) => {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "the sandbox helper did not start; warrant__exec will refuse"
            );
            Err(Arc::new(e))
        }
    }
}

/// Agents' connections, each with `TCP_NODELAY` set. A reply goes out in
/// small writes (for an SSE stream: its headers, then the event); with
/// Nagle's algorithm the second waits for the client's delayed ACK, about
/// 40 ms on Linux, on every call of a keep-alive client.
fn without_delay(
    tcp: tokio::net::TcpListener,
) -> axum::serve::TapIo<tokio::net::TcpListener, fn(&mut tokio::net::TcpStream)> {
    use axum::serve::ListenerExt;
    tcp.tap_io(set_nodelay)
}

fn set_nodelay(stream: &mut tokio::net::TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::warn!(error = %e, "cannot set TCP_NODELAY on an agent's connection");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::serve::Listener;

    #[tokio::test]
    async fn agents_connections_are_accepted_without_nagle_delay() {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut listener = without_delay(tcp);
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, peer) = listener.accept().await;
        assert_eq!(peer, client.local_addr().unwrap());
        assert!(accepted.nodelay().unwrap(), "an accepted connection must have TCP_NODELAY");
    }
}
