//! The supervisor of one `warrant run`: identity, egress proxy, sandbox,
//! watch, exit (see the crate's documentation for the order).

use crate::RunError;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use warrant_audit::events::{
    AgentRevoked, AgentSpawned, LeaseEnded, RunSpawned, SandboxEnded, SandboxExited,
    SandboxRefused, SandboxStarted,
};
use warrant_audit::{AuditError, AuditLog, Body};
use warrant_control::{self as control, ControlRequest};
use warrant_core::{AgentId, AgentName, UnixMillis};
use warrant_egress::EgressConfig;
use warrant_identity::{IssueRequest, Registry, RootKey, TrustDomain};
use warrant_policy::PolicyEngine;
use warrant_sandbox::{Access, NetworkMode, PathRule, Profile, Sandbox, SpawnOptions};
use warrant_state::{Config, Home};

/// Hosts a shipped profile declares (its egress allowlist, as
/// `context.declared`), each with why.
const DECLARED_HOSTS: &[(&str, &str, &str)] = &[
    ("coding-agent", "crates.io", "the Rust package registry"),
    ("coding-agent", "index.crates.io", "the Rust registry index"),
    ("coding-agent", "static.crates.io", "Rust package downloads"),
    ("coding-agent", "static.rust-lang.org", "Rust toolchains"),
    ("coding-agent", "github.com", "source code"),
    ("coding-agent", "codeload.github.com", "source archives"),
    ("coding-agent", "objects.githubusercontent.com", "release assets"),
    ("coding-agent", "registry.npmjs.org", "the npm registry"),
    ("coding-agent", "pypi.org", "the Python package index"),
    ("coding-agent", "files.pythonhosted.org", "Python package downloads"),
];

/// How often the run checks whether its identity was stopped or revoked.
const WATCH_INTERVAL: Duration = Duration::from_millis(100);
/// How long a terminated tree gets before it is killed.
const TERMINATE_GRACE: Duration = Duration::from_secs(5);
/// The exit status of a run the wall-clock limit ended (as `timeout` does).
const EXIT_TIMED_OUT: i32 = 124;
/// The exit status of a run stopped by `warrant kill` or revocation.
const EXIT_STOPPED: i32 = 137;

/// What `warrant run` was asked for.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// A shipped profile, or `<home>/profiles/NAME.toml`.
    pub profile: String,
    pub rw: Vec<PathBuf>,
    pub ro: Vec<PathBuf>,
    /// Hosts declared beyond the profile's (`example.com`, `*.example.com`).
    pub allow_hosts: Vec<String>,
    /// The agent's name (default `run`).
    pub name: Option<String>,
    /// The task (default: the command line).
    pub task: Option<String>,
    /// Vault credentials the command gets as placeholders (`--credential`).
    pub credentials: Vec<String>,
    pub command: Vec<OsString>,
}

