//! Shells and interpreters, and where each reads the code it runs.
//!
//! A shell or interpreter runs code from one of four places: a string on
//! its command line (`sh -c '…'`, `python -c '…'`), its standard input (no
//! script operand, `sh -s`, `python -`), a file (`sh script.sh`,
//! `python x.py`, `python -m mod`, `awk -f prog`), or startup files it reads
//! by itself (`bash -l`, `bash -i`, `zsh` without `-f`). This module says
//! which; the walker decides what can be seen: a bash-grammar string is
//! parsed in turn, a literal here-document or here-string fed on stdin is
//! parsed (shells) or counted as inline code (other interpreters), and
//! everything else is dynamic.
//!
//! It deliberately does not know every language's every option: an option
//! not listed is taken for a flag, and an unlisted word for a script file,
//! which errs towards "dynamic", never towards "nothing runs".

/// Where an interpreter (other than a bash-grammar shell) takes its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    /// It runs no code here (`python3 --version`), or is not an interpreter.
    None,
    /// Code given on the command line (`python -c`), not analysed.
    Inline,
    /// A file or module the line only names.
    File,
    /// Its standard input.
    Stdin,
}

/// One interpreter family, as data.
struct Interpreter {
    /// The name, matched with version suffixes (`python3.11`, `lua5.4`).
    family: &'static str,
    /// Flags whose value (or, for `""`, whose first operand) is code.
    inline: &'static [&'static str],
    /// Flags that load code from a file or module.
    file: &'static [&'static str],
    /// Options that take the next word as a value that is not the script.
    valued: &'static [&'static str],
    /// A first argument after which nothing runs (`--version`, `deno fmt`).
    quiet: &'static [&'static str],
    /// Whether it reads its program from stdin when given none (awk does not).
    reads_stdin: bool,
    /// Why it is listed.
    reason: &'static str,
}

const PYTHON_VALUED: &[&str] = &["-W", "-X", "--check-hash-based-pycs"];
const PYTHON_QUIET: &[&str] = &["--version", "-V", "-VV", "--help", "-h", "--help-all"];
const NODE_INLINE: &[&str] = &["-e", "--eval", "-p", "--print"];
const NODE_FILE: &[&str] = &["-r", "--require", "--import", "--loader", "--experimental-loader"];
const NODE_QUIET: &[&str] = &["--version", "-v", "--help", "-h"];
const AWK: Interpreter = Interpreter {
    family: "awk",
    inline: &[""],
    file: &["-f", "--file", "-E", "--exec", "-i", "--include"],
    valued: &["-F", "-v", "--field-separator", "--assign"],
    quiet: &["--version", "-V", "--help"],
    reads_stdin: false,
    reason: "its program is code, and can run commands with system()",
};

