//! Programs that run other programs, and how to find what they run.
//!
//! Runners whose command is their operands are data (`runners.rs`): their
//! options are read like getopt reads them (`options.rs`), so an option's
//! value is not mistaken for the command. This module reads the rest:
//! shells, runners whose command is a string (`su -c`, `flock -c`,
//! `script -c`, `watch`, `ssh host cmd`, `env -S`, and in
//! `code_strings.rs` `hyperfine`, `socat`, `nix-shell`, `capsh`) or a clause
//! (`find -exec … ;`, `xterm -e …`), and what `xargs` fills in.
//!
//! Fail closed: a runner whose option it does not know, whose operands it
//! cannot place, or whose string goes to something other than a bash-like
//! shell makes the line dynamic, with its best guess still reported. Words
//! a runner fills in at run time (`xargs`'s input, `find`'s `{}`) are not
//! literals, so a program or script made of them is dynamic.

use crate::interpreters::{self, OTHER_SHELLS, SHELLS, ShellCode};
use crate::options::{self, Parsed};
use crate::runners::{self, FLOCK, Form, SCRIPT, SSH, SU, WATCH};
use crate::{builtins, code_strings};

/// What a wrapper runs.
pub(crate) enum Inner {
    /// Not a wrapper, or a wrapper not running anything here (`command -v`).
    Nothing,
    /// It runs something, but which cannot be known from the text.
    Dynamic,
    /// The rest of the words are a command; `stdin` says whether it reads
    /// the wrapper's own stdin (`xargs` gives it none).
    Command { words: Vec<Option<String>>, label: String, stdin: bool },
    /// Several commands (`find -exec … \; -exec … +`).
    Commands { commands: Vec<Vec<Option<String>>>, label: String },
    /// A shell string, parsed in turn (`sh -c '…'`, `eval`).
    Script { source: String, label: String },
    /// A bash-grammar shell reading its commands from stdin: parsed in turn
    /// if the line spells stdin out, dynamic otherwise.
    Stdin { label: String },
    /// What it runs, and also code the line does not show (a login shell's
    /// startup files).
    AlsoDynamic(Box<Inner>),
    /// Several of the above (`hyperfine 'a' 'b'`, socat's two addresses).
    Several(Vec<Inner>),
}

/// What `program` with `args` runs in turn.
pub(crate) fn unwrap(program: &str, args: &[Option<String>]) -> Inner {
    if SHELLS.contains(&program) {
        return shell(program, args);
    }
    if OTHER_SHELLS.contains(&program) {
        // A string, a file or stdin in a syntax this crate does not parse.
        return if asks_about_itself(args) { Inner::Nothing } else { Inner::Dynamic };
    }
    if let Some(inner) = builtins::unwrap(program, args) {
        return inner;
    }
    match program {
        "find" => find(args),
        "su" | "runuser" => su(program, args),
        "flock" => flock(args),
        "watch" => watch(args),
        "script" => script(args),
        "ssh" => ssh(args),
        "hyperfine" => code_strings::hyperfine(args),
        "socat" => code_strings::socat(args),
        "nix-shell" => code_strings::nix_shell(args),
        "nix" => code_strings::nix(args),
        "capsh" => code_strings::capsh(args),
        "xterm" | "uxterm" | "urxvt" | "rxvt" | "x-terminal-emulator" | "konsole" | "alacritty" => {
            terminal(args)
        }
        _ => runner(program, args),
    }
}

/// `--version` or `--help` alone: the program only describes itself.
fn asks_about_itself(args: &[Option<String>]) -> bool {
    matches!(args, [Some(a)] if a == "--version" || a == "--help")
}

/// `inner`, and dynamic too if `unsure`.
pub(crate) fn unless(unsure: bool, inner: Inner) -> Inner {
    if unsure { Inner::AlsoDynamic(Box::new(inner)) } else { inner }
}

/// A runner from `runners.rs`: the command after its options and
/// positional operands.
fn runner(program: &str, args: &[Option<String>]) -> Inner {
    let Some(runner) = runners::find(program) else { return Inner::Nothing };
    let _ = runner.reason;
    if runner.form == Form::Opaque {
        return if asks_about_itself(args) { Inner::Nothing } else { Inner::Dynamic };
    }
    let Some(parsed) = options::parse(args, &runner.grammar) else { return Inner::Dynamic };
    if program == "env"
        && let Some(split) = parsed.value(&["-S", "--split-string"])
    {
        return env_split(split, &parsed);
    }
    if runner.runs_nothing.split_whitespace().any(|o| parsed.has(o)) {
        return Inner::Nothing;
    }
    let command = parsed.operands.get(runner.positional..).unwrap_or_default().to_vec();
    let elevates = matches!(program, "sudo" | "doas");
    // `sudo -i cmd` runs cmd in a login shell, which reads startup files.
    let login = elevates && (parsed.has("-i") || parsed.has("--login"));
    let shell = elevates && (parsed.has("-s") || parsed.has("--shell"));
    let inner = match (program, command.is_empty()) {
        // xargs without a command runs echo with its input.
        ("xargs", true) => xargs(vec![Some("echo".into())], &parsed),
        ("xargs", false) => xargs(command, &parsed),
        (_, true) if runner.shell_when_alone || login || shell => Inner::Dynamic,
        (_, true) => Inner::Nothing,
        (_, false) => Inner::Command { words: command, label: program.to_owned(), stdin: true },
    };
    let loads_code = runner.loads_code.split_whitespace().any(|o| parsed.has(o));
    unless(parsed.unknown || login || loads_code || runner.form == Form::Guessed, inner)
}

