//! The MCP server side that agents talk to: `tools/list` filtered by policy,
//! `tools/call` through validation, policy, approval and audit.
//!
//! The order in `call_tool` is the product's contract: authenticate (done by
//! the HTTP layer), parse the name, bound and validate the arguments, decide,
//! write the decision to the audit log, and only then ask a person or forward.
//! Forwarding takes a `Permit`, which only the policy crate can make.

use crate::approvals;
use crate::asking::{Ask, ask_person};
use crate::eras::Era;
use crate::gateway::Gateway;
use crate::tools::{self, ToolEntry};
use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, ListPromptsRequestMethod, ListPromptsResult,
    ListResourceTemplatesRequestMethod, ListResourceTemplatesResult, ListResourcesRequestMethod,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    SubscriptionFilter,
};
use rmcp::service::{RequestContext, RoleServer, SubscriptionContext};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use warrant_audit::Body;
use warrant_audit::events::{
    self, Alarm, AlarmKind, ArgumentsBlocked, ArgumentsWhere, CallFailed, CallResult,
    CommandRecord, Discovery, LeakBlocked, RedactedWhere, SecretRedacted, ToolsListed,
};
use warrant_broker::leak::{Outgoing, Screened};
use warrant_control::Settled;
use warrant_core::{ToolName, UnixMillis, printable};
use warrant_identity::Claims;
use warrant_policy::{CallRequest, Decision, Permit};
use warrant_state::config::BUILTIN_UPSTREAM;

/// The agent an HTTP request was authenticated as; the HTTP layer puts it in
/// the request's extensions.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Arc<Claims>);

/// One downstream MCP session's handler.
#[derive(Clone)]
pub struct GatewayHandler {
    pub gw: Arc<Gateway>,
}

fn claims_of(context: &RequestContext<RoleServer>) -> Result<Arc<Claims>, ErrorData> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|p| p.extensions.get::<Authenticated>())
        .map(|a| a.0.clone())
        .ok_or_else(|| ErrorData::invalid_request("request is not authenticated", None))
}

