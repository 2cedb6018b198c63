//! Variables whose value is code, or chooses which code runs.
//!
//! An assignment anywhere on the line (`NAME=v cmd`, `NAME=v;`, `export`,
//! `declare`, `local`, `env NAME=v`, and `read NAME`/`printf -v NAME`,
//! which assign from input) is looked up here. A command string (`PAGER`,
//! `GIT_SSH_COMMAND`, …) is parsed in turn like `sh -c`; a variable that
//! makes a program load code or look names up elsewhere (`PATH`,
//! `LD_PRELOAD`, `BASH_ENV`, …) makes the line dynamic. The list is data
//! with a reason per entry; a variable not listed is not code to this
//! crate (a program's own configuration variables are not all known).

use tree_sitter::Node;

use crate::options;
use crate::runners::ENV;
use crate::words::{literal, text};
use crate::{CommandError, Walker};

/// What a variable's value does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A command line some program runs with `sh -c`: parsed in turn.
    Command,
    /// It makes programs load code, or resolve names, from elsewhere.
    Chooses,
}

/// Variables whose value runs as a shell command, with why.
const COMMANDS: &[(&str, &str)] = &[
    ("PAGER", "man, git and others run it through the shell"),
    ("MANPAGER", "man runs it through the shell"),
    ("GIT_PAGER", "git runs it through the shell"),
    ("EDITOR", "git, crontab and others run it through the shell"),
    ("VISUAL", "git, crontab and others run it through the shell"),
    ("GIT_EDITOR", "git runs it through the shell"),
    ("GIT_SEQUENCE_EDITOR", "git rebase runs it through the shell"),
    ("SUDO_EDITOR", "sudoedit runs it"),
    ("GIT_SSH_COMMAND", "git runs it through the shell to reach a remote"),
    ("GIT_SSH", "git runs it to reach a remote"),
    ("GIT_ASKPASS", "git runs it to ask for a password"),
    ("SSH_ASKPASS", "ssh runs it to ask for a password"),
    ("GIT_EXTERNAL_DIFF", "git diff runs it"),
    ("PROMPT_COMMAND", "bash runs it before each prompt"),
    ("GIT_PROXY_COMMAND", "git runs it to connect to a git:// remote"),
    ("SYSTEMD_PAGER", "systemctl, journalctl and others run it through the shell"),
    ("SYSTEMD_EDITOR", "systemctl edit runs it"),
    ("FCEDIT", "bash's fc runs it on the history it edits"),
    ("RSYNC_RSH", "rsync runs it to reach a remote"),
    ("RSYNC_CONNECT_PROG", "rsync runs it through the shell to reach a daemon"),
    ("CVS_RSH", "cvs runs it to reach a remote"),
    ("SVN_SSH", "svn runs it to reach a remote"),
];

/// Variables that choose which code runs, with why.
const CHOOSERS: &[(&str, &str)] = &[
    ("PATH", "every later command name is looked up in directories the line chose"),
    ("BASH_ENV", "non-interactive bash sources this file first"),
    ("ENV", "an interactive sh sources this file first"),
    ("ZDOTDIR", "zsh reads its startup files from here"),
    ("BASH_ALIASES", "an entry is an alias: it renames a later word"),
    ("BASH_CMDS", "an entry is the command hash: it renames a later word"),
    ("BASH_LOADABLES_PATH", "enable -f loads builtins from here"),
    ("PS0", "bash expands prompts, running substitutions in them"),
    ("PS1", "bash expands prompts, running substitutions in them"),
    ("PS2", "bash expands prompts, running substitutions in them"),
    ("PS4", "bash expands it before each traced command, running substitutions"),
    ("LD_PRELOAD", "the dynamic loader loads this library into every program"),
    ("LD_AUDIT", "the dynamic loader loads this library into every program"),
    ("LD_LIBRARY_PATH", "the dynamic loader looks for libraries here first"),
    ("GCONV_PATH", "glibc loads charset converters from here"),
    ("PYTHONPATH", "Python imports modules from here first"),
    ("PYTHONSTARTUP", "interactive Python runs this file first"),
    ("PYTHONHOME", "Python loads its standard library from here"),
    ("PERL5LIB", "Perl loads modules from here first"),
    ("PERLLIB", "Perl loads modules from here first"),
    ("PERL5OPT", "Perl takes these as options: -M loads a module"),
    ("RUBYLIB", "Ruby loads libraries from here first"),
    ("RUBYOPT", "Ruby takes these as options: -r loads a file"),
    ("NODE_OPTIONS", "node takes these as options: --require loads a file"),
    ("NODE_PATH", "node loads modules from here"),
    ("LESSOPEN", "less runs it on every file it opens (`|cmd %s`: not parsed)"),
    ("LESSCLOSE", "less runs it on every file it closes"),
    ("BROWSER", "a list of programs, separated by colons, that open URLs"),
    ("GIT_CONFIG_COUNT", "git -c in the environment: core.pager, core.sshCommand, aliases"),
    ("GIT_CONFIG_PARAMETERS", "git -c in the environment: core.pager, core.sshCommand, aliases"),
    ("GIT_CONFIG", "git reads its configuration (pager, hooks, aliases) from this file"),
    ("GIT_CONFIG_GLOBAL", "git reads its configuration (pager, hooks, aliases) from this file"),
    ("GIT_CONFIG_SYSTEM", "git reads its configuration (pager, hooks, aliases) from this file"),
    ("GIT_EXEC_PATH", "git runs its sub-commands from here"),
    ("GIT_TEMPLATE_DIR", "git init copies hooks from here"),
    ("JAVA_TOOL_OPTIONS", "every JVM takes these as options: -javaagent loads code"),
    ("_JAVA_OPTIONS", "every JVM takes these as options: -javaagent loads code"),
    ("JDK_JAVA_OPTIONS", "java takes these as options: -javaagent loads code"),
    ("CLASSPATH", "the JVM loads classes from here"),
    ("PYTHONWARNINGS", "Python imports the module a warning category names"),
    ("PYTHONBREAKPOINT", "Python imports the callable breakpoint() runs"),
    ("PYTHONUSERBASE", "Python runs the .pth files of this site directory"),
    ("PERL5DB", "perl -d runs this code"),
    ("GEM_HOME", "Ruby loads gems from here"),
    ("GEM_PATH", "Ruby loads gems from here"),
    ("LUA_INIT", "Lua runs this code (or @file) first"),
    ("LUA_PATH", "Lua loads modules from here"),
    ("LUA_CPATH", "Lua loads native modules from here"),
    ("DOTNET_STARTUP_HOOKS", ".NET loads these assemblies first"),
    ("R_PROFILE", "R runs this file first"),
    ("R_PROFILE_USER", "R runs this file first"),
    ("VIMINIT", "vim runs these Ex commands (`:!cmd` included) first"),
    ("EXINIT", "vi runs these Ex commands first"),
    ("RUSTC_WRAPPER", "cargo runs this program in place of rustc"),
];

