//! What a decision says, and the evidence it carries.
//!
//! Forwarding a call needs a [`Permit`]. Its fields are private and it has no
//! public constructor, so the only ways to hold one are an `Allow` decision
//! from this crate or a person's approval of an `Ask` decision: code that
//! "forgot to check" does not compile.
//!
//! ```compile_fail,E0451
//! // A permit cannot be made up outside this crate.
//! let permit = warrant_policy::Permit {
//!     tool: "notes__delete".to_string(),
//!     agent: "a".to_string(),
//!     rules: Vec::new(),
//!     approver: None,
//! };
//! ```
//!
//! ```compile_fail,E0599
//! // Nor copied: one decision, one permit.
//! fn duplicate(permit: warrant_policy::Permit) -> (warrant_policy::Permit, warrant_policy::Permit) {
//!     (permit.clone(), permit)
//! }
//! ```

use std::fmt;

/// The three outcomes of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allow,
    Ask,
    Deny,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Allow => "allow",
            Self::Ask => "ask",
            Self::Deny => "deny",
        })
    }
}

/// A rule that took part in a decision, with the text its annotations gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// The rule's `@id`, or `<file>:<n>` when it has none.
    pub id: String,
    /// The rule's `@reason`.
    pub reason: Option<String>,
    /// The rule's `@ask` (only on forbids).
    pub ask: Option<String>,
}

/// A policy rule that failed to evaluate for this request (and so did not
/// match), e.g. arithmetic overflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalDiagnostic {
    pub rule: String,
    pub message: String,
}

/// The answer to one call request.
#[derive(Debug)]
pub enum Decision {
    /// Forward the call; `rules` are the permits that matched.
    Allow { permit: Permit, rules: Vec<RuleRef>, diagnostics: Vec<EvalDiagnostic> },
    /// A permit matched but so did a forbid marked `@ask`: a person decides.
    /// `rules` are the ask rules.
    Ask { pending: PendingApproval, rules: Vec<RuleRef>, diagnostics: Vec<EvalDiagnostic> },
    /// Refuse the call; `rules` are the forbids that matched, empty when no
    /// permit matched (default deny).
    Deny { rules: Vec<RuleRef>, reason: String, diagnostics: Vec<EvalDiagnostic> },
}

impl Decision {
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Allow { .. } => Outcome::Allow,
            Self::Ask { .. } => Outcome::Ask,
            Self::Deny { .. } => Outcome::Deny,
        }
    }

    /// The rules that decided: permits for allow, ask rules for ask, forbids
    /// for deny (none for default deny).
    pub fn rules(&self) -> &[RuleRef] {
        match self {
            Self::Allow { rules, .. } | Self::Ask { rules, .. } | Self::Deny { rules, .. } => rules,
        }
    }

    /// Rules that failed to evaluate and therefore did not match.
    pub fn diagnostics(&self) -> &[EvalDiagnostic] {
        match self {
            Self::Allow { diagnostics, .. }
            | Self::Ask { diagnostics, .. }
            | Self::Deny { diagnostics, .. } => diagnostics,
        }
    }

    /// The message for the agent: the deny reason, or for ask the first ask
    /// rule's `@reason` (else its `@ask`); none for allow.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Allow { .. } => None,
            Self::Deny { reason, .. } => Some(reason),
            Self::Ask { rules, .. } => {
                rules.iter().find_map(|r| r.reason.as_deref().or(r.ask.as_deref()))
            }
        }
    }
}

/// Evidence that policy allowed one call of one tool by one agent.
///
/// Not `Clone`, not constructible outside this crate.
#[derive(Debug, PartialEq, Eq)]
pub struct Permit {
    tool: String,
    agent: String,
    rules: Vec<String>,
    approver: Option<String>,
}

impl Permit {
    pub(crate) fn new(tool: &str, agent: &str, rules: Vec<String>) -> Self {
        Self { tool: tool.to_owned(), agent: agent.to_owned(), rules, approver: None }
    }

