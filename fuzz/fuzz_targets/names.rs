//! Names agents and config send: parsing never panics, and what parses
//! round-trips to the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warrant_core::{AgentId, AgentName, ToolName, UpstreamName};

fuzz_target!(|text: &str| {
    if let Ok(t) = ToolName::parse(text) {
        assert_eq!(t.as_str(), text);
        assert!(!t.upstream().as_str().contains("__"));
        assert_eq!(ToolName::parse(t.as_str()), Ok(t.clone()));
    }
    if let Ok(u) = UpstreamName::parse(text) {
        assert_eq!(u.as_str(), text);
    }
    if let Ok(a) = AgentName::parse(text) {
        assert_eq!(a.as_str(), text);
    }
    if let Ok(id) = AgentId::parse(text) {
        assert_eq!(AgentId::parse(&id.to_string()), Ok(id));
    }
});
