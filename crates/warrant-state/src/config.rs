//! `warrant.toml`: parsed once into typed values, refused with a message that
//! names the key when it is wrong.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use warrant_core::UpstreamName;

/// The configuration a fresh home starts with.
pub const DEFAULT_CONFIG: &str = r#"# Warrant configuration. See the README for every key.

[gateway]
# Agents connect here (Streamable HTTP, path /mcp). Loopback only.
listen = "127.0.0.1:7465"
# The trust domain of agent SPIFFE ids: spiffe://<trust_domain>/agent/<name>/<id>.
trust_domain = "warrant.local"
# How long a call that needs a person's approval waits before it is denied.
approval_timeout = "120s"
# How long an upstream may take to answer one call.
call_timeout = "60s"
# An agent denied this many times within quarantine_window is stopped (as by
# `warrant kill`) until a person runs `warrant resume`; 0 turns this off.
quarantine_denials = 10
quarantine_window = "60s"
# How deep a chain of agents spawning agents may go (an operator's agent is 0).
max_agent_depth = 4
# A call whose arguments policy could not see whole (over 4,096 values, 32
# levels or 8 MiB of text, colliding dotted keys) is never allowed: "deny" it,
# or "ask" a person (whose approval then also overrides any forbid the unseen
# part might have matched).
arguments_not_whole = "deny"

[audit]
# Argument values are recorded as shape and hash; set true to record them in full.
capture_arguments = false
# "process": a record survives the gateway being killed; "power": also a power loss.
durability = "process"
# Every signed checkpoint is also appended to a witness outside the home
# (default: beside it, <home>-witness.jsonl) and sent to syslog; `warrant
# audit verify` checks the log against it, so a log cut back, emptied or
# replaced is caught. Keep a copy where your user cannot write. A witness set
# here must be writable, or the log refuses records.
# witness = "/var/log/warrant/witness.jsonl"
syslog = true

[egress]
# `warrant run` sandboxes reach the network only through Warrant's egress
# proxy, which refuses loopback, private, link-local and cloud-metadata
# addresses. List here any you want reachable anyway (a local dev server);
# policy still decides each connection.
# allow_private = ["127.0.0.1"]
# Certificate authorities (PEM files) that warrant__http_request trusts besides
# the public Web PKI roots.
# ca_certificates = ["/etc/ssl/my-corp-ca.pem"]

[sandbox]
# A cgroup v2 directory delegated to you, whose cgroup.subtree_control hands
# out memory and pids: each sandbox (`warrant run`, warrant__exec) then gets a
# cgroup of its own there, bounding its whole tree (memory.max, pids.max from
# the profile). Unset: the cgroup Warrant runs in, if it hands out both (in
# practice only the root cgroup); otherwise per-process rlimits alone.
# `warrant doctor` says what this host delegates.
# cgroup_parent = "/sys/fs/cgroup/warrant"

[vault]
# How long a credential lease lasts. Every use is decided by policy; a use
# after the lease expired starts a new one (a fresh decision in the log).
lease_ttl = "5m"
# Keep the key your passphrase unlocks in the OS keychain (on Linux, the
# kernel's user keyring) for this long, so commands in that time need no
# passphrase; `warrant vault lock` forgets it at once. Off unless set (up to
# 24h). Any process running as you can read it while it lives.
# key_cache = "15m"

[leaks]
# What an agent sends out (tool arguments, requests through the egress proxy)
# is searched for every vault secret in every common encoding: always blocked.
# Credentials that are not in the vault are found by their well-known formats
# (cloud keys, private keys, platform tokens): "block" the call, or "redact"
# them and let it through.
well_known = "block"

# Upstream MCP servers. Their tools appear to agents as NAME__tool.
#
# [upstreams.notes]
# command = ["python3", "server.py"]   # a stdio server Warrant starts and owns
# env = { LOG_LEVEL = "info" }
# trusted = false                      # true lets the default policy allow its tools without asking
# protocol = "auto"                    # or "2025-11-25" (initialize) or "2026-07-28" (stateless)
# new_tools = "quarantine"             # tools it adds later wait for `warrant tools accept`; or "accept"
# credentials = { GITHUB_TOKEN = "github" }  # vault credentials put into its environment (see `warrant vault add`)
#
# [upstreams.remote]
# url = "http://127.0.0.1:9000/mcp"    # a Streamable HTTP server
# credentials = { Authorization = "remote-token" }  # for a url: headers, formatted as the credential's binding says
"#;

