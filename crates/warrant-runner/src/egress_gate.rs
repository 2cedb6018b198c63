//! The egress proxy's side of policy and the audit log: the gate a
//! `warrant run` proxy asks (the scan of each name for secrets, Cedar's
//! `connect`, and with a vault the inspection of each request), and what
//! `warrant__http_request` shares with it: the name scan, the question put to
//! a person, and the mapping of egress events to audit records.
//!
//! The proxy screens and decides a name before it resolves it (see
//! `warrant_egress`), so everything here sees the destination as named:
//! policy gets no addresses, and a name that carries a secret is blocked
//! before any DNS query is sent. It does not judge addresses (the proxy's
//! range table does) and does not look inside requests (`run_credentials`
//! does, after the allow).

use crate::run::is_declared;
use std::sync::Arc;
use std::time::Duration;
use warrant_audit::{AuditEvent, AuditLog, Event};
use warrant_broker::connection::{
    Shown, answered, asked_about, builtin_rules, connect_verdict, connection_question,
    egress_record, method_of, name_blocked, name_leak,
};
use warrant_control::{self as control, Answer, ControlError, ControlRequest};
use warrant_core::{AgentId, UnixMillis};
use warrant_egress::{Blocked, Destination, EgressEvent, EgressRequest, Verdict};
use warrant_policy::{AgentFacts, ConnectRequest, Decision, PolicyEngine, RuleRef};

/// The egress proxy's gate: the name is scanned, Cedar decides, the audit
/// log records; with a vault, each request is inspected after the allow.
pub(crate) struct RunGate {
    pub(crate) policy: Arc<PolicyEngine>,
    pub(crate) agent: AgentFacts,
    pub(crate) declared: Vec<String>,
    pub(crate) audit: AuditLog,
    pub(crate) agent_id: AgentId,
    /// With a vault: what inspects (and swaps in) every request.
    pub(crate) credentials: Option<Arc<crate::run_credentials::RunCredentials>>,
    /// The agent's name, as a person asked about its connection sees it.
    pub(crate) agent_name: String,
    /// The running gateway's control socket, through which a connection
    /// that policy asks about waits for a person.
    pub(crate) control: std::path::PathBuf,
}

impl warrant_egress::Gate for RunGate {
    type RecordError = warrant_audit::AuditError;

    /// The name is searched for well-known credentials and, with a vault,
    /// for every vault secret, before it is resolved.
    async fn screen(&self, destination: &Destination) -> Result<(), Blocked> {
        let rules = builtin_rules().ok_or_else(|| {
            Blocked::refused("the leak rules could not be built, so no name can be screened")
        })?;
        let known = self.credentials.as_ref().map(|c| c.known());
        let scanner = known.as_ref().map(|k| &k.scanner);
        let Some(leak) = name_leak(&destination.host, scanner, rules) else { return Ok(()) };
        let (reason, alarm) = name_blocked(destination, &leak, None);
        tracing::error!(agent = %self.agent_id, %reason, "ALARM: a secret was headed out of a sandbox in a host name");
        let agent = self.agent_id.to_string();
        if let Err(e) = self.audit.append_body(Some(&agent), &alarm).await {
            tracing::error!(error = %e, "recording an alarm failed");
        }
        Err(Blocked::leak(reason))
    }

    async fn decide(&self, destination: &Destination) -> Verdict {
        let method = method_of(&destination.kind);
        let declared = is_declared(&self.declared, &destination.host);
        // A run's identity is spawned by the operator: it has no ancestors.
        let decision = self.policy.decide_connect_in_custody(
            &ConnectRequest {
                agent: &self.agent,
                host: &destination.host,
                port: destination.port,
                method: &method,
                declared,
                now: UnixMillis::now(),
            },
            &[],
        );
        // A default deny of a host the run did not declare says how to.
        let hint = if declared || !decision.rules().is_empty() {
            String::new()
        } else {
            format!(" (`{}` was not declared for this run: --allow-host)", destination.host)
        };
        if let Decision::Ask { rules, .. } = &decision
            && let Some(rule) = rules.first()
        {
            return self.ask(destination, rule).await;
        }
        connect_verdict(&decision, &hint)
    }

    fn inspects(&self, _request: &EgressRequest) -> bool {
        self.credentials.is_some()
    }

    fn inspect(
        &self,
        request: &EgressRequest,
        head: &mut http::request::Parts,
        body: &mut Vec<u8>,
    ) -> Result<(), warrant_egress::Blocked> {
        match &self.credentials {
            Some(credentials) => credentials.inspect(request, head, body),
            None => Ok(()),
        }
    }

    fn filter_response(
        &self,
        request: &EgressRequest,
        head: &mut http::response::Parts,
    ) -> Result<Option<Box<dyn warrant_egress::ResponseFilter>>, warrant_egress::Blocked> {
        match &self.credentials {
            Some(credentials) => credentials.filter_response(request, head),
            None => Ok(None),
        }
    }

    async fn record(&self, event: EgressEvent) -> Result<(), warrant_audit::AuditError> {
        let mut record = egress_record(&event, None);
        if let Event::EgressDecision(decided) = &mut record {
            decided.declared = Some(is_declared(&self.declared, &decided.host));
        }
        let appended = async {
            let event = AuditEvent::of_event(&record)?.agent(self.agent_id.to_string());
            self.audit.append(event).await
        };
        appended.await.map(|_| ())
    }
}

impl RunGate {
    /// A connection policy asks a person about: put to the running gateway,
    /// which shows it in `warrant approvals` and answers when a person
    /// decides or its approval timeout passes. With no gateway running there
    /// is no one to ask, and it is refused, saying so.
    async fn ask(&self, destination: &Destination, rule: &RuleRef) -> Verdict {
        let mut shown = Shown::of(destination);
        if let Some(rules) = builtin_rules() {
            shown.path = shown.path.map(|path| rules.redact(&path));
        }
        let question = connection_question(
            self.agent_id,
            self.agent_name.clone(),
            destination,
            &shown,
            &rule.id,
            rule.ask.as_deref().unwrap_or_default(),
        );
        let asked = ControlRequest::Ask(question.clone());
        let socket = self.control.clone();
        // The gateway answers within its approval timeout; a day bounds a
        // gateway that never does.
        let wait = Duration::from_secs(24 * 60 * 60);
        let answer =
            tokio::task::spawn_blocking(move || control::request_waiting(&socket, &asked, wait))
                .await;
        let refused =
            |why: String| Verdict::Deny { reason: format!("{}{why}", asked_about(&question)) };
        match answer {
            Ok(Ok(data)) => match serde_json::from_value::<Answer>(data) {
                Ok(answer) => answered(&answer, &question),
                Err(e) => refused(format!(": the gateway's answer is unreadable ({e})")),
            },
            Ok(Err(ControlError::NotRunning(_))) => refused(
                ", and no gateway is running to ask through (start one with `warrant up`)".into(),
            ),
            Ok(Err(e)) => refused(format!(": {}", warrant_core::text::with_causes(&e))),
            Err(e) => refused(format!(": {e}")),
        }
    }
}
