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
use warrant_audit::{AuditEvent, AuditLog, EventKind};
use warrant_core::{AgentId, AgentName, UnixMillis};
use warrant_identity::{
    AgentRecord, Claims, DelegateRequest, IssueRequest, KillTarget, MIN_TTL, Registry, RootKey,
    TrustDomain, Verifier,
};
use warrant_policy::{CallRequest, PolicyEngine};

pub use crate::shown::{approval_text, terminal_safe};

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
pub(crate) fn record(
    home: &Home,
    kind: EventKind,
    agent: Option<&AgentId>,
    detail: Value,
) -> Result<(), GatewayError> {
    let options = Config::load(&home.config())?.audit_options();
    let audit = AuditLog::open(&home.audit_db(), home.load_audit_key()?, options)
        .map_err(|e| GatewayError::Audit(e.to_string()))?;
    let mut event = AuditEvent::new(kind).with_detail(detail);
    if let Some(a) = agent {
        event = event.agent(a.to_string());
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
pub fn spawn_agent(
    home: &Home,
    name: &str,
    options: SpawnOptions<'_>,
) -> Result<Spawned, GatewayError> {
    home.init()?;
    home.check()?;
    let config = Config::load(&home.config())?;
    let name = AgentName::parse(name).map_err(identity)?;
    let domain = TrustDomain::parse(&config.gateway.trust_domain).map_err(identity)?;
    let root = RootKey::load(&home.root_key()).map_err(identity)?;
    let now = UnixMillis::now();
    let reg = registry(home)?;
    let workspace = match &options.workspace {
        None => None,
        Some(_) if options.parent_token.is_some() => {
            return Err(GatewayError::Identity(
                "--workspace is for an operator's agent; a child works in its root's workspace"
                    .into(),
            ));
        }
        Some(dir) => {
            Some(std::fs::canonicalize(dir).ok().filter(|d| d.is_dir()).ok_or_else(|| {
                GatewayError::Identity(format!("workspace `{}` is not a directory", dir.display()))
            })?)
        }
    };
    let (claims, token) = match options.parent_token {
        None => {
            if options.tools.is_some() {
                return Err(GatewayError::Identity(
                    "--tools narrows a child agent; it needs --parent-token (an operator's agent is limited by policy)".into(),
                ));
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
            )
            .map_err(identity)?
        }
        Some(parent_token) => {
            let parent_token = parent_token.trim();
            let parent = Verifier::new(root.public_key())
                .verify(parent_token, now)
                .map_err(|e| GatewayError::Identity(format!("parent credential: {e}")))?;
            let revoked = reg.revoked_ids().map_err(identity)?;
            let kills = reg.kills().map_err(identity)?;
            if let Some(id) = parent.chain_ids().find(|id| revoked.contains(id)) {
                return Err(GatewayError::Identity(format!(
                    "parent credential: agent `{id}` in its chain has been revoked"
                )));
            }
            if let Some(id) = parent.chain_ids().find(|id| kills.covers(id)) {
                return Err(GatewayError::Identity(format!(
                    "parent credential: agent `{id}` in its chain is stopped (`warrant resume` it first)"
                )));
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
            )
            .map_err(identity)?
        }
    };
    drop(root);
    // Recorded before the token is handed out.
    record(
        home,
        EventKind::AgentSpawned,
        Some(&claims.agent_id),
        json!({
            "name": claims.name.as_str(), "spiffe_id": claims.spiffe_id, "task": claims.task,
            "spawned_by": claims.spawned_by, "expires_at": claims.expires_at.to_rfc3339(),
            "parent": claims.parent.map(|p| p.to_string()), "depth": claims.depth,
            "tools": claims.tools, "custody": claims.custody(),
        }),
    )?;
    reg.record_issued(&claims).map_err(identity)?;
    if let Some(dir) = &workspace {
        reg.set_workspace(claims.agent_id, dir).map_err(identity)?;
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
pub struct AgentView {
    #[serde(flatten)]
    pub record: AgentRecord,
    /// `active`, `expired`, `revoked`, `stopped`, or `revoked`/`stopped`
    /// through an ancestor (see `because_of`).
    pub state: String,
    /// The ancestor whose revocation or stop this agent's state comes from.
    pub because_of: Option<String>,
}

/// `warrant agents list`: every agent, in tree order (each parent followed
/// by its children, oldest first).
pub fn list_agents(home: &Home) -> Result<Vec<AgentView>, GatewayError> {
    home.check()?;
    let reg = registry(home)?;
    let records = reg.list().map_err(identity)?;
    let kills = reg.kills().map_err(identity)?;
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
pub fn revoke_agent(
    home: &Home,
    id: &str,
) -> Result<(AgentRecord, Vec<AgentId>, bool), GatewayError> {
    home.check()?;
    let id = AgentId::parse(id).map_err(identity)?;
    let reg = registry(home)?;
    if reg.get(id).map_err(identity)?.is_none() {
        return Err(GatewayError::Identity(format!("no agent with id `{id}`")));
    }
    // Its descendants' tokens name it, so they fall with it.
    let descendants = reg.descendants(id).map_err(identity)?;
    let detail = json!({
        "by": operator(),
        "descendants": descendants.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    record(home, EventKind::AgentRevoked, Some(&id), detail)?;
    let rec = reg.revoke(id, UnixMillis::now()).map_err(identity)?;
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
    let engine = config
        .policy_engine(&home.read_policies()?)
        .map_err(|e| GatewayError::Policy(e.to_string()))?;
    let records = registry(home)?.list().map_err(identity)?;
    let matching: Vec<&AgentRecord> = records
        .iter()
        .filter(|r| r.agent_id.to_string() == agent || r.name.as_str() == agent)
        .collect();
    let rec = matching.iter().max_by_key(|r| r.issued_at).copied().ok_or_else(|| {
        GatewayError::Identity(format!("no agent `{agent}` (name or id); spawn one first"))
    })?;
    // Agents of one name may be decided differently (another parent,
    // another tool list): the answer must be for the one meant.
    if matching.iter().any(|r| {
        (r.parent_id, r.depth, &r.tools, &r.task)
            != (rec.parent_id, rec.depth, &rec.tools, &rec.task)
    }) {
        let ids: Vec<String> = matching.iter().map(|r| r.agent_id.to_string()).collect();
        return Err(GatewayError::Identity(format!(
            "`{agent}` names {} agents that policy may decide differently (other parents, tools or tasks): give one id of {}",
            matching.len(),
            ids.join(", ")
        )));
    }
    let claims = claims_of_record(&records, rec);
    let name =
        warrant_core::ToolName::parse(tool).map_err(|e| GatewayError::Policy(e.to_string()))?;
    let pins = crate::pins::PinStore::open(&home.state_db()).map_err(|e| GatewayError::State {
        path: home.state_db().display().to_string(),
        message: e.to_string(),
    })?;
    let entry = explained_entry(&config, &pins, &name)?;
    let facts = crate::handler::agent_facts(&claims);
    let ancestors = crate::handler::ancestor_facts(&claims);
    let tool_facts = json!({
        "read_only": entry.facts.read_only, "destructive": entry.facts.destructive,
        "idempotent": entry.facts.idempotent, "open_world": entry.facts.open_world, "trusted": entry.facts.trusted,
    });
    let custody = json!({"id": claims.agent_id.to_string(), "name": claims.name.as_str(), "custody": claims.custody()});
    let not_seen = "vault secrets and well-known credentials in the arguments (the gateway blocks those before policy; explain does not unlock the vault)";

    // The checks before policy, in the gateway's order (handler.rs): a
    // refusal there is the decision, by its check's name.
    let quarantined = pins
        .list()
        .map_err(|e| GatewayError::State {
            path: home.state_db().display().to_string(),
            message: e.to_string(),
        })?
        .into_iter()
        .find(|row| row.tool == tool && row.state == "quarantined");
    let refused = if let Some(row) = quarantined {
        Some((
            "quarantined",
            format!(
                "`{tool}` is quarantined ({}); a person must review it with `warrant tools accept {tool}`",
                row.reason.unwrap_or_default()
            ),
        ))
    } else if claims.tools.as_ref().is_some_and(|t| !t.contains(tool)) {
        Some(("not-delegated", format!("`{tool}` was not delegated to this agent")))
    } else {
        tools::check_arguments(&entry, arguments, &config.gateway)
            .err()
            .map(|reason| ("invalid-arguments", reason))
    };
    let command = match (&refused, crate::builtin::command_facts(&entry, arguments)) {
        (None, Err(reason)) => {
            return Ok(refused_report(
                custody,
                tool,
                tool_facts,
                "invalid-arguments",
                reason,
                not_seen,
            ));
        }
        (_, command) => command.ok().flatten(),
    };
    if let Some((check, reason)) = refused {
        return Ok(refused_report(custody, tool, tool_facts, check, reason, not_seen));
    }
    let decision = engine.decide_in_custody(
        &CallRequest {
            agent: &facts,
            tool: &entry.facts,
            arguments,
            tainted: false,
            now: UnixMillis::now(),
            command: command.as_ref(),
        },
        &ancestors,
    );
    Ok(json!({
        "agent": custody,
        "tool": tool,
        "tool_facts": tool_facts,
        "command": command.as_ref().map(|c| json!({
            "programs": c.programs, "paths": c.paths, "writes": c.writes,
            "dynamic": c.dynamic, "inline_code": c.inline_code,
        })),
        "visible_in_tools_list": engine.could_allow_in_custody(&facts, &ancestors, &entry.facts),
        "decision": decision.outcome().to_string(),
        "rules": decision.rules().iter().map(|r| json!({"id": r.id, "reason": r.reason, "ask": r.ask})).collect::<Vec<_>>(),
        "reason": decision.reason(),
        "not_checked": not_seen,
        "diagnostics": decision.diagnostics().iter().map(|d| format!("{}: {}", d.rule, d.message)).collect::<Vec<_>>(),
    }))
}

/// The report of a call refused before policy, by `check`.
fn refused_report(
    agent: Value,
    tool: &str,
    tool_facts: Value,
    check: &str,
    reason: String,
    not_seen: &str,
) -> Value {
    json!({
        "agent": agent,
        "tool": tool,
        "tool_facts": tool_facts,
        "visible_in_tools_list": check != "quarantined" && check != "not-delegated",
        "decision": "deny",
        "rules": [{"id": check, "reason": reason, "ask": null}],
        "reason": reason,
        "not_checked": not_seen,
        "diagnostics": [],
    })
}

/// The tool entry a running gateway would have for `name`: Warrant's own
/// tools as the gateway defines them, any other as its pinned definition,
/// admitted the same way.
fn explained_entry(
    config: &Config,
    pins: &crate::pins::PinStore,
    name: &warrant_core::ToolName,
) -> Result<std::sync::Arc<tools::ToolEntry>, GatewayError> {
    let tool = name.as_str();
    if name.upstream().as_str() == crate::config::BUILTIN_UPSTREAM {
        return crate::builtin::entries()
            .into_iter()
            .find(|e| e.name.as_str() == tool)
            .ok_or_else(|| GatewayError::Policy(format!("Warrant has no built-in tool `{tool}`")));
    }
    let definition = pins
        .definition(tool)
        .map_err(|e| GatewayError::Policy(e.to_string()))?
        .ok_or_else(|| GatewayError::Policy(format!(
            "tool `{tool}` has not been seen; run `warrant up` with its upstream once so Warrant learns its definition"
        )))?;
    let trusted = config.upstreams.get(name.upstream()).is_some_and(|u| u.trusted);
    let mut raw: rmcp::model::Tool = serde_json::from_str(&definition).map_err(|e| {
        GatewayError::Policy(format!("stored definition of `{tool}` is unreadable: {e}"))
    })?;
    raw.name = name.tool().to_owned().into();
    let (entries, _) = tools::admit(name.upstream(), trusted, vec![raw]);
    entries
        .into_iter()
        .next()
        .ok_or_else(|| GatewayError::Policy(format!("tool `{tool}` is not admissible")))
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

fn descendants_of(reg: &Registry, targets: &[KillTarget]) -> Result<Vec<String>, GatewayError> {
    let mut all = Vec::new();
    for target in targets {
        if let KillTarget::Agent(id) = target {
            all.extend(reg.descendants(*id).map_err(identity)?.iter().map(ToString::to_string));
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
    let reg = registry(home)?;
    let descendants = descendants_of(&reg, &targets)?;
    let detail = json!({"targets": names, "descendants": descendants, "by": by});
    record(home, EventKind::AgentKilled, None, detail)?;
    let now = UnixMillis::now();
    for target in &targets {
        reg.kill(target, by, now).map_err(identity)?;
    }
    // Their leases end with them: every agent for `--all`.
    let stopped: Vec<String> = if targets.contains(&KillTarget::All) {
        reg.list().map_err(identity)?.iter().map(|r| r.agent_id.to_string()).collect()
    } else {
        names.iter().chain(&descendants).cloned().collect()
    };
    crate::vault_ops::end_leases(home, &stopped, "killed")?;
    Ok(KillReport { targets: names, descendants, live: apply_kills(home)? })
}

/// `warrant resume AGENT|--all`: lifts kills (`--all` lifts every kill).
pub fn resume(home: &Home, agent: Option<&str>, by: &str) -> Result<KillReport, GatewayError> {
    home.check()?;
    let targets = kill_targets(home, agent)?;
    let names = target_names(&targets);
    record(home, EventKind::AgentResumed, None, json!({"targets": names, "by": by}))?;
    let reg = registry(home)?;
    let descendants = descendants_of(&reg, &targets)?;
    for target in &targets {
        reg.resume(target).map_err(identity)?;
    }
    Ok(KillReport { targets: names, descendants, live: apply_kills(home)? })
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
