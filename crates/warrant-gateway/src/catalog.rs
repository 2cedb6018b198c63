//! Warrant's own tools as agents see them, the upstream `warrant`
//! (`warrant__...`): their names, definitions and admitted entries, and what
//! policy is told about an `exec` command. Running them is `builtin.rs`.

use crate::tools::{self, ToolEntry};
use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Value, json};
use std::sync::Arc;
use warrant_core::UpstreamName;
use warrant_state::config::BUILTIN_UPSTREAM;

/// The upstream's own name for the spawn tool.
pub const SPAWN_AGENT: &str = "spawn_agent";

pub const EXEC: &str = "exec";
pub const HTTP_REQUEST: &str = "http_request";
pub const READ_FILE: &str = "read_file";
pub const WRITE_FILE: &str = "write_file";
pub const LIST_DIR: &str = "list_dir";
/// `exec`'s time limit when the call names none, and the longest it may name.
pub const DEFAULT_EXEC_SECONDS: u64 = 60;
pub const MAX_EXEC_SECONDS: u64 = 600;

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
        http_request_schema(),
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

/// The longest `warrant__http_request` may wait, in seconds.
pub const MAX_HTTP_SECONDS: u64 = 120;

/// `warrant__http_request`'s input schema.
fn http_request_schema() -> Value {
    json!({"type": "object", "properties": {
        "method": {"type": "string", "enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]},
        "url": {"type": "string", "minLength": 1, "maxLength": 8192, "description": "An http:// or https:// URL."},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 64},
        "body": {"type": "string", "maxLength": 1048576},
        "timeout_s": {"type": "integer", "minimum": 1, "maximum": MAX_HTTP_SECONDS},
        "credential": {"type": "string", "maxLength": 64, "description": "The name of a vault credential (`warrant vault list`) to authenticate with. Warrant adds it, in the header its binding names, only for a host it is bound to; you never see its value."}
    }, "required": ["url"], "additionalProperties": false})
}