/// The upstream name of the tools Warrant serves itself (`warrant__...`).
pub const BUILTIN_UPSTREAM: &str = "warrant";

/// Everything in `warrant.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    pub gateway: GatewayConfig,
    pub audit: AuditConfig,
    pub egress: EgressSettings,
    pub vault: VaultSettings,
    pub leaks: LeakSettings,
    pub sandbox: SandboxSettings,
    pub upstreams: BTreeMap<UpstreamName, UpstreamConfig>,
}

/// `[leaks]`: what to do with a credential of a well-known format (not in
/// the vault) in what an agent sends out. Vault secrets are always blocked.
#[derive(Debug, Clone, Default)]
pub struct LeakSettings {
    pub well_known: warrant_vault::rules::Action,
}

/// `[vault]`: how credentials are lent.
#[derive(Debug, Clone)]
pub struct VaultSettings {
    /// How long a credential lease lasts before a use must start a new one.
    pub lease_ttl: Duration,
    /// How long the vault's key stays in the OS keychain after an unlock;
    /// `None`: it is not cached.
    pub key_cache: Option<Duration>,
}

impl Default for VaultSettings {
    fn default() -> Self {
        Self { lease_ttl: Duration::from_secs(300), key_cache: None }
    }
}

/// `[sandbox]`: where sandboxes get their cgroups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SandboxSettings {
    /// A delegated cgroup v2 directory (absolute).
    pub cgroup_parent: Option<std::path::PathBuf>,
    /// Paths no sandbox and no built-in file tool touches besides the secret
    /// stores beneath `$HOME`, each with the reason: the Warrant home this
    /// configuration was loaded from and its audit witness (set by
    /// [`Config::load`]).
    pub protected: Vec<(std::path::PathBuf, String)>,
}

/// Why no sandbox or built-in file tool sees the Warrant home.
pub const HOME_REASON: &str = "Warrant's home: its keys mint tokens and sign the log, its policy and control socket govern every agent";

/// `~/x` against `$HOME`, or an absolute path; anything else is `None`.
fn expand_home(path: &str) -> Option<std::path::PathBuf> {
    match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(rest)),
        None => Some(std::path::PathBuf::from(path)).filter(|p| p.is_absolute()),
    }
}

/// Why no agent may write the audit witness.
pub const WITNESS_REASON: &str =
    "the audit log's witness: what `audit verify` checks a cut or replaced log against";

impl SandboxSettings {
    /// A sandbox of `profile` on `workspace`, with this host's settings: what
    /// `warrant run`, `warrant__exec` and `warrant doctor` all launch.
    pub fn spec(
        &self,
        profile: warrant_sandbox::Profile,
        workspace: impl Into<std::path::PathBuf>,
    ) -> warrant_sandbox::SandboxSpec {
        let spec = warrant_sandbox::SandboxSpec {
            cgroup_parent: self.cgroup_parent.clone(),
            ..warrant_sandbox::SandboxSpec::new(profile, workspace)
        };
        self.protected.iter().fold(spec, |spec, (path, reason)| spec.with_protected(path, reason))
    }
}

