//! The one path by which a person is asked: a tool call that policy asks
//! about, or a connection (from a `warrant run` proxy over the control
//! socket, or from `warrant__http_request`). The request is recorded, put
//! into [`Approvals`](crate::approvals::Approvals) for `warrant approvals`,
//! and withdrawn however the wait ends; the outcome is recorded before the
//! caller acts on it.

use crate::approvals::{PendingView, Verdict, fingerprint, new_id};
use crate::gateway::Gateway;
use serde_json::Value;
use warrant_audit::events::{
    ApprovalOutcome, ApprovalRequested, ApprovalResolved, ApprovalSettled,
};
use warrant_control::{Answer, Question, Settled};
use warrant_core::{AgentId, UnixMillis};

/// A person could not be asked, or their answer acted on: the audit log
/// refused the record of the question or of its outcome. The message names
/// the log's reason too, since callers give it to the agent as it is.
#[derive(Debug, thiserror::Error)]
#[error("audit log unavailable: {0}")]
pub struct Unrecorded(#[source] warrant_audit::AuditError);

/// What a person is asked about.
pub struct Ask {
    pub agent: AgentId,
    pub agent_name: String,
    /// The caller's chain of custody, recorded with the request when known.
    pub custody: Option<Vec<String>>,
    /// The tool, or what stands in its place (`egress: CONNECT host:443`).
    pub subject: String,
    /// What the tool says it does, or what is asked about.
    pub description: String,
    /// The arguments or details as the person sees them (secrets masked).
    pub shown: Value,
    /// The fingerprint the approval is bound to.
    pub fingerprint: String,
    /// The `@id` of the rule that asks, and its `@ask` text.
    pub rule: String,
    pub why: String,
}

impl Ask {
    /// A [`Question`] from another Warrant process (or the HTTP tool), bound
    /// to the fingerprint of its subject and details.
    pub fn from_question(question: Question) -> Self {
        let agent_id = question.agent.to_string();
        let fingerprint =
            fingerprint(&agent_id, &question.subject, &question.details).unwrap_or_default();
        Self {
            agent: question.agent,
            agent_name: question.agent_name,
            custody: None,
            description: question.subject.clone(),
            subject: question.subject,
            shown: question.details,
            fingerprint,
            rule: question.rule,
            why: question.why,
        }
    }
}

/// Opens an approval for `ask` and waits for a person, the gateway's
/// approval timeout, or `abandoned` (the asker went away), whichever comes
/// first; the approval is withdrawn however the wait ends, this future
/// dropped included. The request and its outcome are recorded. `Err` only
/// when the audit log refused a record (then nothing may proceed).
pub async fn ask_person(
    gw: &Gateway,
    ask: Ask,
    abandoned: impl std::future::Future<Output = ()>,
) -> Result<Answer, Unrecorded> {
    let timeout = gw.config.gateway.approval_timeout;
    let now = UnixMillis::now();
    let id = new_id();
    let requested = ApprovalRequested {
        approval: id.clone(),
        tool: ask.subject.clone(),
        fingerprint: ask.fingerprint.clone(),
        rule: ask.rule.clone(),
        why: ask.why.clone(),
        timeout_s: timeout.as_secs(),
        custody: ask.custody.clone(),
    };
    gw.record(Some(&ask.agent), &requested).await.map_err(Unrecorded)?;
    let (subject, fingerprint) = (ask.subject.clone(), ask.fingerprint.clone());
    let view = PendingView {
        id: id.clone(),
        agent_id: ask.agent.to_string(),
        agent_name: ask.agent_name,
        tool: ask.subject,
        fingerprint: ask.fingerprint,
        arguments: ask.shown,
        description: ask.description,
        rule: ask.rule,
        why: ask.why,
        created_at: now.to_rfc3339(),
        expires_at: now.plus(timeout).to_rfc3339(),
    };
    let rx = gw.approvals.open(view);
    let withdraw = Withdraw { gw, id: &id };
    let verdict = tokio::select! {
        verdict = tokio::time::timeout(timeout, rx) => Some(verdict),
        () = abandoned => None,
    };
    drop(withdraw);
    let (outcome, by) = match verdict {
        Some(Ok(Ok(Verdict::Approved { by }))) => (Settled::Approved, by),
        Some(Ok(Ok(Verdict::Denied { by }))) => (Settled::Denied, by),
        Some(Ok(Err(_)) | Err(_)) => (Settled::TimedOut, String::new()),
        None => (Settled::Abandoned, String::new()),
    };
    let resolved = ApprovalResolved::Settled(ApprovalSettled {
        approval: id.clone(),
        tool: subject,
        fingerprint,
        outcome: match outcome {
            Settled::Approved => ApprovalOutcome::Approved,
            Settled::Denied => ApprovalOutcome::Denied,
            Settled::TimedOut => ApprovalOutcome::TimedOut,
            Settled::Abandoned => ApprovalOutcome::Abandoned,
        },
        by: by.clone(),
        custody: ask.custody,
    });
    gw.record(Some(&ask.agent), &resolved).await.map_err(Unrecorded)?;
    Ok(Answer { approval: id, outcome, by, timeout_s: timeout.as_secs() })
}

/// Withdraws a pending approval when dropped: settled, timed out, or
/// abandoned, it must not stay approvable.
struct Withdraw<'a> {
    gw: &'a Gateway,
    id: &'a str,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.gw.approvals.withdraw(self.id);
    }
}
