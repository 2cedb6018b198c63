//! Command substitutions the grammar does not show as such.
//!
//! The walker descends into every node of the tree, so a `$(…)`, `` `…` ``
//! or `<(…)` node is found wherever it sits (arguments, assignments,
//! subscripts, arithmetic, `[[ … ]]`, `case` words, redirection targets,
//! here-document bodies). Two things escape a tree walk, and this module
//! covers them:
//!
//! - **Backticks.** Bash reads the text between backticks again after
//!   undoing `` \` ``, `\\` and `\$` (and `\"` inside double quotes), so
//!   ``echo `echo \`curl x\`` `` runs curl. The text is unescaped and parsed
//!   in turn, recursively, bounded by [`crate::MAX_NESTING`].
//! - **Text the grammar leaves opaque.** tree-sitter-bash keeps some words
//!   as plain text that bash expands: the pattern of `${x#…}`, `${x%…}`,
//!   `${x^…}`, `${x,…}`, a default word holding backticks (`${x:-`…`}`).
//!   Any leaf whose text has an unescaped `$(`, `<(`, `>(` or backtick is
//!   parsed again inside double quotes, where the grammar does parse
//!   command substitutions, and what it finds is walked. If that parse
//!   fails, or does not account for every one of them (a process
//!   substitution never is), the line is dynamic.
//!
//! It does not look into single-quoted strings, comments or here-document
//! text (see `stdin.rs`): bash expands none of those here.

use tree_sitter::Node;

use crate::parse::parse;
use crate::words::text;
use crate::{CommandError, MAX_NESTING, Walker};

/// Leaves whose text bash never expands here, or that `stdin.rs` reads.
const NOT_EXPANDED: &[&str] = &[
    "raw_string",
    "ansi_c_string",
    "comment",
    "heredoc_start",
    "heredoc_end",
    "heredoc_body",
    "heredoc_content",
];

impl Walker {
    /// A backtick substitution: its text unescaped as bash does, and parsed
    /// in turn. `$(…)` and `<(…)` nodes are walked like any other node.
    pub(crate) fn backticks(
        &mut self,
        node: Node<'_>,
        src: &str,
        via: &[String],
    ) -> Result<(), CommandError> {
        let quoted = node.parent().is_some_and(|p| p.kind() == "string");
        let raw = text(node, src);
        let inner = raw.strip_prefix('`').and_then(|r| r.strip_suffix('`')).unwrap_or(raw);
        self.script(&unescape_backticks(inner, quoted), via)
    }

    /// A leaf the grammar did not break up: if bash would find a
    /// substitution in its text, it is parsed again and walked.
    pub(crate) fn opaque(
        &mut self,
        node: Node<'_>,
        src: &str,
        via: &[String],
    ) -> Result<(), CommandError> {
        // The grammar's own tokens (`$(`, a backtick) are not words.
        if !node.is_named() || NOT_EXPANDED.contains(&node.kind()) {
            return Ok(());
        }
        let leaf = text(node, src);
        self.evaluation_in_text(leaf);
        let starts = substitution_starts(leaf);
        if starts.is_empty() {
            return Ok(());
        }
        if self.depth > MAX_NESTING {
            return Err(CommandError::TooDeep);
        }
        // Inside double quotes `;`, `#`, `|` and spaces are text, as they
        // are in a pattern, while `$(…)` and backticks are still parsed.
        const OPEN: &str = ": \"";
        let synthetic = format!("{OPEN}{leaf}\"");
        let Ok(parsed) = parse(&synthetic) else {
            self.analysis.dynamic = true;
            return Ok(());
        };
        let mut found = Vec::new();
        outermost_substitutions(parsed.tree.root_node(), &mut found);
        let mut covered = Vec::new();
        all_starts(parsed.tree.root_node(), &mut covered);
        let accounted = starts.iter().all(|s| covered.contains(&(s + OPEN.len())));
        if !accounted || parsed.text != synthetic {
            self.analysis.dynamic = true;
        }
        self.depth += 1;
        let walked = found.into_iter().try_for_each(|sub| self.node(sub, &parsed.text, via));
        self.depth -= 1;
        walked
    }
}

/// The text between backticks as bash reads it again: a backslash before
/// `$`, `` ` `` or `\` (and `"` inside double quotes) is dropped.
fn unescape_backticks(inner: &str, in_double_quotes: bool) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && (matches!(next, '$' | '`' | '\\') || (in_double_quotes && next == '"'))
        {
            out.push(next);
            chars.next();
        } else {
            out.push(c);
        }
    }
    out
}

/// Byte offsets in `leaf` of each unescaped `$(`, `<(`, `>(` and each
/// unescaped backtick that opens a pair.
fn substitution_starts(leaf: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut open_backtick = false;
    let mut chars = leaf.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            // `<(…)` and `>(…)` run too; the reparse inside double quotes
            // never accounts for them, so they make the line dynamic.
            '$' | '<' | '>' if chars.peek().is_some_and(|(_, n)| *n == '(') => starts.push(at),
            '`' => {
                if !open_backtick {
                    starts.push(at);
                }
                open_backtick = !open_backtick;
            }
            _ => {}
        }
    }
    starts
}

/// Substitution nodes not inside another (walking one walks those within).
fn outermost_substitutions<'t>(node: Node<'t>, found: &mut Vec<Node<'t>>) {
    if matches!(
        node.kind(),
        "command_substitution" | "process_substitution" | "arithmetic_expansion"
    ) {
        found.push(node);
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        outermost_substitutions(child, found);
    }
}

/// Where every substitution and arithmetic expansion starts.
fn all_starts(node: Node<'_>, starts: &mut Vec<usize>) {
    if matches!(
        node.kind(),
        "command_substitution" | "process_substitution" | "arithmetic_expansion"
    ) {
        starts.push(node.start_byte());
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        all_starts(child, starts);
    }
}