/// `env -S 'prog args'`: the string is split into words that take the
/// place of the option. Only a plain one is read: env's own escapes, quotes
/// and `${VAR}`, or options and assignments inside it, make it a guess.
fn env_split(split: Option<&str>, parsed: &Parsed) -> Inner {
    let Some(split) = split else { return Inner::Dynamic };
    let mut words: Vec<Option<String>> =
        split.split_whitespace().map(|w| Some(w.to_owned())).collect();
    let plain = !split.contains(['\\', '$', '\'', '"', '='])
        && words.first().is_some_and(|w| w.as_deref().is_some_and(|w| !w.starts_with('-')));
    if !plain {
        return Inner::AlsoDynamic(Box::new(Inner::Script {
            source: split.to_owned(),
            label: "env -S".into(),
        }));
    }
    words.extend(parsed.operands.iter().cloned());
    unless(parsed.unknown, Inner::Command { words, label: "env -S".into(), stdin: true })
}

/// `su`/`runuser`: a `-c` string run by the user's shell, or (`runuser -u
/// USER cmd`) a command. Without either, a shell reads stdin; a login
/// shell also reads startup files; a `-s` shell that is not bash-like
/// reads the string in another language.
fn su(program: &str, args: &[Option<String>]) -> Inner {
    let Some(parsed) = options::parse(args, &SU) else { return Inner::Dynamic };
    let login = parsed.has("-") || parsed.has("-l") || parsed.has("--login");
    let bash_like = match parsed.value(&["-s", "--shell"]) {
        None => true,
        Some(Some(shell)) => SHELLS.contains(&shell.rsplit('/').next().unwrap_or(shell)),
        Some(None) => false,
    };
    let user = parsed.has("-u") || parsed.has("--user");
    let inner = if program == "runuser" && user {
        if parsed.operands.is_empty() {
            Inner::Nothing
        } else {
            Inner::Command { words: parsed.operands.clone(), label: "runuser".into(), stdin: true }
        }
    } else {
        match parsed.value(&["-c", "--command", "--session-command"]) {
            Some(Some(code)) if bash_like => {
                Inner::Script { source: code.to_owned(), label: format!("{program} -c") }
            }
            _ => Inner::Dynamic,
        }
    };
    unless(login || parsed.unknown, inner)
}

/// `flock [options] FILE command…` or `flock [options] FILE -c 'string'`;
/// `flock FD` alone runs nothing.
fn flock(args: &[Option<String>]) -> Inner {
    let Some(parsed) = options::parse(args, &FLOCK) else { return Inner::Dynamic };
    let command = parsed.operands.get(1..).unwrap_or_default();
    let inner = match command {
        [] => Inner::Nothing,
        [Some(c), rest @ ..] if c == "-c" || c == "--command" => match rest {
            [Some(source)] => Inner::Script { source: source.clone(), label: "flock -c".into() },
            _ => Inner::Dynamic,
        },
        words => Inner::Command { words: words.to_vec(), label: "flock".into(), stdin: true },
    };
    unless(parsed.unknown, inner)
}

/// `watch cmd…` hands its words to `sh -c` joined by spaces; `watch -x`
/// runs them as they are.
fn watch(args: &[Option<String>]) -> Inner {
    let Some(parsed) = options::parse(args, &WATCH) else { return Inner::Dynamic };
    let words = parsed.operands.clone();
    let inner = if words.is_empty() {
        Inner::Nothing
    } else if parsed.has("-x") || parsed.has("--exec") {
        Inner::Command { words, label: "watch -x".into(), stdin: false }
    } else {
        joined(&words, "watch")
    };
    unless(parsed.unknown, inner)
}

/// `script -c 'string'` runs the string with `$SHELL -c`; without `-c` it
/// starts an interactive shell, which reads stdin.
fn script(args: &[Option<String>]) -> Inner {
    let Some(parsed) = options::parse(args, &SCRIPT) else { return Inner::Dynamic };
    let inner = match parsed.value(&["-c", "--command"]) {
        Some(Some(code)) => Inner::Script { source: code.to_owned(), label: "script -c".into() },
        _ => Inner::Dynamic,
    };
    unless(parsed.unknown, inner)
}

