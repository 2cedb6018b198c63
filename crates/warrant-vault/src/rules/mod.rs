//! Finds credentials that are not in the vault by their well-known formats:
//! the AWS key an agent found in a file and tries to send out.
//!
//! A [`RuleSet`] is a list of [`Rule`]s (the built-in ones are
//! [`BUILTIN_RULES`]). Scanning runs one Aho-Corasick pass over every rule's
//! keywords (literal substrings each of its matches contains; ASCII case
//! ignored where the rule says so), then each rule's regex over the input,
//! only for the rules whose keywords occurred. Regexes run on bytes, so input
//! that is not UTF-8 is scanned all the same.
//!
//! Findings hold a rule id, a severity and a span, never the matched text.
//! What to do with them ([`Action`]) is the caller's configuration.
//!
//! Limits: a rule finds a credential only in the raw form its pattern
//! describes (not base64- or URL-encoded, not split); the formats are those
//! published by each issuer and change over time; and a rule cannot tell a
//! live credential from a revoked one, a test fixture or a documentation
//! example.

mod builtin;

pub use builtin::BUILTIN_RULES;

use crate::VaultError;
use crate::scan::{keep_leftmost_longest, replace_spans};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder};
use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How many times [`RuleSet::redact`] scans and replaces at most.
pub const REDACT_PASSES: usize = 4;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

/// What the caller does with a finding; for configuration to reuse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Refuse the call or request.
    #[default]
    Block,
    /// Let it through with each finding replaced by `[REDACTED:rule-id]`.
    Redact,
}

/// One credential format, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable, kebab-case; what findings and redactions name.
    pub id: &'static str,
    pub description: &'static str,
    /// Literal substrings of every match; the rule's regex runs only when one
    /// occurs in the input.
    pub keywords: &'static [&'static str],
    pub keywords_ignore_case: bool,
    /// A regex over bytes, compiled without Unicode. A group named `secret`,
    /// when present, is the reported span; otherwise the whole match.
    pub pattern: &'static str,
    pub severity: Severity,
    /// Why the rule is shaped as it is.
    pub reason: &'static str,
}

/// A rule's match: which rule, and where. Never the matched text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RuleFinding {
    pub rule: &'static str,
    pub severity: Severity,
    /// Byte offset of the match in the haystack.
    pub offset: usize,
    /// Length of the match in bytes.
    pub len: usize,
}

/// Compiled rules and their keyword prefilter.
pub struct RuleSet {
    rules: Vec<Compiled>,
    keywords: Option<AhoCorasick>,
    /// For each keyword pattern, the rules it belongs to.
    owners: Vec<Vec<Owner>>,
}