/// The bearer credential the request carried (for delegating from it).
fn bearer_of(context: &RequestContext<RoleServer>) -> Option<String> {
    let parts = context.extensions.get::<http::request::Parts>()?;
    let value = parts.headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

/// Whether a delegation narrowed `claims` to a list without `tool`.
fn not_delegated(claims: &Claims, tool: &str) -> bool {
    claims.tools.as_ref().is_some_and(|allowed| !allowed.contains(tool))
}

/// Who answers: Warrant, as a 2026-07-28 result's identity stamp and the
/// handshake name it (not the whole `get_info`, made for every call).
fn warrant_info() -> Implementation {
    Implementation::new("warrant", env!("CARGO_PKG_VERSION"))
}

/// A refusal the agent can read and act on.
fn refusal(text: String) -> CallToolResponse {
    CallToolResponse::Complete(CallToolResult::error(vec![ContentBlock::text(text)]))
}

impl ServerHandler for GatewayHandler {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(
            ServerCapabilities::builder().enable_tools().enable_tool_list_changed().build(),
        );
        info.server_info = warrant_info();
        info.instructions = Some(
            "Tools of the operator's MCP servers, as NAME__tool, under Warrant's policy. A refused call says which rule refused it and why.".into(),
        );
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let claims = claims_of(&context)?;
        let facts = claims.facts();
        let ancestors = claims.ancestor_facts();
        let all = self.gw.tools.all();
        let visible: Vec<_> = all
            .iter()
            .filter(|e| {
                e.schema.is_ok()
                    && self.gw.tools.quarantine(e.name.as_str()).is_none()
                    && !not_delegated(&claims, e.name.as_str())
                    && self.gw.policy.could_allow_in_custody(&facts, &ancestors, &e.facts)
            })
            .map(|e| match self.gw.with_screens(|s| s.redacted(&e.exposed)) {
                // A definition that carries a secret is shown without it.
                Some((clean, _)) => clean,
                None => e.exposed.clone(),
            })
            .collect();
        let listed = ToolsListed {
            shown: count(visible.len()),
            hidden: count(all.len().saturating_sub(visible.len())),
            custody: claims.custody(),
        };
        self.gw
            .record(Some(&claims.agent_id), &listed)
            .await
            .map_err(|e| ErrorData::internal_error(format!("audit log unavailable: {e}"), None))?;
        let era = Era::of_agent(&context);
        Ok(crate::eras::tools_result_for(era, visible, &warrant_info()))
    }

    // Warrant proxies tools only (so far). Prompts and resources are not
    // offered, so their methods say so rather than answering empty lists
    // that would imply the capability.
    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Err(ErrorData::method_not_found::<ListPromptsRequestMethod>())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Err(ErrorData::method_not_found::<ListResourcesRequestMethod>())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Err(ErrorData::method_not_found::<ListResourceTemplatesRequestMethod>())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let claims = claims_of(&context)?;
        let token = bearer_of(&context);
        // `warrant kill` or a revocation of this agent or any ancestor
        // cancels one of these tokens: the call ends wherever it is (waiting
        // for a person, or for the upstream), and the upstream request is
        // dropped.
        let stops = self.gw.kill_switches(&claims);
        let stopped = futures::future::select_all(stops.iter().map(|t| Box::pin(t.cancelled())));
        let tool = printable(&request.name);
        let era = Era::of_agent(&context);
        let output_schema =
            self.gw.tools.get(&request.name).and_then(|e| e.exposed.output_schema.clone());
        let response = tokio::select! {
            biased;
            _ = stopped => self.stopped(&claims, &tool).await,
            response = self.call(&claims, token.as_deref(), request) => response,
        };
        let response = self.redact(&claims, &tool, response).await;
        Ok(crate::eras::to_agent(era, response, output_schema.as_deref(), &warrant_info()))
    }

    // A 2026-07-28 agent hears of tool changes only on a stream it opens;
    // it is served while the agent may act, and ends with its credential.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        crate::eras::listen::Listeners::accepted(requested)
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let claims = claims_of(context.request_context())?;
        let stops = self.gw.kill_switches(&claims);
        let stopped = futures::future::select_all(stops.iter().map(|t| Box::pin(t.cancelled())));
        let stopped = async move {
            stopped.await;
        };
        self.gw.listeners.serve(context, stopped, claims.expires_at).await
    }

    async fn on_initialized(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        self.gw.add_downstream(context.peer);
    }
}

impl GatewayHandler {
    /// Cuts vault secrets out of what goes back to the agent (results and
    /// error texts alike), recording which were found.
    async fn redact(
        &self,
        claims: &Claims,
        tool: &str,
        response: CallToolResponse,
    ) -> CallToolResponse {
        let CallToolResponse::Complete(result) = &response else { return response };
        let (clean, found) = match self.gw.with_screens(|s| s.screened(result)) {
            Screened::Clean => return response,
            Screened::Cut { item, found } => (item, found),
            Screened::Unreadable => {
                tracing::error!(%tool, "a result could not be screened for secrets; withheld");
                return refusal(format!(
                    "warrant: the result of `{tool}` could not be screened for secrets, so it is withheld"
                ));
            }
        };
        tracing::warn!(%tool, credentials = ?found, "a vault secret was cut out of a result");
        let redacted = SecretRedacted {
            where_: RedactedWhere::Result,
            tool: Some(tool.to_owned()),
            host: None,
            credentials: Some(found),
            found: None,
            custody: Some(claims.custody()),
        };
        if let Err(e) = self.gw.record(Some(&claims.agent_id), &redacted).await {
            tracing::error!(error = %e, "audit append of a redaction failed");
        }
        CallToolResponse::Complete(clean)
    }

