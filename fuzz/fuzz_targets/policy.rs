//! Policy text from anywhere: loading errors or succeeds, never panics; a
//! loaded policy decides without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warrant_policy::{AgentFacts, CallRequest, PolicyEngine, PolicySource, ToolFacts};

fuzz_target!(|text: &str| {
    let Ok(engine) = PolicyEngine::new(&[PolicySource::new("fuzz.cedar", text)]) else { return };
    let agent = AgentFacts {
        id: "00000000-0000-4000-8000-000000000000".into(),
        name: "fuzz".into(),
        task: String::new(),
        spiffe_id: "spiffe://warrant.local/agent/fuzz/00000000-0000-4000-8000-000000000000".into(),
        spawned_by: "operator:fuzz".into(),
        depth: 0,
        custody: vec![],
    };
    let tool = ToolFacts::from_annotations("up__t", "t", "up", None, None, None, None, false);
    let arguments = serde_json::json!({"path": text});
    let _ = engine.decide(&CallRequest {
        agent: &agent,
        tool: &tool,
        arguments: &arguments,
        tainted: false,
        now: warrant_core::UnixMillis(0),
        command: None,
    });
    let _ = engine.could_allow(&agent, &tool);
});