/// Runs the command; returns the exit status to exit with.
pub fn run_sandboxed(home: &Home, options: RunOptions) -> Result<i32, RunError> {
    home.init()?;
    home.check()?;
    if options.command.is_empty() {
        return Err(RunError::NothingToRun);
    }
    let config = Config::load(&home.config())?;
    let policy = Arc::new(config.policy_engine(&home.read_policies()?).map_err(RunError::Policy)?);
    let mut profile = resolve_profile(home, &options)?;
    // With a vault, the proxy looks inside every request for secrets (and
    // swaps placeholders): it must be unlocked before anything runs.
    let broker = if home.vault().exists() {
        let opened = warrant_broker::Broker::unlock_home(
            home,
            &config.vault,
            "a run is inspected for vault secrets",
        )?;
        Some(Arc::new(opened))
    } else if let Some(name) = options.credentials.first() {
        return Err(RunError::NoVault { name: name.clone() });
    } else {
        None
    };
    if broker.is_some()
        && profile.network.mode != NetworkMode::Proxy
        && !options.credentials.is_empty()
    {
        return Err(RunError::CredentialWithoutProxy { profile: options.profile.clone() });
    }
    let declared = declared_hosts(&options)?;
    let workspace =
        std::env::current_dir().and_then(std::fs::canonicalize).map_err(RunError::Workspace)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(RunError::Runtime)?;
    let audit = AuditLog::open(&home.audit_db(), home.load_audit_key()?, config.audit_options())?;
    let registry = Registry::open(&home.state_db())?;

    // The identity, recorded with what it is for before anything runs.
    let command_line = shown_command(&options.command);
    let name = AgentName::parse(options.name.as_deref().unwrap_or("run"))?;
    let task = options.task.clone().unwrap_or_else(|| format!("warrant run: {command_line}"));
    let task: String = task.chars().filter(|c| !c.is_control()).take(1000).collect();
    let ttl = profile
        .limits
        .wall_clock_seconds
        .map_or(Duration::from_secs(12 * 60 * 60), |s| Duration::from_secs(s.saturating_add(300)))
        .min(warrant_identity::MAX_TTL);
    let root = RootKey::load(&home.root_key())?;
    let domain = TrustDomain::parse(&config.gateway.trust_domain)?;
    let (claims, token) = warrant_identity::issue(
        &root,
        IssueRequest {
            trust_domain: &domain,
            name,
            task,
            spawned_by: warrant_identity::operator(),
            ttl,
            now: UnixMillis::now(),
        },
    )?;
    drop(root);
    let agent = claims.agent_id;
    let spawned = AgentSpawned {
        name: claims.name.to_string(),
        spiffe_id: claims.spiffe_id.clone(),
        task: claims.task.clone(),
        spawned_by: claims.spawned_by.clone(),
        expires_at: claims.expires_at.to_rfc3339(),
        custody: claims.custody(),
        parent: None,
        depth: None,
        tools: None,
        run: Some(RunSpawned {
            command: command_line,
            profile: options.profile.clone(),
            workspace: shown_path(&workspace)?,
            network: format!("{:?}", profile.network.mode).to_lowercase(),
            declared_hosts: declared.clone(),
        }),
    };
    record(&runtime, &audit, &agent, &spawned)?;
    registry.record_issued(&claims)?;
    registry.set_workspace(agent, &workspace)?;

    let credentials = match &broker {
        Some(broker) if profile.network.mode == NetworkMode::Proxy => {
            let prepared =
                crate::run_credentials::RunCredentials::prepare(crate::run_credentials::Prepare {
                    home,
                    broker: Arc::clone(broker),
                    names: &options.credentials,
                    policy: Arc::clone(&policy),
                    agent: claims.facts(),
                    audit: audit.clone(),
                    ca_files: &config.egress.ca_certificates,
                    well_known: config.leaks.well_known,
                })?;
            let dir = prepared
                .ca_dir()
                .to_str()
                .ok_or(RunError::NotUtf8 { what: "the CA directory" })?
                .to_owned();
            profile.paths.push(PathRule {
                path: dir,
                access: Access::ReadOnly,
                optional: false,
                reason: "the local CA certificate the sandbox trusts".to_owned(),
            });
            Some(Arc::new(prepared))
        }
        _ => None,
    };

    let outcome = supervise(
        home,
        &runtime,
        &audit,
        &registry,
        Supervised {
            credentials: credentials.clone(),
            policy,
            allow_private: config.egress.allow_private.clone(),
            sandbox: config.sandbox.clone(),
            profile,
            workspace,
            declared,
            claims: &claims,
            token: token.expose_secret(),
            command: &options.command,
            profile_name: &options.profile,
        },
    );

    // The identity ends with the run, whatever happened, and its leases
    // with it.
    let _ = registry.revoke(agent, UnixMillis::now());
    drop(credentials);
    if let Some(broker) = &broker {
        let ended =
            broker.leases().end_for_agents(&[agent.to_string()], "run ended", UnixMillis::now());
        for lease in ended.unwrap_or_default() {
            match warrant_broker::lease_record(&lease, None) {
                Ok(ended) => {
                    let _ = record(&runtime, &audit, &agent, &LeaseEnded(ended));
                }
                Err(e) => tracing::error!(error = %e, "recording the end of a lease failed"),
            }
        }
    }
    let revoked = AgentRevoked {
        by: "warrant run".to_owned(),
        descendants: None,
        reason: Some("the run ended".to_owned()),
    };
    let _ = record(&runtime, &audit, &agent, &revoked);
    match control::request(&home.control_socket(), &ControlRequest::ReloadRevocations) {
        Ok(_) | Err(control::ControlError::NotRunning(_)) => {}
        Err(e) => eprintln!(
            "warrant: the running gateway did not take the revocation: {}",
            warrant_core::text::with_causes(&e)
        ),
    }
    let _ = audit.close();
    outcome
}

