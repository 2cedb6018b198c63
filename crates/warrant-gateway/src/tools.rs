//! Admission of upstream tools: qualification, pinning, schema compilation.
//!
//! A tool reaches agents only through this module. Its input schema is
//! compiled here, once, with every external `$ref` refused and a linear-time
//! regex engine, and with bounds on the schema's own size and depth, so a
//! hostile server cannot make validation fetch, read files, or backtrack
//! forever. A tool whose schema cannot be compiled is kept out of agents'
//! lists and its calls are refused: Warrant does not forward what it cannot
//! check.

use rmcp::model::Tool;
use serde_json::Value;
use std::sync::Arc;
use warrant_core::{ToolName, UpstreamName, canonical_json, sha256_hex};
use warrant_policy::ToolFacts;

/// The largest input schema Warrant compiles, as JSON bytes.
const MAX_SCHEMA_BYTES: usize = 256 * 1024;
/// The deepest input schema Warrant compiles.
const MAX_SCHEMA_DEPTH: usize = 64;

/// One tool as agents see it.
pub struct ToolEntry {
    pub name: ToolName,
    /// The definition shown to agents: the upstream's, renamed.
    pub exposed: Tool,
    pub facts: ToolFacts,
    /// SHA-256 of the upstream's full canonical definition.
    pub pin: String,
    pub schema: Result<jsonschema::Validator, String>,
}

/// A tool the upstream offered that could not be admitted at all.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Refused {
    pub upstream: String,
    pub tool: String,
    pub reason: String,
}

/// Admits `tools` from `upstream`.
pub fn admit(
    upstream: &UpstreamName,
    trusted: bool,
    tools: Vec<Tool>,
) -> (Vec<Arc<ToolEntry>>, Vec<Refused>) {
    let mut admitted = Vec::new();
    let mut refused = Vec::new();
    for tool in tools {
        match admit_one(upstream, trusted, tool) {
            Ok(entry) => admitted.push(Arc::new(entry)),
            Err(r) => refused.push(r),
        }
    }
    (admitted, refused)
}

fn admit_one(upstream: &UpstreamName, trusted: bool, tool: Tool) -> Result<ToolEntry, Refused> {
    let refuse = |tool: &str, reason: String| Refused {
        upstream: upstream.to_string(),
        tool: tool.chars().take(128).collect(),
        reason,
    };
    let name = ToolName::new(upstream.clone(), &tool.name)
        .map_err(|e| refuse(&tool.name, e.to_string()))?;
    let definition = serde_json::to_value(&tool).map_err(|e| refuse(&tool.name, e.to_string()))?;
    let pin = canonical_json(&definition)
        .map(|c| sha256_hex(c.as_bytes()))
        .map_err(|e| refuse(&tool.name, format!("definition: {e}")))?;
    let annotations = tool.annotations.clone().unwrap_or_default();
    let facts = ToolFacts::from_annotations(
        name.as_str().to_owned(),
        name.tool().to_owned(),
        upstream.to_string(),
        annotations.read_only_hint,
        annotations.destructive_hint,
        annotations.idempotent_hint,
        annotations.open_world_hint,
        trusted,
    );
    let schema = compile_schema(&Value::Object((*tool.input_schema).clone()));
    let mut exposed = tool;
    exposed.name = name.as_str().to_owned().into();
    Ok(ToolEntry { name, exposed, facts, pin, schema })
}

/// Compiles an input schema under Warrant's bounds.
pub fn compile_schema(schema: &Value) -> Result<jsonschema::Validator, String> {
    let size = serde_json::to_vec(schema).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > MAX_SCHEMA_BYTES {
        return Err(format!(
            "input schema is {size} bytes, over the {MAX_SCHEMA_BYTES}-byte limit"
        ));
    }
    if depth(schema) > MAX_SCHEMA_DEPTH {
        return Err(format!("input schema nests deeper than {MAX_SCHEMA_DEPTH} levels"));
    }
    jsonschema::options()
        .with_retriever(RefuseExternal)
        .with_pattern_options(jsonschema::PatternOptions::regex().size_limit(1 << 20))
        .build(schema)
        .map_err(|e| format!("input schema is not usable: {e}"))
}

/// Depth of a JSON value, counted iteratively so a hostile value cannot
/// exhaust the stack.
pub fn depth(value: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(value, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    max
}

/// A `$ref` retriever that fetches nothing: no network, no files.
struct RefuseExternal;

impl jsonschema::Retrieve for RefuseExternal {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!(
            "external reference `{}` refused: Warrant resolves no remote or file $ref",
            uri.as_str()
        )
        .into())
    }
}

/// The checks a call's arguments pass before policy sees them: size and
/// depth within the gateway's bounds, and the tool's input schema. The
/// handler and `policy explain` both apply exactly these.
pub fn check_arguments(
    entry: &ToolEntry,
    arguments: &Value,
    limits: &warrant_state::config::GatewayConfig,
) -> Result<(), String> {
    let size = serde_json::to_vec(arguments).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > limits.max_argument_bytes {
        return Err(format!(
            "arguments are {size} bytes, over the {}-byte limit",
            limits.max_argument_bytes
        ));
    }
    if depth(arguments) > limits.max_argument_depth {
        return Err(format!("arguments nest deeper than {} levels", limits.max_argument_depth));
    }
    let validator = entry
        .schema
        .as_ref()
        .map_err(|why| format!("`{}` cannot be called: its {why}", entry.name))?;
    let errors: Vec<String> = validator
        .iter_errors(arguments)
        .take(5)
        .map(|e| format!("{} at `{}`", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "arguments do not match the input schema of `{}`: {}",
            entry.name,
            errors.join("; ")
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(v: Value) -> Result<jsonschema::Validator, String> {
        compile_schema(&v)
    }

    #[test]
    fn external_refs_are_refused() {
        let http = schema(json!({"$ref": "http://127.0.0.1:9/schema.json"})).unwrap_err();
        assert!(http.contains("refused") || http.contains("not usable"), "{http}");
        assert!(schema(json!({"$ref": "file:///etc/passwd"})).is_err());
    }

    #[test]
    fn oversized_and_deep_schemas_are_refused() {
        let mut deep = json!({"type": "string"});
        for _ in 0..100 {
            deep = json!({"type": "object", "properties": {"x": deep}});
        }
        assert!(schema(deep).unwrap_err().contains("deeper"));
        let huge: Vec<String> = (0..100_000).map(|i| format!("value-{i}")).collect();
        assert!(schema(json!({"enum": huge})).unwrap_err().contains("limit"));
    }

    #[test]
    fn catastrophic_patterns_run_in_linear_time() {
        let v = schema(json!({"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}})).unwrap();
        let evil = format!("{}!", "a".repeat(50_000));
        // A backtracking engine would not return from this in any useful time
        // (the test runner's timeout then fails the test).
        assert!(!v.is_valid(&json!({"s": evil})));
    }

    #[test]
    fn depth_counts_nesting() {
        assert_eq!(depth(&json!(1)), 1);
        assert_eq!(depth(&json!({"a": [1]})), 3);
    }
}
