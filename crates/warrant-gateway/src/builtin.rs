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

use crate::config::BUILTIN_UPSTREAM;
use crate::gateway::Gateway;
use crate::tools::{self, ToolEntry};
use rmcp::model::{CallToolResult, ContentBlock, Tool, ToolAnnotations};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;
use warrant_audit::EventKind;
use warrant_core::{AgentName, UnixMillis, UpstreamName};
use warrant_identity::{Claims, DelegateRequest, TrustDomain};

/// The upstream's own name for the spawn tool.
pub const SPAWN_AGENT: &str = "spawn_agent";
/// A child's lifetime when the caller names none (cut to the caller's).
const DEFAULT_CHILD_TTL: Duration = Duration::from_secs(60 * 60);

pub const EXEC: &str = "exec";
pub const HTTP_REQUEST: &str = "http_request";
pub const READ_FILE: &str = "read_file";
pub const WRITE_FILE: &str = "write_file";
pub const LIST_DIR: &str = "list_dir";
/// The most `exec` captures of each of stdout and stderr.
const MAX_EXEC_OUTPUT: usize = 256 * 1024;
/// `exec`'s time limit when the call names none, and the longest it may name.
const DEFAULT_EXEC_SECONDS: u64 = 60;
const MAX_EXEC_SECONDS: u64 = 600;

/// The built-in tools as admitted entries. Spawning a child can only narrow
/// rights, so it is trusted (the default policy lets it through); reading
/// is read-only; writing is neither, so the default policy asks a person.
pub fn entries() -> Vec<Arc<ToolEntry>> {
    let Ok(upstream) = UpstreamName::parse(BUILTIN_UPSTREAM) else { return Vec::new() };
    let (mut entries, _) = tools::admit(&upstream, true, vec![spawn_definition()]);
    let (files, _) = tools::admit(&upstream, false, file_definitions());
    entries.extend(files);
    let (exec, _) = tools::admit(&upstream, false, vec![exec_definition()]);
    entries.extend(exec);
    let mut http = tool(
        HTTP_REQUEST,
        "Make an HTTP request (http:// or https://) through Warrant's egress rules: policy decides each host, private and cloud-metadata addresses are refused. Returns the status, headers and body (at most 1 MiB).",
        crate::http_tool::schema(),
        false,
        false,
    );
    if let Some(annotations) = http.annotations.as_mut() {
        annotations.open_world_hint = Some(true);
    }
    let (http, _) = tools::admit(&upstream, false, vec![http]);
    entries.extend(http);
    entries
}

fn exec_definition() -> Tool {
    tool(
        EXEC,
        "Run a shell command (sh -c) in a sandbox: your workspace read-write, the system read-only, no network, no access to anything else. Returns the exit code and the output (each stream capped at 256 KiB).",
        json!({"type": "object", "properties": {
            "command": {"type": "string", "minLength": 1, "maxLength": 65536,
                "description": "A shell command line, run with sh -c in your workspace."},
            "timeout_s": {"type": "integer", "minimum": 1, "maximum": MAX_EXEC_SECONDS,
                "description": "Wall-clock limit in seconds (default 60)."}
        }, "required": ["command"], "additionalProperties": false}),
        false,
        true,
    )
}

/// For `warrant__exec`: what the command would run, for policy
/// (`context.command`). `Ok(None)` for every other tool; `Err` when the
/// command cannot be parsed, and so cannot be judged.
pub fn command_facts(
    entry: &ToolEntry,
    arguments: &Value,
) -> Result<Option<warrant_policy::CommandFacts>, String> {
    if entry.name.upstream().as_str() != BUILTIN_UPSTREAM || entry.name.tool() != EXEC {
        return Ok(None);
    }
    let command = arguments.get("command").and_then(Value::as_str).unwrap_or_default();
    let analysis = warrant_command::analyze(command)
        .map_err(|e| format!("the command cannot be judged: {e}"))?;
    let mut programs: Vec<String> = analysis.programs.iter().map(|p| p.program.clone()).collect();
    programs.sort();
    programs.dedup();
    let mut paths: Vec<String> = analysis.programs.iter().map(|p| p.path.clone()).collect();
    paths.sort();
    paths.dedup();
    Ok(Some(warrant_policy::CommandFacts {
        programs,
        paths,
        writes: analysis.written().into_iter().map(str::to_owned).collect(),
        dynamic: analysis.dynamic,
        inline_code: !analysis.inline_code.is_empty(),
    }))
}

fn tool(name: &str, description: &str, schema: Value, read_only: bool, destructive: bool) -> Tool {
    let Value::Object(schema) = schema else { return Tool::default() };
    let mut annotations = ToolAnnotations::default();
    annotations.read_only_hint = Some(read_only);
    annotations.destructive_hint = Some(destructive);
    annotations.idempotent_hint = Some(read_only);
    annotations.open_world_hint = Some(false);
    let mut tool = Tool::new(name.to_owned(), description.to_owned(), Arc::new(schema));
    tool.annotations = Some(annotations);
    tool
}

fn file_definitions() -> Vec<Tool> {
    let path = json!({"type": "string", "minLength": 1, "maxLength": 4096,
        "description": "A path relative to your workspace (or absolute, inside it)."});
    vec![
        tool(
            READ_FILE,
            "Read a UTF-8 text file beneath your workspace (at most 1 MiB).",
            json!({"type": "object", "properties": {"path": path}, "required": ["path"], "additionalProperties": false}),
            true,
            false,
        ),
        tool(
            WRITE_FILE,
            "Write (or with append, add to) a text file beneath your workspace.",
            json!({"type": "object", "properties": {
                "path": path,
                "content": {"type": "string"},
                "append": {"type": "boolean", "description": "Add to the end instead of replacing."},
                "create_dirs": {"type": "boolean", "description": "Create missing parent directories."}
            }, "required": ["path", "content"], "additionalProperties": false}),
            false,
            true,
        ),
        tool(
            LIST_DIR,
            "List a directory beneath your workspace (default: the workspace itself).",
            json!({"type": "object", "properties": {"path": path}, "additionalProperties": false}),
            true,
            false,
        ),
    ]
}