struct Supervised<'a> {
    credentials: Option<Arc<crate::run_credentials::RunCredentials>>,
    policy: Arc<PolicyEngine>,
    allow_private: Vec<ipnet::IpNet>,
    sandbox: warrant_state::config::SandboxSettings,
    profile: Profile,
    workspace: PathBuf,
    declared: Vec<String>,
    claims: &'a warrant_identity::Claims,
    token: &'a str,
    command: &'a [OsString],
    profile_name: &'a str,
}

/// Proxy up, sandbox started and watched, exit recorded.
fn supervise(
    home: &Home,
    runtime: &tokio::runtime::Runtime,
    audit: &AuditLog,
    registry: &Registry,
    s: Supervised<'_>,
) -> Result<i32, RunError> {
    let agent = s.claims.agent_id;
    let workspace = shown_path(&s.workspace)?;
    let shutdown = CancellationToken::new();
    let _stop_proxy = shutdown.clone().drop_guard();
    let proxy_mode = s.profile.network.mode == NetworkMode::Proxy;
    let mut spec = s.sandbox.spec(s.profile.clone(), &s.workspace);
    let mut grant = vec![
        ("WARRANT_TOKEN".to_owned(), s.token.to_owned()),
        ("WARRANT_AGENT_ID".to_owned(), agent.to_string()),
    ];
    let socket_dir;
    if proxy_mode {
        let gateway = running_gateway(home);
        if gateway.is_none() {
            eprintln!(
                "warrant: no gateway is running for this home; the command gets no WARRANT_MCP_URL (start one with `warrant up`)"
            );
        }
        socket_dir = SocketDir::create(home, &agent)?;
        let socket = socket_dir.path.join("egress.sock");
        let listener = {
            let _entered = runtime.enter();
            tokio::net::UnixListener::bind(&socket).map_err(RunError::EgressSocket)?
        };
        let gate = Arc::new(crate::egress_gate::RunGate {
            policy: Arc::clone(&s.policy),
            agent: s.claims.facts(),
            declared: s.declared.clone(),
            audit: audit.clone(),
            agent_id: agent,
            credentials: s.credentials.clone(),
            agent_name: s.claims.name.to_string(),
            control: home.control_socket(),
        });
        let config = EgressConfig {
            gateway,
            allow_private: s.allow_private.clone(),
            interception: s.credentials.as_ref().map(|c| Arc::clone(&c.interception)),
            ..EgressConfig::default()
        };
        if let Some(credentials) = &s.credentials {
            grant.extend(credentials.grant.iter().cloned());
        }
        runtime.spawn(warrant_egress::serve(
            listener,
            agent.to_string(),
            config,
            gate,
            shutdown.clone(),
        ));
        spec = spec.with_proxy_socket(&socket);
        if gateway.is_some() {
            let port = s.profile.network.proxy_port;
            grant.push(("WARRANT_MCP_URL".to_owned(), format!("http://127.0.0.1:{port}/mcp")));
        }
    }

    let started = Instant::now();
    let launched = Sandbox::new(&spec).and_then(|sandbox| {
        sandbox.spawn(
            s.command,
            SpawnOptions {
                stdin: warrant_sandbox::Stdio::Inherit,
                stdout: warrant_sandbox::Stdio::Inherit,
                stderr: warrant_sandbox::Stdio::Inherit,
                env: None,
                grant,
            },
        )
    });
    let mut child = match launched {
        Ok(child) => child,
        Err(e) => {
            // Refused, loudly: nothing ran unconfined.
            let refused = SandboxExited::Refused(SandboxRefused {
                error: e.to_string(),
                control: e.control().map(|c| c.name().to_owned()),
            });
            record(runtime, audit, &agent, &refused)?;
            return Err(RunError::Refused(e));
        }
    };
    // The report is the sandbox crate's to shape; recorded as it serializes.
    let recorded = match serde_json::to_value(child.report()) {
        Ok(report) => {
            let started = SandboxStarted {
                profile: s.profile_name.to_owned(),
                pid: child.id(),
                report,
                workspace: workspace.clone(),
                command: shown_command(s.command),
            };
            record(runtime, audit, &agent, &started)
        }
        Err(source) => {
            let kind = SandboxStarted::KIND.as_str();
            Err(RunError::from(AuditError::Serialize { kind, source }))
        }
    };
    if let Err(e) = recorded {
        // The run cannot be accounted for: stop it.
        let _ = child.kill();
        return Err(e);
    }

    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = Arc::clone(&interrupted);
        runtime.spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            let terminated = async {
                match term.as_mut() {
                    Some(t) => {
                        t.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                () = terminated => {}
            }
            flag.store(true, Ordering::SeqCst);
        });
    }

    let chain: Vec<AgentId> = s.claims.chain_ids().copied().collect();
    let mut watch = Watch::default();
    let mut stopped_by = None;
    let mut terminating_since: Option<Instant> = None;
    let status = loop {
        match child.wait_timeout(WATCH_INTERVAL) {
            Ok(Some(status)) => break Ok(status),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        if stopped_by.is_none()
            && let Some(why) = watch.stopped(registry, &chain)
        {
            stopped_by = Some(why);
            let _ = child.kill();
        }
        if interrupted.load(Ordering::SeqCst) {
            match terminating_since {
                None => {
                    terminating_since = Some(Instant::now());
                    let _ = child.terminate();
                }
                Some(since) if since.elapsed() > TERMINATE_GRACE => {
                    let _ = child.kill();
                }
                Some(_) => {}
            }
        }
    };
    let status = status.map_err(RunError::Wait)?;
    let code = if let Some(why) = &stopped_by {
        eprintln!("warrant: the run was stopped: {why}");
        EXIT_STOPPED
    } else if status.timed_out() {
        eprintln!("warrant: the run exceeded its wall-clock limit and was killed");
        EXIT_TIMED_OUT
    } else {
        status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
    };
    let ended = SandboxExited::Ended(SandboxEnded {
        code: status.code(),
        signal: status.signal(),
        timed_out: status.timed_out(),
        stopped: stopped_by,
        interrupted: interrupted.load(Ordering::SeqCst),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    });
    record(runtime, audit, &agent, &ended)?;
    Ok(code)
}