/// `[egress]`: the proxy sandboxed runs reach the network through.
#[derive(Debug, Clone, Default)]
pub struct EgressSettings {
    /// Addresses in forbidden ranges (loopback, private, link-local) a
    /// sandbox may nevertheless reach, e.g. a local dev server. Policy still
    /// decides each connection.
    pub allow_private: Vec<ipnet::IpNet>,
    /// PEM files of certificate authorities trusted for `warrant__http_request`
    /// besides the Web PKI roots (a corporate CA, a local test CA).
    pub ca_certificates: Vec<std::path::PathBuf>,
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    pub trust_domain: String,
    pub approval_timeout: Duration,
    pub call_timeout: Duration,
    /// Largest request body accepted on `/mcp`.
    pub max_message_bytes: usize,
    /// How long a client may take to send a request body.
    pub request_timeout: Duration,
    /// Largest `arguments` object of one call, as JSON bytes.
    pub max_argument_bytes: usize,
    /// Deepest nesting of one call's arguments.
    pub max_argument_depth: usize,
    /// Denials within `quarantine_window` that stop an agent (0: never).
    pub quarantine_denials: usize,
    pub quarantine_window: Duration,
    /// The deepest child agent (an operator's agent is depth 0).
    pub max_agent_depth: u32,
    /// A call whose arguments policy could not see whole: denied (default) or
    /// asked about; never allowed.
    pub arguments_not_whole: warrant_policy::ArgumentsNotWhole,
}

#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub capture_arguments: bool,
    pub power_durable: bool,
    /// A witness file every checkpoint is appended to (required once set);
    /// `None`: the default beside the home, best effort.
    pub witness: Option<std::path::PathBuf>,
    /// Whether checkpoints also go to syslog.
    pub syslog: bool,
}

#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    pub transport: UpstreamTransport,
    /// The operator vouches for this server's tools (the default policy lets
    /// them through without asking).
    pub trusted: bool,
    pub protocol: Protocol,
    /// Whether a tool first seen from an upstream that already has pinned
    /// tools is quarantined (`new_tools = "quarantine"`, the default) or
    /// pinned at once (`"accept"`).
    pub quarantine_new_tools: bool,
    /// Vault credentials this upstream receives: environment variable (stdio)
    /// or header (HTTP) → credential name.
    pub credentials: BTreeMap<String, String>,
}

/// Which MCP protocol era Warrant speaks to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Probe with `server/discover` (2026-07-28), fall back to `initialize`
    /// (2025-11-25) for servers that do not know it.
    Auto,
    /// `initialize` handshake only (2025-11-25 and earlier).
    Legacy,
    /// `server/discover` and per-request metadata only (2026-07-28).
    Stateless,
}

#[derive(Debug, Clone)]
pub enum UpstreamTransport {
    Stdio { command: Vec<String>, env: BTreeMap<String, String>, cwd: Option<String> },
    Http { url: String },
}