    /// A call whose arguments carry a secret: blocked, recorded, alarmed,
    /// and counted against the agent like a denial.
    async fn blocked(
        &self,
        claims: &Claims,
        tool: &str,
        arguments: &Value,
        leak: &warrant_broker::leak::Leak,
    ) -> CallToolResponse {
        let gw = &self.gw;
        tracing::error!(agent = %claims.agent_id, %tool, found = %leak.describe(), "ALARM: an agent tried to send a vault secret out");
        // The arguments are recorded by shape only, whatever
        // `capture_arguments` says: they hold the secret.
        let blocked = LeakBlocked::Arguments(ArgumentsBlocked {
            tool: printable(tool),
            where_: ArgumentsWhere::Arguments,
            found: leak.record(),
            arguments: warrant_audit::redact_arguments(arguments),
            custody: claims.custody(),
        });
        let alarm = Alarm {
            alarm: AlarmKind::SecretLeak,
            message: "an agent tried to send a vault secret out through a tool call".to_owned(),
            tool: Some(printable(tool)),
            where_: None,
            host: None,
            port: None,
            found: Some(leak.record()),
            custody: Some(claims.custody()),
        };
        let recorded = async {
            gw.record(Some(&claims.agent_id), &blocked).await?;
            gw.record(Some(&claims.agent_id), &alarm).await
        };
        if let Err(e) = recorded.await {
            return refusal(format!("warrant: refused because the audit log is unavailable ({e})"));
        }
        gw.count_denial(&claims.agent_id).await;
        refusal(format!(
            "warrant: blocked: the arguments carry {}; secrets never leave through an agent",
            leak.describe()
        ))
    }

    /// Decides the use of each credential the upstream receives, for this
    /// call's agent, and records it: a call may reach an upstream that acts
    /// with a credential only if policy lets this agent use it.
    async fn upstream_credentials(&self, claims: &Claims, entry: &ToolEntry) -> Result<(), String> {
        let gw = &self.gw;
        let Some(upstream) = gw.upstreams.get(entry.name.upstream()) else { return Ok(()) };
        for name in upstream.config.credentials.values() {
            let use_ = warrant_broker::broker::Use {
                credential: name,
                via: warrant_broker::broker::Via::Upstream,
                tool: entry.name.as_str(),
                host: entry.name.upstream().as_str(),
            };
            gw.use_credential(claims, &use_, true).await?;
        }
        Ok(())
    }

