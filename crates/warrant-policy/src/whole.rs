//! A call whose arguments policy could not see whole is never allowed.
//!
//! Rules judge the argument tags (see `crate::args`), and those are bounded:
//! a value padded past the byte bound, a decoy key ahead of the real one,
//! deep nesting or two colliding paths would otherwise walk a forbid like
//! `getTag("path") like "*/.ssh/*"` past policy while the upstream receives
//! the full value. So after the rules have decided, the engine, not a rule an
//! author could forget, turns an allow (or an ask) of such a call into a
//! deny, or into an ask naming what was not seen, as [`ArgumentsNotWhole`]
//! says. Forbids still win: a matching forbid denies as before, with its own
//! id and reason, and default deny stays default deny.
//!
//! This does not make policy see more; it only refuses to guess. Calls whose
//! arguments fit the bounds are unaffected.

use crate::args::NotWhole;
use crate::decision::{Decision, PendingApproval, RuleRef};
use std::fmt;
use std::str::FromStr;

/// The rule id a decision carries when the arguments were not seen whole.
pub const ARGUMENTS_NOT_WHOLE_RULE: &str = "warrant:arguments-not-whole";

/// What becomes of a call policy would allow, or ask about, when its
/// arguments could not be seen whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ArgumentsNotWhole {
    /// Refuse the call (the default). A hard forbid on the unseen part could
    /// have matched, and no person may override a hard forbid; the bounds
    /// are wide enough that ordinary calls fit.
    #[default]
    Deny,
    /// Ask a person, with the reason; the approval overrides whatever the
    /// unseen part would have matched, hard forbids included.
    Ask,
}

impl fmt::Display for ArgumentsNotWhole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Deny => "deny",
            Self::Ask => "ask",
        })
    }
}

/// A setting for [`ArgumentsNotWhole`] was neither `deny` nor `ask`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a way to treat arguments policy could not see whole: expected `deny` or `ask`"
)]
pub struct ParseArgumentsNotWholeError(String);

impl FromStr for ArgumentsNotWhole {
    type Err = ParseArgumentsNotWholeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "deny" => Ok(Self::Deny),
            "ask" => Ok(Self::Ask),
            other => Err(ParseArgumentsNotWholeError(other.chars().take(64).collect())),
        }
    }
}

/// `decision` for a call whose arguments were not seen whole, because of
/// `why`: a deny stays as it is; an allow or an ask becomes a deny, or an ask
/// led by [`ARGUMENTS_NOT_WHOLE_RULE`], as `mode` says.
pub(crate) fn refuse(
    decision: Decision,
    why: &NotWhole,
    mode: ArgumentsNotWhole,
    tool: &str,
    agent: &str,
) -> Decision {
    let reason = format!("policy could not see the arguments of `{tool}` whole: {why}");
    let rule = RuleRef {
        id: ARGUMENTS_NOT_WHOLE_RULE.to_owned(),
        reason: Some(reason.clone()),
        ask: Some(
            "policy could not see these arguments whole; a person must approve what it could not check"
                .to_owned(),
        ),
    };
    match (decision, mode) {
        (deny @ Decision::Deny { .. }, _) => deny,
        (
            Decision::Allow { diagnostics, .. } | Decision::Ask { diagnostics, .. },
            ArgumentsNotWhole::Deny,
        ) => Decision::Deny { rules: vec![rule], reason, diagnostics },
        (Decision::Allow { permit, diagnostics, .. }, ArgumentsNotWhole::Ask) => {
            let pending = PendingApproval::new(
                tool,
                agent,
                permit.into_rules(),
                vec![ARGUMENTS_NOT_WHOLE_RULE.to_owned()],
            );
            Decision::Ask { pending, rules: vec![rule], diagnostics }
        }
        (Decision::Ask { pending, rules, diagnostics }, ArgumentsNotWhole::Ask) => {
            // Ours first: it is what the person most needs to know.
            let mut ids = vec![ARGUMENTS_NOT_WHOLE_RULE.to_owned()];
            ids.extend(pending.ask_rules().iter().cloned());
            let mut all = vec![rule];
            all.extend(rules);
            Decision::Ask { pending: pending.with_ask_rules(ids), rules: all, diagnostics }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_parses_from_its_display_and_refuses_anything_else() {
        for mode in [ArgumentsNotWhole::Deny, ArgumentsNotWhole::Ask] {
            assert_eq!(mode.to_string().parse::<ArgumentsNotWhole>(), Ok(mode));
        }
        assert_eq!(ArgumentsNotWhole::default(), ArgumentsNotWhole::Deny);
        let err = "allow".parse::<ArgumentsNotWhole>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`allow` is not a way to treat arguments policy could not see whole: expected `deny` or `ask`"
        );
    }
}
