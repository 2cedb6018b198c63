//! An agent's claims as policy sees them: itself and each ancestor, each
//! with the custody chain down to it.

use crate::Claims;
use warrant_policy::AgentFacts;

impl Claims {
    /// This agent as policy sees it.
    pub fn facts(&self) -> AgentFacts {
        AgentFacts {
            id: self.agent_id.to_string(),
            name: self.name.to_string(),
            task: self.task.clone(),
            spiffe_id: self.spiffe_id.clone(),
            spawned_by: self.spawned_by.clone(),
            depth: i64::from(self.depth),
            custody: self.custody(),
        }
    }

    /// Each ancestor as policy sees it, root first, with the custody chain
    /// down to it: a child is decided as itself and as each of them.
    pub fn ancestor_facts(&self) -> Vec<AgentFacts> {
        let custody = self.custody();
        self.ancestors
            .iter()
            .enumerate()
            .map(|(i, a)| AgentFacts {
                id: a.agent_id.to_string(),
                name: a.name.to_string(),
                task: a.task.clone(),
                spiffe_id: a.spiffe_id.clone(),
                spawned_by: a.spawned_by.clone(),
                depth: i64::from(a.depth),
                custody: custody.iter().take(i + 2).cloned().collect(),
            })
            .collect()
    }
}

/// Who the operator is, as records name them (`spawned_by` of the agents a
/// person starts): `operator:` and the login name.
pub fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("operator:{user}")
}