/// `warrant.toml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{path}`: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("`{path}` is not valid: {message}")]
    Syntax { path: String, message: String },
    #[error("`{path}`: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    gateway: RawGateway,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    egress: RawEgress,
    #[serde(default)]
    vault: RawVault,
    #[serde(default)]
    leaks: RawLeaks,
    #[serde(default)]
    sandbox: RawSandbox,
    #[serde(default)]
    upstreams: BTreeMap<String, RawUpstream>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSandbox {
    cgroup_parent: Option<std::path::PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLeaks {
    well_known: Option<warrant_vault::rules::Action>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawVault {
    lease_ttl: Option<String>,
    key_cache: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEgress {
    #[serde(default)]
    allow_private: Vec<String>,
    #[serde(default)]
    ca_certificates: Vec<std::path::PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    listen: Option<String>,
    trust_domain: Option<String>,
    approval_timeout: Option<String>,
    call_timeout: Option<String>,
    max_message_bytes: Option<usize>,
    request_timeout: Option<String>,
    max_argument_bytes: Option<usize>,
    max_argument_depth: Option<usize>,
    quarantine_denials: Option<usize>,
    quarantine_window: Option<String>,
    max_agent_depth: Option<u32>,
    arguments_not_whole: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    capture_arguments: Option<bool>,
    durability: Option<String>,
    witness: Option<String>,
    syslog: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstream {
    command: Option<Vec<String>>,
    env: Option<BTreeMap<String, String>>,
    cwd: Option<String>,
    url: Option<String>,
    #[serde(default)]
    trusted: bool,
    protocol: Option<String>,
    new_tools: Option<String>,
    credentials: Option<BTreeMap<String, String>>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: shown.clone(), source })?;
        let mut config = Self::parse(&text, &shown)?;
        if let Some(home) = path.parent() {
            let home = std::path::absolute(home).unwrap_or_else(|_| home.to_path_buf());
            let witness = config
                .audit
                .witness
                .clone()
                .or_else(|| warrant_audit::default_witness_path(&home.join("audit.db")));
            config.sandbox.protected.push((home, HOME_REASON.to_owned()));
            if let Some(witness) = witness {
                config.sandbox.protected.push((witness, WITNESS_REASON.to_owned()));
            }
        }
        Ok(config)
    }

    /// How the audit log is opened, by every process of this home alike (so
    /// that the CLI's checkpoints reach the same witness as the gateway's).
    pub fn audit_options(&self) -> warrant_audit::AuditOptions {
        let durability = if self.audit.power_durable {
            warrant_audit::Durability::Power
        } else {
            warrant_audit::Durability::Process
        };
        warrant_audit::AuditOptions {
            durability,
            witness: self.audit.witness.clone(),
            syslog: self
                .audit
                .syslog
                .then(|| std::path::PathBuf::from(warrant_audit::DEFAULT_SYSLOG_SOCKET)),
            ..warrant_audit::AuditOptions::default()
        }
    }

    /// The policy engine for `sources` with this configuration's settings:
    /// what `warrant up`, `warrant run` and `policy explain` all decide with.
    pub fn policy_engine(
        &self,
        sources: &[warrant_policy::PolicySource],
    ) -> Result<warrant_policy::PolicyEngine, warrant_policy::PolicyError> {
        Ok(warrant_policy::PolicyEngine::new(sources)?
            .with_arguments_not_whole(self.gateway.arguments_not_whole))
    }

    /// Parses `text`; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_owned(),
            message: e.message().to_owned(),
        })?;
        let invalid = |message: String| ConfigError::Invalid { path: origin.to_owned(), message };

        let listen_text = raw.gateway.listen.as_deref().unwrap_or("127.0.0.1:7465");
        let listen: SocketAddr = listen_text
            .parse()
            .map_err(|_| invalid(format!("gateway.listen `{listen_text}` is not an ip:port")))?;
        if !listen.ip().is_loopback() {
            return Err(invalid(format!(
                "gateway.listen `{listen_text}` is not a loopback address; Warrant only listens on loopback"
            )));
        }
        let duration = |key: &str, value: Option<&str>, default: &str| {
            let text = value.unwrap_or(default);
            humantime::parse_duration(text)
                .map_err(|e| invalid(format!("{key} `{text}` is not a duration: {e}")))
        };
        let gateway = GatewayConfig {
            listen,
            trust_domain: raw.gateway.trust_domain.unwrap_or_else(|| "warrant.local".to_owned()),
            approval_timeout: duration(
                "gateway.approval_timeout",
                raw.gateway.approval_timeout.as_deref(),
                "120s",
            )?,
            call_timeout: duration(
                "gateway.call_timeout",
                raw.gateway.call_timeout.as_deref(),
                "60s",
            )?,
            max_message_bytes: raw.gateway.max_message_bytes.unwrap_or(4 * 1024 * 1024),
            request_timeout: duration(
                "gateway.request_timeout",
                raw.gateway.request_timeout.as_deref(),
                "10s",
            )?,
            max_argument_bytes: raw.gateway.max_argument_bytes.unwrap_or(1024 * 1024),
            max_argument_depth: raw.gateway.max_argument_depth.unwrap_or(32),
            quarantine_denials: raw.gateway.quarantine_denials.unwrap_or(10),
            quarantine_window: duration(
                "gateway.quarantine_window",
                raw.gateway.quarantine_window.as_deref(),
                "60s",
            )?,
            max_agent_depth: raw.gateway.max_agent_depth.unwrap_or(4),
            arguments_not_whole: match raw.gateway.arguments_not_whole.as_deref() {
                None => warrant_policy::ArgumentsNotWhole::default(),
                Some(text) => text.parse().map_err(|_| {
                    invalid(format!("gateway.arguments_not_whole `{text}` must be `deny` or `ask`"))
                })?,
            },
        };
        if gateway.max_agent_depth > 16 {
            return Err(invalid(format!(
                "gateway.max_agent_depth {} is over the limit of 16",
                gateway.max_agent_depth
            )));
        }
        let power_durable = match raw.audit.durability.as_deref().unwrap_or("process") {
            "process" => false,
            "power" => true,
            other => {
                return Err(invalid(format!(
                    "audit.durability `{other}` must be `process` or `power`"
                )));
            }
        };
        let witness = match raw.audit.witness.as_deref() {
            None => None,
            Some(path) => Some(expand_home(path).ok_or_else(|| {
                invalid(format!(
                    "audit.witness `{path}` must be an absolute path or start with `~/`"
                ))
            })?),
        };
        let audit = AuditConfig {
            capture_arguments: raw.audit.capture_arguments.unwrap_or(false),
            power_durable,
            witness,
            syslog: raw.audit.syslog.unwrap_or(true),
        };

        let mut upstreams = BTreeMap::new();
        for (name, up) in raw.upstreams {
            let parsed = UpstreamName::parse(&name)
                .map_err(|e| invalid(format!("[upstreams.{name}]: {e}")))?;
            if name == BUILTIN_UPSTREAM {
                return Err(invalid(format!(
                    "[upstreams.{name}]: the name `{BUILTIN_UPSTREAM}` is reserved for Warrant's own tools"
                )));
            }
            let transport = match (up.command, up.url) {
                (Some(command), None) => {
                    if command.is_empty() {
                        return Err(invalid(format!("upstreams.{name}.command is empty")));
                    }
                    UpstreamTransport::Stdio {
                        command,
                        env: up.env.unwrap_or_default(),
                        cwd: up.cwd,
                    }
                }
                (None, Some(url)) => {
                    if up.env.is_some() || up.cwd.is_some() {
                        return Err(invalid(format!(
                            "upstreams.{name}: `env` and `cwd` only apply to a `command`"
                        )));
                    }
                    if !url.starts_with("http://") {
                        return Err(invalid(format!(
                            "upstreams.{name}.url `{url}` must be an http:// URL (https upstreams are not supported yet)"
                        )));
                    }
                    UpstreamTransport::Http { url }
                }
                _ => {
                    return Err(invalid(format!(
                        "upstreams.{name} needs exactly one of `command` or `url`"
                    )));
                }
            };
            let protocol = match up.protocol.as_deref().unwrap_or("auto") {
                "auto" => Protocol::Auto,
                "2025-11-25" => Protocol::Legacy,
                "2026-07-28" => Protocol::Stateless,
                other => {
                    return Err(invalid(format!(
                        "upstreams.{name}.protocol `{other}` must be `auto`, `2025-11-25` or `2026-07-28`"
                    )));
                }
            };
            let quarantine_new_tools = match up.new_tools.as_deref().unwrap_or("quarantine") {
                "quarantine" => true,
                "accept" => false,
                other => {
                    return Err(invalid(format!(
                        "upstreams.{name}.new_tools `{other}` must be `quarantine` or `accept`"
                    )));
                }
            };
            let credentials = up.credentials.unwrap_or_default();
            for (key, credential) in &credentials {
                warrant_vault::CredentialName::new(credential)
                    .map_err(|e| invalid(format!("upstreams.{name}.credentials.{key}: {e}")))?;
                match &transport {
                    UpstreamTransport::Stdio { env, .. } => {
                        if !valid_env_name(key) {
                            return Err(invalid(format!(
                                "upstreams.{name}.credentials: `{key}` is not an environment variable name"
                            )));
                        }
                        if env.contains_key(key) {
                            return Err(invalid(format!(
                                "upstreams.{name}: `{key}` is in both `env` and `credentials`"
                            )));
                        }
                    }
                    UpstreamTransport::Http { .. } => {
                        if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
                            return Err(invalid(format!(
                                "upstreams.{name}.credentials: `{key}` is not a header name"
                            )));
                        }
                    }
                }
            }
            upstreams.insert(
                parsed,
                UpstreamConfig {
                    transport,
                    trusted: up.trusted,
                    protocol,
                    quarantine_new_tools,
                    credentials,
                },
            );
        }
        let mut egress = EgressSettings {
            ca_certificates: raw.egress.ca_certificates.clone(),
            ..EgressSettings::default()
        };
        for net in &raw.egress.allow_private {
            // A bare address means just that address.
            let parsed = net
                .parse::<ipnet::IpNet>()
                .or_else(|_| net.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    invalid(format!("egress.allow_private `{net}` is not an address or network"))
                })?;
            egress.allow_private.push(parsed);
        }
        let key_cache = duration("vault.key_cache", raw.vault.key_cache.as_deref(), "0s")?;
        let vault = VaultSettings {
            lease_ttl: duration("vault.lease_ttl", raw.vault.lease_ttl.as_deref(), "5m")?,
            key_cache: (!key_cache.is_zero()).then_some(key_cache),
        };
        if vault.lease_ttl < Duration::from_secs(1) || vault.lease_ttl > Duration::from_secs(86_400)
        {
            return Err(invalid("vault.lease_ttl must be between 1s and 24h".to_owned()));
        }
        if vault
            .key_cache
            .is_some_and(|t| t < Duration::from_secs(1) || t > warrant_vault::keycache::MAX_TTL)
        {
            return Err(invalid(
                "vault.key_cache must be between 1s and 24h (or \"0s\": off)".to_owned(),
            ));
        }
        let leaks = LeakSettings { well_known: raw.leaks.well_known.unwrap_or_default() };
        if raw.sandbox.cgroup_parent.as_ref().is_some_and(|p| !p.is_absolute()) {
            return Err(invalid("sandbox.cgroup_parent must be an absolute path".to_owned()));
        }
        let sandbox = SandboxSettings {
            cgroup_parent: raw.sandbox.cgroup_parent.clone(),
            protected: Vec::new(),
        };
        Ok(Self { gateway, audit, egress, vault, leaks, sandbox, upstreams })
    }
}

