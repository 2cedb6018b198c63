//! Pending approvals: a call that policy said to ask about waits here for a
//! person.
//!
//! An approval is bound to the fingerprint of the exact call (agent, tool,
//! canonical arguments) and to the one waiting call that created it: approving
//! resolves that call and nothing else, once. A call whose approval does not
//! come in time is denied.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tokio::sync::oneshot;
use warrant_core::{UnixMillis, canonical_json, sha256_hex};

/// What a person decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Approved { by: String },
    Denied { by: String },
}

/// A request as `warrant approvals` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PendingView {
    pub id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub tool: String,
    pub fingerprint: String,
    /// The arguments' values, so that the person sees what they approve
    /// (this view only travels over the 0600 control socket): vault secrets
    /// and well-known credentials masked, whatever the audit log records.
    pub arguments: serde_json::Value,
    /// What the tool says it does (its upstream's words; for a connection,
    /// what is asked about).
    #[serde(default)]
    pub description: String,
    pub rule: String,
    pub why: String,
    pub created_at: String,
    pub expires_at: String,
}

struct Pending {
    view: PendingView,
    reply: oneshot::Sender<Verdict>,
}

/// The table of calls waiting for a person.
#[derive(Default)]
pub struct Approvals {
    pending: Mutex<BTreeMap<String, Pending>>,
}

/// Resolving an approval failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error("no pending approval `{0}` (it may have been decided or timed out)")]
    Unknown(String),
}

/// The fingerprint of a call: SHA-256 over agent, tool and canonical
/// arguments. `None` when the arguments cannot be canonicalised.
pub fn fingerprint(agent_id: &str, tool: &str, arguments: &serde_json::Value) -> Option<String> {
    let canonical = canonical_json(&serde_json::json!({
        "agent": agent_id,
        "arguments": arguments,
        "tool": tool,
    }))
    .ok()?;
    Some(sha256_hex(canonical.as_bytes()))
}

impl Approvals {
    /// Registers a waiting call; the receiver yields the verdict.
    pub fn open(&self, view: PendingView) -> oneshot::Receiver<Verdict> {
        let (reply, rx) = oneshot::channel();
        if let Ok(mut map) = self.pending.lock() {
            map.insert(view.id.clone(), Pending { view, reply });
        }
        rx
    }

    /// Removes a request without a verdict (timeout, or the caller went away).
    pub fn withdraw(&self, id: &str) -> Option<PendingView> {
        self.pending.lock().ok()?.remove(id).map(|p| p.view)
    }

    /// Delivers a person's verdict to the waiting call. One-shot: the request
    /// is gone afterwards.
    pub fn resolve(&self, id: &str, verdict: Verdict) -> Result<PendingView, ResolveError> {
        let pending = self
            .pending
            .lock()
            .ok()
            .and_then(|mut map| map.remove(id))
            .ok_or_else(|| ResolveError::Unknown(id.to_owned()))?;
        // The waiting call may have gone in the meantime; the verdict is then moot.
        let _ = pending.reply.send(verdict);
        Ok(pending.view)
    }

    pub fn list(&self) -> Vec<PendingView> {
        self.pending
            .lock()
            .map(|m| m.values().map(|p| p.view.clone()).collect())
            .unwrap_or_default()
    }
}

/// A short random id a person can type.
pub fn new_id() -> String {
    let mut bytes = [0u8; 6];
    // Falling back to a timestamp only weakens guessability, not binding: the
    // id resolves exactly one waiting call either way.
    if getrandom::fill(&mut bytes).is_err() {
        bytes.copy_from_slice(&UnixMillis::now().0.to_be_bytes()[2..8]);
    }
    hex::encode(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(id: &str) -> PendingView {
        PendingView {
            id: id.into(),
            agent_id: "a".into(),
            agent_name: "n".into(),
            tool: "t__x".into(),
            fingerprint: "f".into(),
            arguments: json!({}),
            description: String::new(),
            rule: "r".into(),
            why: "w".into(),
            created_at: String::new(),
            expires_at: String::new(),
        }
    }

    #[tokio::test]
    async fn approval_is_delivered_once() {
        let approvals = Approvals::default();
        let rx = approvals.open(view("abc"));
        assert_eq!(approvals.list().len(), 1);
        approvals.resolve("abc", Verdict::Approved { by: "op".into() }).unwrap();
        assert_eq!(rx.await.unwrap(), Verdict::Approved { by: "op".into() });
        assert_eq!(
            approvals.resolve("abc", Verdict::Approved { by: "op".into() }).unwrap_err(),
            ResolveError::Unknown("abc".into())
        );
        assert!(approvals.list().is_empty());
    }

    #[test]
    fn fingerprint_binds_arguments_agent_and_tool() {
        let a = fingerprint("agent", "t__x", &json!({"p": "/a", "q": 1})).unwrap();
        assert_eq!(a, fingerprint("agent", "t__x", &json!({"q": 1, "p": "/a"})).unwrap());
        assert_ne!(a, fingerprint("agent", "t__x", &json!({"p": "/b", "q": 1})).unwrap());
        assert_ne!(a, fingerprint("other", "t__x", &json!({"p": "/a", "q": 1})).unwrap());
        assert_ne!(a, fingerprint("agent", "t__y", &json!({"p": "/a", "q": 1})).unwrap());
    }
}
