//! Tools Warrant serves itself, as the upstream `warrant`: `warrant__...`.
//!
//! They are admitted, listed, validated, decided, approved and audited like
//! any upstream's tools; only the last step differs: instead of forwarding,
//! the gateway does the work.
//!
//! `warrant__spawn_agent` lets an agent delegate: it returns a credential
//! for a child agent whose rights are a subset of the caller's (see
//! `warrant_identity::delegate`).

use crate::config::BUILTIN_UPSTREAM;
use crate::gateway::Gateway;
use crate::tools::{self, ToolEntry};
use rmcp::model::{CallToolResult, ContentBlock, Tool, ToolAnnotations};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use warrant_audit::EventKind;
use warrant_core::{AgentName, UnixMillis, UpstreamName};
use warrant_identity::{Claims, DelegateRequest, TrustDomain};

/// The upstream's own name for the spawn tool.
pub const SPAWN_AGENT: &str = "spawn_agent";
/// A child's lifetime when the caller names none (cut to the caller's).
const DEFAULT_CHILD_TTL: Duration = Duration::from_secs(60 * 60);

/// The built-in tools as admitted entries.
pub fn entries() -> Vec<Arc<ToolEntry>> {
    let Ok(upstream) = UpstreamName::parse(BUILTIN_UPSTREAM) else { return Vec::new() };
    let (entries, _) = tools::admit(&upstream, true, vec![spawn_definition()]);
    entries
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
    let state_db = gw.state_db.clone();
    let record = child.clone();
    let registered = tokio::task::spawn_blocking(move || {
        warrant_identity::Registry::open(&state_db).and_then(|r| r.record_issued(&record))
    })
    .await;
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
