//! The CLI's operations on a home, one function per subcommand that is not
//! the gateway itself. The binary parses flags and prints; the work is here.

use crate::GatewayError;
use crate::config::Config;
use crate::control::{self, ControlRequest};
use crate::home::Home;
use crate::tools;
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Duration;
use warrant_audit::{AuditEvent, AuditLog, AuditOptions, EventKind};
use warrant_core::{AgentId, AgentName, UnixMillis};
use warrant_identity::{
    AgentRecord, Claims, IssueRequest, KillTarget, Registry, RootKey, TrustDomain,
};
use warrant_policy::{CallRequest, PolicyEngine};

/// The default lifetime of an agent credential.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60 * 60);

/// A freshly spawned agent, as `agents spawn --json` prints it.
#[derive(Serialize)]
pub struct Spawned {
    pub id: String,
    pub name: String,
    pub spiffe_id: String,
    pub task: String,
    pub spawned_by: String,
    pub expires_at: String,
    /// The bearer token. Printed once; Warrant keeps only its claims.
    pub token: String,
}

fn identity(e: impl std::fmt::Display) -> GatewayError {
    GatewayError::Identity(e.to_string())
}

fn registry(home: &Home) -> Result<Registry, GatewayError> {
    Registry::open(&home.state_db()).map_err(|e| GatewayError::State {
        path: home.state_db().display().to_string(),
        message: e.to_string(),
    })
}

/// Appends to the audit log from the CLI (the log is safe for several
/// writers: each transaction extends the head it reads).
fn record(
    home: &Home,
    kind: EventKind,
    agent: Option<&AgentId>,
    detail: Value,
) -> Result<(), GatewayError> {
    let audit = AuditLog::open(&home.audit_db(), home.load_audit_key()?, AuditOptions::default())
        .map_err(|e| GatewayError::Audit(e.to_string()))?;
    let mut event = AuditEvent::new(kind);
    if let Some(a) = agent {
        event = event.agent(a.to_string());
    }
    if let Value::Object(map) = detail {
        event.detail = map;
    }
    let appended = audit.append_blocking(event).map_err(|e| GatewayError::Audit(e.to_string()));
    audit.close().map_err(|e| GatewayError::Audit(e.to_string()))?;
    appended.map(|_| ())
}

/// Who is at the keyboard, for custody records.
pub fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("operator:{user}")
}

/// `warrant agents spawn`.
pub fn spawn_agent(
    home: &Home,
    name: &str,
    task: &str,
    ttl: Duration,
) -> Result<Spawned, GatewayError> {
    home.init()?;
    home.check()?;
    let config = Config::load(&home.config())?;
    let name = AgentName::parse(name).map_err(identity)?;
    let domain = TrustDomain::parse(&config.gateway.trust_domain).map_err(identity)?;
    let root = RootKey::load(&home.root_key()).map_err(identity)?;
    let spawned_by = operator();
    let (claims, token) = warrant_identity::issue(
        &root,
        IssueRequest {
            trust_domain: &domain,
            name,
            task: task.to_owned(),
            spawned_by,
            ttl,
            now: UnixMillis::now(),
        },
    )
    .map_err(identity)?;
    drop(root);
    // Recorded before the token is handed out.
    record(
        home,
        EventKind::AgentSpawned,
        Some(&claims.agent_id),
        json!({
            "name": claims.name.as_str(), "spiffe_id": claims.spiffe_id, "task": claims.task,
            "spawned_by": claims.spawned_by, "expires_at": claims.expires_at.to_rfc3339(),
        }),
    )?;
    registry(home)?.record_issued(&claims).map_err(identity)?;
    Ok(Spawned {
        id: claims.agent_id.to_string(),
        name: claims.name.to_string(),
        spiffe_id: claims.spiffe_id,
        task: claims.task,
        spawned_by: claims.spawned_by,
        expires_at: claims.expires_at.to_rfc3339(),
        token: token.expose_secret().to_owned(),
    })
}

/// `warrant agents list`.
pub fn list_agents(home: &Home) -> Result<Vec<AgentRecord>, GatewayError> {
    home.check()?;
    registry(home)?.list().map_err(identity)
}

/// `warrant agents revoke`: permanent; a running gateway refuses the agent
/// from its next request.
pub fn revoke_agent(home: &Home, id: &str) -> Result<(AgentRecord, bool), GatewayError> {
    home.check()?;
    let id = AgentId::parse(id).map_err(identity)?;
    let reg = registry(home)?;
    if reg.get(id).map_err(identity)?.is_none() {
        return Err(GatewayError::Identity(format!("no agent with id `{id}`")));
    }
    record(home, EventKind::AgentRevoked, Some(&id), json!({"by": operator()}))?;
    let rec = reg.revoke(id, UnixMillis::now()).map_err(identity)?;
    let live = match control::request(&home.control_socket(), &ControlRequest::ReloadRevocations) {
        Ok(_) => true,
        Err(control::ControlError::NotRunning(_)) => false,
        Err(e) => return Err(e.into()),
    };
    Ok((rec, live))
}