    async fn call(
        &self,
        claims: &Claims,
        token: Option<&str>,
        request: CallToolRequestParams,
    ) -> CallToolResponse {
        let received = Instant::now();
        let gw = &self.gw;
        let agent = &claims.agent_id;
        let requested = request.name.to_string();
        let arguments = Value::Object(request.arguments.clone().unwrap_or_default());

        let entry = match ToolName::parse(&requested).ok().and_then(|n| gw.tools.get(n.as_str())) {
            Some(entry) => entry,
            None => {
                let reason = format!("no tool named `{}` is available", printable(&requested));
                return self.refuse(claims, &requested, &arguments, "unknown-tool", reason).await;
            }
        };
        if let Some(why) = gw.tools.quarantine(entry.name.as_str()) {
            let reason = format!(
                "`{}` is quarantined ({why}); a person must review it with `warrant tools accept {}`",
                entry.name, entry.name
            );
            return self.refuse(claims, &requested, &arguments, "quarantined", reason).await;
        }
        if not_delegated(claims, entry.name.as_str()) {
            let given: Vec<&str> = claims.tools.iter().flatten().map(String::as_str).collect();
            let reason = format!(
                "`{}` was not delegated to this agent; its parent gave it only: {}",
                entry.name,
                if given.is_empty() { "no tools".to_owned() } else { given.join(", ") }
            );
            return self.refuse(claims, &requested, &arguments, "not-delegated", reason).await;
        }
        if let Some(reason) = crate::eras::unrelayable_request(&request) {
            let reason = reason.to_owned();
            return self.refuse(claims, &requested, &arguments, "input-responses", reason).await;
        }
        if let Err(reason) = tools::check_arguments(&entry, &arguments, &gw.config.gateway) {
            return self.refuse(claims, &requested, &arguments, "invalid-arguments", reason).await;
        }
        // Pieces of a secret are counted across every call of the agent's
        // tree (its root and every descendant), so splitting a secret over
        // calls, or over a parent and a child, does not hide it.
        let tree = claims.ancestors.first().map_or(claims.agent_id, |a| a.agent_id).to_string();
        let (arguments, request) =
            match gw.with_screens(|s| s.outgoing_in_session(&gw.fragments, &tree, &arguments)) {
                Outgoing::Clean => (arguments, request),
                Outgoing::Block(leak) => {
                    return self.blocked(claims, entry.name.as_str(), &arguments, &leak).await;
                }
                Outgoing::Redacted(cleaned, leak) => {
                    let redacted = SecretRedacted {
                        where_: RedactedWhere::Arguments,
                        tool: Some(entry.name.as_str().to_owned()),
                        host: None,
                        credentials: None,
                        found: Some(leak.record()),
                        custody: Some(claims.custody()),
                    };
                    if let Err(e) = gw.record(Some(agent), &redacted).await {
                        return refusal(format!(
                            "warrant: refused because the audit log is unavailable ({e})"
                        ));
                    }
                    let mut request = request;
                    request.arguments = cleaned.as_object().cloned();
                    (cleaned, request)
                }
            };

        // A command is judged by everything it would run, parsed; one that
        // cannot be parsed cannot be judged, and is refused.
        let command = match crate::catalog::command_facts(&entry, &arguments) {
            Ok(command) => command,
            Err(reason) => {
                return self
                    .refuse(claims, &requested, &arguments, "invalid-arguments", reason)
                    .await;
            }
        };
        let facts = claims.facts();
        let ancestors = claims.ancestor_facts();
        let decision = gw.policy.decide_in_custody(
            &CallRequest {
                agent: &facts,
                tool: &entry.facts,
                arguments: &arguments,
                tainted: false,
                now: UnixMillis::now(),
                command: command.as_ref(),
            },
            &ancestors,
        );
        let fingerprint =
            approvals::fingerprint(&agent.to_string(), entry.name.as_str(), &arguments)
                .unwrap_or_default();
        let outcome = recorded_outcome(decision.outcome());
        let recorded = events::Decision {
            tool: entry.name.as_str().to_owned(),
            outcome,
            rules: decision.rules().iter().map(|r| r.id.clone()).collect(),
            reason: decision_reason(&decision),
            arguments: gw.recorded_arguments(&arguments),
            custody: claims.custody(),
            discovery: gw.discovering(claims).map(|_| match outcome {
                events::Outcome::Deny => Discovery::WouldDeny,
                events::Outcome::Ask => Discovery::WouldAsk,
                events::Outcome::Allow => Discovery::Allow,
            }),
            upstream: Some(entry.name.upstream().to_string()),
            fingerprint: Some(fingerprint.clone()),
            task: Some(claims.task.clone()),
            command: command.as_ref().map(|c| CommandRecord {
                programs: c.programs.clone(),
                writes: c.writes.clone(),
                dynamic: c.dynamic,
                inline_code: c.inline_code,
            }),
        };
        if let Err(e) = gw.record(Some(agent), &recorded).await {
            return refusal(format!("warrant: refused because the audit log is unavailable ({e})"));
        }

        if let Some(observations) = gw.discovering(claims) {
            let outcome = decision.outcome().to_string();
            if let Ok(store) = observations.lock()
                && let Err(e) =
                    store.record(claims.name.as_str(), entry.name.as_str(), &arguments, &outcome)
            {
                tracing::warn!(error = %e, "recording an observed call failed");
            }
            let permit =
                decision.danger_permit_for_discovery(entry.name.as_str(), &agent.to_string());
            return self.forward(claims, token, &entry, permit, request.arguments, received).await;
        }
        let permit = match decision {
            Decision::Allow { permit, .. } => permit,
            Decision::Deny { rules, reason, .. } => {
                gw.count_denial(agent).await;
                let named =
                    rules.first().map(|r| format!(" by rule `{}`", r.id)).unwrap_or_default();
                return refusal(format!("warrant: denied{named}: {reason}"));
            }
            Decision::Ask { pending, rules, .. } => {
                let rule = rules.first().map(|r| r.id.clone()).unwrap_or_default();
                let why = rules.first().and_then(|r| r.ask.clone()).unwrap_or_default();
                match self.ask(claims, &entry, &arguments, &fingerprint, &rule, &why).await {
                    Ok(by) => pending.approve(&by),
                    Err(text) => return refusal(text),
                }
            }
        };
        self.forward(claims, token, &entry, permit, request.arguments, received).await
    }

