//! What a command reads on its standard input, when the line shows it.
//!
//! A shell or interpreter given no script reads its code from stdin. If the
//! last redirection of descriptor 0 on that very command is a here-string
//! or a here-document whose text is a literal, that text is the code, and
//! the walker parses it in turn; anything else (a pipe, a file, a
//! descriptor, an expansion in the text, stdin inherited from an enclosing
//! group) is [`Stdin::Unknown`].
//!
//! The here-document text is taken as the shell takes it: with `<<-`,
//! leading tabs go from every line (so a nested here-document ends where
//! the shell ends it); with an unquoted delimiter, `\$`, `` \` `` and `\\`
//! lose their backslash and a backslash-newline disappears.

use tree_sitter::Node;

use crate::words::{literal, text};
use crate::{CommandError, Walker};

/// A command's standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stdin {
    /// Text the line spells out, and the operator that gave it (`<<<`,
    /// `<<`, `<<-`).
    Literal { text: String, operator: &'static str },
    /// A pipe, a file, a descriptor, or text with expansions in it.
    Unknown,
}

/// The stdin of `command`: its own here-strings and redirections, and those
/// of the `redirected_statement` it is the body of; the last one wins.
pub(crate) fn of_command(command: Node<'_>, src: &str) -> Stdin {
    let mut redirects = Vec::new();
    let mut cursor = command.walk();
    redirects.extend(command.children_by_field_name("redirect", &mut cursor));
    if let Some(parent) = command.parent()
        && parent.kind() == "redirected_statement"
        && parent.child_by_field_name("body").is_some_and(|b| b.id() == command.id())
    {
        let mut cursor = parent.walk();
        redirects.extend(parent.children_by_field_name("redirect", &mut cursor));
    }
    redirects.sort_by_key(Node::start_byte);
    let Some(last) = redirects.into_iter().rev().find(|r| reads_stdin(*r, src)) else {
        return Stdin::Unknown;
    };
    match last.kind() {
        "herestring_redirect" => {
            let mut cursor = last.walk();
            let word = last.named_children(&mut cursor).next();
            match word.and_then(|w| literal(w, src)) {
                Some(mut text) => {
                    text.push('\n');
                    Stdin::Literal { text, operator: "<<<" }
                }
                None => Stdin::Unknown,
            }
        }
        "heredoc_redirect" => match here_document(last, src) {
            HereDocument { text, literal: true, strip_tabs, .. } => {
                Stdin::Literal { text, operator: if strip_tabs { "<<-" } else { "<<" } }
            }
            HereDocument { .. } => Stdin::Unknown,
        },
        _ => Stdin::Unknown,
    }
}

/// Whether a redirection node replaces descriptor 0.
fn reads_stdin(redirect: Node<'_>, src: &str) -> bool {
    let mut descriptor = None;
    let mut operator = None;
    let mut cursor = redirect.walk();
    for child in redirect.children(&mut cursor) {
        match child.kind() {
            "file_descriptor" => descriptor = Some(text(child, src)),
            k if !child.is_named() && operator.is_none() => operator = Some(k),
            _ => {}
        }
    }
    descriptor.is_none_or(|d| d == "0") && operator.is_some_and(|o| o.starts_with('<'))
}

/// A here-document's text, as the command reading it receives it.
pub(crate) struct HereDocument {
    pub(crate) text: String,
    /// The text before the shell's unescaping (tabs already stripped).
    pub(crate) raw: String,
    /// `<<-`: leading tabs were stripped.
    pub(crate) strip_tabs: bool,
    /// The text has no expansion, substitution or backtick in it.
    pub(crate) literal: bool,
    /// The delimiter is unquoted: the shell expands the text.
    pub(crate) expanded: bool,
}

