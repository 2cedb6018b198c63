//! Programs that run other programs, and how to find what they run.
//!
//! Each wrapper is data: which of its options take a value (so the value is
//! not mistaken for the wrapped program), and how the wrapped command is
//! given (the rest of the words, a shell string, or `find -exec` clauses).

/// What a wrapper runs.
pub(crate) enum Inner {
    /// Not a wrapper, or a wrapper not running anything here (`command -v`).
    Nothing,
    /// It runs something, but which cannot be known from the text.
    Dynamic,
    /// The rest of the words are a command.
    Command { words: Vec<Option<String>>, label: String },
    /// Several commands (`find -exec … \; -exec … +`).
    Commands { commands: Vec<Vec<Option<String>>>, label: String },
    /// A shell string, parsed in turn (`sh -c '…'`, `eval`).
    Script { source: String, label: String },
}

/// A wrapper whose wrapped command is the first word after its options.
struct Prefix {
    program: &'static str,
    /// Options that take the next word as their value.
    valued: &'static [&'static str],
    /// Positional words between the options and the command (`timeout`'s
    /// duration, `chroot`'s new root).
    positional: usize,
    /// Options after which nothing is run (`command -v` looks a name up).
    runs_nothing: &'static [&'static str],
    /// Why it is listed.
    reason: &'static str,
}

const PREFIXES: &[Prefix] = &[
    Prefix {
        program: "env",
        valued: &["-u", "--unset", "-C", "--chdir"],
        positional: 0,
        runs_nothing: &[],
        reason: "runs a command with a changed environment",
    },
    Prefix {
        program: "sudo",
        valued: &[
            "-u",
            "--user",
            "-g",
            "--group",
            "-C",
            "--close-from",
            "-D",
            "--chdir",
            "-h",
            "--host",
            "-p",
            "--prompt",
            "-r",
            "--role",
            "-t",
            "--type",
            "-T",
            "--command-timeout",
            "-U",
            "--other-user",
        ],
        positional: 0,
        runs_nothing: &["-l", "--list", "-v", "--validate", "-k", "-K", "-e", "--edit"],
        reason: "runs a command as another user",
    },
    Prefix {
        program: "doas",
        valued: &["-u", "-C"],
        positional: 0,
        runs_nothing: &[],
        reason: "runs a command as another user",
    },
    Prefix {
        program: "nice",
        valued: &["-n", "--adjustment"],
        positional: 0,
        runs_nothing: &[],
        reason: "runs a command at another priority",
    },
    Prefix {
        program: "nohup",
        valued: &[],
        positional: 0,
        runs_nothing: &[],
        reason: "runs a command immune to hangups",
    },
    Prefix {
        program: "setsid",
        valued: &[],
        positional: 0,
        runs_nothing: &[],
        reason: "runs a command in a new session",
    },
    Prefix {
        program: "time",
        valued: &["-f", "--format", "-o", "--output"],
        positional: 0,
        runs_nothing: &[],
        reason: "runs and times a command",
    },
    Prefix {
        program: "stdbuf",
        valued: &["-i", "--input", "-o", "--output", "-e", "--error"],
        positional: 0,
        runs_nothing: &[],
        reason: "runs a command with changed buffering",
    },
    Prefix {
        program: "timeout",
        valued: &["-k", "--kill-after", "-s", "--signal"],
        positional: 1,
        runs_nothing: &[],
        reason: "runs a command with a time limit",
    },
    Prefix {
        program: "ionice",
        valued: &["-c", "--class", "-n", "--classdata"],
        positional: 0,
        runs_nothing: &["-p", "--pid", "-P", "--pgid", "-u", "--uid"],
        reason: "runs a command at another I/O priority",
    },
    Prefix {
        program: "chrt",
        valued: &["-T", "--sched-runtime", "-P", "--sched-period", "-D", "--sched-deadline"],
        positional: 1,
        runs_nothing: &["-p", "--pid", "-m", "--max"],
        reason: "runs a command with another scheduling policy",
    },
    Prefix {
        program: "taskset",
        valued: &[],
        positional: 1,
        runs_nothing: &["-p", "--pid"],
        reason: "runs a command on chosen CPUs",
    },
    Prefix {
        program: "chroot",
        valued: &["--userspec", "--groups"],
        positional: 1,
        runs_nothing: &[],
        reason: "runs a command in another root",
    },
    Prefix {
        program: "command",
        valued: &[],
        positional: 0,
        runs_nothing: &["-v", "-V"],
        reason: "runs a command, skipping functions",
    },
    Prefix {
        program: "builtin",
        valued: &[],
        positional: 0,
        runs_nothing: &[],
        reason: "runs a shell builtin",
    },
    Prefix {
        program: "exec",
        valued: &["-a"],
        positional: 0,
        runs_nothing: &[],
        reason: "replaces the shell with a command",
    },
    Prefix {
        program: "xargs",
        valued: &[
            "-I",
            "-L",
            "-l",
            "-n",
            "--max-args",
            "-P",
            "--max-procs",
            "-s",
            "--max-chars",
            "-d",
            "--delimiter",
            "-E",
            "-e",
            "--eof",
            "-a",
            "--arg-file",
            "--replace",
            "--process-slot-var",
        ],
        positional: 0,
        runs_nothing: &[],
        reason: "runs a command with arguments from its input",
    },
    Prefix {
        program: "strace",
        valued: &["-o", "-e", "-p", "-s", "-u", "-E", "-P", "-I", "-a", "-b", "-O", "-S", "-X"],
        positional: 0,
        runs_nothing: &[],
        reason: "runs and traces a command",
    },
    Prefix {
        program: "ltrace",
        valued: &["-o", "-e", "-p", "-s", "-u", "-a", "-A", "-D", "-F", "-l", "-n", "-x"],
        positional: 0,
        runs_nothing: &[],
        reason: "runs and traces a command",
    },
    Prefix {
        program: "unbuffer",
        valued: &[],
        positional: 0,
        runs_nothing: &[],
        reason: "runs a command on a pseudo-terminal",
    },
    Prefix {
        program: "busybox",
        valued: &[],
        positional: 0,
        runs_nothing: &["--list", "--help"],
        reason: "runs one of its applets",
    },
    Prefix {
        program: "runuser",
        valued: &["-u", "--user", "-g", "--group", "-G", "--supp-group", "-s", "--shell"],
        positional: 0,
        runs_nothing: &[],
        reason: "runs a command as another user",
    },
    Prefix {
        program: "flock",
        valued: &["-w", "--timeout", "-E", "--conflict-exit-code"],
        positional: 1,
        runs_nothing: &[],
        reason: "runs a command holding a lock",
    },
    Prefix {
        program: "watch",
        valued: &["-n", "--interval", "-q", "--equexit"],
        positional: 0,
        runs_nothing: &[],
        reason: "runs a command repeatedly",
    },
];

