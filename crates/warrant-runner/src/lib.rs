//! `warrant run` and `warrant doctor`: the runner process.
//!
//! `warrant run -- CMD` gives CMD an identity of its own (custody: the
//! operator, then this run) and runs it in a sandbox whose only way out is
//! an egress proxy this process serves for it on a private Unix socket. The
//! proxy screens each host name for secrets and decides it with Cedar
//! (`Action::"connect"`, the hosts the run declared are `context.declared`)
//! before it resolves it, writes the decision to the audit log, then refuses
//! private and metadata addresses and connects to the address it checked.
//! The sandbox never sees Warrant's home or its audit witness, whatever the
//! workspace (`SandboxSettings::spec`). Requests to the proxy's own address in origin-form
//! (`WARRANT_MCP_URL`) go to the running gateway's MCP endpoint, so the
//! command can use Warrant's tools with `WARRANT_TOKEN`.
//!
//! The order: identity issued and recorded (with what will run, where, and
//! the declared hosts) → egress proxy up → sandbox started, every control
//! verified, the report recorded → wait, while watching for `warrant kill`
//! or revocation of the identity (then the whole tree is killed) and for
//! Ctrl-C (forwarded) → exit recorded → identity revoked → proxy stopped.
//!
//! The proxy's gate is in `egress_gate.rs`, the credentials a run injects in
//! `run_credentials.rs`, `warrant doctor` in `doctor.rs`.

mod doctor;
mod egress_gate;
mod run;
mod run_credentials;

pub use doctor::{DoctorReport, ProfileCheck, doctor};
pub use run::{RunOptions, run_sandboxed};

use std::path::PathBuf;

/// `warrant run` could not start its command, or lost a control it needs.
/// The text says what Warrant was doing; the cause is the source.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Home(#[from] warrant_state::home::HomeError),
    #[error(transparent)]
    Config(#[from] warrant_state::config::ConfigError),
    #[error("policy is invalid, refusing to run")]
    Policy(#[source] warrant_policy::PolicyError),
    #[error("identity")]
    Identity(#[from] warrant_identity::IdentityError),
    #[error(transparent)]
    Name(#[from] warrant_core::NameError),
    #[error("audit log")]
    Audit(#[from] warrant_audit::AuditError),
    #[error(transparent)]
    Control(#[from] warrant_control::ControlError),
    #[error("vault")]
    Vault(#[from] warrant_broker::BrokerError),
    #[error("cannot {action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("nothing to run: warrant run [OPTIONS] -- COMMAND [ARGS...]")]
    NothingToRun,
    #[error("no profile `{name}`: the shipped ones are {shipped}, or write `{}`", own.display())]
    UnknownProfile { name: String, shipped: String, own: PathBuf },
    #[error("`{}`", path.display())]
    ProfileFile {
        path: PathBuf,
        #[source]
        source: warrant_sandbox::ProfileError,
    },
    #[error(transparent)]
    Profile(warrant_sandbox::ProfileError),
    #[error("{flag} `{}`", path.display())]
    PathFlag {
        flag: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{flag} `{}` is not UTF-8", path.display())]
    PathFlagNotUtf8 { flag: &'static str, path: PathBuf },
    #[error("--allow-host `{host}` is not a host name (or `*.domain`)")]
    AllowHost { host: String },
    #[error(
        "--credential `{name}`: there is no vault; add it with `warrant vault add {name} --host HOST --env VAR`"
    )]
    NoVault { name: String },
    #[error("--credential needs a network through Warrant's proxy; profile `{profile}` has none")]
    CredentialWithoutProxy { profile: String },
    #[error("--credential `{name}`")]
    Credential {
        name: String,
        #[source]
        source: Box<warrant_broker::BrokerError>,
    },
    #[error(
        "--credential `{name}`: it has no environment variable to go in; add it again with `--env VAR`"
    )]
    CredentialWithoutVariable { name: String },
    #[error("the credentials' swapper")]
    Swapper(#[source] warrant_vault::VaultError),
    #[error("the current directory cannot be the workspace")]
    Workspace(#[source] std::io::Error),
    #[error("cannot start the runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the home `{}` is too deep for a Unix socket path; use a shorter --home", home.display())]
    HomeTooDeep { home: PathBuf },
    #[error("cannot bind the egress socket")]
    EgressSocket(#[source] std::io::Error),
    #[error("{what} is not UTF-8")]
    NotUtf8 { what: &'static str },
    #[error("the local CA key is not PEM")]
    LocalCaKeyNotPem,
    #[error("the local CA in `{}`", path.display())]
    LocalCa {
        path: PathBuf,
        #[source]
        source: warrant_egress::CaError,
    },
    #[error("cannot make the local CA")]
    MakeLocalCa(#[source] warrant_egress::CaError),
    #[error("cannot make a directory for the CA")]
    CaDir(#[source] std::io::Error),
    #[error("TLS to upstreams")]
    UpstreamTls(#[source] warrant_broker::upstream_tls::TlsConfigError),
    #[error("leak rules")]
    LeakRules(#[source] warrant_vault::VaultError),
    #[error("refused to run")]
    Refused(#[source] warrant_sandbox::LaunchError),
    #[error("waiting for the sandbox failed")]
    Wait(#[source] warrant_sandbox::LaunchError),
}