/// `warrant policy check`: the rule ids, and warnings.
pub fn check_policy(home: &Home) -> Result<(Vec<String>, Vec<String>), GatewayError> {
    let sources = home.read_policies()?;
    let engine = PolicyEngine::new(&sources).map_err(|e| GatewayError::Policy(e.to_string()))?;
    Ok((engine.rule_ids(), engine.warnings().to_vec()))
}

/// `warrant policy explain`.
pub fn explain(
    home: &Home,
    agent: &str,
    tool: &str,
    arguments: &Value,
) -> Result<Value, GatewayError> {
    home.check()?;
    let config = Config::load(&home.config())?;
    let engine = PolicyEngine::new(&home.read_policies()?)
        .map_err(|e| GatewayError::Policy(e.to_string()))?;
    let records = registry(home)?.list().map_err(identity)?;
    let rec = records
        .iter()
        .filter(|r| r.agent_id.to_string() == agent || r.name.as_str() == agent)
        .max_by_key(|r| r.issued_at)
        .ok_or_else(|| {
            GatewayError::Identity(format!("no agent `{agent}` (name or id); spawn one first"))
        })?;
    let claims = Claims {
        agent_id: rec.agent_id,
        name: rec.name.clone(),
        spiffe_id: rec.spiffe_id.clone(),
        task: rec.task.clone(),
        spawned_by: rec.spawned_by.clone(),
        depth: rec.depth,
        issued_at: rec.issued_at,
        expires_at: rec.expires_at,
    };
    let definition = crate::pins::PinStore::open(&home.state_db())
        .and_then(|p| p.definition(tool))
        .map_err(|e| GatewayError::State { path: home.state_db().display().to_string(), message: e.to_string() })?
        .ok_or_else(|| GatewayError::Policy(format!(
            "tool `{tool}` has not been seen; run `warrant up` with its upstream once so Warrant learns its definition"
        )))?;
    let name =
        warrant_core::ToolName::parse(tool).map_err(|e| GatewayError::Policy(e.to_string()))?;
    let trusted = config.upstreams.get(name.upstream()).is_some_and(|u| u.trusted);
    let mut raw: rmcp::model::Tool = serde_json::from_str(&definition).map_err(|e| {
        GatewayError::Policy(format!("stored definition of `{tool}` is unreadable: {e}"))
    })?;
    raw.name = name.tool().to_owned().into();
    let (entries, _) = tools::admit(name.upstream(), trusted, vec![raw]);
    let entry = entries
        .first()
        .ok_or_else(|| GatewayError::Policy(format!("tool `{tool}` is not admissible")))?;
    let facts = crate::handler::agent_facts(&claims);
    let decision = engine.decide(&CallRequest {
        agent: &facts,
        tool: &entry.facts,
        arguments,
        tainted: false,
        now: UnixMillis::now(),
    });
    Ok(json!({
        "agent": {"id": claims.agent_id.to_string(), "name": claims.name.as_str()},
        "tool": tool,
        "tool_facts": {
            "read_only": entry.facts.read_only, "destructive": entry.facts.destructive,
            "idempotent": entry.facts.idempotent, "open_world": entry.facts.open_world, "trusted": entry.facts.trusted,
        },
        "visible_in_tools_list": engine.could_allow(&facts, &entry.facts),
        "decision": decision.outcome().to_string(),
        "rules": decision.rules().iter().map(|r| json!({"id": r.id, "reason": r.reason, "ask": r.ask})).collect::<Vec<_>>(),
        "reason": decision.reason(),
        "diagnostics": decision.diagnostics().iter().map(|d| format!("{}: {}", d.rule, d.message)).collect::<Vec<_>>(),
    }))
}

/// What `warrant kill` / `warrant resume` acted on.
#[derive(Serialize)]
pub struct KillReport {
    /// Agent ids, or `["*"]` for every agent.
    pub targets: Vec<String>,
    /// Whether a running gateway applied it at once.
    pub live: bool,
}

/// Resolves `AGENT` (an id, or a name meaning every instance of it) or
/// `--all` to kill targets.
fn kill_targets(home: &Home, agent: Option<&str>) -> Result<Vec<KillTarget>, GatewayError> {
    let Some(agent) = agent else { return Ok(vec![KillTarget::All]) };
    let records = registry(home)?.list().map_err(identity)?;
    let ids: Vec<KillTarget> = records
        .iter()
        .filter(|r| r.agent_id.to_string() == agent || r.name.as_str() == agent)
        .map(|r| KillTarget::Agent(r.agent_id))
        .collect();
    if ids.is_empty() {
        return Err(GatewayError::Identity(format!("no agent `{agent}` (name or id)")));
    }
    Ok(ids)
}