    /// The answer to a call cut short by `warrant kill`.
    async fn stopped(&self, claims: &Claims, tool: &str) -> CallToolResponse {
        let failed = CallFailed {
            tool: tool.to_owned(),
            error: "stopped by the operator (kill or revocation)".to_owned(),
            custody: claims.custody(),
            upstream_us: None,
            before_us: None,
            builtin: None,
        };
        if let Err(e) = self.gw.record(Some(&claims.agent_id), &failed).await {
            tracing::error!(error = %e, "audit append of a killed call failed");
        }
        refusal("warrant: this agent was stopped by the operator (`warrant kill` or `warrant agents revoke`, of it or of an agent above it); the call was cancelled".into())
    }

    /// A refusal before policy (unknown tool, bad arguments): audited as a
    /// deny decision with a pseudo-rule naming the check.
    async fn refuse(
        &self,
        claims: &Claims,
        tool: &str,
        arguments: &Value,
        check: &str,
        reason: String,
    ) -> CallToolResponse {
        let refused = events::Decision {
            tool: printable(tool),
            outcome: events::Outcome::Deny,
            rules: vec![check.to_owned()],
            reason: reason.clone(),
            arguments: self.gw.recorded_arguments(arguments),
            custody: claims.custody(),
            discovery: None,
            upstream: None,
            fingerprint: None,
            task: None,
            command: None,
        };
        if let Err(e) = self.gw.record(Some(&claims.agent_id), &refused).await {
            return refusal(format!("warrant: refused because the audit log is unavailable ({e})"));
        }
        self.gw.count_denial(&claims.agent_id).await;
        refusal(format!("warrant: denied by `{check}`: {reason}"))
    }

    /// Waits for a person. `Ok(approver)` or the text the agent gets.
    async fn ask(
        &self,
        claims: &Claims,
        entry: &ToolEntry,
        arguments: &Value,
        fingerprint: &str,
        rule: &str,
        why: &str,
    ) -> Result<String, String> {
        let gw = &self.gw;
        let ask = Ask {
            agent: claims.agent_id,
            agent_name: claims.name.to_string(),
            custody: Some(claims.custody()),
            subject: entry.name.to_string(),
            description: entry.exposed.description.as_deref().unwrap_or_default().to_owned(),
            // The person sees the values (masked where they are secrets);
            // the audit log keeps its own setting.
            shown: gw
                .with_screens(|s| s.redacted(arguments))
                .map_or_else(|| arguments.clone(), |(masked, _)| masked),
            fingerprint: fingerprint.to_owned(),
            rule: rule.to_owned(),
            why: why.to_owned(),
        };
        // If this call is abandoned (client gone), this future is dropped,
        // which withdraws the approval.
        let answer = ask_person(gw, ask, std::future::pending())
            .await
            .map_err(|e| format!("warrant: refused: {e}"))?;
        match answer.outcome {
            Settled::Approved => Ok(answer.by),
            Settled::Denied => Err(format!(
                "warrant: a person ({}) denied this call (rule `{rule}`: {why})",
                answer.by
            )),
            Settled::TimedOut | Settled::Abandoned => Err(format!(
                "warrant: denied: no one approved this call within {} s (rule `{rule}`: {why})",
                answer.timeout_s
            )),
        }
    }

