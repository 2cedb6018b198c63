//! Policy files to checked rules: parse, read annotations, name, validate.

use crate::error::{Problem, line_of, one_line};
use cedar_policy::{
    Effect, Policy, PolicyId, PolicySet, ResourceConstraint, Schema, ValidationMode, Validator,
};
use miette::Diagnostic;
use std::collections::HashMap;
use std::str::FromStr;

/// One policy file: its name (for messages and default rule ids) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    pub name: String,
    pub text: String,
}

impl PolicySource {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self { name: name.into(), text: text.into() }
    }
}

/// How a rule takes part in a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Permit,
    /// A forbid without `@ask`: deny, whatever else matches.
    HardForbid,
    /// A forbid with `@ask`: deny unless a person approves.
    AskForbid,
}

/// Which calls a rule can apply to, from its resource scope alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    /// `resource == Tool::"x"` (or `in`): only tool `x`.
    Tool(String),
    /// `resource in Upstream::"u"`: only tools of upstream `u`.
    Upstream(String),
    /// Anything else.
    Common,
}

/// One checked rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) file: String,
    pub(crate) kind: Kind,
    pub(crate) reason: Option<String>,
    pub(crate) ask: Option<String>,
    pub(crate) scope: Scope,
    pub(crate) policy: Policy,
}

