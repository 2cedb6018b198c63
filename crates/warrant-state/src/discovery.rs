//! Discovery mode: `warrant up --discover` lets through calls that policy
//! would deny or ask about, records each as "would deny" / "would ask", and
//! keeps every observed call (with its argument values) in the home's state
//! store, so that `warrant policy suggest --agent NAME` can write the
//! least-privilege Cedar policy that allows exactly what was observed.
//!
//! Discovery is enforcement switched off, on purpose and loudly: the gateway
//! says so at start, every record carries it, and validation, quarantine,
//! authentication and the kill switch still apply.

use rusqlite::{Connection, params};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use warrant_core::{UnixMillis, canonical_json};

/// Where observed calls are kept.
pub struct Observations {
    conn: Connection,
}

impl Observations {
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        let conn = crate::pins::open_state(
            path,
            "CREATE TABLE IF NOT EXISTS observed_calls (
                agent_name TEXT NOT NULL,
                tool TEXT NOT NULL,
                arguments TEXT NOT NULL,
                outcome TEXT NOT NULL,
                seen_ms INTEGER NOT NULL
            );",
        )?;
        Ok(Self { conn })
    }

    pub fn record(
        &self,
        agent_name: &str,
        tool: &str,
        arguments: &Value,
        outcome: &str,
    ) -> Result<(), rusqlite::Error> {
        let args = canonical_json(arguments).unwrap_or_else(|_| "{}".to_owned());
        self.conn.execute(
            "INSERT INTO observed_calls (agent_name, tool, arguments, outcome, seen_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![agent_name, tool, args, outcome, UnixMillis::now().0],
        )?;
        Ok(())
    }

    /// Distinct observed (tool, arguments) of agents named `agent_name`.
    pub fn calls(&self, agent_name: &str) -> Result<BTreeMap<String, Vec<Value>>, rusqlite::Error> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT tool, arguments FROM observed_calls WHERE agent_name = ?1 ORDER BY tool, arguments",
        )?;
        let rows = stmt.query_map(params![agent_name], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut calls: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for row in rows {
            let (tool, args) = row?;
            let args = serde_json::from_str(&args).unwrap_or(Value::Null);
            calls.entry(tool).or_default().push(args);
        }
        Ok(calls)
    }
}

/// The Cedar text that permits exactly `calls` for agents named
/// `agent_name`: per tool, one permit whose condition is the disjunction of
/// the observed argument sets (every top-level argument equal to what was
/// seen).
pub fn suggest(agent_name: &str, calls: &BTreeMap<String, Vec<Value>>) -> String {
    let mut out = format!(
        "// Suggested by `warrant policy suggest --agent {agent_name}` from calls observed in\n\
         // discovery mode. It permits exactly those calls (tool and top-level argument\n\
         // values) and nothing else; with no other policy, everything else is denied.\n"
    );
    for (i, (tool, observed)) in calls.iter().enumerate() {
        let alternatives: Vec<String> = observed.iter().filter_map(constraint).collect();
        let _ = write!(
            out,
            "\n@id(\"suggested-{i}-{}\")\n@reason(\"only the calls observed in discovery are permitted\")\npermit (principal, action == Action::\"call_tool\", resource == Tool::{})\nwhen {{ principal.name == {}",
            tool.replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
            cedar_string(tool).unwrap_or_default(),
            cedar_string(agent_name).unwrap_or_default(),
        );
        if alternatives.is_empty() {
            out.push_str(" && false };\n");
        } else {
            let _ = write!(out, " && (\n    {}\n) }};\n", alternatives.join("\n    || "));
        }
    }
    out
}

/// `(hasTag && getTag == v && ...)` for one observed argument object; `None`
/// if a value cannot be written as a Cedar string literal.
fn constraint(args: &Value) -> Option<String> {
    let Value::Object(map) = args else { return None };
    if map.is_empty() {
        return Some("true".to_owned());
    }
    let mut parts = Vec::new();
    for (key, value) in map {
        // The policy crate's argument tags: strings as themselves, anything
        // else as canonical JSON.
        let tag = match value {
            Value::String(s) => s.clone(),
            other => canonical_json(other).ok()?,
        };
        let k = cedar_string(key)?;
        parts.push(format!(
            "(context.args.hasTag({k}) && context.args.getTag({k}) == {})",
            cedar_string(&tag)?
        ));
    }
    Some(format!("({})", parts.join(" && ")))
}

/// A Cedar string literal, for text without control characters.
fn cedar_string(text: &str) -> Option<String> {
    if text.chars().any(char::is_control) {
        return None;
    }
    Some(format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn suggested_policy_validates_and_allows_exactly_what_was_seen() {
        let mut calls = BTreeMap::new();
        calls.insert(
            "notes__write".to_owned(),
            vec![json!({"name": "a", "text": "x \"quoted\""}), json!({"name": "b", "n": 2})],
        );
        calls.insert("notes__list".to_owned(), vec![json!({})]);
        let text = suggest("writer", &calls);
        let engine = warrant_policy::PolicyEngine::new(&[warrant_policy::PolicySource::new(
            "s.cedar",
            text.clone(),
        )])
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let agent = warrant_policy::AgentFacts {
            id: "00000000-0000-4000-8000-000000000000".into(),
            name: "writer".into(),
            task: String::new(),
            spiffe_id: String::new(),
            spawned_by: String::new(),
            depth: 0,
            custody: vec![],
        };
        let tool = warrant_policy::ToolFacts::from_annotations(
            "notes__write",
            "write",
            "notes",
            None,
            None,
            None,
            None,
            false,
        );
        let decide = |args: Value| {
            engine
                .decide(&warrant_policy::CallRequest {
                    agent: &agent,
                    tool: &tool,
                    arguments: &args,
                    tainted: false,
                    now: UnixMillis(0),
                    command: None,
                })
                .outcome()
                .to_string()
        };
        assert_eq!(decide(json!({"name": "a", "text": "x \"quoted\""})), "allow");
        assert_eq!(decide(json!({"name": "b", "n": 2})), "allow");
        assert_eq!(decide(json!({"name": "a", "text": "other"})), "deny");
        assert_eq!(decide(json!({"name": "b", "n": 3})), "deny");
    }
}