    async fn forward(
        &self,
        claims: &Claims,
        token: Option<&str>,
        entry: &ToolEntry,
        permit: Permit,
        arguments: Option<rmcp::model::JsonObject>,
        received: Instant,
    ) -> CallToolResponse {
        let gw = &self.gw;
        // The permit must be for this call: this tool, this agent.
        if permit.tool() != entry.name.as_str() || permit.agent() != claims.agent_id.to_string() {
            return refusal("warrant: internal error: permit does not match the call".into());
        }
        // A kill that landed between authentication and now.
        if gw.killed_in_chain(claims).is_some() {
            return self.stopped(claims, entry.name.as_str()).await;
        }
        if entry.name.upstream().as_str() == BUILTIN_UPSTREAM {
            return self.builtin(claims, token, permit, arguments).await;
        }
        let Some(upstream) = gw.upstreams.get(entry.name.upstream()) else {
            return refusal(format!(
                "warrant: upstream `{}` is not configured",
                entry.name.upstream()
            ));
        };
        if let Err(text) = self.upstream_credentials(claims, entry).await {
            return refusal(text);
        }
        let permit_rules = permit.rules().to_vec();
        let started = Instant::now();
        let result = upstream.call(permit, arguments, gw.config.gateway.call_timeout).await;
        // Time spent in the upstream, and in Warrant before forwarding
        // (validation, decision, the decision's audit commit, any approval).
        let upstream_us = micros(started.elapsed());
        let before_us = micros(started.duration_since(received));
        match result {
            Ok(response) => {
                let is_error = match &response {
                    CallToolResponse::Complete(r) => r.is_error.unwrap_or(false),
                    _ => false,
                };
                let shape = match &response {
                    CallToolResponse::Complete(r) => serde_json::to_value(r)
                        .map(|v| warrant_audit::redact_arguments(&v))
                        .unwrap_or(Value::Null),
                    _ => json!("input_required"),
                };
                let answered = CallResult {
                    tool: entry.name.as_str().to_owned(),
                    is_error,
                    permit_rules,
                    custody: claims.custody(),
                    upstream_us: Some(upstream_us),
                    before_us: Some(before_us),
                    result: Some(shape),
                    builtin: None,
                };
                record_outcome(gw, claims, &answered);
                response
            }
            Err(e) => {
                // The upstream's error text may quote a credential it holds.
                let error = gw.with_screens(|s| s.redacted_text(&e.to_string()));
                let response = refusal(format!("warrant: {error}"));
                let failed = CallFailed {
                    tool: entry.name.as_str().to_owned(),
                    error,
                    custody: claims.custody(),
                    upstream_us: Some(upstream_us),
                    before_us: Some(before_us),
                    builtin: None,
                };
                record_outcome(gw, claims, &failed);
                response
            }
        }
    }

    /// Runs one of Warrant's own tools. Its result is audited by outcome
    /// only: a spawned child's credential must not reach the log.
    async fn builtin(
        &self,
        claims: &Claims,
        token: Option<&str>,
        permit: Permit,
        arguments: Option<rmcp::model::JsonObject>,
    ) -> CallToolResponse {
        let arguments = Value::Object(arguments.unwrap_or_default());
        let tool = permit.tool().to_owned();
        let permit_rules = permit.rules().to_vec();
        let result = crate::builtin::call(&self.gw, claims, token, permit, arguments).await;
        match result {
            Ok(r) => {
                let answered = CallResult {
                    tool,
                    is_error: false,
                    permit_rules,
                    custody: claims.custody(),
                    upstream_us: None,
                    before_us: None,
                    result: None,
                    builtin: Some(true),
                };
                record_outcome(&self.gw, claims, &answered);
                CallToolResponse::Complete(r)
            }
            Err(text) => {
                let failed = CallFailed {
                    tool,
                    error: self.gw.with_screens(|s| s.redacted_text(&text)),
                    custody: claims.custody(),
                    upstream_us: None,
                    before_us: None,
                    builtin: Some(true),
                };
                record_outcome(&self.gw, claims, &failed);
                refusal(text)
            }
        }
    }
}

/// Records what a forwarded call came to, in its place in the log, without
/// making the agent wait for the commit: the call has happened, and its
/// decision was durable before it went out. A commit that fails marks the
/// log failed, so the agent's next call is refused (see
/// `AuditLog::append_queued`); `warrant up` closes the log, writing every
/// queued record, before it exits.
fn record_outcome<B: Body>(gw: &Gateway, claims: &Claims, body: &B) {
    let agent = claims.agent_id.to_string();
    if let Err(e) = gw.audit.append_body_queued(Some(&agent), body) {
        tracing::error!(error = %e, "audit append of a call's outcome failed");
    }
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn recorded_outcome(outcome: warrant_policy::Outcome) -> events::Outcome {
    match outcome {
        warrant_policy::Outcome::Allow => events::Outcome::Allow,
        warrant_policy::Outcome::Ask => events::Outcome::Ask,
        warrant_policy::Outcome::Deny => events::Outcome::Deny,
    }
}

fn decision_reason(decision: &Decision) -> String {
    match decision {
        Decision::Deny { reason, .. } => reason.clone(),
        other => {
            other.rules().iter().filter_map(|r| r.reason.clone()).collect::<Vec<_>>().join("; ")
        }
    }
}