fn spawn_definition() -> Tool {
    let schema = json!({
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "description": "The child's name: letters, digits, `-`, `_`, `.`; 1 to 64 characters.",
                "minLength": 1, "maxLength": 64
            },
            "task": {
                "type": "string",
                "description": "What the child is for, as it will appear in the audit log. No secrets.",
                "maxLength": 1024
            },
            "tools": {
                "type": "array",
                "description": "The tools (NAME__tool) the child may call at most; a subset of yours. Omit to pass on your own limit.",
                "items": {"type": "string"},
                "maxItems": 64,
                "uniqueItems": true
            },
            "ttl": {
                "type": "string",
                "description": "How long the child's credential lives, e.g. `15m`; never past your own. Default 1h, cut to yours."
            }
        },
        "required": ["name"],
        "additionalProperties": false
    });
    let Value::Object(schema) = schema else { return Tool::default() };
    let mut annotations = ToolAnnotations::default();
    annotations.title = Some("Spawn a child agent".into());
    annotations.read_only_hint = Some(false);
    annotations.destructive_hint = Some(false);
    annotations.idempotent_hint = Some(false);
    annotations.open_world_hint = Some(false);
    let mut tool = Tool::new(
        SPAWN_AGENT,
        "Spawn a child agent with a subset of your rights and get its credential (a bearer token for this gateway). The child can never do more than you: its tools are within yours, its credential ends no later than yours, and stopping or revoking you stops it.",
        Arc::new(schema),
    );
    tool.annotations = Some(annotations);
    tool
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpawnArgs {
    name: String,
    #[serde(default)]
    task: String,
    tools: Option<Vec<String>>,
    ttl: Option<String>,
}

/// Runs built-in tool `tool` for `caller`, whose bearer token is `token`.
/// The call was decided and permitted before it got here. `Err` is the
/// text of a tool error for the agent.
pub async fn call(
    gw: &Arc<Gateway>,
    caller: &Claims,
    token: Option<&str>,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResult, String> {
    match tool {
        SPAWN_AGENT => spawn(gw, caller, token, arguments).await,
        HTTP_REQUEST => crate::http_tool::call(gw, caller, arguments).await,
        EXEC => {
            let workspace = workspace_of(gw, caller).await?;
            let sandbox = gw.config.sandbox.clone();
            tokio::task::spawn_blocking(move || exec(&workspace, &sandbox, arguments))
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
    let detail = json!({
        "name": child.name.as_str(), "spiffe_id": child.spiffe_id, "task": child.task,
        "spawned_by": child.spawned_by, "parent": caller.agent_id.to_string(),
        "depth": child.depth, "tools": child.tools,
        "expires_at": child.expires_at.to_rfc3339(),
    });
    gw.record_as(EventKind::AgentSpawned, &child, detail)
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

/// The workspace of `caller`'s chain: its root agent's.
async fn workspace_of(gw: &Arc<Gateway>, caller: &Claims) -> Result<std::path::PathBuf, String> {
    let root = caller.ancestors.first().map_or(caller.agent_id, |a| a.agent_id);
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

/// Namespace pairs kept ready for `warrant__exec` once it has been called.
const EXEC_NAMESPACES_AHEAD: usize = 2;

/// Whether the pool's failure has been logged (once is enough).
static POOL_FAILURE_LOGGED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// `warrant__exec`: `sh -c COMMAND` in a `strict` sandbox on the workspace.
/// Runs on a blocking thread (the launch forks).
fn exec(
    workspace: &std::path::Path,
    sandbox: &crate::config::SandboxSettings,
    arguments: Value,
) -> Result<CallToolResult, String> {
    let args: ExecArgs =
        serde_json::from_value(arguments).map_err(|e| format!("warrant: exec arguments: {e}"))?;
    let seconds = args.timeout_s.unwrap_or(DEFAULT_EXEC_SECONDS).clamp(1, MAX_EXEC_SECONDS);
    let mut profile = warrant_sandbox::Profile::builtin("strict")
        .map_err(|e| format!("warrant: the strict profile: {e}"))?;
    profile.limits.wall_clock_seconds = Some(seconds);
    let spec = sandbox.spec(profile, workspace);
    let command = [OsString::from("/bin/sh"), OsString::from("-c"), OsString::from(args.command)];
    // From the first exec on, the next launches' user and network namespaces
    // are made ahead, off the call's path (each serves one sandbox).
    warrant_sandbox::enable_namespace_pool(EXEC_NAMESPACES_AHEAD);
    if let Some(reason) = warrant_sandbox::namespace_pool_failure()
        && !POOL_FAILURE_LOGGED.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        tracing::warn!(
            %reason,
            "namespaces are no longer made ahead; each exec makes its own (slower, as confined)"
        );
    }
    // Refused, loudly, when a control cannot be applied: never unconfined.
    let output = warrant_sandbox::Sandbox::new(&spec)
        .and_then(|sandbox| sandbox.run(&command, MAX_EXEC_OUTPUT))
        .map_err(|e| format!("warrant: the command was not run: {e}"))?;
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