/// The role of variable `name`, if it is code or chooses code.
pub(crate) fn role(name: &str) -> Option<Role> {
    // `BASH_FUNC_name%%` is how bash imports a function definition;
    // `GIT_CONFIG_KEY_<n>`/`GIT_CONFIG_VALUE_<n>` are `git -c` pairs.
    if ["BASH_FUNC_", "GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"].iter().any(|p| name.starts_with(p)) {
        return Some(Role::Chooses);
    }
    let listed = |table: &[(&str, &str)]| table.iter().any(|(n, _)| *n == name);
    if listed(COMMANDS) {
        Some(Role::Command)
    } else if listed(CHOOSERS) {
        Some(Role::Chooses)
    } else {
        None
    }
}

/// The variable an argument of `read`, `printf -v`, `mapfile`, `getopts`,
/// … would name (`PATH` for `PATH`, `BASH_CMDS[x]` for `BASH_CMDS`).
pub(crate) fn named(word: &str) -> &str {
    word.split(['[', '=']).next().unwrap_or(word)
}

/// Builtins that assign to variables named by their arguments.
pub(crate) const ASSIGNING_BUILTINS: &[&str] =
    &["read", "printf", "mapfile", "readarray", "getopts", "declare", "typeset", "export", "local"];

/// `env`'s `NAME=value` arguments before the command it runs, read with
/// env's own option grammar (`env -iu X PATH=. ls` assigns `PATH`). If the
/// options cannot be read, no assignment is known, and `unwrap` already
/// makes the line dynamic.
pub(crate) fn env_assignments(args: &[Option<String>]) -> Vec<(String, String)> {
    options::parse(args, &ENV).map(|parsed| parsed.assignments).unwrap_or_default()
}

impl Walker {
    /// A variable assignment node (`NAME=v`, `export NAME=v`, `a[i]=v`).
    pub(crate) fn assignment(
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
    pub(crate) fn variable(
        &mut self,
        name: &str,
        value: Option<String>,
        via: &[String],
    ) -> Result<(), CommandError> {
        match (role(name), value) {
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
    pub(crate) fn assigned_by(
        &mut self,
        program: &str,
        args: &[Option<String>],
        via: &[String],
    ) -> Result<(), CommandError> {
        if program == "env" {
            for (name, value) in env_assignments(args) {
                self.variable(&name, Some(value), via)?;
            }
            return Ok(());
        }
        let names: Vec<&str> = match program {
            "printf" => args
                .windows(2)
                .filter(|w| w.first().is_some_and(|f| f.as_deref() == Some("-v")))
                .filter_map(|w| w.get(1)?.as_deref())
                .collect(),
            p if ASSIGNING_BUILTINS.contains(&p) => {
                args.iter().flatten().map(String::as_str).collect()
            }
            _ => return Ok(()),
        };
        if names.iter().any(|n| role(named(n)).is_some()) {
            self.analysis.dynamic = true;
        }
        Ok(())
    }
}