fn target_names(targets: &[KillTarget]) -> Vec<String> {
    targets
        .iter()
        .map(|t| match t {
            KillTarget::All => "*".to_owned(),
            KillTarget::Agent(id) => id.to_string(),
        })
        .collect()
}

/// Tells a running gateway to re-read the kill list; `false` if none runs.
fn apply_kills(home: &Home) -> Result<bool, GatewayError> {
    match control::request(&home.control_socket(), &ControlRequest::ReloadKills) {
        Ok(_) => Ok(true),
        Err(control::ControlError::NotRunning(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `warrant kill AGENT|--all`: persisted first (it holds across restarts),
/// then applied by the running gateway, which refuses the agent's new
/// requests and cancels its in-flight calls and pending approvals before
/// this returns.
pub fn kill(home: &Home, agent: Option<&str>, by: &str) -> Result<KillReport, GatewayError> {
    home.check()?;
    let targets = kill_targets(home, agent)?;
    let names = target_names(&targets);
    record(home, EventKind::AgentKilled, None, json!({"targets": names, "by": by}))?;
    let reg = registry(home)?;
    let now = UnixMillis::now();
    for target in &targets {
        reg.kill(target, by, now).map_err(identity)?;
    }
    Ok(KillReport { targets: names, live: apply_kills(home)? })
}

/// `warrant resume AGENT|--all`: lifts kills (`--all` lifts every kill).
pub fn resume(home: &Home, agent: Option<&str>, by: &str) -> Result<KillReport, GatewayError> {
    home.check()?;
    let targets = kill_targets(home, agent)?;
    let names = target_names(&targets);
    record(home, EventKind::AgentResumed, None, json!({"targets": names, "by": by}))?;
    let reg = registry(home)?;
    for target in &targets {
        reg.resume(target).map_err(identity)?;
    }
    Ok(KillReport { targets: names, live: apply_kills(home)? })
}

/// `warrant tools list`: every pinned or quarantined tool.
pub fn tools_list(home: &Home) -> Result<Vec<crate::pins::PinRow>, GatewayError> {
    home.check()?;
    pin_store(home)?.list().map_err(|e| state_error(home, &e))
}

/// `warrant tools accept NAME__tool`: pins the quarantined definition
/// (audited), and lifts the quarantine in a running gateway. Returns the old
/// and new definitions, for the CLI to show the difference.
pub fn tools_accept(
    home: &Home,
    tool: &str,
    by: &str,
) -> Result<(crate::pins::Accepted, bool), GatewayError> {
    home.check()?;
    let store = pin_store(home)?;
    let pending = store.list().map_err(|e| state_error(home, &e))?;
    let Some(row) = pending.iter().find(|r| r.tool == tool && r.state == "quarantined") else {
        return Err(GatewayError::Policy(format!("tool `{tool}` is not quarantined")));
    };
    record(
        home,
        EventKind::ToolAccepted,
        None,
        json!({
            "tool": tool, "by": by, "pinned": row.pinned, "accepted": row.candidate, "reason": row.reason,
        }),
    )?;
    let accepted = store
        .accept(tool)
        .map_err(|e| state_error(home, &e))?
        .ok_or_else(|| GatewayError::Policy(format!("tool `{tool}` is not quarantined")))?;
    let live = match control::request(&home.control_socket(), &ControlRequest::ReloadPins) {
        Ok(_) => true,
        Err(control::ControlError::NotRunning(_)) => false,
        Err(e) => return Err(e.into()),
    };
    Ok((accepted, live))
}

fn pin_store(home: &Home) -> Result<crate::pins::PinStore, GatewayError> {
    crate::pins::PinStore::open(&home.state_db()).map_err(|e| state_error(home, &e))
}

fn state_error(home: &Home, e: &rusqlite::Error) -> GatewayError {
    GatewayError::State { path: home.state_db().display().to_string(), message: e.to_string() }
}

/// `warrant policy suggest --agent NAME`: Cedar that permits exactly the calls
/// observed from agents named NAME in discovery mode.
pub fn suggest(home: &Home, agent_name: &str) -> Result<String, GatewayError> {
    home.check()?;
    let calls = crate::discovery::Observations::open(&home.state_db())
        .and_then(|o| o.calls(agent_name))
        .map_err(|e| state_error(home, &e))?;
    if calls.is_empty() {
        return Err(GatewayError::Policy(format!(
            "no calls of agent `{agent_name}` were observed; run `warrant up --discover` and let it work first"
        )));
    }
    Ok(crate::discovery::suggest(agent_name, &calls))
}
