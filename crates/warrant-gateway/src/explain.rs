//! `warrant policy explain`: what the gateway would decide for a call, by the
//! gateway's own checks in the gateway's order (quarantine, delegation,
//! arguments, the command's analysis, then policy), offline: the CLI runs it
//! against the pins and the registry without a running gateway.

use crate::tools;
use serde_json::{Value, json};
use warrant_core::UnixMillis;
use warrant_identity::Claims;
use warrant_policy::{CallRequest, PolicyEngine};
use warrant_state::Config;
use warrant_state::config::BUILTIN_UPSTREAM;
use warrant_state::pins::PinStore;

/// Why a call cannot be explained.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error(transparent)]
    Name(#[from] warrant_core::NameError),
    #[error("Warrant has no built-in tool `{tool}`")]
    NoBuiltin { tool: String },
    #[error(
        "tool `{tool}` has not been seen; run `warrant up` with its upstream once so Warrant learns its definition"
    )]
    NotSeen { tool: String },
    #[error("stored definition of `{tool}` is unreadable")]
    Unreadable {
        tool: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("tool `{tool}` is not admissible")]
    NotAdmissible { tool: String },
    #[error("state store: {0}")]
    State(#[source] rusqlite::Error),
}

/// The decision the gateway would make for `claims` calling `tool` with
/// `arguments`, with the rules and facts behind it.
pub fn explain(
    config: &Config,
    engine: &PolicyEngine,
    pins: &PinStore,
    claims: &Claims,
    tool: &str,
    arguments: &Value,
) -> Result<Value, ExplainError> {
    let name = warrant_core::ToolName::parse(tool)?;
    let entry = explained_entry(config, pins, &name)?;
    let facts = claims.facts();
    let ancestors = claims.ancestor_facts();
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
        .map_err(ExplainError::State)?
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
    let command = match (&refused, crate::catalog::command_facts(&entry, arguments)) {
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
    pins: &PinStore,
    name: &warrant_core::ToolName,
) -> Result<std::sync::Arc<tools::ToolEntry>, ExplainError> {
    let tool = name.as_str();
    if name.upstream().as_str() == BUILTIN_UPSTREAM {
        return crate::catalog::entries()
            .into_iter()
            .find(|e| e.name.as_str() == tool)
            .ok_or_else(|| ExplainError::NoBuiltin { tool: tool.to_owned() });
    }
    let definition = pins
        .definition(tool)
        .map_err(ExplainError::State)?
        .ok_or_else(|| ExplainError::NotSeen { tool: tool.to_owned() })?;
    let trusted = config.upstreams.get(name.upstream()).is_some_and(|u| u.trusted);
    let mut raw: rmcp::model::Tool = serde_json::from_str(&definition)
        .map_err(|source| ExplainError::Unreadable { tool: tool.to_owned(), source })?;
    raw.name = name.tool().to_owned().into();
    let (entries, _) = tools::admit(name.upstream(), trusted, vec![raw]);
    entries.into_iter().next().ok_or_else(|| ExplainError::NotAdmissible { tool: tool.to_owned() })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_stored_definition_keeps_the_parsers_reason() {
        let dir = tempfile::tempdir().unwrap();
        let pins = PinStore::open(&dir.path().join("state.db")).unwrap();
        pins.admit("notes__search", "pin", &json!("not a tool"), None, false).unwrap();
        let name = warrant_core::ToolName::parse("notes__search").unwrap();
        let config = Config::parse("", "test").unwrap();
        let Err(error) = explained_entry(&config, &pins, &name) else {
            panic!("a definition that is not a tool was explained");
        };
        assert!(
            matches!(&error, ExplainError::Unreadable { tool, .. } if tool == "notes__search"),
            "{error:?}"
        );
        let source = std::error::Error::source(&error);
        assert!(source.is_some_and(|s| s.is::<serde_json::Error>()), "{error:?}");
    }
}
