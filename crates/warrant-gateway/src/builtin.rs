//! Tools Warrant serves itself, as the upstream `warrant`: `warrant__...`.
//!
//! They are admitted, listed, validated, decided, approved and audited like
//! any upstream's tools; only the last step differs: instead of forwarding,
//! the gateway does the work.
//!
//! - `warrant__spawn_agent` lets an agent delegate: it returns a credential
//!   for a child agent whose rights are a subset of the caller's (see
//!   `warrant_identity::delegate`).
//! - `warrant__read_file`, `warrant__write_file`, `warrant__list_dir` work
//!   beneath the agent's workspace (set by `warrant run`, or `agents spawn
//!   --workspace`; a child uses its root's), never in Warrant's home or a
//!   secret store (see `files.rs`).
//! - `warrant__exec` runs a command in a sandbox launched by the sandbox
//!   helper: at most [`MAX_EXECS_PER_TREE`] at once per tree of agents, and
//!   each killed (by the helper) as soon as its call is dropped: the agent
//!   was killed, the client went away, or the gateway is stopping.

use crate::catalog::{
    DEFAULT_EXEC_SECONDS, EXEC, HTTP_REQUEST, LIST_DIR, MAX_EXEC_SECONDS, READ_FILE, SPAWN_AGENT,
    WRITE_FILE,
};
use crate::gateway::Gateway;
use rmcp::model::{CallToolResult, ContentBlock};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use warrant_audit::events::AgentSpawned;
use warrant_core::{AgentId, AgentName, ToolName, UnixMillis};
use warrant_identity::{Claims, DelegateRequest, TrustDomain};
use warrant_policy::Permit;
use warrant_state::config::BUILTIN_UPSTREAM;

/// A child's lifetime when the caller names none (cut to the caller's).
const DEFAULT_CHILD_TTL: Duration = Duration::from_secs(60 * 60);
/// The most `exec` captures of each of stdout and stderr.
const MAX_EXEC_OUTPUT: usize = 256 * 1024;
/// The most `warrant__exec` commands one tree of agents (a root agent and
/// every agent it spawned, below it) runs at once. The sandbox helper runs
/// at most 32 for everyone (`ServeOptions::default`); a quarter each means
/// one tree, however many calls or children it makes, leaves three
/// quarters of the helper to the others (it takes four trees at their cap
/// to fill it). Beyond it a call is refused at once, never queued.
pub const MAX_EXECS_PER_TREE: usize = 8;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpawnArgs {
    name: String,
    #[serde(default)]
    task: String,
    tools: Option<Vec<String>>,
    ttl: Option<String>,
}

/// Runs the built-in tool `permit` is for, for `caller`, whose bearer token
/// is `token`. The permit is spent; one for another agent or another
/// upstream's tool runs nothing. `Err` is the text of a tool error for the
/// agent.
pub async fn call(
    gw: &Arc<Gateway>,
    caller: &Claims,
    token: Option<&str>,
    permit: Permit,
    arguments: Value,
) -> Result<CallToolResult, String> {
    let tool = match ToolName::parse(permit.tool()) {
        Ok(name)
            if name.upstream().as_str() == BUILTIN_UPSTREAM
                && permit.agent() == caller.agent_id.to_string() =>
        {
            name.tool().to_owned()
        }
        _ => return Err("warrant: internal error: permit does not match the call".to_owned()),
    };
    drop(permit);
    let tool = tool.as_str();
    match tool {
        SPAWN_AGENT => spawn(gw, caller, token, arguments).await,
        HTTP_REQUEST => crate::http_tool::call(gw, caller, arguments).await,
        EXEC => {
            let workspace = workspace_of(gw, caller).await?;
            let slot = gw.exec_slots.take(root_of(caller)).ok_or_else(|| {
                format!(
                    "warrant: the command was not run: this agent's tree (its root agent and every agent below it) already runs {MAX_EXECS_PER_TREE} commands with warrant__exec, the most it may at once; try again when one has ended"
                )
            })?;
            let sandbox = gw.config.sandbox.clone();
            let launcher = gw.launcher.clone();
            let cancel = warrant_sandbox::CancelLaunch::new();
            // This future is dropped when the agent is killed, its client
            // goes away or the gateway stops: the sandbox is killed then,
            // not at its wall clock (the blocking thread cannot be dropped).
            let _cancel_on_drop = CancelOnDrop(cancel.clone());
            tokio::task::spawn_blocking(move || {
                let ran = exec(&workspace, &sandbox, launcher, arguments, &cancel);
                // Held until the sandbox is gone, not just the call.
                drop(slot);
                ran
            })
            .await
            .map_err(|e| format!("warrant: {e}"))?
        }
        READ_FILE | WRITE_FILE | LIST_DIR => {
            let workspace = workspace_of(gw, caller).await?;
            let tool = tool.to_owned();
            let fence = crate::files::Fence::new(&gw.config.sandbox);
            tokio::task::spawn_blocking(move || {
                crate::files::call(&workspace, &fence, &tool, arguments)
            })
            .await
            .map_err(|e| format!("warrant: {e}"))?
        }
        other => Err(format!("warrant: no built-in tool `{other}`")),
    }
}

