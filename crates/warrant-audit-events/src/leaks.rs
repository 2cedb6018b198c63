//! Secrets found on their way out (blocked, alarmed) or in (cut out).
//! Credential names, rule ids and encodings only; never a value.

use crate::egress::{BlockedRequest, ScreenedName};
use crate::shapes::{EgressWhere, FoundCredential, FoundRule, shapes};
use serde::{Deserialize, Serialize};
use serde_json::Value;

shapes! {
    /// One thing found.
    #[derive(Eq)]
    pub enum Found {
        Credential(FoundCredential) => "a vault credential",
        Rule(FoundRule) => "a well-known format",
        /// A rule id alone: how a `warrant run` proxy records the
        /// well-known credentials it cut out of a request body.
        RuleId(String) => "a rule id",
    }
}

shapes! {
    /// `leak_blocked`: a tool call's arguments carried a secret, or the
    /// egress proxy blocked a name or a request that did (then, as in
    /// `egress_refused`, with the leak as the reason).
    pub enum LeakBlocked {
        Arguments(ArgumentsBlocked) => "blocked arguments",
        Screened(ScreenedName) => "a screened name",
        Blocked(BlockedRequest) => "a blocked request",
    }
}

/// A tool call blocked for what its arguments carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgumentsBlocked {
    pub tool: String,
    #[serde(rename = "where")]
    pub where_: ArgumentsWhere,
    pub found: Vec<Found>,
    /// Fingerprint and shape only, whatever `capture_arguments` says.
    pub arguments: Value,
    pub custody: Vec<String>,
}

/// `"where": "arguments"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgumentsWhere {
    Arguments,
}

/// `secret_redacted`: secrets were cut out of a result (`credentials`),
/// out of a call's arguments (well-known formats, `[leaks] well_known =
/// "redact"`), out of a request body in a `warrant run` proxy, or masked in
/// a response streamed back into its sandbox (`host`, `found`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRedacted {
    #[serde(rename = "where")]
    pub where_: RedactedWhere,
    /// A tool's result or arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// A `warrant run` request or response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Cut out of a result: credential names and rule ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<Vec<Found>>,
    /// A tool's result or arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<Vec<String>>,
}

/// What a secret was cut out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedactedWhere {
    #[serde(rename = "result")]
    Result,
    #[serde(rename = "arguments")]
    Arguments,
    /// A request body in a `warrant run` proxy.
    #[serde(rename = "egress")]
    Egress,
    /// A response streamed back into a sandbox.
    #[serde(rename = "egress-response")]
    EgressResponse,
}

/// `alarm`: something a person should look at now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alarm {
    pub alarm: AlarmKind,
    pub message: String,
    /// A tool call's arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// A host name or a `warrant__http_request`.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "where")]
    pub where_: Option<EgressWhere>,
    /// A request in a `warrant run` proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// A host name, or a request in a `warrant run` proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Absent for a request in a `warrant run` proxy (the message names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<Vec<Found>>,
    /// In the gateway, for an authenticated agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custody: Option<Vec<String>>,
}

/// What an alarm is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmKind {
    /// An attempt to move a secret out.
    SecretLeak,
}
