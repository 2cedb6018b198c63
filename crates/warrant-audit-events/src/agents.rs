//! Agent identities: issued, revoked, stopped and resumed.

use serde::{Deserialize, Serialize};

/// `agent_spawned`: an identity was issued, before its token was handed
/// out. Written by `warrant agents spawn`, by `warrant__spawn_agent` (a
/// child, recorded as the child) and by `warrant run` (with `run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpawned {
    pub name: String,
    pub spiffe_id: String,
    pub task: String,
    /// Who issued it: `operator:USER`, or the parent's SPIFFE id.
    pub spawned_by: String,
    /// RFC 3339.
    pub expires_at: String,
    /// The new agent's chain of custody, itself last.
    pub custody: Vec<String>,
    /// The parent's agent id; `null` (or absent) for a root.
    /// Absent from `warrant run`'s record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Absent from `warrant run`'s record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// The tools delegated to it; `null` (or absent) when not narrowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// What `warrant run` will run under this identity; only its record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunSpawned>,
}

/// What a `warrant run` identity is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpawned {
    /// The command line, shown.
    pub command: String,
    /// The sandbox profile's name.
    pub profile: String,
    pub workspace: String,
    /// The profile's network mode (`none`, `proxy`, ...).
    pub network: String,
    /// Hosts the run declared (`--allow-host`, the profile's).
    pub declared_hosts: Vec<String>,
}

/// `agent_revoked`: by `warrant agents revoke` (with the descendants that
/// fall with it), or at the end of a `warrant run` (with a reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRevoked {
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descendants: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `agent_killed`: by `warrant kill` (agent NULL, with descendants), or by
/// the gateway's quarantine after a burst of denials (the agent, with a
/// reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentKilled {
    /// Agent ids, or `*` for every agent.
    pub targets: Vec<String>,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descendants: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `agent_resumed`: `warrant resume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentResumed {
    /// Agent ids, or `*` for every agent.
    pub targets: Vec<String>,
    pub by: String,
}