async fn spawn(
    gw: &Arc<Gateway>,
    caller: &Claims,
    token: Option<&str>,
    arguments: Value,
) -> Result<CallToolResult, String> {
    let args: SpawnArgs = serde_json::from_value(arguments)
        .map_err(|e| format!("warrant: spawn_agent arguments: {e}"))?;
    let token = token.ok_or("warrant: spawn_agent needs the caller's bearer credential")?;
    let name = AgentName::parse(&args.name).map_err(|e| format!("warrant: {e}"))?;
    let ttl = match &args.ttl {
        Some(text) => humantime::parse_duration(text)
            .map_err(|e| format!("warrant: ttl `{text}` is not a duration: {e}"))?,
        None => DEFAULT_CHILD_TTL,
    };
    let domain =
        TrustDomain::parse(&gw.config.gateway.trust_domain).map_err(|e| format!("warrant: {e}"))?;
    let now = UnixMillis::now();
    // Longer than the parent has left is cut to the parent's expiry; a
    // lifetime can only be as short as one second.
    let remaining = Duration::from_millis(
        u64::try_from(caller.expires_at.0.saturating_sub(now.0)).unwrap_or(0),
    );
    let ttl = ttl.min(remaining).max(warrant_identity::MIN_TTL);
    let (child, child_token) = warrant_identity::delegate(
        gw.signer(),
        token,
        caller,
        DelegateRequest {
            trust_domain: &domain,
            name,
            task: args.task,
            ttl,
            tools: args.tools.map(|t| t.into_iter().collect::<BTreeSet<_>>()),
            now,
            max_depth: gw.config.gateway.max_agent_depth,
        },
    )
    .map_err(|e| format!("warrant: cannot spawn the child: {e}"))?;

    // Recorded, in the log and the registry, before the token is handed out.
    let spawned = AgentSpawned {
        name: child.name.to_string(),
        spiffe_id: child.spiffe_id.clone(),
        task: child.task.clone(),
        spawned_by: child.spawned_by.clone(),
        expires_at: child.expires_at.to_rfc3339(),
        custody: child.custody(),
        parent: Some(caller.agent_id.to_string()),
        depth: Some(child.depth),
        tools: child.tools.as_ref().map(|tools| tools.iter().cloned().collect()),
        run: None,
    };
    gw.record(Some(&child.agent_id), &spawned)
        .await
        .map_err(|e| format!("warrant: refused because the audit log is unavailable ({e})"))?;
    let registry = gw.registry.clone();
    let record = child.clone();
    let registered = tokio::task::spawn_blocking(move || registry.record_issued(&record)).await;
    match registered {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("warrant: cannot record the child: {e}")),
        Err(e) => return Err(format!("warrant: cannot record the child: {e}")),
    }

    let body = json!({
        "id": child.agent_id.to_string(),
        "name": child.name.as_str(),
        "spiffe_id": child.spiffe_id,
        "depth": child.depth,
        "tools": child.tools,
        "expires_at": child.expires_at.to_rfc3339(),
        "token": child_token.expose_secret(),
    });
    Ok(CallToolResult::success(vec![ContentBlock::text(body.to_string())]))
}

/// The root agent of `caller`'s tree (itself, if it has no parent).
fn root_of(caller: &Claims) -> AgentId {
    caller.ancestors.first().map_or(caller.agent_id, |a| a.agent_id)
}

/// The workspace of `caller`'s chain: its root agent's.
async fn workspace_of(gw: &Arc<Gateway>, caller: &Claims) -> Result<std::path::PathBuf, String> {
    let root = root_of(caller);
    let registry = gw.registry.clone();
    let found = tokio::task::spawn_blocking(move || registry.workspace(root))
        .await
        .map_err(|e| format!("warrant: {e}"))?
        .map_err(|e| format!("warrant: cannot read the agent registry: {e}"))?;
    let workspace = found.ok_or_else(|| {
        "warrant: this agent has no workspace; start it with `warrant run`, or spawn it with `warrant agents spawn --workspace DIR`".to_owned()
    })?;
    still_where_it_was(&workspace)?;
    Ok(workspace)
}

