//! What can be wrong with a set of policy files.
//!
//! Loading reports every problem it finds, not just the first, so that
//! `warrant policy check` can print them all; each renders as one line that
//! names the file (and the line and rule where known).

use std::fmt;

/// The policy files could not be loaded; holds one problem per line of output.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}", render(.problems))]
pub struct PolicyError {
    problems: Vec<Problem>,
}

impl PolicyError {
    pub(crate) fn new(problems: Vec<Problem>) -> Self {
        Self { problems }
    }

    /// Every problem found, in file order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// One problem in one policy file.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Problem {
    /// The file is not valid Cedar.
    #[error("{}: syntax error: {message}", Place::file(file, *line))]
    Syntax { file: String, line: Option<usize>, message: String },
    /// A rule does not type-check against Warrant's schema.
    #[error("{}: rule `{rule}`: {message}", Place::file(file, *line))]
    Invalid { file: String, line: Option<usize>, rule: String, message: String },
    /// Two rules carry the same `@id`.
    #[error("duplicate rule id `{id}` in `{first}` and `{second}`")]
    DuplicateId { id: String, first: String, second: String },
    /// `@ask` only makes sense on a `forbid`.
    #[error("{}: rule `{rule}`: `@ask` is only allowed on a forbid", Place::file(file, *line))]
    AskOnPermit { file: String, line: Option<usize>, rule: String },
    /// An annotation Warrant reads has an unusable value.
    #[error("{}: rule `{rule}`: {message}", Place::file(file, *line))]
    Annotation { file: String, line: Option<usize>, rule: String, message: String },
    /// Templates (policies with `?principal` or `?resource` slots) are not used
    /// by Warrant.
    #[error("{}: rule `{rule}`: templates with slots are not supported", Place::file(file, *line))]
    Template { file: String, line: Option<usize>, rule: String },
    /// The built-in schema did not parse; a bug in this crate, not in a file.
    #[error("built-in schema is invalid: {message}")]
    Schema { message: String },
}

/// `file` or `file:line`, for messages.
struct Place<'a> {
    file: &'a str,
    line: Option<usize>,
}

impl<'a> Place<'a> {
    fn file(file: &'a str, line: Option<usize>) -> Self {
        Self { file, line }
    }
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "`{}`:{line}", self.file),
            None => write!(f, "`{}`", self.file),
        }
    }
}

fn render(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes().iter().take(end).filter(|b| **b == b'\n').count() + 1
}

/// One line of text from a possibly multi-line message.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_renders_on_its_own_line() {
        let err = PolicyError::new(vec![
            Problem::Syntax {
                file: "a.cedar".into(),
                line: Some(3),
                message: "unexpected token".into(),
            },
            Problem::DuplicateId {
                id: "x".into(),
                first: "a.cedar".into(),
                second: "b.cedar".into(),
            },
        ]);
        assert_eq!(
            err.to_string(),
            "`a.cedar`:3: syntax error: unexpected token\nduplicate rule id `x` in `a.cedar` and `b.cedar`"
        );
    }

    #[test]
    fn lines_are_counted_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 99), 3);
        assert_eq!(one_line("a\n  b\tc"), "a b c");
    }
}