/// Shells whose `-c` string is parsed as bash.
const SHELLS: &[&str] =
    &["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "rbash"];
/// Shells with a `-c` string in a syntax this parser does not read.
const OTHER_SHELLS: &[&str] = &["fish", "csh", "tcsh", "nu", "elvish", "xonsh", "pwsh"];

/// Interpreters and the flags that hand them code inline, with why.
pub(crate) const INLINE_CODE: &[(&str, &[&str], &str)] = &[
    ("python", &["-c"], "runs the Python code after -c"),
    ("perl", &["-e", "-E"], "runs the Perl code after -e"),
    ("ruby", &["-e"], "runs the Ruby code after -e"),
    ("node", &["-e", "--eval", "-p", "--print"], "runs the JavaScript after -e"),
    ("bun", &["-e", "--eval"], "runs the JavaScript after -e"),
    ("deno", &["eval"], "runs the JavaScript after eval"),
    ("php", &["-r"], "runs the PHP code after -r"),
    ("lua", &["-e"], "runs the Lua code after -e"),
    ("osascript", &["-e"], "runs the AppleScript after -e"),
    ("awk", &[""], "its program is code, and can run commands with system()"),
    ("gawk", &[""], "its program is code, and can run commands with system()"),
    ("mawk", &[""], "its program is code, and can run commands with system()"),
];

/// `python3.11` is `python`; `perl5` is `perl`.
pub(crate) fn same_program(name: &str, family: &str) -> bool {
    name.strip_prefix(family)
        .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// Whether `arg` sets `flag`: exactly, as `--flag=value`, or among combined
/// short flags (`-ec` sets `-c`). An empty flag matches every argument (the
/// program text is always code).
pub(crate) fn is_flag(arg: &str, flag: &str) -> bool {
    if flag.is_empty() || arg == flag {
        return true;
    }
    if flag.starts_with("--") {
        return arg.strip_prefix(flag).is_some_and(|rest| rest.starts_with('='));
    }
    match (flag.strip_prefix('-'), arg.strip_prefix('-')) {
        (Some(f), Some(a)) if f.len() == 1 && !a.starts_with('-') && !a.is_empty() => {
            a.chars().all(|c| c.is_ascii_alphabetic()) && a.contains(f)
        }
        _ => false,
    }
}

/// What `program` with `args` runs in turn.
pub(crate) fn unwrap(program: &str, args: &[Option<String>]) -> Inner {
    if SHELLS.contains(&program) {
        return shell(program, args);
    }
    if OTHER_SHELLS.contains(&program) {
        return if args.iter().flatten().any(|a| is_flag(a, "-c")) {
            Inner::Dynamic
        } else {
            Inner::Nothing
        };
    }
    match program {
        "eval" => {
            let words: Option<Vec<&str>> = args.iter().map(Option::as_deref).collect();
            return match words {
                Some(words) if !words.is_empty() => {
                    Inner::Script { source: words.join(" "), label: "eval".into() }
                }
                Some(_) => Inner::Nothing,
                None => Inner::Dynamic,
            };
        }
        "find" => return find(args),
        "su" => return string_after(args, &["-c", "--command"], "su -c"),
        _ => {}
    }
    if program == "env"
        && let Some(i) = args.iter().position(|a| {
            a.as_deref().is_some_and(|a| is_flag(a, "-S") || is_flag(a, "--split-string"))
        })
    {
        // `env -S 'prog args'`: a string split into words.
        return match args.get(i + 1) {
            Some(Some(s)) => Inner::Script { source: s.clone(), label: "env -S".into() },
            _ => Inner::Dynamic,
        };
    }
    if program == "flock" && args.iter().flatten().any(|a| a == "-c" || a == "--command") {
        return string_after(args, &["-c", "--command"], "flock -c");
    }
    if program == "watch" && !args.iter().flatten().any(|a| is_flag(a, "-x") || a == "--exec") {
        // `watch` hands its words to `sh -c` joined by spaces.
        return match rest_after_options(args, &["-n", "--interval", "-q", "--equexit"], 0) {
            Some(rest) if !rest.is_empty() => {
                let words: Option<Vec<&str>> = rest.iter().map(Option::as_deref).collect();
                match words {
                    Some(w) => Inner::Script { source: w.join(" "), label: "watch".into() },
                    None => Inner::Dynamic,
                }
            }
            Some(_) => Inner::Nothing,
            None => Inner::Dynamic,
        };
    }
    let Some(prefix) = PREFIXES.iter().find(|p| p.program == program) else {
        return Inner::Nothing;
    };
    let _ = prefix.reason;
    if args.iter().flatten().any(|a| prefix.runs_nothing.iter().any(|f| is_flag(a, f))) {
        return Inner::Nothing;
    }
    match rest_after_options(args, prefix.valued, prefix.positional) {
        None => Inner::Dynamic,
        Some(rest) if rest.is_empty() => {
            if program == "xargs" {
                // xargs without a command runs echo.
                Inner::Command { words: vec![Some("echo".into())], label: "xargs".into() }
            } else {
                Inner::Nothing
            }
        }
        Some(rest) => Inner::Command { words: rest, label: program.to_owned() },
    }
}

/// The words after a wrapper's options (and `positional` more words), or
/// `None` if an option word is not a literal.
fn rest_after_options(
    args: &[Option<String>],
    valued: &[&str],
    positional: usize,
) -> Option<Vec<Option<String>>> {
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        let arg = arg.as_deref()?;
        if arg == "--" {
            i += 1;
            break;
        }
        if valued.contains(&arg) {
            i += 2;
            continue;
        }
        let is_assignment = !arg.starts_with('-') && arg.contains('=') && !arg.starts_with('=');
        if (arg.starts_with('-') && arg.len() > 1) || is_assignment {
            i += 1;
            continue;
        }
        break;
    }
    let rest = args.get(i..).unwrap_or(&[]);
    Some(rest.get(positional.min(rest.len())..).unwrap_or(&[]).to_vec())
}

/// `sh [options] -c 'string' [name [args]]`.
fn shell(program: &str, args: &[Option<String>]) -> Inner {
    let mut command_flag = false;
    for arg in args {
        let Some(arg) = arg.as_deref() else { return Inner::Dynamic };
        if arg == "-o" || arg == "+o" {
            continue;
        }
        if (arg.starts_with('-') || arg.starts_with('+')) && arg.len() > 1 && arg != "--" {
            if is_flag(arg, "-c") {
                command_flag = true;
            }
            continue;
        }
        if command_flag {
            return Inner::Script { source: arg.to_owned(), label: format!("{program} -c") };
        }
        // A script file, or an option value: nothing more can be seen.
        return Inner::Nothing;
    }
    if command_flag { Inner::Dynamic } else { Inner::Nothing }
}

/// The string after one of `flags`, parsed as a script.
fn string_after(args: &[Option<String>], flags: &[&str], label: &str) -> Inner {
    match args.iter().position(|a| a.as_deref().is_some_and(|a| flags.contains(&a))) {
        None => Inner::Nothing,
        Some(i) => match args.get(i + 1) {
            Some(Some(s)) => Inner::Script { source: s.clone(), label: label.into() },
            _ => Inner::Dynamic,
        },
    }
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
            words.push(word.clone());
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