/// Refuses a workspace that is no longer where it was when the agent got
/// it: the registry holds the path it resolved to then, and another agent
/// whose workspace holds this one could have put a link in its place (to
/// `/etc`, to `~/.local/bin`) since.
pub(crate) fn still_where_it_was(workspace: &std::path::Path) -> Result<(), String> {
    match workspace.canonicalize() {
        Ok(real) if real == workspace => Ok(()),
        Ok(real) => Err(format!(
            "warrant: this agent's workspace `{}` now leads to `{}`; it was moved or replaced by a link since the agent got it, and is refused",
            workspace.display(),
            real.display()
        )),
        Err(e) => {
            Err(format!("warrant: this agent's workspace `{}` is gone ({e})", workspace.display()))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecArgs {
    command: String,
    timeout_s: Option<u64>,
}

/// The `warrant__exec` commands running, per tree of agents (by root).
#[derive(Clone, Default)]
pub struct ExecSlots(Arc<Mutex<HashMap<AgentId, usize>>>);

impl ExecSlots {
    /// One of the [`MAX_EXECS_PER_TREE`] of `root`'s tree, if one is free.
    fn take(&self, root: AgentId) -> Option<ExecSlot> {
        let mut running = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = running.entry(root).or_insert(0);
        if *count >= MAX_EXECS_PER_TREE {
            return None;
        }
        *count += 1;
        Some(ExecSlot { slots: self.clone(), root })
    }
}

/// A running `warrant__exec` of a tree; released on drop.
struct ExecSlot {
    slots: ExecSlots,
    root: AgentId,
}

impl Drop for ExecSlot {
    fn drop(&mut self) {
        let mut running = self.slots.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = running.get_mut(&self.root) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.root);
            }
        }
    }
}

/// Fires a launch's cancel when the call holding it is dropped (or ends:
/// a cancel after the launch is answered does nothing).
struct CancelOnDrop(warrant_sandbox::CancelLaunch);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Whether the pool's failure has been logged (once is enough).
static POOL_FAILURE_LOGGED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// `warrant__exec`: `sh -c COMMAND` in a `strict` sandbox on the workspace,
/// launched by the sandbox helper (never by this process, which holds the
/// keys and the vault). Runs on a blocking thread (it waits for the helper)
/// until the command ends or `cancel` fires.
fn exec(
    workspace: &std::path::Path,
    sandbox: &warrant_state::config::SandboxSettings,
    launcher: Result<Arc<warrant_sandbox::Launcher>, Arc<warrant_sandbox::LauncherError>>,
    arguments: Value,
    cancel: &warrant_sandbox::CancelLaunch,
) -> Result<CallToolResult, String> {
    let launcher = launcher.map_err(|why| {
        let why = warrant_core::text::with_causes(&*why);
        format!("warrant: the command was not run: the sandbox helper is unavailable ({why})")
    })?;
    let args: ExecArgs =
        serde_json::from_value(arguments).map_err(|e| format!("warrant: exec arguments: {e}"))?;
    let seconds = args.timeout_s.unwrap_or(DEFAULT_EXEC_SECONDS).clamp(1, MAX_EXEC_SECONDS);
    let mut profile = warrant_sandbox::Profile::builtin("strict")
        .map_err(|e| format!("warrant: the strict profile: {e}"))?;
    profile.limits.wall_clock_seconds = Some(seconds);
    let spec = sandbox.spec(profile, workspace);
    let command = [OsString::from("/bin/sh"), OsString::from("-c"), OsString::from(args.command)];
    // The helper makes the next launches' user and network namespaces ahead,
    // off the call's path, from its first launch on.
    if let Some(reason) = launcher.namespace_pool_failure()
        && !POOL_FAILURE_LOGGED.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        tracing::warn!(
            %reason,
            "namespaces are no longer made ahead; each exec makes its own (slower, as confined)"
        );
    }
    // Refused, loudly, when a control cannot be applied: never unconfined.
    // A helper that died mid-launch may have run it: that is said as it is.
    let output = launcher.run(&spec, &command, MAX_EXEC_OUTPUT, cancel).map_err(|e| match e {
        warrant_sandbox::LauncherError::HelperDied { .. }
        | warrant_sandbox::LauncherError::Cancelled { .. }
        | warrant_sandbox::LauncherError::Closed => format!("warrant: {e}"),
        other => format!("warrant: the command was not run: {other}"),
    })?;
    let body = json!({
        "exit_code": output.status.code(),
        "signal": output.status.signal(),
        "timed_out": output.status.timed_out(),
        "stdout": String::from_utf8_lossy(&output.stdout),
        "stdout_truncated": output.stdout_truncated,
        "stderr": String::from_utf8_lossy(&output.stderr),
        "stderr_truncated": output.stderr_truncated,
    });
    let mut result = CallToolResult::success(vec![ContentBlock::text(body.to_string())]);
    if !output.status.success() {
        result.is_error = Some(true);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    #[test]
    fn a_tree_runs_at_most_its_share_of_execs_and_others_keep_theirs() {
        let slots = ExecSlots::default();
        let (hog, other) = (AgentId::random(), AgentId::random());
        let mut held: Vec<_> = (0..MAX_EXECS_PER_TREE).map(|_| slots.take(hog).unwrap()).collect();
        assert!(slots.take(hog).is_none(), "a tree ran more than its share");
        assert!(slots.take(other).is_some(), "another tree was refused");
        // An exec that ends gives its slot back.
        held.pop();
        assert!(slots.take(hog).is_some());
    }
}
