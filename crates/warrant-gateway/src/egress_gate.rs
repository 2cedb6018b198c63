//! The egress proxy's side of policy and the audit log: the gate a
//! `warrant run` proxy asks (Cedar's `connect`, and with a vault the
//! inspection of each request), and the mapping of egress events to audit
//! records that `warrant__http_request` shares.

use crate::approvals::{Answer, Question, Settled};
use crate::control::{self, ControlError, ControlRequest};
use crate::run::is_declared;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use warrant_audit::{AuditEvent, AuditLog, EventKind};
use warrant_core::{AgentId, UnixMillis};
use warrant_egress::{EgressEvent, EgressRequest, RequestKind, Verdict};
use warrant_policy::{AgentFacts, ConnectRequest, Decision, PolicyEngine, RuleRef};

/// The egress proxy's gate: Cedar decides, the audit log records.
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
    async fn decide(&self, request: &EgressRequest) -> Verdict {
        let method = method_of(request);
        let declared = is_declared(&self.declared, &request.host);
        let decision = self.policy.decide_connect(&ConnectRequest {
            agent: &self.agent,
            host: &request.host,
            port: request.port,
            method: &method,
            declared,
            now: UnixMillis::now(),
        });
        // A default deny of a host the run did not declare says how to.
        let hint = if declared || !decision.rules().is_empty() {
            String::new()
        } else {
            format!(" (`{}` was not declared for this run: --allow-host)", request.host)
        };
        if let Decision::Ask { rules, .. } = &decision
            && let Some(rule) = rules.first()
        {
            return self.ask(request, &method, rule).await;
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

    async fn record(&self, event: EgressEvent) -> Result<(), String> {
        let (kind, mut detail) = egress_record(&event);
        if let (EgressEvent::Decided { request, .. }, Value::Object(map)) = (&event, &mut detail) {
            map.insert("declared".into(), json!(is_declared(&self.declared, &request.host)));
        }
        let audit_event =
            AuditEvent::new(kind).agent(self.agent_id.to_string()).with_detail(detail);
        self.audit.append(audit_event).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

impl RunGate {
    /// A connection policy asks a person about: put to the running gateway,
    /// which shows it in `warrant approvals` and answers when a person
    /// decides or its approval timeout passes. With no gateway running there
    /// is no one to ask, and it is refused, saying so.
    async fn ask(&self, request: &EgressRequest, method: &str, rule: &RuleRef) -> Verdict {
        let question =
            connection_question(self.agent_id, self.agent_name.clone(), request, method, rule);
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
            Ok(Err(e)) => refused(format!(": {e}")),
            Err(e) => refused(format!(": {e}")),
        }
    }
}

/// What a person is asked about a connection that `rule` asks about.
pub(crate) fn connection_question(
    agent: AgentId,
    agent_name: String,
    request: &EgressRequest,
    method: &str,
    rule: &RuleRef,
) -> Question {
    Question {
        agent,
        agent_name,
        subject: format!("egress: {method} {}:{}", request.host, request.port),
        details: json!({"host": request.host, "port": request.port, "method": method}),
        rule: rule.id.clone(),
        why: rule.ask.clone().unwrap_or_default(),
    }
}

/// "rule `R` asks a person about this connection (why)": the start of every
/// refusal of a connection that was asked about.
pub(crate) fn asked_about(question: &Question) -> String {
    format!("rule `{}` asks a person about this connection ({})", question.rule, question.why)
}

/// A person's answer about a connection as the proxy's verdict.
pub(crate) fn answered(answer: &Answer, question: &Question) -> Verdict {
    let reason = match answer.outcome {
        Settled::Approved => {
            tracing::info!(approval = %answer.approval, by = %answer.by, subject = %question.subject, "a person approved a connection");
            return Verdict::Allow;
        }
        Settled::Denied => format!("a person ({}) denied this connection", answer.by),
        Settled::TimedOut | Settled::Abandoned => {
            format!("no one approved this connection within {} s", answer.timeout_s)
        }
    };
    Verdict::Deny { reason: format!("{reason}; {}", asked_about(question)) }
}

/// An egress event as an audit record: its kind and body. The path is kept
/// only up to its query (queries often carry credentials).
pub(crate) fn egress_record(event: &EgressEvent) -> (EventKind, Value) {
    let (kind, detail) = match event {
        EgressEvent::Refused(r) => (
            EventKind::EgressRefused,
            json!({"target": r.target, "status": r.status, "reason": r.reason,
                       "request": r.request.as_ref().map(shown_request)}),
        ),
        EgressEvent::Decided { request, verdict } => {
            let (outcome, reason) = match verdict {
                Verdict::Allow => ("allow", None),
                Verdict::Deny { reason } => ("deny", Some(reason.clone())),
            };
            let mut detail = shown_request(request);
            if let Value::Object(map) = &mut detail {
                map.insert("outcome".into(), json!(outcome));
                map.insert("reason".into(), json!(reason));
            }
            (EventKind::EgressDecision, detail)
        }
        // The inspection refused a request: a leak (it carried a secret, or
        // a placeholder for another host), or not (policy refused the
        // credential's use, a response could not be inspected); or the proxy
        // refused what it could not inspect (413, 421, 405).
        EgressEvent::Blocked { request, status, reason, leak } => {
            let mut detail = shown_request(request);
            if let Value::Object(map) = &mut detail {
                map.insert("status".into(), json!(status));
                map.insert("reason".into(), json!(reason));
                map.insert("where".into(), json!("egress"));
            }
            let kind = if *leak { EventKind::LeakBlocked } else { EventKind::EgressRefused };
            (kind, detail)
        }
        EgressEvent::Finished { request, outcome } => {
            let mut detail = shown_request(request);
            if let Value::Object(map) = &mut detail {
                map.insert("status".into(), json!(outcome.status));
                map.insert("bytes_up".into(), json!(outcome.bytes_up));
                map.insert("bytes_down".into(), json!(outcome.bytes_down));
                map.insert(
                    "duration_ms".into(),
                    json!(u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX)),
                );
                map.insert("error".into(), json!(outcome.error));
            }
            (EventKind::EgressFinished, detail)
        }
    };
    (kind, detail)
}

/// The method policy sees for an egress request: `CONNECT` for a tunnel.
pub(crate) fn method_of(request: &EgressRequest) -> String {
    match &request.kind {
        RequestKind::Connect => "CONNECT".to_owned(),
        RequestKind::Http { method, .. } | RequestKind::Https { method, .. } => method.clone(),
    }
}

/// Policy's answer about a connection as the proxy's verdict. Both callers
/// put an `ask` to a person before they get here; one that reaches this is
/// refused, saying so (fail closed). `hint` is added to a denial's reason.
pub(crate) fn connect_verdict(decision: &Decision, hint: &str) -> Verdict {
    match decision {
        Decision::Allow { .. } => Verdict::Allow,
        Decision::Deny { rules, reason, .. } => {
            let rule = rules.first().map(|r| format!(" by rule `{}`", r.id)).unwrap_or_default();
            Verdict::Deny { reason: format!("denied{rule}: {reason}{hint}") }
        }
        Decision::Ask { rules, .. } => {
            let rule = rules.first().map(|r| r.id.clone()).unwrap_or_default();
            Verdict::Deny {
                reason: format!(
                    "rule `{rule}` asks a person about this connection, and there is no one to ask from here"
                ),
            }
        }
    }
}

/// A request as records show it. The path is kept only as far as its query:
/// query strings often carry credentials.
fn shown_request(request: &EgressRequest) -> Value {
    let method = method_of(request);
    let path = match &request.kind {
        RequestKind::Connect => None,
        RequestKind::Http { path, .. } | RequestKind::Https { path, .. } => {
            Some(path.split('?').next().unwrap_or("").to_owned())
        }
    };
    json!({
        "host": request.host, "port": request.port, "method": method, "path": path,
        "addresses": request.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}
