//! Warrant's policy engine: Cedar policies in, decisions with evidence out.
//!
//! Policies are Cedar, written against the vocabulary in [`SCHEMA`] and
//! validated against it strictly. A call is decided from facts about the
//! agent, the tool, the arguments and the session, with three outcomes:
//! allow (carrying a [`Permit`], the only way to forward a call), ask a
//! person (carrying a [`PendingApproval`]), or deny. Every decision names the
//! rules that made it. [`DEFAULT_POLICY`] is the shipped starting point and a
//! commented introduction to the language.
//!
//! Arguments reach rules as bounded tags ([`MAX_TAGS`], [`MAX_DEPTH`],
//! [`MAX_ARGUMENT_BYTES`]). A call whose arguments do not fit them is never
//! allowed, whatever the rules say: it is denied, or asked about, by
//! [`ARGUMENTS_NOT_WHOLE_RULE`] ([`ArgumentsNotWhole`]).
//!
//! The crate is pure and deliberately so: no I/O, no clock (the time of a
//! call is passed in), no logging, no async. It does not load files, keep
//! approvals, fingerprint calls or write the audit log; callers do.

mod args;
mod decision;
mod engine;
mod error;
mod facts;
mod load;
mod whole;

pub use args::{MAX_ARGUMENT_BYTES, MAX_DEPTH, MAX_TAGS};
pub use decision::{
    DISCOVERY_RULE, Decision, EvalDiagnostic, Outcome, PendingApproval, Permit, RuleRef,
};
pub use engine::PolicyEngine;
pub use error::{PolicyError, Problem};
pub use facts::{
    AgentFacts, CallRequest, CommandFacts, ConnectRequest, CredentialRequest, ToolFacts,
};
pub use load::PolicySource;
pub use whole::{ARGUMENTS_NOT_WHOLE_RULE, ArgumentsNotWhole, ParseArgumentsNotWholeError};

/// The vocabulary policies are written in, in Cedar schema syntax.
pub const SCHEMA: &str = include_str!("schema.cedarschema");

/// The shipped default policy: read-only tools and trusted upstreams flow,
/// everything else asks a person.
pub const DEFAULT_POLICY: &str = include_str!("default.cedar");

fn schema() -> Result<cedar_policy::Schema, Problem> {
    engine::parse_schema(SCHEMA)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn schema_parses() {
        schema().unwrap();
    }

    #[test]
    fn engine_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PolicyEngine>();
    }
}