/// A portable environment variable name: a letter or `_`, then letters,
/// digits and `_`.
fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_cgroup_parent_is_an_absolute_path_or_unset() {
        assert_eq!(Config::parse(DEFAULT_CONFIG, "default").unwrap().sandbox.cgroup_parent, None);
        let c =
            Config::parse("[sandbox]\ncgroup_parent = \"/sys/fs/cgroup/warrant\"\n", "t").unwrap();
        assert_eq!(c.sandbox.cgroup_parent, Some("/sys/fs/cgroup/warrant".into()));
        let err = Config::parse("[sandbox]\ncgroup_parent = \"warrant\"\n", "t").unwrap_err();
        assert!(err.to_string().contains("sandbox.cgroup_parent"), "{err}");
        assert!(Config::parse("[sandbox]\ncgroup = \"/x\"\n", "t").is_err());
    }

    #[test]
    fn default_config_parses() {
        let c = Config::parse(DEFAULT_CONFIG, "default").unwrap();
        assert_eq!(c.gateway.listen.to_string(), "127.0.0.1:7465");
        assert_eq!(c.gateway.approval_timeout, Duration::from_secs(120));
        assert!(c.upstreams.is_empty());
        assert!(!c.audit.capture_arguments);
    }

    #[test]
    fn arguments_policy_cannot_see_whole_are_denied_unless_set_to_ask() {
        use warrant_policy::ArgumentsNotWhole;
        let c = Config::parse(DEFAULT_CONFIG, "default").unwrap();
        assert_eq!(c.gateway.arguments_not_whole, ArgumentsNotWhole::Deny);
        let c = Config::parse("[gateway]\narguments_not_whole = \"ask\"\n", "t").unwrap();
        assert_eq!(c.gateway.arguments_not_whole, ArgumentsNotWhole::Ask);
        let err = Config::parse("[gateway]\narguments_not_whole = \"allow\"\n", "t").unwrap_err();
        assert!(err.to_string().contains("gateway.arguments_not_whole"), "{err}");
    }

    #[test]
    fn the_home_and_its_witness_are_protected_and_a_witness_path_must_be_absolute() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join("warrant.toml"), DEFAULT_CONFIG).unwrap();
        let c = Config::load(&home.join("warrant.toml")).unwrap();
        let protected: Vec<_> = c.sandbox.protected.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(protected, [home.clone(), dir.path().join("home-witness.jsonl")]);
        let err = Config::parse("[audit]\nwitness = \"w.jsonl\"\n", "t").unwrap_err();
        assert!(err.to_string().contains("audit.witness"), "{err}");
    }

    #[test]
    fn non_loopback_listen_is_refused() {
        let err = Config::parse("[gateway]\nlisten = \"0.0.0.0:7465\"\n", "t").unwrap_err();
        assert!(err.to_string().contains("not a loopback address"), "{err}");
    }

    #[test]
    fn upstreams_are_parsed_and_checked() {
        let c = Config::parse(
            "[upstreams.notes]\ncommand = [\"python3\", \"s.py\"]\ntrusted = true\n[upstreams.web]\nurl = \"http://127.0.0.1:9/mcp\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.upstreams.len(), 2);
        let notes = &c.upstreams[&UpstreamName::parse("notes").unwrap()];
        assert!(notes.trusted);
        assert!(Config::parse("[upstreams.a__b]\ncommand = [\"x\"]\n", "t").is_err());
        assert!(Config::parse("[upstreams.a]\n", "t").is_err());
        let reserved = Config::parse("[upstreams.warrant]\ncommand = [\"x\"]\n", "t");
        assert!(reserved.unwrap_err().to_string().contains("reserved"));
        assert!(Config::parse("[upstreams.a]\ncommand = []\n", "t").is_err());
        assert!(Config::parse("[upstreams.a]\nurl = \"https://x/mcp\"\n", "t").is_err());
        assert!(Config::parse("[gateway]\nlisten2 = 1\n", "t").is_err());
    }

    #[test]
    fn upstream_credentials_are_checked_against_the_transport() {
        let c = Config::parse(
            "[upstreams.gh]\ncommand = [\"x\"]\ncredentials = { GITHUB_TOKEN = \"github\" }\n[upstreams.web]\nurl = \"http://127.0.0.1:9/mcp\"\ncredentials = { Authorization = \"remote\" }\n",
            "t",
        )
        .unwrap();
        let gh = &c.upstreams[&UpstreamName::parse("gh").unwrap()];
        assert_eq!(gh.credentials["GITHUB_TOKEN"], "github");
        for bad in [
            "[upstreams.a]\ncommand = [\"x\"]\ncredentials = { \"1BAD\" = \"github\" }\n",
            "[upstreams.a]\ncommand = [\"x\"]\ncredentials = { T = \"bad name!\" }\n",
            "[upstreams.a]\ncommand = [\"x\"]\nenv = { T = \"1\" }\ncredentials = { T = \"github\" }\n",
            "[upstreams.a]\nurl = \"http://127.0.0.1:9/mcp\"\ncredentials = { \"bad header\" = \"github\" }\n",
        ] {
            assert!(Config::parse(bad, "t").is_err(), "{bad}");
        }
        assert_eq!(c.vault.lease_ttl, Duration::from_secs(300));
        let short = Config::parse("[vault]\nlease_ttl = \"2s\"\n", "t").unwrap();
        assert_eq!(short.vault.lease_ttl, Duration::from_secs(2));
        assert_eq!(c.vault.key_cache, None, "the key cache is off unless set");
        let cached = Config::parse("[vault]\nkey_cache = \"15m\"\n", "t").unwrap();
        assert_eq!(cached.vault.key_cache, Some(Duration::from_secs(900)));
        assert_eq!(
            Config::parse("[vault]\nkey_cache = \"0s\"\n", "t").unwrap().vault.key_cache,
            None
        );
        assert!(Config::parse("[vault]\nkey_cache = \"2d\"\n", "t").is_err());
        assert!(Config::parse("[vault]\nkey_cache = \"500ms\"\n", "t").is_err());
        assert!(Config::parse("[vault]\nlease_ttl = \"0s\"\n", "t").is_err());
    }
}