pub(crate) fn here_document(redirect: Node<'_>, src: &str) -> HereDocument {
    let mut quoted = false;
    let mut strip_tabs = false;
    let mut start = None;
    let mut end = None;
    let mut cursor = redirect.walk();
    for child in redirect.children(&mut cursor) {
        match child.kind() {
            "<<-" => strip_tabs = true,
            "heredoc_start" => {
                quoted = text(child, src).contains(['\'', '"', '\\']);
                start = Some(child.end_byte());
            }
            "heredoc_end" => end = Some(child.start_byte()),
            _ => {}
        }
    }
    // The text is taken from the source, not from the parser's body node:
    // the parser sometimes splits a body into other nodes (a body starting
    // with `\``), and an empty node would read as an empty script. The body
    // runs from the line after the operator to the delimiter line, which
    // must start a line (after tabs, for `<<-`).
    let body = start.zip(end).and_then(|(start, end)| {
        let first = start + src.get(start..)?.find('\n')? + 1;
        let before_end = src.get(..end)?;
        let line_start = if strip_tabs { before_end.trim_end_matches('\t') } else { before_end };
        (line_start.ends_with('\n') && first <= end).then(|| src.get(first..end))?
    });
    let Some(body) = body else {
        // No body where one should be: scan the whole redirection for
        // backticks, and never take it as a literal.
        let raw = text(redirect, src).to_owned();
        return HereDocument {
            text: String::new(),
            raw,
            strip_tabs,
            literal: false,
            expanded: true,
        };
    };
    let raw: String = if strip_tabs {
        body.split_inclusive('\n').map(|l| l.trim_start_matches('\t')).collect()
    } else {
        body.to_owned()
    };
    if quoted {
        return HereDocument { text: raw.clone(), raw, strip_tabs, literal: true, expanded: false };
    }
    // Any unescaped `$` or backtick may expand: the text is not taken as
    // seen.
    let literal = !unescaped(&raw).any(|c| c == '$' || c == '`');
    HereDocument { text: unescape(&raw), raw, strip_tabs, literal, expanded: true }
}

/// The characters of `raw` not preceded by a backslash.
fn unescaped(raw: &str) -> impl Iterator<Item = char> + '_ {
    let mut chars = raw.chars();
    std::iter::from_fn(move || {
        loop {
            match chars.next()? {
                '\\' => {
                    chars.next();
                }
                c => return Some(c),
            }
        }
    })
}

/// The commands between unescaped backtick pairs of an expanded
/// here-document (the parser leaves them as text), with the escapes the
/// shell undoes inside backticks undone.
pub(crate) fn backticks(raw: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match (c, current.as_mut()) {
            ('\\', None) => {
                chars.next();
            }
            ('\\', Some(inner)) => match chars.next() {
                Some(n @ ('$' | '`' | '\\')) => inner.push(n),
                Some(n) => {
                    inner.push('\\');
                    inner.push(n);
                }
                None => inner.push('\\'),
            },
            ('`', None) => current = Some(String::new()),
            ('`', Some(_)) => found.extend(current.take()),
            (c, Some(inner)) => inner.push(c),
            (_, None) => {}
        }
    }
    found
}

/// An odd, unescaped backtick: the shell would report an error or read
/// further than the parser did; either way the text is not taken as seen.
pub(crate) fn has_lone_backtick(raw: &str) -> bool {
    unescaped(raw).filter(|c| *c == '`').count() % 2 == 1
}

/// An expanded here-document: a backslash escapes only `$`, `` ` ``, `\`
/// and newline.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('$' | '`' | '\\') => out.extend(chars.next()),
            Some('\n') => {
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

impl Walker {
    /// Commands in backticks of an expanded here-document, which the
    /// parser leaves as text: parsed in turn, or dynamic if they do not
    /// parse or a backtick is left open.
    pub(crate) fn here_document_backticks(
        &mut self,
        node: Node<'_>,
        src: &str,
        via: &[String],
    ) -> Result<(), CommandError> {
        let document = here_document(node, src);
        if !document.expanded {
            return Ok(());
        }
        let raw = document.raw;
        self.evaluation_in_text(&raw);
        if has_lone_backtick(&raw) {
            self.analysis.dynamic = true;
        }
        for inner in backticks(&raw) {
            match self.script(&inner, via) {
                Err(CommandError::Syntax(_)) => self.analysis.dynamic = true,
                other => other?,
            }
        }
        Ok(())
    }
}
