//! Programs that run other programs, and how to find what they run.
//!
//! Each wrapper is data: which of its options take a value (so the value is
//! not mistaken for the wrapped program), and how the wrapped command is
//! given (the rest of the words, a shell string, or `find -exec` clauses).
//! Words a wrapper fills in at run time (`xargs`'s input, `find`'s `{}`)
//! are not literals, so a program or script made of them is dynamic.

use crate::builtins;
use crate::interpreters::{self, OTHER_SHELLS, SHELLS, ShellCode, is_flag};

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
        // Not `-k`: with a command it drops cached credentials and runs it.
        runs_nothing: &["-l", "--list", "-v", "--validate", "-K", "-e", "--edit"],
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

/// What `program` with `args` runs in turn.
pub(crate) fn unwrap(program: &str, args: &[Option<String>]) -> Inner {
    if SHELLS.contains(&program) {
        return shell(program, args);
    }
    if OTHER_SHELLS.contains(&program) {
        // A string, a file or stdin in a syntax this crate does not parse.
        return match args.first() {
            Some(Some(a)) if a == "--version" || a == "--help" => Inner::Nothing,
            _ => Inner::Dynamic,
        };
    }
    if let Some(inner) = builtins::unwrap(program, args) {
        return inner;
    }
    match program {
        "find" => return find(args),
        "su" | "runuser" if !args.iter().flatten().any(|a| is_flag(a, "-c") || is_command(a)) => {
            // Without a command, a shell that reads stdin and startup files.
            return if program == "su" || args.iter().flatten().any(|a| is_flag(a, "-l")) {
                Inner::Dynamic
            } else {
                prefix(program, args)
            };
        }
        "su" | "runuser" => {
            let inner = string_after(args, &["-c", "--command"], &format!("{program} -c"));
            return if args.iter().flatten().any(|a| a == "-" || is_flag(a, "-l") || a == "--login")
            {
                Inner::AlsoDynamic(Box::new(inner))
            } else {
                inner
            };
        }
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
    prefix(program, args)
}

/// `su --command=…`.
fn is_command(arg: &str) -> bool {
    arg == "--command" || arg.starts_with("--command=") || arg == "--session-command"
}

/// A wrapper from [`PREFIXES`]: the first word after its options.
fn prefix(program: &str, args: &[Option<String>]) -> Inner {
    let Some(prefix) = PREFIXES.iter().find(|p| p.program == program) else {
        return Inner::Nothing;
    };
    let _ = prefix.reason;
    if args.iter().flatten().any(|a| prefix.runs_nothing.iter().any(|f| is_flag(a, f))) {
        return Inner::Nothing;
    }
    let login = matches!(program, "sudo" | "doas")
        && args.iter().flatten().any(|a| is_flag(a, "-i") || a == "--login");
    let shell = matches!(program, "sudo" | "doas")
        && args.iter().flatten().any(|a| is_flag(a, "-s") || a == "--shell");
    let inner = match rest_after_options(args, prefix.valued, prefix.positional) {
        None => Inner::Dynamic,
        Some(rest) if rest.is_empty() => match program {
            // xargs without a command runs echo with its input.
            "xargs" => xargs(vec![Some("echo".into())], args),
            // Without a command, these start a shell reading stdin.
            "chroot" => Inner::Dynamic,
            _ if login || shell => Inner::Dynamic,
            _ => Inner::Nothing,
        },
        Some(rest) if program == "xargs" => xargs(rest, args),
        Some(rest) => Inner::Command { words: rest, label: program.to_owned(), stdin: true },
    };
    // `sudo -i cmd` runs cmd in a login shell, which reads startup files.
    if login { Inner::AlsoDynamic(Box::new(inner)) } else { inner }
}

/// The command xargs runs: with `-I R` (or `-i`, `--replace`), every word
/// containing R is filled in from its input; otherwise its input is
/// appended as more words. Either way those words are not literals, and
/// the command gets no stdin of the line's.
fn xargs(mut words: Vec<Option<String>>, args: &[Option<String>]) -> Inner {
    let mut replace = None;
    let mut options = args.iter().flatten();
    while let Some(arg) = options.next() {
        if arg == "-I" {
            replace = options.next().cloned();
        } else if let Some(r) = arg.strip_prefix("-I") {
            replace = Some(r.to_owned());
        } else if arg == "-i" || arg == "--replace" {
            replace = Some("{}".to_owned());
        } else if let Some(r) = arg.strip_prefix("-i").or_else(|| arg.strip_prefix("--replace=")) {
            replace = Some(r.to_owned());
        }
    }
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
    if startup { Inner::AlsoDynamic(Box::new(inner)) } else { inner }
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