    /// The qualified name of the tool this permit is for.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    /// The id of the agent this permit is for.
    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// Ids of the rules that permitted the call (and, after an approval, the
    /// ask rules the person overrode).
    pub fn rules(&self) -> &[String] {
        &self.rules
    }

    /// Who approved the call, when it needed a person.
    pub fn approver(&self) -> Option<&str> {
        self.approver.as_deref()
    }

    pub(crate) fn into_rules(self) -> Vec<String> {
        self.rules
    }
}

/// The rule id a discovery-mode permit carries.
pub const DISCOVERY_RULE: &str = "discovery-mode";

impl Decision {
    /// A permit for this call whatever the decision was, for discovery mode
    /// (`warrant up --discover`), where denied and asked calls go through and
    /// are recorded as "would deny" / "would ask". This switches enforcement
    /// off for the call: only discovery mode may use it.
    pub fn danger_permit_for_discovery(self, tool: &str, agent: &str) -> Permit {
        match self {
            Decision::Allow { permit, .. } => permit,
            Decision::Ask { pending, .. } => pending.approve(DISCOVERY_RULE),
            Decision::Deny { .. } => Permit::new(tool, agent, vec![DISCOVERY_RULE.to_owned()]),
        }
    }
}

/// A call that policy would permit once a person approves it.
///
/// Not `Clone`: approving consumes it, so one approval yields one permit.
#[derive(Debug, PartialEq, Eq)]
pub struct PendingApproval {
    tool: String,
    agent: String,
    permit_rules: Vec<String>,
    ask_rules: Vec<String>,
}

impl PendingApproval {
    pub(crate) fn new(
        tool: &str,
        agent: &str,
        permit_rules: Vec<String>,
        ask_rules: Vec<String>,
    ) -> Self {
        Self { tool: tool.to_owned(), agent: agent.to_owned(), permit_rules, ask_rules }
    }

    pub fn tool(&self) -> &str {
        &self.tool
    }

    pub fn agent(&self) -> &str {
        &self.agent
    }

    /// Ids of the `@ask` rules that require the approval.
    pub fn ask_rules(&self) -> &[String] {
        &self.ask_rules
    }

    pub(crate) fn with_ask_rules(mut self, ask_rules: Vec<String>) -> Self {
        self.ask_rules = ask_rules;
        self
    }

    /// A person approved the call: the permit names the permits that matched,
    /// then the ask rules, and records `approver`.
    pub fn approve(self, approver: &str) -> Permit {
        let mut rules = self.permit_rules;
        rules.extend(self.ask_rules);
        Permit { tool: self.tool, agent: self.agent, rules, approver: Some(approver.to_owned()) }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn approval_yields_a_permit_naming_the_approver_and_all_rules() {
        let pending = PendingApproval::new(
            "notes__delete",
            "agent-1",
            vec!["allow".into()],
            vec!["ask".into()],
        );
        let permit = pending.approve("alice");
        assert_eq!(permit.tool(), "notes__delete");
        assert_eq!(permit.agent(), "agent-1");
        assert_eq!(permit.approver(), Some("alice"));
        assert_eq!(permit.rules(), ["allow".to_string(), "ask".to_string()]);
    }

    #[test]
    fn outcomes_display_in_lowercase() {
        assert_eq!(Outcome::Allow.to_string(), "allow");
        assert_eq!(Outcome::Ask.to_string(), "ask");
        assert_eq!(Outcome::Deny.to_string(), "deny");
    }

    #[test]
    fn ask_reason_falls_back_to_the_ask_text() {
        let decision = Decision::Ask {
            pending: PendingApproval::new("t", "a", vec![], vec!["r".into()]),
            rules: vec![RuleRef { id: "r".into(), reason: None, ask: Some("why".into()) }],
            diagnostics: vec![],
        };
        assert_eq!(decision.reason(), Some("why"));
        assert_eq!(decision.outcome(), Outcome::Ask);
    }
}
