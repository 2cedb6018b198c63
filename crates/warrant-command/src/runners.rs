//! Programs that run a command given as their operands: data, with a
//! reason on each entry.
//!
//! Each entry declares its options ([`Grammar`]), how many operands come
//! before the command (`timeout`'s duration), which options make it run
//! nothing, and what it does with no command. How sure the crate is of
//! where the command starts is the entry's [`Form`]: an `Exact` grammar
//! finds the command (and an option it does not declare makes the line
//! dynamic), a `Guessed` one reports its best guess and always makes the
//! line dynamic, and `Opaque` runners are dynamic with no guess. Options
//! that make a runner load code the line does not show (`loads_code`: the
//! dynamic loader's `--preload`, `trickle -P`) make the line dynamic. The
//! dynamic loader is one entry under all its names (`ld-linux-*.so.*`,
//! `ld-musl-*.so.*`, `ld.so`).
//!
//! Not listed here: shells and interpreters (`interpreters.rs`), builtins
//! (`builtins.rs`), and runners whose command is a string or a clause
//! (`su -c`, `flock -c`, `watch`, `script -c`, `ssh`, `xterm -e`,
//! `find -exec`, `env -S`, and in `code_strings.rs` `hyperfine`, `socat`,
//! `nix-shell`, `nix`, `capsh`): `wrappers.rs` reads those, using the
//! grammar given here for their options.

use crate::options::{Grammar, NONE};
pub(crate) use crate::runner_table::RUNNERS;

/// How well the crate knows where a runner's command starts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// The grammar is modelled: the command is found.
    Exact,
    /// Its options are too many or too loose to model: the command is
    /// guessed (first word that is not an option) and the line is dynamic.
    Guessed,
    /// It runs commands in forms not modelled (sub-commands, scripts,
    /// key presses): dynamic, nothing guessed.
    Opaque,
}

/// One program that runs another.
pub(crate) struct Runner {
    pub(crate) program: &'static str,
    pub(crate) grammar: Grammar,
    /// Operands between the options and the command.
    pub(crate) positional: usize,
    /// Options after which it runs nothing (`command -v`, `sudo -l`),
    /// separated by spaces.
    pub(crate) runs_nothing: &'static str,
    /// Given no command, it starts a shell that reads stdin.
    pub(crate) shell_when_alone: bool,
    /// Options that make it load code the line does not show (ld.so's
    /// `--preload`), separated by spaces: the line is dynamic.
    pub(crate) loads_code: &'static str,
    pub(crate) form: Form,
    /// Why it is listed.
    pub(crate) reason: &'static str,
}

pub(crate) const BASE: Runner = Runner {
    program: "",
    grammar: NONE,
    positional: 0,
    runs_nothing: "",
    shell_when_alone: false,
    loads_code: "",
    form: Form::Exact,
    reason: "",
};

/// `su` and `runuser`: shared by both entries and by `wrappers.rs`.
pub(crate) const SU: Grammar = Grammar {
    flags: "- -f --fast -l --login -m -p --preserve-environment -P --pty -h --help -V --version",
    valued: "-c --command --session-command -g --group -G --supp-group -s --shell -w --whitelist-environment -u --user",
    permute: true,
    ..NONE
};

/// `ssh`'s options (read in `wrappers.rs`).
pub(crate) const SSH: Grammar = Grammar {
    flags: "-4 -6 -A -a -C -f -G -g -K -k -M -N -n -q -s -T -t -V -v -X -x -Y -y",
    valued: "-B -b -c -D -E -e -F -I -i -J -L -l -m -O -o -P -p -Q -R -S -W -w",
    ..NONE
};

/// `script`'s options (read in `wrappers.rs`).
pub(crate) const SCRIPT: Grammar = Grammar {
    flags: "-a --append -e --return -f --flush -q --quiet",
    permute: true,
    valued: "-c --command -E --echo -T --log-timing -B --log-io -I --log-in -O --log-out -m --logging-format -o --output-limit",
    optional: "-t --timing",
    ..NONE
};

/// `flock`'s options (read in `wrappers.rs`).
pub(crate) const FLOCK: Grammar = Grammar {
    flags: "-s --shared -x -e --exclusive -u --unlock -n --nb --nonblock -o --close -F --no-fork --verbose",
    valued: "-w --wait --timeout -E --conflict-exit-code",
    ..NONE
};

/// `watch`'s options (read in `wrappers.rs`).
pub(crate) const WATCH: Grammar = Grammar {
    flags: "-b --beep -c --color -C --no-color -e --errexit -g --chgexit -p --precise -t --no-title -w --no-wrap -x --exec -r --no-rerun -f --follow",
    valued: "-n --interval -q --equexit -s --shotsfile",
    optional: "-d --differences",
    ..NONE
};

/// `env`'s options (also read for its `NAME=value` words).
pub(crate) const ENV: Grammar = Grammar {
    flags: "- -i --ignore-environment -0 --null -v --debug --list-signal-handling",
    valued: "-u --unset -C --chdir -S --split-string",
    optional: "--default-signal --ignore-signal --block-signal",
    assigns: true,
    ..NONE
};

/// The entry for `program`, if it is a runner. The dynamic loader has
/// many names (`ld-linux-x86-64.so.2`, `ld-musl-x86_64.so.1`,
/// `ld-2.31.so`, `ld.so`, `ld64.so.2`): all are `ld.so`.
pub(crate) fn find(program: &str) -> Option<&'static Runner> {
    let program = if is_dynamic_loader(program) { "ld.so" } else { program };
    RUNNERS.iter().find(|r| r.program == program)
}

/// Whether `program` is a name of the dynamic loader (not `ld`, the
/// linker).
fn is_dynamic_loader(program: &str) -> bool {
    (program.starts_with("ld-") && program.contains(".so"))
        || program.starts_with("ld.so")
        || program.starts_with("ld64.so")
}