const INTERPRETERS: &[Interpreter] = &[
    Interpreter {
        family: "python",
        inline: &["-c"],
        file: &["-m"],
        valued: PYTHON_VALUED,
        quiet: PYTHON_QUIET,
        reads_stdin: true,
        reason: "runs Python",
    },
    Interpreter {
        family: "pypy",
        inline: &["-c"],
        file: &["-m"],
        valued: PYTHON_VALUED,
        quiet: PYTHON_QUIET,
        reads_stdin: true,
        reason: "runs Python",
    },
    Interpreter {
        family: "ipython",
        inline: &["-c"],
        file: &["-m"],
        valued: &[],
        quiet: PYTHON_QUIET,
        reads_stdin: true,
        reason: "runs Python",
    },
    Interpreter {
        family: "perl",
        inline: &["-e", "-E"],
        file: &[],
        valued: &["-I", "-x"],
        quiet: &["-v", "--version", "-V", "-h", "--help"],
        reads_stdin: true,
        reason: "runs Perl",
    },
    Interpreter {
        family: "ruby",
        inline: &["-e"],
        file: &["-r", "--require"],
        valued: &["-I", "-C", "-E", "--encoding"],
        quiet: &["--version", "-h", "--help"],
        reads_stdin: true,
        reason: "runs Ruby",
    },
    Interpreter {
        family: "irb",
        inline: &[],
        file: &["-r"],
        valued: &["-I"],
        quiet: &["--version", "-v", "-h", "--help"],
        reads_stdin: true,
        reason: "runs Ruby",
    },
    Interpreter {
        family: "node",
        inline: NODE_INLINE,
        file: NODE_FILE,
        valued: &["--title", "--input-type"],
        quiet: NODE_QUIET,
        reads_stdin: true,
        reason: "runs JavaScript",
    },
    Interpreter {
        family: "nodejs",
        inline: NODE_INLINE,
        file: NODE_FILE,
        valued: &["--title", "--input-type"],
        quiet: NODE_QUIET,
        reads_stdin: true,
        reason: "runs JavaScript",
    },
    Interpreter {
        family: "ts-node",
        inline: NODE_INLINE,
        file: NODE_FILE,
        valued: &[],
        quiet: NODE_QUIET,
        reads_stdin: true,
        reason: "runs TypeScript",
    },
    Interpreter {
        family: "tsx",
        inline: NODE_INLINE,
        file: NODE_FILE,
        valued: &[],
        quiet: NODE_QUIET,
        reads_stdin: true,
        reason: "runs TypeScript",
    },
    Interpreter {
        family: "bun",
        inline: &["-e", "--eval", "-p", "--print"],
        file: &["-r", "--preload"],
        valued: &[],
        quiet: &["--version", "-v", "--help", "-h"],
        reads_stdin: true,
        reason: "runs JavaScript, package scripts and packages",
    },
    Interpreter {
        family: "deno",
        inline: &["eval"],
        file: &[],
        valued: &[],
        quiet: &[
            "--version",
            "-V",
            "--help",
            "-h",
            "fmt",
            "lint",
            "check",
            "doc",
            "info",
            "types",
            "completions",
        ],
        reads_stdin: true,
        reason: "runs JavaScript and TypeScript",
    },
    Interpreter {
        family: "php",
        inline: &["-r", "-B", "-R", "-E"],
        file: &["-f", "-F", "-S", "-c", "-d"],
        valued: &["-z", "-t"],
        quiet: &["-v", "--version", "-h", "--help", "-m", "-i"],
        reads_stdin: true,
        reason: "runs PHP",
    },
    Interpreter {
        family: "lua",
        inline: &["-e"],
        file: &["-l"],
        valued: &[],
        quiet: &[],
        reads_stdin: true,
        reason: "runs Lua",
    },
    Interpreter {
        family: "luajit",
        inline: &["-e"],
        file: &["-l", "-b"],
        valued: &[],
        quiet: &[],
        reads_stdin: true,
        reason: "runs Lua",
    },
    Interpreter {
        family: "Rscript",
        inline: &["-e"],
        file: &[],
        valued: &[],
        quiet: &["--version", "--help"],
        reads_stdin: true,
        reason: "runs R",
    },
    Interpreter {
        family: "R",
        inline: &["-e"],
        file: &["-f", "--file"],
        valued: &[],
        quiet: &["--version", "--help", "-h"],
        reads_stdin: true,
        reason: "runs R",
    },
    Interpreter {
        family: "julia",
        inline: &["-e", "-E", "--eval", "--print"],
        file: &["-L", "--load"],
        valued: &["-t", "--threads", "-p", "--procs", "-J", "--sysimage"],
        quiet: &["--version", "-v", "--help", "-h"],
        reads_stdin: true,
        reason: "runs Julia",
    },
    Interpreter {
        family: "tclsh",
        inline: &[],
        file: &[],
        valued: &[],
        quiet: &[],
        reads_stdin: true,
        reason: "runs Tcl, which runs commands with exec",
    },
    Interpreter {
        family: "wish",
        inline: &[],
        file: &[],
        valued: &[],
        quiet: &[],
        reads_stdin: true,
        reason: "runs Tcl, which runs commands with exec",
    },
    Interpreter {
        family: "expect",
        inline: &["-c"],
        file: &["-f"],
        valued: &[],
        quiet: &["-v"],
        reads_stdin: true,
        reason: "runs Tcl and spawns programs",
    },
    Interpreter {
        family: "guile",
        inline: &["-c"],
        file: &["-l", "-s"],
        valued: &["-L", "-e"],
        quiet: &["--version", "-v", "--help", "-h"],
        reads_stdin: true,
        reason: "runs Scheme",
    },
    Interpreter {
        family: "elixir",
        inline: &["-e", "--eval"],
        file: &["-r", "--require"],
        valued: &[],
        quiet: &["--version", "-v", "--help", "-h"],
        reads_stdin: true,
        reason: "runs Elixir",
    },
    Interpreter {
        family: "groovy",
        inline: &["-e"],
        file: &[],
        valued: &[],
        quiet: &["--version", "-v", "--help", "-h"],
        reads_stdin: true,
        reason: "runs Groovy",
    },
    Interpreter {
        family: "osascript",
        inline: &["-e"],
        file: &[],
        valued: &["-l"],
        quiet: &[],
        reads_stdin: true,
        reason: "runs AppleScript, which runs commands with do shell script",
    },
    AWK,
    Interpreter { family: "gawk", ..AWK },
    Interpreter { family: "mawk", ..AWK },
    Interpreter { family: "nawk", ..AWK },
];

