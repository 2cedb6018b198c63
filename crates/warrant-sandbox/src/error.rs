//! Errors of profile loading and of launching.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::report::Control;

/// A profile that cannot be parsed or is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot parse profile: {0}")]
    Parse(String),
    #[error("no shipped profile named `{0}`")]
    UnknownBuiltin(String),
    #[error("control `{0}` cannot be best effort: without it there is no sandbox")]
    StructuralControl(Control),
    #[error("environment variable `{name}` is on the denylist ({reason}) and cannot be set")]
    DeniedVariable { name: String, reason: &'static str },
    #[error("invalid environment variable name `{0}`")]
    InvalidVariable(String),
    #[error("path `{0}` must be absolute or start with `~/`")]
    RelativePath(String),
    #[error("proxy mode needs a non-zero `proxy_port`")]
    ProxyPortZero,
}

/// Why a command was not started (or was started but could not be waited for).
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("path `{path}` cannot be mounted in the sandbox: {reason}")]
    Path { path: PathBuf, reason: String },
    #[error("proxy mode needs a host socket (`SandboxSpec::with_proxy_socket`)")]
    MissingProxySocket,
    #[error("cannot open proxy socket `{path}`: {source}")]
    ProxySocket { path: PathBuf, source: io::Error },
    #[error("the command is empty")]
    EmptyCommand,
    #[error("argument or variable `{0}` contains a NUL byte")]
    NulByte(String),
    #[error("cannot build the seccomp filter: {source}")]
    SeccompBackend { source: seccompiler::BackendError },
    /// The filter Warrant assembles from its tables is not one the kernel
    /// takes (a bug in those tables or in the assembly, not the host's).
    #[error("cannot build the seccomp filter: {0}")]
    Seccomp(String),
    #[error(
        "required control `{control}` could not be applied or verified at `{step}`: {reason}; to enable it: {hint}"
    )]
    ControlUnavailable { control: Control, step: String, reason: String, hint: &'static str },
    #[error("sandbox setup failed at `{step}`: {reason}")]
    Setup { step: String, reason: String },
    #[error("cannot execute `{program}` inside the sandbox: {source}")]
    Exec { program: String, source: io::Error },
    #[error("{operation} failed: {source}")]
    Io { operation: &'static str, source: io::Error },
    #[error("sandbox ended during setup without a report ({status})")]
    NoReport { status: String },
    #[error("sandbox setup did not finish within {0:?}")]
    SetupTimeout(Duration),
}

impl LaunchError {
    pub(crate) fn io(operation: &'static str) -> impl FnOnce(io::Error) -> LaunchError {
        move |source| LaunchError::Io { operation, source }
    }

    /// The control this error is about, if any.
    pub fn control(&self) -> Option<Control> {
        match self {
            LaunchError::ControlUnavailable { control, .. } => Some(*control),
            _ => None,
        }
    }
}