/// A rule a keyword belongs to, and the keyword's exact bytes when case
/// matters.
type Owner = (usize, Option<&'static [u8]>);

struct Compiled {
    rule: &'static Rule,
    regex: Regex,
    has_secret_group: bool,
}

impl RuleSet {
    /// The built-in rules, [`BUILTIN_RULES`]. Their patterns are constants
    /// the test suite compiles, so this fails only on a broken build; the
    /// caller still refuses to start rather than run without them.
    pub fn builtin() -> Result<Self, VaultError> {
        Self::new(BUILTIN_RULES)
    }

    /// Compiles `rules` (for instance the built-in ones minus some ids).
    /// Refuses a rule whose pattern does not compile, and one without
    /// keywords (it could never run).
    pub fn new(rules: impl IntoIterator<Item = &'static Rule>) -> Result<Self, VaultError> {
        let mut compiled = Vec::new();
        let mut keyword_index: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<Owner>> = Vec::new();
        for (index, rule) in rules.into_iter().enumerate() {
            let refuse = |reason: String| VaultError::RuleBuild { id: rule.id.to_owned(), reason };
            if rule.keywords.iter().all(|k| k.is_empty()) {
                return Err(refuse("has no keywords".to_owned()));
            }
            let regex = RegexBuilder::new(rule.pattern)
                .unicode(false)
                .build()
                .map_err(|e| refuse(e.to_string()))?;
            let has_secret_group = regex.capture_names().flatten().any(|name| name == "secret");
            compiled.push(Compiled { rule, regex, has_secret_group });
            for keyword in rule.keywords.iter().filter(|k| !k.is_empty()) {
                let folded = keyword.as_bytes().to_ascii_lowercase();
                let slot = match keyword_index.iter().position(|k| *k == folded) {
                    Some(slot) => slot,
                    None => {
                        keyword_index.push(folded);
                        owners.push(Vec::new());
                        owners.len() - 1
                    }
                };
                let exact = (!rule.keywords_ignore_case).then_some(keyword.as_bytes());
                if let Some(list) = owners.get_mut(slot) {
                    list.push((index, exact));
                }
            }
        }
        let keywords = if keyword_index.is_empty() {
            None
        } else {
            let built = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .build(&keyword_index)
                .map_err(|e| VaultError::RuleBuild {
                    id: "(keywords)".to_owned(),
                    reason: e.to_string(),
                })?;
            Some(built)
        };
        Ok(Self { rules: compiled, keywords, owners })
    }

    /// Every credential the rules find in `haystack`, in order, not
    /// overlapping: where two matches overlap, the leftmost, then longest,
    /// then the earlier rule's, is kept.
    pub fn scan(&self, haystack: &[u8]) -> Vec<RuleFinding> {
        let mut found = Vec::new();
        for (compiled, run) in self.rules.iter().zip(self.candidates(haystack)) {
            if !run {
                continue;
            }
            let finding = |offset: usize, len: usize| RuleFinding {
                rule: compiled.rule.id,
                severity: compiled.rule.severity,
                offset,
                len,
            };
            if compiled.has_secret_group {
                // Each search resumes after the secret, not after the whole
                // match: a match's trailing context (a closing quote) may be
                // the leading context of the next one, which would otherwise
                // go unseen until redaction freed it.
                let mut at = 0;
                while at <= haystack.len() {
                    let Some(captures) = compiled.regex.captures_at(haystack, at) else { break };
                    let Some(m) = captures.name("secret").or_else(|| captures.get(0)) else {
                        break;
                    };
                    found.push(finding(m.start(), m.len()));
                    at = if m.end() > at { m.end() } else { at.saturating_add(1) };
                }
            } else {
                found.extend(
                    compiled.regex.find_iter(haystack).map(|m| finding(m.start(), m.len())),
                );
            }
        }
        keep_leftmost_longest(&mut found, |f| (f.offset, f.len));
        found
    }

    /// `text` with every finding replaced by `[REDACTED:rule-id]`, until a
    /// scan finds nothing (a replacement can complete a match around it; at
    /// most [`REDACT_PASSES`] passes).
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for _ in 0..REDACT_PASSES {
            let findings = self.scan(text.as_bytes());
            if findings.is_empty() {
                break;
            }
            text = replace_spans(&text, findings.iter().map(|f| (f.offset, f.len, f.rule)));
        }
        text
    }

    /// The ids of the rules, in order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.rules.iter().map(|c| c.rule.id)
    }

    /// For each rule, whether one of its keywords occurs in `haystack`.
    fn candidates(&self, haystack: &[u8]) -> Vec<bool> {
        let mut run = vec![false; self.rules.len()];
        let Some(keywords) = &self.keywords else { return run };
        let mut left = self.rules.len();
        for m in keywords.find_overlapping_iter(haystack) {
            for &(rule, exact) in self.owners.get(m.pattern().as_usize()).into_iter().flatten() {
                let Some(slot) = run.get_mut(rule) else { continue };
                if *slot || exact.is_some_and(|k| haystack.get(m.range()) != Some(k)) {
                    continue;
                }
                *slot = true;
                left -= 1;
            }
            if left == 0 {
                break;
            }
        }
        run
    }
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet").field("rules", &self.rule_ids().collect::<Vec<_>>()).finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::{BUILTIN_RULES, RuleSet};

    fn candidates(set: &RuleSet, haystack: &str) -> Vec<&'static str> {
        set.rule_ids()
            .zip(set.candidates(haystack.as_bytes()))
            .filter(|(_, r)| *r)
            .map(|(id, _)| id)
            .collect()
    }

    #[test]
    fn only_rules_whose_keywords_occur_run() {
        let set = RuleSet::builtin().unwrap();
        assert!(candidates(&set, "nothing to see here").is_empty());
        assert_eq!(candidates(&set, "token ghp_ and more"), ["github-token"]);
        assert_eq!(candidates(&set, "sk-ant-x"), ["anthropic-api-key", "openai-api-key"]);
    }

    #[test]
    fn keyword_case_matters_only_where_the_rule_says() {
        let set = RuleSet::builtin().unwrap();
        // Case-sensitive keyword.
        assert!(candidates(&set, "GHP_ akia").is_empty());
        // Case-insensitive keyword.
        assert_eq!(candidates(&set, "HOOKS.SLACK.COM"), ["slack-webhook"]);
        assert_eq!(candidates(&set, "AWS_SECRET"), ["aws-secret-access-key"]);
    }

    #[test]
    fn rule_ids_are_unique_kebab_case() {
        let mut ids: Vec<&str> = BUILTIN_RULES.iter().map(|r| r.id).collect();
        for id in &ids {
            assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), BUILTIN_RULES.len());
    }
}
