//! The gateway's shared state: what every request handler consults.

use crate::approvals::Approvals;
use crate::quarantine::{DenialWindow, QUARANTINE_ACTOR};
use crate::throttle::AuthFailures;
use crate::tools::{self, Refused, ToolEntry};
use crate::upstream::{Upstream, UpstreamEvents};
use rmcp::service::{Peer, RoleServer};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use tokio_util::sync::CancellationToken;
use warrant_audit::events::{
    AgentKilled, ConnectionEvent, NamedReason, RefusedTool, ToolPin, ToolQuarantined, ToolsEvent,
    UpstreamConnection, UpstreamState, UpstreamTools,
};
use warrant_audit::{AuditError, AuditEvent, AuditLog, Body, Event};
use warrant_core::{AgentId, UnixMillis, UpstreamName};
use warrant_identity::{AuthError, Claims, KillSet, RootKey, Verifier};
use warrant_policy::PolicyEngine;
use warrant_state::config::Config;
use warrant_state::discovery::Observations;
use warrant_state::pins::{Admission, PinStore};

/// Everything a request needs, shared by all of them.
pub struct Gateway {
    pub config: Config,
    pub policy: PolicyEngine,
    pub verifier: Verifier,
    pub audit: AuditLog,
    pub approvals: Approvals,
    pub denials: DenialWindow,
    /// Set in discovery mode: where observed calls go.
    pub discover: Option<Mutex<Observations>>,
    /// Discovery mode for agents of these names only; empty: for all.
    pub discover_only: Vec<String>,
    pub auth_failures: AuthFailures,
    pub upstreams: BTreeMap<UpstreamName, Arc<Upstream>>,
    pub tools: ToolTable,
    /// The sandbox helper `warrant__exec` launches through, started before
    /// any key was loaded; why not, if it could not be started.
    pub launcher: Result<Arc<warrant_sandbox::Launcher>, Arc<warrant_sandbox::LauncherError>>,
    /// The `warrant__exec` commands each tree of agents is running.
    pub exec_slots: crate::builtin::ExecSlots,
    /// The agent registry (kills, revocations, children, workspaces), opened
    /// once and shared with the CLI through SQLite.
    pub registry: Arc<warrant_identity::Registry>,
    pub started_at: UnixMillis,
    pub mcp_url: OnceLock<String>,
    revoked: RwLock<HashSet<AgentId>>,
    /// Agents stopped by `warrant kill` (persisted in the registry).
    killed: RwLock<KillSet>,
    /// One token per agent with calls in flight; cancelled by a kill.
    in_flight: Mutex<HashMap<AgentId, CancellationToken>>,
    /// Streamable HTTP session id → the agent that opened it.
    sessions: Mutex<HashMap<String, AgentId>>,
    pins: Mutex<PinStore>,
    /// Signs delegation blocks for `warrant__spawn_agent`.
    signer: RootKey,
    /// TLS client settings for `warrant__http_request`, built at first use.
    pub tls_client:
        OnceLock<Result<Arc<rustls::ClientConfig>, warrant_broker::upstream_tls::TlsConfigError>>,
    /// Connected downstream sessions, told when the tools they may see change.
    downstream: Mutex<Vec<Peer<RoleServer>>>,
    /// The `subscriptions/listen` streams of 2026-07-28 agents, told likewise.
    pub listeners: crate::eras::listen::Listeners,
    /// The unlocked vault, when the home has one.
    pub broker: Option<Arc<warrant_broker::broker::Broker>>,
    /// Well-known credential formats, looked for in what crosses the gateway.
    pub rules: warrant_vault::rules::RuleSet,
    /// The pieces of vault secrets each tree of agents has sent out, so that
    /// a secret split across calls (or across a parent and its child) is
    /// still caught.
    pub fragments: warrant_broker::leak::FragmentLedger,
}

