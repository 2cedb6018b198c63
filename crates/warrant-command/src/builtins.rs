//! The shell's own builtins that run code kept in a string or a file, or
//! that change what a later word means.
//!
//! `eval`, `trap` and `mapfile -C` take code as a string: a literal one is
//! parsed in turn, any other is dynamic. `coproc` runs the command after
//! it. `.`/`source` read a file, `enable -f` loads
//! a builtin from a library: dynamic. `alias NAME=…` and `hash -p PATH
//! NAME` can rename any later word of the line: dynamic. Function
//! definitions need nothing here: their bodies are part of the line and are
//! walked like any other command.

use crate::interpreters::is_flag;
use crate::wrappers::Inner;

/// What builtin `program` with `args` runs, or `None` if it is not one of
/// these.
pub(crate) fn unwrap(program: &str, args: &[Option<String>]) -> Option<Inner> {
    let inner = match program {
        "eval" => match args.iter().map(Option::as_deref).collect::<Option<Vec<&str>>>() {
            Some(words) if !words.is_empty() => {
                Inner::Script { source: words.join(" "), label: "eval".into() }
            }
            Some(_) => Inner::Nothing,
            None => Inner::Dynamic,
        },
        "." | "source" if args.is_empty() => Inner::Nothing,
        "." | "source" => Inner::Dynamic,
        "alias" => {
            let defines = args.iter().any(|a| a.as_deref().is_none_or(|a| a.contains('=')));
            if defines { Inner::Dynamic } else { Inner::Nothing }
        }
        "hash" => {
            let sets = args.iter().any(|a| a.as_deref().is_none_or(|a| is_flag(a, "-p")));
            if sets { Inner::Dynamic } else { Inner::Nothing }
        }
        "enable" => {
            let loads = args.iter().any(|a| a.as_deref().is_none_or(|a| is_flag(a, "-f")));
            if loads { Inner::Dynamic } else { Inner::Nothing }
        }
        "trap" => trap(args),
        // `coproc NAME { … }` is split by the grammar: the words after the
        // optional name and brace are the first command.
        "coproc" => {
            let skip = match (args.first(), args.get(1)) {
                (Some(Some(b)), _) if b == "{" => 1,
                (_, Some(Some(b))) if b == "{" => 2,
                _ => 0,
            };
            let words = args.get(skip..).unwrap_or(&[]).to_vec();
            if words.is_empty() {
                Inner::Nothing
            } else {
                Inner::Command { words, label: "coproc".into(), stdin: true }
            }
        }
        "mapfile" | "readarray" => callback(args),
        _ => return None,
    };
    Some(inner)
}

/// `mapfile -C callback`: bash evaluates the callback string for every
/// chunk of lines read.
fn callback(args: &[Option<String>]) -> Inner {
    match args.iter().position(|a| a.as_deref() == Some("-C")).map(|i| args.get(i + 1)) {
        None => Inner::Nothing,
        Some(Some(Some(code))) => {
            Inner::Script { source: code.clone(), label: "mapfile -C".into() }
        }
        Some(_) => Inner::Dynamic,
    }
}

/// `trap [-lp] [[action] signal …]`: with two or more operands the first is
/// code run later; `-` and the empty string reset or ignore.
fn trap(args: &[Option<String>]) -> Inner {
    let mut operands = args.iter().skip_while(|a| {
        a.as_deref().is_some_and(|a| a.starts_with('-') && a.len() > 1 && a != "--")
    });
    let mut first = operands.next();
    if first.is_some_and(|a| a.as_deref() == Some("--")) {
        first = operands.next();
    }
    if args.iter().flatten().any(|a| a == "-p" || a == "-l" || a == "-P") {
        return Inner::Nothing;
    }
    match (first, operands.next()) {
        (Some(None), Some(_)) => Inner::Dynamic,
        (Some(Some(action)), Some(_)) if action != "-" && !action.is_empty() => {
            Inner::Script { source: action.clone(), label: "trap".into() }
        }
        _ => Inner::Nothing,
    }
}
