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

/// `warrant run` could not start its command, or lost a control it needs.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Home(#[from] warrant_state::home::HomeError),
    #[error(transparent)]
    Config(#[from] warrant_state::config::ConfigError),
    #[error("policy is invalid, refusing to run:\n{0}")]
    Policy(String),
    #[error("identity: {0}")]
    Identity(String),
    #[error("audit log: {0}")]
    Audit(String),
    #[error("state store `{path}`: {message}")]
    State { path: String, message: String },
    #[error(transparent)]
    Control(#[from] warrant_control::ControlError),
    #[error("{0}")]
    Run(String),
}