/// A list the CLI changed could not be taken into the running gateway.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot read the kill list")]
    Kills(#[source] warrant_identity::IdentityError),
    #[error("cannot read the revocation list")]
    Revocations(#[source] warrant_identity::IdentityError),
    #[error("{0} lock poisoned")]
    Poisoned(&'static str),
}

/// Tools by qualified name.
#[derive(Default)]
pub struct ToolTable {
    inner: RwLock<TableInner>,
}

#[derive(Default)]
struct TableInner {
    tools: BTreeMap<String, Arc<ToolEntry>>,
    refused: BTreeMap<String, Vec<Refused>>,
    /// Tool → why it is held back until a person accepts it.
    quarantined: BTreeMap<String, String>,
}

impl ToolTable {
    pub fn get(&self, name: &str) -> Option<Arc<ToolEntry>> {
        self.inner.read().ok()?.tools.get(name).cloned()
    }

    pub fn all(&self) -> Vec<Arc<ToolEntry>> {
        self.inner.read().map(|t| t.tools.values().cloned().collect()).unwrap_or_default()
    }

    pub fn refused(&self) -> Vec<Refused> {
        self.inner
            .read()
            .map(|t| t.refused.values().flatten().cloned().collect())
            .unwrap_or_default()
    }

    /// Why `name` is quarantined, if it is. Fails closed.
    pub fn quarantine(&self, name: &str) -> Option<String> {
        match self.inner.read() {
            Ok(t) => t.quarantined.get(name).cloned(),
            Err(_) => Some("tool table unavailable".to_owned()),
        }
    }

    /// Lifts the quarantine of every tool for which `accepted` says so.
    fn reconsider(&self, accepted: impl Fn(&ToolEntry) -> bool) -> Vec<String> {
        let Ok(mut t) = self.inner.write() else { return Vec::new() };
        let lifted: Vec<String> = t
            .quarantined
            .keys()
            .filter(|name| t.tools.get(*name).is_some_and(|e| accepted(e)))
            .cloned()
            .collect();
        for name in &lifted {
            t.quarantined.remove(name);
        }
        lifted
    }

    /// Installs `upstream`'s admitted tools; returns whether what agents
    /// could see changed (names, definitions or quarantines).
    fn replace(
        &self,
        upstream: &UpstreamName,
        entries: Vec<Arc<ToolEntry>>,
        refused: Vec<Refused>,
        quarantined: Vec<(String, String)>,
    ) -> bool {
        let Ok(mut t) = self.inner.write() else { return false };
        let prefix = format!("{}__", upstream.as_str());
        let before: BTreeMap<String, String> = t
            .tools
            .values()
            .filter(|e| e.name.upstream() == upstream)
            .map(|e| (e.name.as_str().to_owned(), e.pin.clone()))
            .collect();
        let held_before: Vec<String> =
            t.quarantined.keys().filter(|n| n.starts_with(&prefix)).cloned().collect();
        t.tools.retain(|_, e| e.name.upstream() != upstream);
        t.quarantined.retain(|name, _| !name.starts_with(&prefix));
        let mut held_after: Vec<String> = quarantined.iter().map(|(n, _)| n.clone()).collect();
        held_after.sort();
        t.quarantined.extend(quarantined);
        let after: BTreeMap<String, String> =
            entries.iter().map(|e| (e.name.as_str().to_owned(), e.pin.clone())).collect();
        for e in entries {
            t.tools.insert(e.name.as_str().to_owned(), e);
        }
        t.refused.insert(upstream.to_string(), refused);
        before != after || held_before != held_after
    }
}

impl Gateway {
    /// Authorizes `use_` for `claims`' agent in the gateway: decided for it and
    /// each ancestor, leased, the records committed to the audit log before the
    /// value is returned. A refusal counts as a denial against the agent.
    /// `Err` is the text the agent is given.
    pub async fn use_credential(
        &self,
        claims: &warrant_identity::Claims,
        use_: &warrant_broker::Use<'_>,
        upstream_bound: bool,
    ) -> Result<warrant_broker::Grant, String> {
        let broker = self.broker.as_ref().ok_or(
            "warrant: there is no vault (or it is not unlocked), so no credential can be used",
        )?;
        let facts = claims.facts();
        let ancestors = claims.ancestor_facts();
        let custody = Some(claims.custody());
        let authorized =
            broker.authorize(&self.policy, &facts, &ancestors, use_, upstream_bound, custody);
        for record in &authorized.records {
            self.record_event(Some(&claims.agent_id), record).await.map_err(|e| {
                format!("warrant: refused because the audit log is unavailable ({e})")
            })?;
        }
        match authorized.grant {
            Ok(grant) => Ok(grant),
            Err(reason) => {
                self.count_denial(&claims.agent_id).await;
                Err(format!("warrant: denied: {reason}"))
            }
        }
    }

    /// Runs `f` with the leak screens of this moment: the vault's scanner as
    /// last refreshed, the well-known formats, and `[leaks] well_known`.
    pub fn with_screens<R>(&self, f: impl FnOnce(&warrant_broker::leak::Screens<'_>) -> R) -> R {
        let known = self.broker.as_ref().map(|broker| broker.known());
        let screens = warrant_broker::leak::Screens {
            scanner: known.as_deref().map(|k| &k.scanner),
            rules: &self.rules,
            well_known: self.config.leaks.well_known,
        };
        f(&screens)
    }

    #[expect(clippy::too_many_arguments, reason = "assembled once, at start-up")]
    pub fn new(
        observations: Option<Observations>,
        config: Config,
        policy: PolicyEngine,
        verifier: Verifier,
        revoked: HashSet<AgentId>,
        killed: KillSet,
        audit: AuditLog,
        upstreams: BTreeMap<UpstreamName, Arc<Upstream>>,
        launcher: Result<Arc<warrant_sandbox::Launcher>, Arc<warrant_sandbox::LauncherError>>,
        registry: Arc<warrant_identity::Registry>,
        pins: PinStore,
        signer: RootKey,
        discover_only: Vec<String>,
        broker: Option<Arc<warrant_broker::broker::Broker>>,
        rules: warrant_vault::rules::RuleSet,
    ) -> Self {
        let denials =
            DenialWindow::new(config.gateway.quarantine_denials, config.gateway.quarantine_window);
        Self {
            config,
            policy,
            verifier,
            audit,
            approvals: Approvals::default(),
            denials,
            discover: observations.map(Mutex::new),
            discover_only,
            auth_failures: AuthFailures::default(),
            upstreams,
            tools: ToolTable::default(),
            launcher,
            exec_slots: Default::default(),
            registry,
            started_at: UnixMillis::now(),
            mcp_url: OnceLock::new(),
            revoked: RwLock::new(revoked),
            killed: RwLock::new(killed),
            in_flight: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            pins: Mutex::new(pins),
            signer,
            tls_client: OnceLock::new(),
            downstream: Mutex::new(Vec::new()),
            listeners: Default::default(),
            broker,
            rules,
            fragments: warrant_broker::leak::FragmentLedger::new(),
        }
    }

    /// Puts Warrant's own tools in the table.
    pub fn install_builtins(&self) {
        if let Ok(upstream) = UpstreamName::parse(warrant_state::config::BUILTIN_UPSTREAM) {
            self.tools.replace(&upstream, crate::catalog::entries(), Vec::new(), Vec::new());
        }
    }

    /// Where `claims`' agent's calls are observed, if it is in discovery
    /// mode (`up --discover`, or `--discover-agent` with its name).
    pub fn discovering(&self, claims: &Claims) -> Option<&Mutex<Observations>> {
        let chosen = self.discover_only.is_empty()
            || self.discover_only.iter().any(|n| n == claims.name.as_str());
        self.discover.as_ref().filter(|_| chosen)
    }

    pub fn signer(&self) -> &RootKey {
        &self.signer
    }

    /// Remembers a downstream session to notify of tool changes.
    pub fn add_downstream(&self, peer: Peer<RoleServer>) {
        if let Ok(mut peers) = self.downstream.lock() {
            peers.retain(|p| !p.is_transport_closed());
            peers.push(peer);
        }
    }

    /// Tells every connected agent that its tool list may have changed
    /// (`notifications/tools/list_changed`, on a 2025-11-25 agent's session
    /// or a 2026-07-28 agent's listen stream), so it lists again. Sessions
    /// that are gone are dropped.
    pub fn notify_tools_changed(self: &Arc<Self>) {
        self.listeners.notify_tools_changed();
        let peers: Vec<Peer<RoleServer>> = match self.downstream.lock() {
            Ok(mut peers) => {
                peers.retain(|p| !p.is_transport_closed());
                peers.clone()
            }
            Err(_) => return,
        };
        if peers.is_empty() {
            return;
        }
        tokio::spawn(async move {
            for peer in peers {
                if let Err(e) = peer.notify_tool_list_changed().await {
                    tracing::debug!(error = %e, "a downstream session missed tools/list_changed");
                }
            }
        });
    }

    /// Checks a bearer token: signature (cached), expiry, revocation and
    /// kills. A child agent's token names all its ancestors, so revoking or
    /// stopping any of them refuses it too, without a registry lookup.
    pub fn authenticate(&self, token: &str, now: UnixMillis) -> Result<Claims, AuthError> {
        let claims = self.verifier.verify(token, now)?;
        if claims.depth > self.config.gateway.max_agent_depth {
            return Err(AuthError::Rejected);
        }
        if let Some(revoked) = self.revoked_in_chain(&claims) {
            return Err(AuthError::Revoked { agent_id: revoked });
        }
        if let Some(killed) = self.killed_in_chain(&claims) {
            return Err(AuthError::Killed { agent_id: killed });
        }
        Ok(claims)
    }

    /// The first agent of `claims`' chain that is revoked (fails closed).
    fn revoked_in_chain(&self, claims: &Claims) -> Option<AgentId> {
        let Ok(revoked) = self.revoked.read() else { return Some(claims.agent_id) };
        claims.chain_ids().find(|id| revoked.contains(id)).copied()
    }

    /// The first agent of `claims`' chain that is stopped (fails closed).
    pub fn killed_in_chain(&self, claims: &Claims) -> Option<AgentId> {
        let Ok(killed) = self.killed.read() else { return Some(claims.agent_id) };
        claims.chain_ids().find(|id| killed.covers(id)).copied()
    }

    /// Counts a denial of `agent`; past the limit the agent is stopped as by
    /// `warrant kill` (persisted, audited, alerted).
    pub async fn count_denial(&self, agent: &AgentId) {
        let Some(reason) = self.denials.deny(*agent, std::time::Instant::now()) else { return };
        tracing::warn!(%agent, %reason, "agent quarantined");
        let killed = AgentKilled {
            targets: vec![agent.to_string()],
            by: QUARANTINE_ACTOR.to_owned(),
            descendants: None,
            reason: Some(reason),
        };
        if let Err(e) = self.record(Some(agent), &killed).await {
            tracing::error!(error = %e, "audit append of a quarantine failed");
        }
        let persisted = self.registry.kill(
            &warrant_identity::KillTarget::Agent(*agent),
            QUARANTINE_ACTOR,
            UnixMillis::now(),
        );
        if let Err(e) = persisted {
            tracing::error!(error = %e, "persisting a quarantine failed; it holds until restart");
        }
        // In memory at once, whether or not the registry write worked.
        if let Ok(mut killed) = self.killed.write() {
            killed.agents.insert(*agent);
        }
        self.cancel_in_flight(|a| a == agent);
    }

    /// The tokens that stopping or revoking the caller or any of its
    /// ancestors cancels; a call ends when any of them is cancelled.
    pub fn kill_switches(&self, claims: &Claims) -> Vec<CancellationToken> {
        match self.in_flight.lock() {
            Ok(mut map) => {
                claims.chain_ids().map(|id| map.entry(*id).or_default().clone()).collect()
            }
            // Fail closed: a call that cannot be stopped does not start.
            Err(_) => {
                let token = CancellationToken::new();
                token.cancel();
                vec![token]
            }
        }
    }

    /// Cancels the in-flight calls of every agent `stopped` says, and of
    /// their descendants (whose calls hold their ancestors' tokens too).
    fn cancel_in_flight(&self, stopped: impl Fn(&AgentId) -> bool) -> usize {
        let mut cancelled = 0;
        if let Ok(mut map) = self.in_flight.lock() {
            map.retain(|agent, token| {
                if stopped(agent) {
                    token.cancel();
                    cancelled += 1;
                    false
                } else {
                    true
                }
            });
        }
        cancelled
    }

    /// Re-reads the kill list (the CLI persists kills in the registry and
    /// then tells the running gateway) and cancels every in-flight call and
    /// pending approval of a stopped agent. Returns how many agents had calls
    /// cancelled.
    pub fn reload_kills(&self) -> Result<usize, ReloadError> {
        let kills = self.registry.kills().map_err(ReloadError::Kills)?;
        let cancelled = self.cancel_in_flight(|agent| kills.covers(agent));
        let mut killed = self.killed.write().map_err(|_| ReloadError::Poisoned("kill list"))?;
        *killed = kills;
        Ok(cancelled)
    }

    /// Re-reads the revocation list (the CLI revokes in the registry and
    /// then tells the running gateway) and cancels the in-flight calls of
    /// revoked agents and their descendants.
    pub fn reload_revocations(&self) -> Result<usize, ReloadError> {
        let ids = self.registry.revoked_ids().map_err(ReloadError::Revocations)?;
        let n = ids.len();
        let snapshot = ids.clone();
        *self.revoked.write().map_err(|_| ReloadError::Poisoned("revocation list"))? = ids;
        self.cancel_in_flight(|agent| snapshot.contains(agent));
        Ok(n)
    }

    /// Binds a session to the agent that opened it; `false` if another agent
    /// presents it.
    pub fn bind_session(&self, session: &str, agent: AgentId) -> bool {
        let Ok(mut map) = self.sessions.lock() else { return false };
        *map.entry(session.to_owned()).or_insert(agent) == agent
    }

    pub fn session_owner(&self, session: &str) -> Option<AgentId> {
        self.sessions.lock().ok()?.get(session).copied()
    }

    /// Appends `body` as a record of its kind, about `agent` if any; the
    /// error is for the caller to fail closed on.
    pub async fn record<B: Body>(
        &self,
        agent: Option<&AgentId>,
        body: &B,
    ) -> Result<(), AuditError> {
        let agent = agent.map(ToString::to_string);
        self.audit.append_body(agent.as_deref(), body).await.map(|_| ())
    }

    /// [`record`](Self::record) for a body whose kind is known only at run
    /// time (the broker's records, an egress event's).
    pub async fn record_event(
        &self,
        agent: Option<&AgentId>,
        event: &Event,
    ) -> Result<(), AuditError> {
        let mut recorded = AuditEvent::of_event(event)?;
        if let Some(agent) = agent {
            recorded = recorded.agent(agent.to_string());
        }
        self.audit.append(recorded).await.map(|_| ())
    }

    /// Re-reads the pins after `warrant tools accept` and lifts the
    /// quarantine of tools whose current definition is now pinned.
    pub fn reload_pins(self: &Arc<Self>) -> Result<Vec<String>, ReloadError> {
        let lifted = {
            let pins = self.pins.lock().map_err(|_| ReloadError::Poisoned("pin store"))?;
            self.tools.reconsider(|e| pins.is_pinned(e.name.as_str(), &e.pin).unwrap_or(false))
        };
        if !lifted.is_empty() {
            self.notify_tools_changed();
        }
        Ok(lifted)
    }

    /// Arguments as the audit log and approval listings show them.
    pub fn recorded_arguments(&self, args: &Value) -> Value {
        if self.config.audit.capture_arguments {
            args.clone()
        } else {
            warrant_audit::redact_arguments(args)
        }
    }
}

/// The supervisor's reports land in the tool table, the pin store and the log.
pub struct Events(pub Arc<Gateway>);

impl UpstreamEvents for Events {
    fn tools(&self, upstream: &Upstream, tools: Vec<rmcp::model::Tool>) -> usize {
        let (entries, refused) = tools::admit(&upstream.name, upstream.config.trusted, tools);
        let mut quarantined = Vec::new();
        match self.0.pins.lock() {
            Ok(pins) => {
                // Decided once per listing: tools first seen together with the
                // upstream's first listing are its baseline, not additions.
                // Fails closed if the store cannot say.
                let known = pins.upstream_has_pins(upstream.name.as_str()).unwrap_or(true);
                let quarantine_new = upstream.config.quarantine_new_tools && known;
                for e in &entries {
                    let flagged = crate::screen::screen(&e.exposed);
                    // The pin is of the definition as it came; what is stored
                    // for a person to review has credentials cut out.
                    let shown = self.0.with_screens(|s| s.redacted(&e.exposed));
                    let stored = shown.as_ref().map_or(&e.exposed, |(clean, _)| clean);
                    let admitted =
                        pins.admit(e.name.as_str(), &e.pin, stored, flagged, quarantine_new);
                    match admitted {
                        Ok(Admission::Pinned) => {}
                        Ok(Admission::Quarantined { reason }) => {
                            quarantined.push((e.name.as_str().to_owned(), reason))
                        }
                        // Fail closed: a tool whose pin cannot be checked is held back.
                        Err(err) => quarantined.push((
                            e.name.as_str().to_owned(),
                            format!("pin store unavailable: {err}"),
                        )),
                    }
                }
            }
            Err(_) => {
                for e in &entries {
                    quarantined
                        .push((e.name.as_str().to_owned(), "pin store unavailable".to_owned()));
                }
            }
        }
        for r in &refused {
            tracing::warn!(upstream = %r.upstream, tool = %r.tool, reason = %r.reason, "tool refused");
        }
        let unusable_schemas = entries
            .iter()
            .filter_map(|e| {
                let why = e.schema.as_ref().err()?;
                Some(NamedReason { tool: e.name.as_str().to_owned(), reason: why.clone() })
            })
            .collect();
        let count = entries.len();
        let listed = UpstreamState::Tools(UpstreamTools {
            upstream: upstream.name.to_string(),
            event: ToolsEvent::Tools,
            tools: entries
                .iter()
                .map(|e| ToolPin { name: e.name.as_str().to_owned(), pin: e.pin.clone() })
                .collect(),
            refused: refused
                .iter()
                .map(|r| RefusedTool {
                    upstream: r.upstream.clone(),
                    tool: r.tool.clone(),
                    reason: r.reason.clone(),
                })
                .collect(),
            unusable_schemas,
            quarantined: quarantined
                .iter()
                .map(|(tool, reason)| NamedReason { tool: tool.clone(), reason: reason.clone() })
                .collect(),
        });
        let held: Vec<ToolQuarantined> = quarantined
            .iter()
            .map(|(tool, reason)| {
                tracing::warn!(%tool, %reason, "tool quarantined");
                ToolQuarantined { tool: tool.clone(), reason: reason.clone() }
            })
            .collect();
        if self.0.tools.replace(&upstream.name, entries, refused, quarantined) {
            self.0.notify_tools_changed();
        }
        let gw = self.0.clone();
        tokio::spawn(async move {
            if let Err(e) = gw.record(None, &listed).await {
                tracing::error!(error = %e, "audit append failed");
            }
            for quarantined in &held {
                if let Err(e) = gw.record(None, quarantined).await {
                    tracing::error!(error = %e, "audit append failed");
                }
            }
        });
        count
    }

    fn state(&self, upstream: &Upstream, event: ConnectionEvent, error: Option<String>) {
        let gw = self.0.clone();
        let changed = UpstreamState::Connection(UpstreamConnection {
            upstream: upstream.name.to_string(),
            event,
            error,
            // Which credentials it was given (names only), so the log shows
            // where each secret went.
            credentials: upstream.config.credentials.values().cloned().collect(),
        });
        tokio::spawn(async move {
            if let Err(e) = gw.record(None, &changed).await {
                tracing::error!(error = %e, "audit append failed");
            }
        });
    }
}
