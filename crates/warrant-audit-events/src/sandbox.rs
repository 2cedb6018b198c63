//! `warrant run`'s sandbox: started with its controls verified, and ended.

use crate::shapes::shapes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `sandbox_started`: the controls were verified in force from inside,
/// before the command runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxStarted {
    /// The profile's name.
    pub profile: String,
    pub pid: u32,
    /// The sandbox's report of every control, as `warrant-sandbox`
    /// serializes it (its shape is that crate's).
    pub report: Value,
    pub workspace: String,
    /// The command line, shown.
    pub command: String,
}

shapes! {
    /// `sandbox_exited`: the process tree ended, or the sandbox refused to
    /// start (then nothing ran).
    #[derive(Eq)]
    pub enum SandboxExited {
        Ended(SandboxEnded) => "an ended run",
        Refused(SandboxRefused) => "a refused start",
    }
}

/// How a sandboxed process tree ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxEnded {
    /// The exit code; `null` when a signal ended it.
    pub code: Option<i32>,
    /// The signal that ended it; `null` when it exited.
    pub signal: Option<i32>,
    /// It ran past its wall-clock limit and was killed.
    pub timed_out: bool,
    /// Why the operator stopped it (`warrant kill`, a revocation); `null`
    /// when no one did.
    pub stopped: Option<String>,
    /// `warrant run` got SIGINT or SIGTERM and passed it on.
    pub interrupted: bool,
    pub duration_ms: u64,
}

/// A sandbox that refused to start: a control could not be put in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxRefused {
    pub error: String,
    /// The control that failed, by name; `null` when it was none of them.
    pub control: Option<String>,
}