/// Watches the registry for a kill or revocation of the run's identity.
#[derive(Default)]
struct Watch {
    /// Reads of the registry that failed in a row.
    failures: u32,
}

/// After this many failed reads in a row (two seconds), the run is stopped:
/// a kill switch that cannot be checked is treated as pulled.
const MAX_WATCH_FAILURES: u32 = 20;

impl Watch {
    /// Why the run must stop, if the operator stopped or revoked its identity.
    fn stopped(&mut self, registry: &Registry, chain: &[AgentId]) -> Option<String> {
        let (kills, revoked) = match (registry.kills(), registry.revoked_ids()) {
            (Ok(k), Ok(r)) => {
                self.failures = 0;
                (k, r)
            }
            (Err(e), _) | (_, Err(e)) => {
                self.failures += 1;
                return (self.failures >= MAX_WATCH_FAILURES).then(|| {
                    format!("the agent registry cannot be read to check for `warrant kill`: {e}")
                });
            }
        };
        if let Some(id) = chain.iter().find(|id| kills.covers(id)) {
            return Some(format!("agent `{id}` was stopped (`warrant kill`)"));
        }
        chain.iter().find(|id| revoked.contains(id)).map(|id| format!("agent `{id}` was revoked"))
    }
}

/// The running gateway's address, for the proxy's origin-form route.
fn running_gateway(home: &Home) -> Option<std::net::SocketAddr> {
    let status = control::request(&home.control_socket(), &ControlRequest::Status).ok()?;
    let url = status.get("mcp_url")?.as_str()?;
    url.strip_prefix("http://")?.split('/').next()?.parse().ok()
}

