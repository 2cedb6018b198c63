//! The CLI's operations on a home, one function per subcommand that is not
//! the gateway itself. The binary parses flags and prints; the work is here.

use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use warrant_audit::events::{AgentKilled, AgentResumed, AgentRevoked, AgentSpawned, ToolAccepted};
use warrant_audit::{AuditLog, Body};
use warrant_control::{self as control, ControlRequest};
use warrant_core::{AgentId, AgentName, UnixMillis};
use warrant_identity::{
    AgentRecord, Claims, DelegateRequest, IssueRequest, KillTarget, MIN_TTL, Registry, RootKey,
    TrustDomain, Verifier, operator,
};
use warrant_policy::PolicyEngine;
use warrant_state::{Config, Home};

pub use crate::shown::{approval_text, terminal_safe};

/// A CLI operation failed. The text says what Warrant was doing or what
/// was asked for; the cause, if any, is the source.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error(transparent)]
    Home(#[from] warrant_state::home::HomeError),
    #[error(transparent)]
    Config(#[from] warrant_state::config::ConfigError),
    #[error("policy")]
    Policy(#[from] warrant_policy::PolicyError),
    #[error("policy")]
    Explain(#[from] warrant_gateway::explain::ExplainError),
    #[error("identity")]
    Identity(#[from] warrant_identity::IdentityError),
    #[error(transparent)]
    Name(#[from] warrant_core::NameError),
    #[error("audit log")]
    Audit(#[from] warrant_audit::AuditError),
    #[error("state store `{}`", path.display())]
    State {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(transparent)]
    Control(#[from] warrant_control::ControlError),
    #[error("vault")]
    Vault(#[from] crate::vault_ops::VaultOpError),
    #[error("parent credential")]
    ParentCredential(#[source] warrant_identity::AuthError),
    #[error("parent credential: agent `{id}` in its chain has been revoked")]
    ParentRevoked { id: AgentId },
    #[error("parent credential: agent `{id}` in its chain is stopped (`warrant resume` it first)")]
    ParentStopped { id: AgentId },
    #[error("--workspace is for an operator's agent; a child works in its root's workspace")]
    WorkspaceForChild,
    #[error("workspace `{}` is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error(
        "--tools narrows a child agent; it needs --parent-token (an operator's agent is limited by policy)"
    )]
    ToolsWithoutParent,
    #[error("no agent with id `{id}`")]
    NoAgentWithId { id: AgentId },
    #[error("no agent `{agent}` (name or id){hint}")]
    NoAgent { agent: String, hint: &'static str },
    #[error(
        "`{agent}` names {} agents that policy may decide differently (other parents, tools or tasks): give one id of {}",
        ids.len(),
        ids.join(", ")
    )]
    AmbiguousAgent { agent: String, ids: Vec<String> },
    #[error("tool `{tool}` is not quarantined")]
    NotQuarantined { tool: String },
    #[error(
        "no calls of agent `{agent}` were observed; run `warrant up --discover` and let it work first"
    )]
    NothingObserved { agent: String },
}

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
    /// 0 for an operator's agent; a child is its parent's depth plus one.
    pub depth: u32,
    /// The parent's id, for a child agent.
    pub parent: Option<String>,
    /// The tools it may call at most, when a delegation narrowed them.
    pub tools: Option<Vec<String>>,
    /// The chain of custody: the operator, then each agent down to this one.
    pub custody: Vec<String>,
    /// The bearer token. Printed once; Warrant keeps only its claims.
    pub token: String,
}

fn registry(home: &Home) -> Result<Registry, OpError> {
    Ok(Registry::open(&home.state_db())?)
}

/// Appends to the audit log from the CLI (the log is safe for several
/// writers: each transaction extends the head it reads).
pub(crate) fn record<B: Body>(
    home: &Home,
    agent: Option<&AgentId>,
    body: &B,
) -> Result<(), OpError> {
    let options = Config::load(&home.config())?.audit_options();
    let audit = AuditLog::open(&home.audit_db(), home.load_audit_key()?, options)?;
    let agent = agent.map(ToString::to_string);
    let appended = audit.append_body_blocking(agent.as_deref(), body);
    audit.close()?;
    appended?;
    Ok(())
}

/// What `warrant agents spawn` is asked for.
#[derive(Debug, Default)]
pub struct SpawnOptions<'a> {
    pub task: &'a str,
    /// `None`: one hour (cut to the parent's remaining lifetime for a child).
    pub ttl: Option<Duration>,
    /// Spawn a child of the agent holding this token.
    pub parent_token: Option<&'a str>,
    /// The child's tools at most (only with a parent).
    pub tools: Option<Vec<String>>,
    /// The directory the built-in file tools work beneath (an operator's
    /// agent only: a child uses its root's).
    pub workspace: Option<std::path::PathBuf>,
}

/// `warrant agents spawn`: an operator's agent, or with a parent token a
/// child whose rights are within its parent's.
pub fn spawn_agent(home: &Home, name: &str, options: SpawnOptions<'_>) -> Result<Spawned, OpError> {
    home.init()?;
    home.check()?;
    let config = Config::load(&home.config())?;
    let name = AgentName::parse(name)?;
    let domain = TrustDomain::parse(&config.gateway.trust_domain)?;
    let root = RootKey::load(&home.root_key())?;
    let now = UnixMillis::now();
    let reg = registry(home)?;
    let workspace = match &options.workspace {
        None => None,
        Some(_) if options.parent_token.is_some() => return Err(OpError::WorkspaceForChild),
        Some(dir) => Some(
            std::fs::canonicalize(dir)
                .ok()
                .filter(|d| d.is_dir())
                .ok_or_else(|| OpError::NotADirectory { path: dir.clone() })?,
        ),
    };
    let (claims, token) = match options.parent_token {
        None => {
            if options.tools.is_some() {
                return Err(OpError::ToolsWithoutParent);
            }
            warrant_identity::issue(
                &root,
                IssueRequest {
                    trust_domain: &domain,
                    name,
                    task: options.task.to_owned(),
                    spawned_by: operator(),
                    ttl: options.ttl.unwrap_or(DEFAULT_TTL),
                    now,
                },
            )?
        }
        Some(parent_token) => {
            let parent_token = parent_token.trim();
            let parent = Verifier::new(root.public_key())
                .verify(parent_token, now)
                .map_err(OpError::ParentCredential)?;
            let revoked = reg.revoked_ids()?;
            let kills = reg.kills()?;
            if let Some(id) = parent.chain_ids().find(|id| revoked.contains(id)) {
                return Err(OpError::ParentRevoked { id: *id });
            }
            if let Some(id) = parent.chain_ids().find(|id| kills.covers(id)) {
                return Err(OpError::ParentStopped { id: *id });
            }
            let remaining =
                Duration::from_millis(u64::try_from(parent.expires_at.0 - now.0).unwrap_or(0));
            let ttl = options.ttl.unwrap_or(DEFAULT_TTL.min(remaining).max(MIN_TTL));
            warrant_identity::delegate(
                &root,
                parent_token,
                &parent,
                DelegateRequest {
                    trust_domain: &domain,
                    name,
                    task: options.task.to_owned(),
                    ttl,
                    tools: options.tools.map(|t| t.into_iter().collect()),
                    now,
                    max_depth: config.gateway.max_agent_depth,
                },
            )?
        }
    };
    drop(root);
    // Recorded before the token is handed out.
    let spawned = AgentSpawned {
        name: claims.name.to_string(),
        spiffe_id: claims.spiffe_id.clone(),
        task: claims.task.clone(),
        spawned_by: claims.spawned_by.clone(),
        expires_at: claims.expires_at.to_rfc3339(),
        custody: claims.custody(),
        parent: claims.parent.map(|p| p.to_string()),
        depth: Some(claims.depth),
        tools: claims.tools.as_ref().map(|tools| tools.iter().cloned().collect()),
        run: None,
    };
    record(home, Some(&claims.agent_id), &spawned)?;
    reg.record_issued(&claims)?;
    if let Some(dir) = &workspace {
        reg.set_workspace(claims.agent_id, dir)?;
    }
    Ok(Spawned {
        id: claims.agent_id.to_string(),
        name: claims.name.to_string(),
        custody: claims.custody(),
        spiffe_id: claims.spiffe_id,
        task: claims.task,
        spawned_by: claims.spawned_by,
        expires_at: claims.expires_at.to_rfc3339(),
        depth: claims.depth,
        parent: claims.parent.map(|p| p.to_string()),
        tools: claims.tools.map(|t| t.into_iter().collect()),
        token: token.expose_secret().to_owned(),
    })
}

/// One agent in `agents list`: its record, and its state with what its
/// ancestors' revocation or stop means for it.
#[derive(Serialize)]
#[serde(into = "ListedAgent")]
pub struct AgentView {
    pub record: AgentRecord,
    /// `active`, `expired`, `revoked`, `stopped`, or `revoked`/`stopped`
    /// through an ancestor (see `because_of`).
    pub state: String,
    /// The ancestor whose revocation or stop this agent's state comes from.
    pub because_of: Option<String>,
}

impl Clone for AgentView {
    fn clone(&self) -> Self {
        Self {
            record: self.record.clone(),
            state: self.state.clone(),
            because_of: self.because_of.clone(),
        }
    }
}

/// An agent as `agents list --json` prints it: named as `agents spawn
/// --json` names a new one (`id`, `parent`, times in RFC 3339).
#[derive(Serialize)]
struct ListedAgent {
    id: String,
    name: String,
    spiffe_id: String,
    task: String,
    spawned_by: String,
    depth: u32,
    parent: Option<String>,
    tools: Option<Vec<String>>,
    issued_at: String,
    expires_at: String,
    revoked_at: Option<String>,
    state: String,
    because_of: Option<String>,
}

impl From<AgentView> for ListedAgent {
    fn from(view: AgentView) -> Self {
        let r = view.record;
        Self {
            id: r.agent_id.to_string(),
            name: r.name.to_string(),
            spiffe_id: r.spiffe_id,
            task: r.task,
            spawned_by: r.spawned_by,
            depth: r.depth,
            parent: r.parent_id.map(|p| p.to_string()),
            tools: r.tools,
            issued_at: r.issued_at.to_rfc3339(),
            expires_at: r.expires_at.to_rfc3339(),
            revoked_at: r.revoked_at.map(|t| t.to_rfc3339()),
            state: view.state,
            because_of: view.because_of,
        }
    }
}

/// `warrant agents list`: every agent, in tree order (each parent followed
/// by its children, oldest first).
pub fn list_agents(home: &Home) -> Result<Vec<AgentView>, OpError> {
    home.check()?;
    let reg = registry(home)?;
    let records = reg.list()?;
    let kills = reg.kills()?;
    let now = UnixMillis::now();
    let known: std::collections::HashSet<AgentId> = records.iter().map(|r| r.agent_id).collect();
    let mut ordered = Vec::with_capacity(records.len());
    // Roots (and orphans, whose parent is not in this registry) first.
    let mut stack: Vec<&AgentRecord> =
        records.iter().filter(|r| r.parent_id.is_none_or(|p| !known.contains(&p))).rev().collect();
    let mut seen = std::collections::HashSet::new();
    while let Some(rec) = stack.pop() {
        if !seen.insert(rec.agent_id) {
            continue;
        }
        ordered.push(rec);
        stack.extend(records.iter().filter(|r| r.parent_id == Some(rec.agent_id)).rev());
    }
    let by_id: std::collections::HashMap<AgentId, &AgentRecord> =
        records.iter().map(|r| (r.agent_id, r)).collect();
    Ok(ordered
        .into_iter()
        .map(|rec| {
            let own = rec.state(now);
            let mut chain = Vec::new();
            let mut next = rec.parent_id;
            while let Some(id) = next {
                if chain.contains(&id) {
                    break;
                }
                chain.push(id);
                next = by_id.get(&id).and_then(|r| r.parent_id);
            }
            let (state, because_of) = if own == "revoked" {
                ("revoked".to_owned(), None)
            } else if let Some(a) =
                chain.iter().find(|id| by_id.get(*id).is_some_and(|r| r.revoked_at.is_some()))
            {
                ("revoked".to_owned(), Some(a.to_string()))
            } else if kills.covers(&rec.agent_id) {
                ("stopped".to_owned(), None)
            } else if let Some(a) = chain.iter().find(|id| kills.covers(id)) {
                ("stopped".to_owned(), Some(a.to_string()))
            } else {
                (own.to_owned(), None)
            };
            AgentView { record: rec.clone(), state, because_of }
        })
        .collect())
}

/// `warrant agents revoke`: permanent; a running gateway refuses the agent
/// from its next request.
pub fn revoke_agent(home: &Home, id: &str) -> Result<(AgentRecord, Vec<AgentId>, bool), OpError> {
    home.check()?;
    let id = AgentId::parse(id)?;
    let reg = registry(home)?;
    if reg.get(id)?.is_none() {
        return Err(OpError::NoAgentWithId { id });
    }
    // Its descendants' tokens name it, so they fall with it.
    let descendants = reg.descendants(id)?;
    let revoked = AgentRevoked {
        by: operator(),
        descendants: Some(descendants.iter().map(ToString::to_string).collect()),
        reason: None,
    };
    record(home, Some(&id), &revoked)?;
    let rec = reg.revoke(id, UnixMillis::now())?;
    let fallen: Vec<String> =
        std::iter::once(id).chain(descendants.iter().copied()).map(|a| a.to_string()).collect();
    crate::vault_ops::end_leases(home, &fallen, "revoked")?;
    let live = match control::request(&home.control_socket(), &ControlRequest::ReloadRevocations) {
        Ok(_) => true,
        Err(control::ControlError::NotRunning(_)) => false,
        Err(e) => return Err(e.into()),
    };
    Ok((rec, descendants, live))
}

/// `warrant policy check`: the rule ids, and warnings.
pub fn check_policy(home: &Home) -> Result<(Vec<String>, Vec<String>), OpError> {
    let sources = home.read_policies()?;
    let engine = PolicyEngine::new(&sources)?;
    Ok((engine.rule_ids(), engine.warnings().to_vec()))
}

/// `warrant policy explain`.
pub fn explain(home: &Home, agent: &str, tool: &str, arguments: &Value) -> Result<Value, OpError> {
    home.check()?;
    let config = Config::load(&home.config())?;
    let engine = config.policy_engine(&home.read_policies()?)?;
    let records = registry(home)?.list()?;
    let matching: Vec<&AgentRecord> = records
        .iter()
        .filter(|r| r.agent_id.to_string() == agent || r.name.as_str() == agent)
        .collect();
    let rec = matching
        .iter()
        .max_by_key(|r| r.issued_at)
        .copied()
        .ok_or_else(|| OpError::NoAgent { agent: agent.to_owned(), hint: "; spawn one first" })?;
    // Agents of one name may be decided differently (another parent,
    // another tool list): the answer must be for the one meant.
    if matching.iter().any(|r| {
        (r.parent_id, r.depth, &r.tools, &r.task)
            != (rec.parent_id, rec.depth, &rec.tools, &rec.task)
    }) {
        let ids: Vec<String> = matching.iter().map(|r| r.agent_id.to_string()).collect();
        return Err(OpError::AmbiguousAgent { agent: agent.to_owned(), ids });
    }
    let claims = claims_of_record(&records, rec);
    let pins = pin_store(home)?;
    Ok(warrant_gateway::explain::explain(&config, &engine, &pins, &claims, tool, arguments)?)
}

/// The claims a registry record stands for, with its ancestors found by
/// following parents through `records` (for offline explanations).
fn claims_of_record(records: &[AgentRecord], rec: &AgentRecord) -> Claims {
    let mut ancestors = Vec::new();
    let mut next = rec.parent_id;
    while let Some(id) = next {
        let Some(parent) = records.iter().find(|r| r.agent_id == id) else { break };
        if ancestors.iter().any(|a: &warrant_identity::Ancestor| a.agent_id == id) {
            break;
        }
        ancestors.push(warrant_identity::Ancestor {
            agent_id: parent.agent_id,
            name: parent.name.clone(),
            spiffe_id: parent.spiffe_id.clone(),
            task: parent.task.clone(),
            spawned_by: parent.spawned_by.clone(),
            depth: parent.depth,
        });
        next = parent.parent_id;
    }
    ancestors.reverse();
    Claims {
        agent_id: rec.agent_id,
        name: rec.name.clone(),
        spiffe_id: rec.spiffe_id.clone(),
        task: rec.task.clone(),
        spawned_by: rec.spawned_by.clone(),
        depth: rec.depth,
        issued_at: rec.issued_at,
        expires_at: rec.expires_at,
        parent: rec.parent_id,
        ancestors,
        tools: rec.tools.as_ref().map(|t| t.iter().cloned().collect()),
    }
}

/// What `warrant kill` / `warrant resume` acted on.
#[derive(Serialize)]
pub struct KillReport {
    /// Agent ids, or `["*"]` for every agent.
    pub targets: Vec<String>,
    /// Recorded descendants of the targets, which a kill covers too.
    pub descendants: Vec<String>,
    /// Whether a running gateway applied it at once.
    pub live: bool,
}

/// Resolves `AGENT` (an id, or a name meaning every instance of it) or
/// `--all` to kill targets.
fn kill_targets(home: &Home, agent: Option<&str>) -> Result<Vec<KillTarget>, OpError> {
    let Some(agent) = agent else { return Ok(vec![KillTarget::All]) };
    let records = registry(home)?.list()?;
    let ids: Vec<KillTarget> = records
        .iter()
        .filter(|r| r.agent_id.to_string() == agent || r.name.as_str() == agent)
        .map(|r| KillTarget::Agent(r.agent_id))
        .collect();
    if ids.is_empty() {
        return Err(OpError::NoAgent { agent: agent.to_owned(), hint: "" });
    }
    Ok(ids)
}

fn descendants_of(reg: &Registry, targets: &[KillTarget]) -> Result<Vec<String>, OpError> {
    let mut all = Vec::new();
    for target in targets {
        if let KillTarget::Agent(id) = target {
            all.extend(reg.descendants(*id)?.iter().map(ToString::to_string));
        }
    }
    all.sort();
    all.dedup();
    Ok(all)
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
fn apply_kills(home: &Home) -> Result<bool, OpError> {
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
pub fn kill(home: &Home, agent: Option<&str>, by: &str) -> Result<KillReport, OpError> {
    home.check()?;
    let targets = kill_targets(home, agent)?;
    let names = target_names(&targets);
    let reg = registry(home)?;
    let descendants = descendants_of(&reg, &targets)?;
    let killed = AgentKilled {
        targets: names.clone(),
        by: by.to_owned(),
        descendants: Some(descendants.clone()),
        reason: None,
    };
    record(home, None, &killed)?;
    let now = UnixMillis::now();
    for target in &targets {
        reg.kill(target, by, now)?;
    }
    // Their leases end with them: every agent for `--all`.
    let stopped: Vec<String> = if targets.contains(&KillTarget::All) {
        reg.list()?.iter().map(|r| r.agent_id.to_string()).collect()
    } else {
        names.iter().chain(&descendants).cloned().collect()
    };
    crate::vault_ops::end_leases(home, &stopped, "killed")?;
    Ok(KillReport { targets: names, descendants, live: apply_kills(home)? })
}

/// `warrant resume AGENT|--all`: lifts kills (`--all` lifts every kill).
pub fn resume(home: &Home, agent: Option<&str>, by: &str) -> Result<KillReport, OpError> {
    home.check()?;
    let targets = kill_targets(home, agent)?;
    let names = target_names(&targets);
    record(home, None, &AgentResumed { targets: names.clone(), by: by.to_owned() })?;
    let reg = registry(home)?;
    let descendants = descendants_of(&reg, &targets)?;
    for target in &targets {
        reg.resume(target)?;
    }
    Ok(KillReport { targets: names, descendants, live: apply_kills(home)? })
}

/// `warrant tools list`: every pinned or quarantined tool.
pub fn tools_list(home: &Home) -> Result<Vec<warrant_state::pins::PinRow>, OpError> {
    home.check()?;
    pin_store(home)?.list().map_err(state_error(home))
}

/// `warrant tools accept NAME__tool`: pins the quarantined definition
/// (audited), and lifts the quarantine in a running gateway. Returns the old
/// and new definitions, for the CLI to show the difference.
pub fn tools_accept(
    home: &Home,
    tool: &str,
    by: &str,
) -> Result<(warrant_state::pins::Accepted, bool), OpError> {
    home.check()?;
    let store = pin_store(home)?;
    let pending = store.list().map_err(state_error(home))?;
    let Some(row) = pending.iter().find(|r| r.tool == tool && r.state == "quarantined") else {
        return Err(OpError::NotQuarantined { tool: tool.to_owned() });
    };
    let accepted = ToolAccepted {
        tool: tool.to_owned(),
        by: by.to_owned(),
        pinned: row.pinned.clone(),
        accepted: row.candidate.clone(),
        reason: row.reason.clone(),
    };
    record(home, None, &accepted)?;
    let accepted = store
        .accept(tool)
        .map_err(state_error(home))?
        .ok_or_else(|| OpError::NotQuarantined { tool: tool.to_owned() })?;
    let live = match control::request(&home.control_socket(), &ControlRequest::ReloadPins) {
        Ok(_) => true,
        Err(control::ControlError::NotRunning(_)) => false,
        Err(e) => return Err(e.into()),
    };
    Ok((accepted, live))
}

fn pin_store(home: &Home) -> Result<warrant_state::pins::PinStore, OpError> {
    warrant_state::pins::PinStore::open(&home.state_db()).map_err(state_error(home))
}

/// An error of the home's state store (`state.db`), for `map_err`.
pub(crate) fn state_error(home: &Home) -> impl FnOnce(rusqlite::Error) -> OpError {
    let path = home.state_db();
    move |source| OpError::State { path, source }
}

/// `warrant policy suggest --agent NAME`: Cedar that permits exactly the calls
/// observed from agents named NAME in discovery mode.
pub fn suggest(home: &Home, agent_name: &str) -> Result<String, OpError> {
    home.check()?;
    let calls = warrant_state::discovery::Observations::open(&home.state_db())
        .and_then(|o| o.calls(agent_name))
        .map_err(state_error(home))?;
    if calls.is_empty() {
        return Err(OpError::NothingObserved { agent: agent_name.to_owned() });
    }
    Ok(warrant_state::discovery::suggest(agent_name, &calls))
}
