//! What each Warrant audit record says: one serde type per event kind.
//!
//! A record of the audit log (`warrant-audit/v1`) has a `kind` column and a
//! `body`, the canonical JSON of an object. This crate defines, for every
//! [`EventKind`], the type of that object: its fields, their names exactly
//! as the log stores them, and which are optional. The writer
//! (`warrant-audit`) serializes these types, the verifier
//! (`warrant-audit-verify`) checks every body against its kind's type, and
//! exporters read bodies back as [`Event`]s instead of guessing at JSON.
//!
//! Every body type refuses fields it does not name, so a type is the whole
//! shape of its kind. Where call sites record one kind in different shapes
//! (a person's act and a wait's outcome are both `approval_resolved`), the
//! type says so: an enum of named shapes, each complete, or optional fields
//! for what only some sites add (`custody`, present whenever the gateway
//! records for an authenticated agent). An optional field that every site
//! writes, `null` or not, is written as `null`; one that only some sites
//! write is left out when absent. Reading, a missing optional field and a
//! `null` one are the same.
//!
//! Changing a type changes the log format: a field may be added as an
//! optional one, a shape or a kind may be added; nothing may be renamed,
//! removed or made required, or logs written before stop reading. A log
//! written by a newer version may hold kinds and fields this version does
//! not know; it reads them as not well-formed.
//!
//! This crate deliberately does no I/O, no hashing and no signing: it knows
//! bodies, not records, chains or checkpoints. It does not depend on the
//! writer, so the verifier can share these types without sharing the
//! writer's code. Values other crates define and serialize themselves (a
//! sandbox's report, a tool's arguments or result as recorded) are
//! [`serde_json::Value`] here: their shape is theirs.
//!
//! The `audit_witness` record, which only the writer writes, is no
//! [`EventKind`] and has no type here: the writer and the verifier each
//! implement it from the format's specification.

mod agents;
mod calls;
mod credentials;
mod egress;
mod gateway;
mod leaks;
mod sandbox;
mod shapes;

pub use agents::{AgentKilled, AgentResumed, AgentRevoked, AgentSpawned, RunSpawned};
pub use calls::{
    ApprovalAct, ApprovalActed, ApprovalOutcome, ApprovalRequested, ApprovalResolved,
    ApprovalSettled, CallFailed, CallForwarded, CallResult, CommandRecord, Decision, Discovery,
};
pub use credentials::{
    Binding, CredentialUse, LeaseEnded, LeaseRecord, LeaseStarted, UseStage, VaultChange,
    VaultChanged, Via,
};
pub use egress::{
    BlockedRequest, EgressDecision, EgressFinished, EgressRefused, ProxyRefusal, ScreenedName,
    ShownRequest,
};
pub use gateway::{
    AuthFailed, BadRequest, ErrorStatus, GatewayStarted, GatewayStopped, PolicyLoaded, RefusedTool,
    RequestRefused, StopReason, ToolAccepted, ToolQuarantined, ToolsListed, UpstreamConnection,
    UpstreamState, UpstreamTools,
};
pub use leaks::{
    Alarm, AlarmKind, ArgumentsBlocked, ArgumentsWhere, Found, LeakBlocked, RedactedWhere,
    SecretRedacted,
};
pub use sandbox::{SandboxEnded, SandboxExited, SandboxRefused, SandboxStarted};
pub use shapes::{
    BlockedWhere, ConnectionEvent, EgressWhere, FoundCredential, FoundRule, NamedReason, Outcome,
    ScreenWhere, ToolPin, ToolsEvent,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body of one kind of record. `KIND` is the kind it is recorded as.
pub trait Body: Serialize + Into<Event> {
    const KIND: EventKind;
}

/// A stored body could not be read as its kind's type.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("kind `{kind}` is not one this version knows")]
    UnknownKind { kind: String },
    #[error("the body is not a `{}` record's: {source}", .kind.as_str())]
    Body { kind: EventKind, source: serde_json::Error },
}

/// Declares [`EventKind`], [`Event`] and each body's [`Body`] impl from one
/// line per kind: the variant, which is also the name of its body type, and
/// its stored name. Adding a kind is adding a line and its type.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// What happened. Stored in the `kind` column as its snake_case name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

        /// A record's body, typed by its kind. Serializes as the body alone
        /// (the kind is a column of its own).
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        #[non_exhaustive]
        pub enum Event {
            $($(#[$doc])* $variant($variant),)*
        }

        impl Event {
            /// The kind this body is recorded as.
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Event::$variant(_) => EventKind::$variant,)*
                }
            }

            /// Reads `body`, a stored body, as the type of `kind`.
            pub fn from_value(kind: EventKind, body: Value) -> Result<Self, ParseError> {
                let typed = match kind {
                    $(EventKind::$variant => serde_json::from_value(body).map(Event::$variant),)*
                };
                typed.map_err(|source| ParseError::Body { kind, source })
            }

            /// Reads a stored record's `kind` and `body` (its JSON text).
            pub fn parse(kind: &str, body: &str) -> Result<Self, ParseError> {
                let kind = EventKind::parse(kind)
                    .ok_or_else(|| ParseError::UnknownKind { kind: kind.to_owned() })?;
                let typed = match kind {
                    $(EventKind::$variant => serde_json::from_str(body).map(Event::$variant),)*
                };
                typed.map_err(|source| ParseError::Body { kind, source })
            }
        }

        $(
            impl Body for $variant {
                const KIND: EventKind = EventKind::$variant;
            }

            impl From<$variant> for Event {
                fn from(body: $variant) -> Self {
                    Event::$variant(body)
                }
            }
        )*
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
            assert_eq!(serde_json::from_value::<EventKind>(Value::from(name)).unwrap(), *kind);
            assert_eq!(EventKind::parse(name), Some(*kind));
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
            assert!(seen.insert(name), "duplicate kind name {name}");
        }
        assert_eq!(EventKind::ALL.len(), 31);
        assert_eq!(EventKind::parse("Decision"), None);
        assert_eq!(EventKind::parse("audit_witness"), None, "the writer's own kind");
    }

    #[test]
    fn an_unknown_kind_and_a_wrong_body_are_told_apart() {
        let unknown = Event::parse("coffee_made", "{}").unwrap_err();
        assert_eq!(unknown.to_string(), "kind `coffee_made` is not one this version knows");
        let wrong = Event::parse("gateway_stopped", r#"{"reason":"signal","extra":1}"#);
        let message = wrong.unwrap_err().to_string();
        assert!(message.starts_with("the body is not a `gateway_stopped` record's: "), "{message}");
        assert!(message.contains("unknown field `extra`"), "{message}");
    }
}
