//! A tool call: policy's decision, the wait for a person, the result.

use crate::shapes::{Outcome, shapes};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `decision`: policy decided a call, or a check before policy refused it
/// (then `rules` holds the check's name: `unknown-tool`, `quarantined`,
/// `not-delegated`, `invalid-arguments`, and only the fields every decision
/// has are written).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The qualified tool name, as requested (made printable).
    pub tool: String,
    pub outcome: Outcome,
    /// The ids of the rules that decided, or the check that refused.
    pub rules: Vec<String>,
    pub reason: String,
    /// The arguments: by default their fingerprint and shape
    /// (`{"sha256", "shape"}`), with `capture_arguments` the values.
    pub arguments: Value,
    pub custody: Vec<String>,
    /// In discovery mode, what would have happened; `null` otherwise.
    /// Policy's decisions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Discovery>,
    /// Policy's decisions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
    /// What an approval would be bound to. Policy's decisions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The agent's task. Policy's decisions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// What a shell command would run (`warrant__exec`); `null` for other
    /// tools. Policy's decisions only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandRecord>,
}

/// What discovery mode let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Discovery {
    #[serde(rename = "would deny")]
    WouldDeny,
    #[serde(rename = "would ask")]
    WouldAsk,
    #[serde(rename = "allow")]
    Allow,
}

/// A parsed command line as policy saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandRecord {
    pub programs: Vec<String>,
    /// Files written by redirection.
    pub writes: Vec<String>,
    /// Some program name comes from an expansion.
    pub dynamic: bool,
    /// An interpreter is given code inline.
    pub inline_code: bool,
}

/// `approval_requested`: a call or a connection waits for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequested {
    /// The approval's id, as `warrant approvals` lists it.
    pub approval: String,
    /// The tool, or what stands in its place (`egress: CONNECT host:443`).
    pub tool: String,
    pub fingerprint: String,
    /// The rule that asks, and its `@ask` text.
    pub rule: String,
    pub why: String,
    pub timeout_s: u64,
    /// For a tool call; absent for a connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<Vec<String>>,
}

shapes! {
    /// `approval_resolved`: a person's act, recorded before it takes effect
    /// (agent NULL), and the end of the wait, recorded before the caller
    /// acts on it.
    #[derive(Eq)]
    pub enum ApprovalResolved {
        Settled(ApprovalSettled) => "the end of a wait",
        Acted(ApprovalActed) => "a person's act",
    }
}

/// How a wait for a person ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSettled {
    pub approval: String,
    pub tool: String,
    pub fingerprint: String,
    pub outcome: ApprovalOutcome,
    /// Who decided; empty when no one did.
    pub by: String,
    /// For a tool call; absent for a connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<Vec<String>>,
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalOutcome {
    Approved,
    Denied,
    TimedOut,
    /// The asker went away.
    Abandoned,
}

/// A person approving or denying over the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalActed {
    pub approval: String,
    pub act: ApprovalAct,
    pub by: String,
}

/// What a person did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalAct {
    Approve,
    Deny,
}

/// `call_forwarded`. No writer records this kind yet (the decision and the
/// result bracket a forwarded call); until one does, its body is empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallForwarded {}

/// `call_result`: an upstream, or one of Warrant's own tools, answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallResult {
    pub tool: String,
    /// The result says it is an error (`isError`).
    pub is_error: bool,
    /// The rules of the permit the call went out under.
    pub permit_rules: Vec<String>,
    pub custody: Vec<String>,
    /// Microseconds in the upstream. Upstream calls only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_us: Option<u64>,
    /// Microseconds in Warrant before forwarding (checks, decision, its
    /// commit, any approval). Upstream calls only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_us: Option<u64>,
    /// The result's fingerprint and shape, or `"input_required"`. Upstream
    /// calls only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// `true` for Warrant's own tools, which are recorded by outcome only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<bool>,
}

/// `call_failed`: a forwarded call failed, was cut short by a kill, or one
/// of Warrant's own tools returned an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallFailed {
    pub tool: String,
    pub error: String,
    pub custody: Vec<String>,
    /// Upstream calls that failed in transport or timed out only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_us: Option<u64>,
    /// `true` for Warrant's own tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<bool>,
}