/// Shells whose `-c` string, here-document and here-string are bash.
pub(crate) const SHELLS: &[&str] =
    &["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "rbash"];
/// Shells in a syntax this parser does not read: whatever they run is
/// dynamic.
pub(crate) const OTHER_SHELLS: &[&str] = &["fish", "csh", "tcsh", "nu", "elvish", "xonsh", "pwsh"];

/// Where `program` takes the code it runs, if it is an interpreter.
pub(crate) fn code(program: &str, args: &[Option<String>]) -> Code {
    let Some(interpreter) = INTERPRETERS.iter().find(|i| same_program(program, i.family)) else {
        return Code::None;
    };
    let _ = interpreter.reason;
    let has = |flags: &[&str]| args.iter().flatten().any(|a| flags.iter().any(|f| is_flag(a, f)));
    if interpreter.quiet.iter().any(|q| args.first().is_some_and(|a| a.as_deref() == Some(*q))) {
        return Code::None;
    }
    if has(interpreter.file) {
        return Code::File;
    }
    if !args.is_empty() && has(interpreter.inline) {
        return Code::Inline;
    }
    match operand(args, interpreter.valued) {
        Operand::Unknown | Operand::Word => Code::File,
        Operand::Stdin | Operand::Nothing if interpreter.reads_stdin => Code::Stdin,
        Operand::Stdin | Operand::Nothing => Code::None,
    }
}

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

/// The first operand after an interpreter's options.
enum Operand {
    /// None: the program comes from stdin (or nowhere).
    Nothing,
    /// `-`: stdin, said explicitly.
    Stdin,
    /// A script file, module or subcommand.
    Word,
    /// A word that is not a literal.
    Unknown,
}

fn operand(args: &[Option<String>], valued: &[&str]) -> Operand {
    let mut words = args.iter();
    while let Some(arg) = words.next() {
        let Some(arg) = arg.as_deref() else { return Operand::Unknown };
        match arg {
            "-" => return Operand::Stdin,
            "--" => {
                return match words.next() {
                    None => Operand::Nothing,
                    Some(Some(w)) if w == "-" => Operand::Stdin,
                    Some(Some(_)) => Operand::Word,
                    Some(None) => Operand::Unknown,
                };
            }
            a if valued.contains(&a) => {
                words.next();
            }
            a if a.starts_with('-') => {}
            _ => return Operand::Word,
        }
    }
    Operand::Nothing
}

/// How a bash-grammar shell invocation takes its code.
pub(crate) enum ShellCode {
    /// Nothing runs (`bash --version`).
    None,
    /// The string after `-c`.
    String(String),
    /// `-c` given but its string is not a literal (or comes from `xargs`).
    UnknownString,
    /// Commands from stdin (no operand, `-s`, `-i`).
    Stdin,
    /// A script file, or startup files named on the line.
    File,
}

/// A bash-grammar shell's arguments: where its code comes from, and
/// whether it also reads startup files (`-l`, `-i`, zsh without `-f`),
/// which are code the line does not show.
pub(crate) fn shell(program: &str, args: &[Option<String>]) -> (ShellCode, bool) {
    let mut command = false;
    let mut stdin = false;
    let mut startup = program == "zsh";
    let mut words = args.iter();
    let code = loop {
        let Some(arg) = words.next() else {
            break if command { ShellCode::UnknownString } else { ShellCode::Stdin };
        };
        let Some(arg) = arg.as_deref() else {
            break if command { ShellCode::UnknownString } else { ShellCode::File };
        };
        match arg {
            "-o" | "+o" | "-O" | "+O" => {
                words.next();
            }
            "--version" | "--help" => break ShellCode::None,
            "--rcfile" | "--init-file" => break ShellCode::File,
            "--login" => startup = true,
            "--no-rcs" | "--norcs" => startup = false,
            "--" | "-" => {
                break match (command, words.next()) {
                    (true, Some(Some(s))) => ShellCode::String(s.clone()),
                    (true, _) => ShellCode::UnknownString,
                    (false, None) => ShellCode::Stdin,
                    (false, Some(_)) if stdin => ShellCode::Stdin,
                    (false, Some(_)) => ShellCode::File,
                };
            }
            a if a.starts_with("--") => {}
            a if a.len() > 1 && (a.starts_with('-') || a.starts_with('+')) => {
                let letters = a.get(1..).unwrap_or("");
                if a.starts_with('-') {
                    command |= letters.contains('c');
                    stdin |= letters.contains('s') || letters.contains('i');
                    startup |= letters.contains('i') || letters.contains('l');
                }
                if program == "zsh" && a.starts_with('-') && letters.contains('f') {
                    startup = false;
                }
            }
            a if command => break ShellCode::String(a.to_owned()),
            _ if stdin => break ShellCode::Stdin,
            _ => break ShellCode::File,
        }
    };
    (code, startup)
}
