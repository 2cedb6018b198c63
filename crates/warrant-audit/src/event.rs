//! What callers hand to the log, and what it hands back.

use serde::Serialize;
use serde_json::{Map, Value};

/// Declares [`EventKind`] from one line per kind, so adding a kind is adding a
/// line: the variant, its stored name, and nothing else to keep in step.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// What happened. Stored in the `kind` column as its snake_case name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[non_exhaustive]
        pub enum EventKind {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl EventKind {
            /// Every kind, in declaration order.
            pub const ALL: &[EventKind] = &[$(EventKind::$variant,)*];

            /// The name stored in the log.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $name,)*
                }
            }

            /// The kind stored under `name`, if any.
            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(EventKind::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

event_kinds! {
    /// The gateway started serving.
    GatewayStarted => "gateway_started",
    /// The gateway stopped serving.
    GatewayStopped => "gateway_stopped",
    /// A request carried a missing, invalid or expired credential.
    AuthFailed => "auth_failed",
    /// A request could not be parsed or validated.
    BadRequest => "bad_request",
    /// An agent identity was issued.
    AgentSpawned => "agent_spawned",
    /// An agent identity was revoked (or killed).
    AgentRevoked => "agent_revoked",
    /// The operator stopped an agent, or all of them (`warrant kill`).
    AgentKilled => "agent_killed",
    /// The operator lifted a kill (`warrant resume`).
    AgentResumed => "agent_resumed",
    /// A tool was held back at admission (changed pin, new tool, flagged
    /// description) until a person accepts it.
    ToolQuarantined => "tool_quarantined",
    /// A person accepted a quarantined tool definition (`warrant tools accept`).
    ToolAccepted => "tool_accepted",
    /// An agent was shown its tool list.
    ToolsListed => "tools_listed",
    /// Policy decided a call: allow, deny or ask.
    Decision => "decision",
    /// A call is waiting for a person.
    ApprovalRequested => "approval_requested",
    /// A person (or a timeout) resolved a waiting call.
    ApprovalResolved => "approval_resolved",
    /// A permitted call is about to be sent upstream.
    CallForwarded => "call_forwarded",
    /// An upstream answered a call.
    CallResult => "call_result",
    /// A forwarded call failed (transport error, timeout, cancellation).
    CallFailed => "call_failed",
    /// An upstream server connected, disconnected or changed its tools.
    UpstreamState => "upstream_state",
    /// A policy was loaded or reloaded.
    PolicyLoaded => "policy_loaded",
    /// A sandbox started: the controls verified in force, before the
    /// command runs.
    SandboxStarted => "sandbox_started",
    /// A sandboxed process tree ended (exit status, signal, timeout, kill).
    SandboxExited => "sandbox_exited",
    /// The egress proxy refused a connection before asking policy (a
    /// forbidden address, a malformed request).
    EgressRefused => "egress_refused",
    /// Policy decided a connection through the egress proxy.
    EgressDecision => "egress_decision",
    /// A connection through the egress proxy ended (status, bytes, time).
    EgressFinished => "egress_finished",
    /// The operator changed the vault: a credential added, removed or
    /// rotated (names and bindings only, never a value).
    VaultChanged => "vault_changed",
    /// Policy decided a use of a vault credential on an agent's behalf.
    CredentialUse => "credential_use",
    /// A credential lease began: agent, credential, hosts, expiry.
    LeaseStarted => "lease_started",
    /// A credential lease ended: expired, agent killed or revoked, or the
    /// credential rotated or removed.
    LeaseEnded => "lease_ended",
    /// Something outgoing held a secret (a vault credential in any encoding,
    /// a placeholder headed for the wrong host, or a well-known credential
    /// format) and was blocked; names and forms only, never the value.
    LeakBlocked => "leak_blocked",
    /// A secret was cut out of something on its way to an agent.
    SecretRedacted => "secret_redacted",
    /// Something a person should look at now: an attempt to move a secret
    /// out, a placeholder sent to the wrong host.
    Alarm => "alarm",
}

/// One thing to record. The writer adds the sequence number, timestamp and
/// hashes; `detail` becomes the record's canonical JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub kind: EventKind,
    /// The agent id the event concerns, if any.
    pub agent: Option<String>,
    pub detail: Map<String, Value>,
}

impl AuditEvent {
    /// An event of `kind` with no agent and an empty detail.
    pub fn new(kind: EventKind) -> Self {
        Self { kind, agent: None, detail: Map::new() }
    }

    /// Names the agent the event concerns.
    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// Takes the fields of `detail` as the detail when it is a JSON object;
    /// anything else leaves the detail empty.
    pub fn with_detail(mut self, detail: Value) -> Self {
        if let Value::Object(map) = detail {
            self.detail = map;
        }
        self
    }

    /// Adds one field to the detail, replacing any earlier value under `key`.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.detail.insert(key.into(), value.into());
        self
    }
}

/// A committed record: its sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RecordRef {
    pub seq: u64,
    pub hash: String,
}

/// A committed, signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// The row id in `checkpoints`.
    pub id: i64,
    /// The last record it seals.
    pub seq: u64,
    /// That record's hash.
    pub head_hash: String,
    pub ts_ms: i64,
    /// Lowercase hex of the verifying key.
    pub public_key: String,
    /// Lowercase hex of the Ed25519 signature.
    pub signature: String,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn kind_names_are_the_serde_names_and_round_trip() {
        let mut seen = HashSet::new();
        for kind in EventKind::ALL {
            let name = kind.as_str();
            assert_eq!(serde_json::to_value(kind).unwrap(), Value::String(name.to_owned()));
            assert_eq!(EventKind::parse(name), Some(*kind));
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
            assert!(seen.insert(name), "duplicate kind name {name}");
        }
        assert_eq!(EventKind::ALL.len(), 31);
        assert_eq!(EventKind::parse("Decision"), None);
    }

    #[test]
    fn builder_fills_agent_and_detail() {
        let event = AuditEvent::new(EventKind::Decision).agent("a1").with("outcome", "deny");
        assert_eq!(event.agent.as_deref(), Some("a1"));
        assert_eq!(event.detail.get("outcome"), Some(&Value::from("deny")));
    }
}
