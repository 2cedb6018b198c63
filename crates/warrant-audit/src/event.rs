//! What callers hand to the log, and what it hands back.

use crate::log::AuditError;
use serde::Serialize;
use serde_json::{Map, Value};
use warrant_audit_events::{Body, Event, EventKind};

/// One thing to record. The writer adds the sequence number, timestamp and
/// hashes; the detail becomes the record's canonical JSON body. Made from a
/// typed body ([`of`](Self::of), [`of_event`](Self::of_event)), so the body
/// has its kind's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub(crate) kind: EventKind,
    /// The agent id the event concerns, if any.
    pub(crate) agent: Option<String>,
    pub(crate) detail: Map<String, Value>,
}

impl AuditEvent {
    /// An event of `B::KIND` whose detail is `body`, with no agent.
    pub fn of<B: Body>(body: &B) -> Result<Self, AuditError> {
        Self::typed(B::KIND, body)
    }

    /// [`of`](Self::of) for a body whose kind is known only at run time.
    pub fn of_event(event: &Event) -> Result<Self, AuditError> {
        Self::typed(event.kind(), event)
    }

    /// An event of `kind` whose detail is the fields of `detail` (nothing,
    /// when it is not an object), unchecked against the kind's type: for
    /// tests that write a malformed log on purpose, or a writer's own
    /// behaviour whatever the body. A body that is not its kind's shape
    /// makes `warrant audit verify` fail.
    pub fn danger_untyped(kind: EventKind, detail: Value) -> Self {
        let detail = match detail {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Self { kind, agent: None, detail }
    }

    fn typed(kind: EventKind, body: &impl Serialize) -> Result<Self, AuditError> {
        let kind_name = kind.as_str();
        match serde_json::to_value(body) {
            Ok(Value::Object(detail)) => Ok(Self { kind, agent: None, detail }),
            Ok(_) => Err(AuditError::NotAnObject { kind: kind_name }),
            Err(source) => Err(AuditError::Serialize { kind: kind_name, source }),
        }
    }

    /// Names the agent the event concerns.
    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// The body as it will be recorded (before canonicalization).
    pub fn detail(&self) -> &Map<String, Value> {
        &self.detail
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
    use warrant_audit_events::{AgentResumed, GatewayStopped, StopReason};

    #[test]
    fn an_untyped_event_takes_an_objects_fields_and_nothing_else() {
        let detail = serde_json::json!({"outcome": "deny"});
        let event = AuditEvent::danger_untyped(EventKind::Decision, detail).agent("a1");
        assert_eq!(event.agent.as_deref(), Some("a1"));
        assert_eq!(event.detail.get("outcome"), Some(&Value::from("deny")));
        let bare = AuditEvent::danger_untyped(EventKind::Decision, Value::from("deny"));
        assert!(bare.detail().is_empty());
    }

    #[test]
    fn a_typed_body_becomes_the_detail_of_its_kind() {
        let event = AuditEvent::of(&GatewayStopped { reason: StopReason::Error }).unwrap();
        assert_eq!(event.kind, EventKind::GatewayStopped);
        assert_eq!(event.agent, None);
        assert_eq!(Value::Object(event.detail), serde_json::json!({"reason": "error"}));

        let resumed = Event::from(AgentResumed { targets: vec!["*".into()], by: "op".into() });
        let event = AuditEvent::of_event(&resumed).unwrap().agent("a1");
        assert_eq!(event.kind, EventKind::AgentResumed);
        assert_eq!(event.agent.as_deref(), Some("a1"));
        assert_eq!(Value::Object(event.detail), serde_json::json!({"targets": ["*"], "by": "op"}));
    }
}
