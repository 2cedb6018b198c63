//! Fixtures shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use warrant_core::UnixMillis;
use warrant_policy::{AgentFacts, CallRequest, Decision, PolicyEngine, PolicySource, ToolFacts};

/// 2026-01-01T00:00:00Z.
pub const NOW: UnixMillis = UnixMillis(1_767_225_600_000);

pub fn agent(name: &str) -> AgentFacts {
    AgentFacts {
        id: "0b8f2d4e-0000-4000-8000-000000000001".into(),
        name: name.into(),
        task: "summarise the notes".into(),
        spiffe_id: format!("spiffe://warrant.local/agent/{name}"),
        spawned_by: "operator:alice".into(),
        depth: 0,
        custody: vec!["operator:alice".into()],
    }
}

/// A tool of `upstream` named `upstream__tool`, with the given hints.
pub fn tool(upstream: &str, tool: &str, read_only: bool, trusted: bool) -> ToolFacts {
    ToolFacts::from_annotations(
        format!("{upstream}__{tool}"),
        tool,
        upstream,
        Some(read_only),
        Some(!read_only),
        None,
        None,
        trusted,
    )
}

pub fn engine(text: &str) -> PolicyEngine {
    PolicyEngine::new(&[PolicySource::new("test.cedar", text)]).unwrap()
}

pub fn decide(engine: &PolicyEngine, tool: &ToolFacts, arguments: Value) -> Decision {
    decide_as(engine, &agent("researcher"), tool, arguments, false)
}

pub fn decide_as(
    engine: &PolicyEngine,
    agent: &AgentFacts,
    tool: &ToolFacts,
    arguments: Value,
    tainted: bool,
) -> Decision {
    engine.decide(&CallRequest {
        agent,
        tool,
        arguments: &arguments,
        tainted,
        now: NOW,
        command: None,
    })
}

pub fn ids(decision: &Decision) -> Vec<&str> {
    decision.rules().iter().map(|r| r.id.as_str()).collect()
}
