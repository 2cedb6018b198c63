//! The vault: the operator's changes, each use decided, and its leases.
//! Names, bindings and hosts only; never a value.

use crate::shapes::Outcome;
use serde::{Deserialize, Serialize};

/// `vault_changed`: `warrant vault add|rm|rotate` (agent NULL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultChanged {
    pub change: VaultChange,
    pub credential: String,
    pub by: String,
    /// Where the credential may go. Only when it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<Binding>,
}

/// What the operator did to a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaultChange {
    Added,
    Removed,
    Rotated,
}

/// A credential's binding: the hosts it may go to and how it is carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub hosts: Vec<String>,
    /// The request header it goes in.
    pub header: Option<String>,
    /// The header value's format (`Bearer {}`).
    pub format: Option<String>,
    /// The environment variable it goes in.
    pub env: Option<String>,
}

/// `credential_use`: a use of a credential decided, for an agent (in the
/// gateway, with its custody; in a `warrant run` proxy), or at an
/// upstream's start (agent NULL, `at: "spawn"`, decided by configuration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialUse {
    pub credential: String,
    pub via: Via,
    /// The tool the use serves; empty for egress and at a start.
    pub tool: String,
    /// The host it would go to, or the upstream's name.
    pub host: String,
    pub outcome: Outcome,
    /// The rules that decided (`unknown-credential`,
    /// `upstream-configuration` for the checks that are not policy's).
    pub rules: Vec<String>,
    /// Why it was refused; `null` when allowed.
    pub reason: Option<String>,
    /// The binding allows the host. Absent when the credential does not
    /// exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<bool>,
    /// When the use happens; absent for a use at a call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<UseStage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<Vec<String>>,
}

/// How a credential leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Into an upstream's environment or headers.
    Upstream,
    /// Added to a `warrant__http_request`.
    HttpRequest,
    /// Swapped for its placeholder by a `warrant run` proxy.
    Egress,
}

/// When a use that is not a call's happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UseStage {
    /// As an upstream starts.
    Spawn,
}

/// `lease_started`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseStarted(pub LeaseRecord);

/// `lease_ended`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LeaseEnded(pub LeaseRecord);

/// A lease as both its records show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseRecord {
    /// The lease's id.
    pub lease: String,
    /// Who holds it: an agent id, or `upstream:NAME` for a credential
    /// released to an upstream at its start. Always written now; absent
    /// from records written before it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    pub credential: String,
    /// Where the credential may go under it.
    pub hosts: Vec<String>,
    pub via: Via,
    /// RFC 3339.
    pub expires_at: String,
    /// RFC 3339; `null` while it runs.
    pub ended_at: Option<String>,
    /// Why it ended (`expired`, `killed`, `revoked`, `rotated`, `removed`,
    /// `run ended`); `null` while it runs.
    pub reason: Option<String>,
    /// When the gateway took it for an authenticated agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<Vec<String>>,
}