/// The command as one line for records (arguments quoted when needed).
fn shown_command(command: &[OsString]) -> String {
    command
        .iter()
        .map(|a| {
            let a = a.to_string_lossy();
            if !a.is_empty()
                && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                a.into_owned()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The profile: `<home>/profiles/NAME.toml` if there is one, else a shipped
/// one; plus the paths given with `--rw` and `--ro`.
fn resolve_profile(home: &Home, options: &RunOptions) -> Result<Profile, RunError> {
    let own = home.root().join("profiles").join(format!("{}.toml", options.profile));
    let mut profile = if own.is_file() {
        let text = std::fs::read_to_string(&own).map_err(|source| RunError::Io {
            action: "read",
            path: own.clone(),
            source,
        })?;
        Profile::from_toml(&text)
            .map_err(|source| RunError::ProfileFile { path: own.clone(), source })?
    } else {
        Profile::builtin(&options.profile).map_err(|_| {
            let names: Vec<&str> = Profile::builtin_names().collect();
            RunError::UnknownProfile {
                name: options.profile.clone(),
                shipped: names.join(", "),
                own: own.clone(),
            }
        })?
    };
    for (paths, access, flag) in
        [(&options.rw, Access::ReadWrite, "--rw"), (&options.ro, Access::ReadOnly, "--ro")]
    {
        for path in paths {
            let canonical = std::fs::canonicalize(path).map_err(|source| RunError::PathFlag {
                flag,
                path: path.clone(),
                source,
            })?;
            let text = canonical
                .to_str()
                .ok_or_else(|| RunError::PathFlagNotUtf8 { flag, path: path.clone() })?;
            profile.paths.push(PathRule {
                path: text.to_owned(),
                access,
                optional: false,
                reason: format!("{flag} on the command line"),
            });
        }
    }
    profile.validate().map_err(RunError::Profile)?;
    Ok(profile)
}

/// The hosts this run declares: its shipped profile's and `--allow-host`.
fn declared_hosts(options: &RunOptions) -> Result<Vec<String>, RunError> {
    let mut hosts: Vec<String> = DECLARED_HOSTS
        .iter()
        .filter(|(profile, _, _)| *profile == options.profile)
        .map(|(_, host, _)| (*host).to_owned())
        .collect();
    for host in &options.allow_hosts {
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        let bare = host.strip_prefix("*.").unwrap_or(&host);
        let valid = !bare.is_empty()
            && bare.split('.').all(|l| {
                !l.is_empty()
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        if !valid {
            return Err(RunError::AllowHost { host });
        }
        hosts.push(host);
    }
    hosts.sort();
    hosts.dedup();
    Ok(hosts)
}

/// Whether `host` is one of `declared` (`*.domain` covers its subdomains).
pub(crate) fn is_declared(declared: &[String], host: &str) -> bool {
    warrant_broker::host_bound(declared, host)
}

fn record<B: Body>(
    runtime: &tokio::runtime::Runtime,
    audit: &AuditLog,
    agent: &AgentId,
    body: &B,
) -> Result<(), RunError> {
    runtime.block_on(audit.append_body(Some(&agent.to_string()), body))?;
    Ok(())
}

/// A path as records show it: as text, which a path that is not UTF-8
/// cannot be.
fn shown_path(path: &std::path::Path) -> Result<String, RunError> {
    path.to_str().map(str::to_owned).ok_or(RunError::NotUtf8 { what: "the workspace path" })
}

/// A private directory for the run's egress socket, removed when the run ends.
struct SocketDir {
    path: PathBuf,
}

impl SocketDir {
    fn create(home: &Home, agent: &AgentId) -> Result<Self, RunError> {
        use std::os::unix::fs::DirBuilderExt;
        // Short: a Unix socket path is limited to about 100 bytes.
        let id = agent.to_string();
        let path = home.root().join("run").join(format!("r-{}", id.get(..8).unwrap_or(&id)));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&path)
            .map_err(|source| RunError::Io { action: "create", path: path.clone(), source })?;
        if path.join("egress.sock").as_os_str().len() > 100 {
            return Err(RunError::HomeTooDeep { home: home.root().to_owned() });
        }
        Ok(Self { path })
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn declared_hosts_match_exactly_or_by_subdomain() {
        let declared = vec!["crates.io".to_owned(), "*.example.com".to_owned()];
        assert!(is_declared(&declared, "crates.io"));
        assert!(!is_declared(&declared, "evilcrates.io"));
        assert!(!is_declared(&declared, "crates.io.evil.net"));
        assert!(is_declared(&declared, "api.example.com"));
        assert!(is_declared(&declared, "a.b.example.com"));
        assert!(!is_declared(&declared, "example.com"));
        assert!(!is_declared(&declared, "badexample.com"));
    }

    #[test]
    fn allow_host_is_checked_and_normalised() {
        let options = |h: &str| RunOptions { allow_hosts: vec![h.into()], ..RunOptions::default() };
        assert_eq!(declared_hosts(&options("Example.COM.")).unwrap(), ["example.com"]);
        assert_eq!(declared_hosts(&options("*.example.com")).unwrap(), ["*.example.com"]);
        for bad in ["", "exa mple.com", "http://x", "a..b", "*."] {
            assert!(declared_hosts(&options(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn commands_are_shown_quoted_where_needed() {
        let cmd: Vec<OsString> =
            ["sh", "-c", "echo 'hi' $HOME"].iter().map(OsString::from).collect();
        assert_eq!(shown_command(&cmd), "sh -c 'echo '\\''hi'\\'' $HOME'");
    }
}