/// `ssh [options] host [options] [command…]`: the remote shell runs the
/// words joined by spaces (the host may be this one). With no command it
/// reads commands from stdin. Options that run local code (`ProxyCommand`,
/// `LocalCommand`, `KnownHostsCommand`, `Match exec`, a `RemoteCommand`)
/// or a configuration file make the line dynamic.
fn ssh(args: &[Option<String>]) -> Inner {
    let Some(before) = options::parse(args, &SSH) else { return Inner::Dynamic };
    let after_host = before.operands.get(1..).unwrap_or_default();
    let Some(after) = options::parse(after_host, &SSH) else { return Inner::Dynamic };
    let given = |name: &str| before.has(name) || after.has(name);
    let runs_config = given("-F")
        || [&before, &after].iter().flat_map(|p| &p.options).any(|(name, value)| {
            *name == "-o"
                && value.as_deref().is_none_or(|v| {
                    let key = v.trim_start().to_ascii_lowercase();
                    ["proxycommand", "localcommand", "knownhostscommand", "match", "remotecommand"]
                        .iter()
                        .any(|k| key.starts_with(k))
                })
        });
    let no_command = given("-N") || given("-s") || given("-V") || given("-G");
    let inner = if no_command || before.operands.is_empty() {
        Inner::Nothing
    } else if after.operands.is_empty() {
        Inner::Dynamic
    } else {
        joined(&after.operands, "ssh")
    };
    unless(runs_config || before.unknown || after.unknown, inner)
}

/// A terminal emulator: `-e prog args…` runs the rest (a single word with
/// spaces may go through a shell); without `-e` it starts a shell. Its
/// other options are not modelled, so the line is dynamic either way.
fn terminal(args: &[Option<String>]) -> Inner {
    let Some(at) = args.iter().position(|a| a.as_deref() == Some("-e")) else {
        return if asks_about_itself(args) { Inner::Nothing } else { Inner::Dynamic };
    };
    let words = args.get(at + 1..).unwrap_or_default().to_vec();
    let inner = match words.as_slice() {
        [] => Inner::Nothing,
        [Some(one)] if one.contains(char::is_whitespace) => {
            Inner::Script { source: one.clone(), label: "-e".into() }
        }
        _ => Inner::Command { words, label: "-e".into(), stdin: true },
    };
    Inner::AlsoDynamic(Box::new(inner))
}

/// Words a program joins with spaces and hands to a shell.
fn joined(words: &[Option<String>], label: &str) -> Inner {
    match words.iter().map(Option::as_deref).collect::<Option<Vec<&str>>>() {
        Some(words) => Inner::Script { source: words.join(" "), label: label.into() },
        None => Inner::Dynamic,
    }
}

/// The command xargs runs: with `-I R` (or `-i`, `--replace`), every word
/// containing R is filled in from its input; otherwise its input is
/// appended as more words. Either way those words are not literals, and
/// the command gets no stdin of the line's.
fn xargs(mut words: Vec<Option<String>>, parsed: &Parsed) -> Inner {
    let replace = match parsed.value(&["-I", "-i", "--replace"]) {
        Some(Some(r)) => Some(r.to_owned()),
        Some(None) if !parsed.has("-I") => Some("{}".to_owned()),
        Some(None) => return Inner::Dynamic,
        None => None,
    };
    match replace.filter(|r| !r.is_empty()) {
        Some(r) => {
            for word in &mut words {
                if word.as_deref().is_some_and(|w| w.contains(r.as_str())) {
                    *word = None;
                }
            }
        }
        None => words.push(None),
    }
    Inner::Command { words, label: "xargs".into(), stdin: false }
}

/// A bash-grammar shell: its `-c` string, stdin or script file.
fn shell(program: &str, args: &[Option<String>]) -> Inner {
    let (code, startup) = interpreters::shell(program, args);
    let inner = match code {
        ShellCode::None => return Inner::Nothing,
        ShellCode::String(source) => Inner::Script { source, label: format!("{program} -c") },
        ShellCode::UnknownString | ShellCode::File => Inner::Dynamic,
        ShellCode::Stdin => Inner::Stdin { label: program.to_owned() },
    };
    unless(startup, inner)
}

/// `find … -exec prog args… ;` (and `-execdir`, `-ok`, `-okdir`, `+`).
fn find(args: &[Option<String>]) -> Inner {
    let mut commands = Vec::new();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        if !matches!(arg.as_deref(), Some("-exec" | "-execdir" | "-ok" | "-okdir")) {
            continue;
        }
        let mut words = Vec::new();
        while let Some(word) = args.get(i) {
            i += 1;
            if matches!(word.as_deref(), Some(";" | "+")) {
                break;
            }
            // `{}` is replaced by each path found: not a literal.
            words.push(word.clone().filter(|w| !w.contains("{}")));
        }
        if !words.is_empty() {
            commands.push(words);
        }
    }
    if commands.is_empty() {
        Inner::Nothing
    } else {
        Inner::Commands { commands, label: "find -exec".into() }
    }
}
