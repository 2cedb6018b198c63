//! Runners whose command is a shell string inside an option, an operand or
//! an address: `hyperfine 'cmd' …`, `socat … SYSTEM:'cmd'`, `nix-shell
//! --run 'cmd'`, `nix develop -c cmd`, `capsh -- -c 'cmd'`.
//!
//! Each string is parsed in turn like `sh -c`. What the crate cannot read
//! for sure makes the line dynamic, with what it found still reported: an
//! option it does not know, a word that is not a literal, a string with
//! the program's own quoting in it, a parameter the program fills in
//! (`hyperfine -L x a,b '{x}'`), a shell other than bash, and everything
//! `nix` evaluates (a `shell.nix`, a flake, setup hooks: code in files).
//!
//! It does not model these programs' other features: socat's address
//! options, or what a Nix expression builds.

use crate::interpreters::SHELLS;
use crate::options::{self, Grammar, NONE};
use crate::wrappers::{Inner, unless};

/// `hyperfine`'s options (clap: clusters, `=` values, options anywhere).
const HYPERFINE: Grammar = Grammar {
    flags: "-N -i --ignore-failure --show-output -h --help -V --version",
    valued: "-w --warmup -m --min-runs -M --max-runs -r --runs -s --setup -p --prepare --conclude -c --cleanup --reference -D --parameter-step-size -S --shell --style --sort -u --time-unit --export-asciidoc --export-csv --export-json --export-markdown --export-orgmode --output --input -n --command-name",
    // `-P VAR MIN MAX` takes three: the third is read as a command too,
    // which only adds a guess to a line that is dynamic anyway.
    valued2: "-L --parameter-list -P --parameter-scan",
    permute: true,
    ..NONE
};

/// `hyperfine [options] 'cmd'…`: every command, and the values of its
/// setup, prepare, cleanup, conclude and reference options, go to a shell.
pub(crate) fn hyperfine(args: &[Option<String>]) -> Inner {
    let Some(parsed) = options::parse(args, &HYPERFINE) else { return Inner::Dynamic };
    let code_options =
        ["-s", "--setup", "-p", "--prepare", "--conclude", "-c", "--cleanup", "--reference"];
    let mut strings: Vec<Option<String>> = parsed
        .options
        .iter()
        .filter(|(name, _)| code_options.contains(name))
        .map(|(_, value)| value.clone())
        .collect();
    strings.extend(parsed.operands.iter().cloned());
    let parameters =
        ["-L", "--parameter-list", "-P", "--parameter-scan"].iter().any(|o| parsed.has(o));
    let other_shell = match parsed.value(&["-S", "--shell"]) {
        None => false,
        Some(Some(shell)) => {
            shell != "none" && !SHELLS.contains(&shell.rsplit('/').next().unwrap_or(shell))
        }
        Some(None) => true,
    };
    if parameters {
        // `{name}` in a command is replaced by each value: even the
        // program name can be filled in.
        return Inner::Dynamic;
    }
    unless(parsed.unknown || other_shell, scripts(strings, "hyperfine"))
}

/// `socat [options] ADDRESS ADDRESS`: an `EXEC:` address runs a program
/// with its words, a `SYSTEM:` or `SHELL:` address runs a shell string.
/// The command ends at the first `,` (the address's options begin); a
/// command with socat's own quoting or escapes in it is dynamic.
pub(crate) fn socat(args: &[Option<String>]) -> Inner {
    let mut found = Vec::new();
    for arg in args {
        // Every word is read, options' values included: a value never
        // starts with an address keyword by accident.
        let Some(arg) = arg else { return Inner::Dynamic };
        for address in arg.split("!!") {
            let Some((keyword, rest)) = address.split_once(':') else { continue };
            let keyword = keyword.to_ascii_uppercase();
            if !matches!(keyword.as_str(), "EXEC" | "SYSTEM" | "SHELL") {
                continue;
            }
            if rest.contains(['\'', '"', '\\', '[', '{', '(']) {
                // socat's own quoting: where the command ends is a guess.
                found.push(Inner::Dynamic);
                continue;
            }
            let command = rest.split(',').next().unwrap_or(rest).to_owned();
            let label = format!("socat {keyword}:");
            found.push(if keyword == "EXEC" {
                let words = command.split_whitespace().map(|w| Some(w.to_owned())).collect();
                Inner::Command { words, label, stdin: false }
            } else {
                Inner::Script { source: command, label }
            });
        }
    }
    Inner::Several(found)
}

/// `nix-shell --run 'cmd'` or `--command 'cmd'`: bash runs the string,
/// after the shell's Nix expression and its hooks, which the line does not
/// show. Always dynamic.
pub(crate) fn nix_shell(args: &[Option<String>]) -> Inner {
    let mut found = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if matches!(word.as_deref(), Some("--run" | "--command")) {
            found.push(words.next().cloned().flatten());
        }
    }
    Inner::AlsoDynamic(Box::new(scripts(found, "nix-shell --run")))
}

/// `nix develop|shell … -c|--command cmd args…` runs the words that follow;
/// `nix run` runs a package's program. Always dynamic: the expression,
/// flake and hooks are code in files. Other sub-commands (`nix build`) run
/// nothing the line names, like `make`.
pub(crate) fn nix(args: &[Option<String>]) -> Inner {
    let subcommand = args.iter().flatten().find(|a| !a.starts_with('-'));
    match subcommand.map(String::as_str) {
        Some("develop" | "shell") => {
            let at = args.iter().position(|a| matches!(a.as_deref(), Some("-c" | "--command")));
            let words = at.map(|at| args.get(at + 1..).unwrap_or_default().to_vec());
            let inner = match words {
                Some(words) if !words.is_empty() => {
                    Inner::Command { words, label: "nix -c".into(), stdin: true }
                }
                _ => Inner::Nothing,
            };
            Inner::AlsoDynamic(Box::new(inner))
        }
        // `nix run` runs a program a flake names; `nix repl` reads stdin.
        Some("run" | "repl") => Inner::Dynamic,
        _ => Inner::Nothing,
    }
}

/// `capsh [--option…] -- args…`: the words after `--` (or `-+`, `=+`) are
/// bash's arguments (`capsh -- -c 'cmd'`). `--shell=` picks another
/// program, and `==` runs capsh again with the rest: both are read.
pub(crate) fn capsh(args: &[Option<String>]) -> Inner {
    let mut unsure = false;
    let mut shell = "bash".to_owned();
    for (at, arg) in args.iter().enumerate() {
        let Some(arg) = arg.as_deref() else { return Inner::Dynamic };
        match arg {
            "--" | "-+" | "=+" => {
                let mut words = vec![Some(shell)];
                words.extend(args.get(at + 1..).unwrap_or_default().iter().cloned());
                let inner = Inner::Command { words, label: "capsh --".into(), stdin: true };
                return unless(unsure, inner);
            }
            "==" => {}
            a if a.starts_with("--shell=") => {
                shell = a.trim_start_matches("--shell=").to_owned();
            }
            a if a.starts_with("--") => {}
            _ => unsure = true,
        }
    }
    unless(unsure, Inner::Nothing)
}

/// Shell strings parsed in turn; one that is not a literal is dynamic.
fn scripts(strings: Vec<Option<String>>, label: &str) -> Inner {
    Inner::Several(
        strings
            .into_iter()
            .map(|source| match source {
                Some(source) => Inner::Script { source, label: label.to_owned() },
                None => Inner::Dynamic,
            })
            .collect(),
    )
}