/// Rules in load order, and the validator's warnings as lines of text.
pub(crate) fn load(
    sources: &[PolicySource],
    schema: &Schema,
) -> Result<(Vec<Rule>, Vec<String>), Vec<Problem>> {
    let mut problems = Vec::new();
    let mut rules = Vec::new();
    for source in sources {
        match parse_file(source) {
            Ok(mut parsed) => rules.append(&mut parsed),
            Err(mut found) => problems.append(&mut found),
        }
    }

    let mut first_file: HashMap<&str, &str> = HashMap::new();
    for rule in &rules {
        if let Some(first) = first_file.insert(&rule.id, &rule.file) {
            problems.push(Problem::DuplicateId {
                id: rule.id.clone(),
                first: first.to_owned(),
                second: rule.file.clone(),
            });
            first_file.insert(&rule.id, first);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut set = PolicySet::new();
    for rule in &rules {
        if let Err(e) = set.add(rule.policy.clone()) {
            problems.push(Problem::Invalid {
                file: rule.file.clone(),
                line: None,
                rule: rule.id.clone(),
                message: one_line(&e.to_string()),
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let texts: HashMap<&str, &str> =
        sources.iter().map(|s| (s.name.as_str(), s.text.as_str())).collect();
    let files: HashMap<&str, &str> =
        rules.iter().map(|r| (r.id.as_str(), r.file.as_str())).collect();
    let locate = |id: &PolicyId, diag: &dyn Diagnostic| {
        let file = files.get(AsRef::<str>::as_ref(id)).copied().unwrap_or_default();
        let text = texts.get(file).copied().unwrap_or_default();
        (file.to_owned(), first_line(diag, text))
    };

    let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
    for error in result.validation_errors() {
        let (file, line) = locate(error.policy_id(), error);
        problems.push(Problem::Invalid {
            file,
            line,
            rule: error.policy_id().to_string(),
            message: without_policy_prefix(&message(error), error.policy_id()),
        });
    }
    let warnings = result
        .validation_warnings()
        .map(|w| {
            let (file, line) = locate(w.policy_id(), w);
            let place = line.map_or(format!("`{file}`"), |l| format!("`{file}`:{l}"));
            let text = without_policy_prefix(&message(w), w.policy_id());
            format!("{place}: rule `{}`: {text}", w.policy_id())
        })
        .collect();

    if problems.is_empty() { Ok((rules, warnings)) } else { Err(problems) }
}

/// The rules of one file, named and classified.
fn parse_file(source: &PolicySource) -> Result<Vec<Rule>, Vec<Problem>> {
    let file = &source.name;
    let set = PolicySet::from_str(&source.text).map_err(|errors| {
        errors
            .iter()
            .map(|e| Problem::Syntax {
                file: file.clone(),
                line: first_line(e, &source.text),
                message: message(e),
            })
            .collect::<Vec<_>>()
    })?;

    let mut problems = Vec::new();
    for template in set.templates() {
        problems.push(Problem::Template {
            file: file.clone(),
            line: None,
            rule: template
                .annotation("id")
                .map_or_else(|| default_id(file, template.id()), ToOwned::to_owned),
        });
    }

    // The parser names policies `policy0`, `policy1`, ... in file order.
    let mut policies: Vec<(usize, &Policy)> =
        set.policies().map(|p| (index_of(p.id()), p)).collect();
    policies.sort_by_key(|(index, _)| *index);

    let mut rules = Vec::new();
    for (_, policy) in policies {
        let id = match policy.annotation("id") {
            Some(id) => id.to_owned(),
            None => default_id(file, policy.id()),
        };
        if id.trim().is_empty() || id.contains(char::is_control) {
            problems.push(Problem::Annotation {
                file: file.clone(),
                line: None,
                rule: id.clone(),
                message: "`@id` must be non-empty text on one line".to_owned(),
            });
            continue;
        }
        let ask = policy.annotation("ask").map(ToOwned::to_owned);
        let kind = match (policy.effect(), &ask) {
            (Effect::Permit, None) => Kind::Permit,
            (Effect::Permit, Some(_)) => {
                problems.push(Problem::AskOnPermit { file: file.clone(), line: None, rule: id });
                continue;
            }
            (Effect::Forbid, None) => Kind::HardForbid,
            (Effect::Forbid, Some(_)) => Kind::AskForbid,
        };
        rules.push(Rule {
            scope: scope_of(policy),
            policy: policy.new_id(PolicyId::new(&id)),
            reason: policy.annotation("reason").map(ToOwned::to_owned),
            ask,
            kind,
            file: file.clone(),
            id,
        });
    }
    if problems.is_empty() { Ok(rules) } else { Err(problems) }
}

/// `<file>:<n>` for the parser's `policy<n>`.
fn default_id(file: &str, parsed: &PolicyId) -> String {
    format!("{file}:{}", index_of(parsed))
}

fn index_of(parsed: &PolicyId) -> usize {
    let id: &str = parsed.as_ref();
    id.strip_prefix("policy").and_then(|n| n.parse().ok()).unwrap_or(usize::MAX)
}

fn scope_of(policy: &Policy) -> Scope {
    let of_type = |uid: &cedar_policy::EntityUid, ty: &str| {
        (uid.type_name().to_string() == ty).then(|| uid.id().unescaped().to_owned())
    };
    let tool = |uid: &cedar_policy::EntityUid| of_type(uid, "Tool").map(Scope::Tool);
    let upstream = |uid: &cedar_policy::EntityUid| of_type(uid, "Upstream").map(Scope::Upstream);
    let scope = match policy.resource_constraint() {
        ResourceConstraint::Eq(uid) => tool(&uid),
        // A tool has no tool ancestors, so `in Tool::"x"` is `== Tool::"x"`.
        ResourceConstraint::In(uid) | ResourceConstraint::IsIn(_, uid) => {
            tool(&uid).or_else(|| upstream(&uid))
        }
        ResourceConstraint::Any | ResourceConstraint::Is(_) => None,
    };
    scope.unwrap_or(Scope::Common)
}

/// The line of the first labelled span of a Cedar diagnostic in `text`.
fn first_line(diag: &(impl Diagnostic + ?Sized), text: &str) -> Option<usize> {
    let label = diag.labels()?.next()?;
    Some(line_of(text, label.offset()))
}

/// Cedar's validator starts messages with "for policy `id`, "; the problem
/// already names the rule.
fn without_policy_prefix(message: &str, id: &PolicyId) -> String {
    message.replacen(&format!("for policy `{id}`, "), "", 1)
}

/// A Cedar diagnostic and its help, on one line.
fn message(diag: &(impl Diagnostic + ?Sized)) -> String {
    match diag.help() {
        Some(help) => one_line(&format!("{diag}; {help}")),
        None => one_line(&diag.to_string()),
    }
}
