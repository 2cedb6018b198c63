//! The home out of every agent's reach, whatever the workspace: the most
//! natural `cd ~ && warrant run -- sh` puts Warrant's home and the person's
//! secret stores inside the workspace. No sandbox and no built-in file tool
//! may read or write them, and the control socket obeys only the operator:
//! not a process that merely shares the uid, nor one in a sandbox that can
//! reach the socket and read its key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Stdio;
use warrant_test_support::{Output, Warrant, client};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

/// `warrant run ARGS` from `workspace` with `HOME` set to `home`.
fn run_from(w: &Warrant, workspace: &Path, home: &Path, args: &[&str]) -> Output {
    let out = w
        .command(&["run"])
        .args(args)
        .current_dir(workspace)
        .env("HOME", home)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn sandboxes_available(w: &Warrant) -> bool {
    let report = w.run(&["doctor", "--json"]).json();
    let runs = report["profiles"].as_array().unwrap().iter().all(|p| p["runs"] == true);
    if !runs {
        eprintln!("SKIP: this host cannot start the shipped sandbox profiles: {report}");
    }
    runs
}

/// A perl one-liner (perl-base is on every Debian) that sends one control
/// request with the key read from `key_file` and prints the answer.
fn control_client(socket: &str, key_file: &str, op: &str) -> String {
    format!(
        r#"perl -MIO::Socket::UNIX -e 'open(K, "<", $ARGV[1]) or die "key: $!\n"; my $k = <K>; my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n"; print $s "{{\"op\":\"$ARGV[2]\",\"id\":\"x\",\"by\":\"agent\",\"key\":\"$k\"}}\n"; print scalar <$s>' {socket} {key_file} {op}"#
    )
}

/// One raw control request from this (the operator's) process.
fn raw_control(w: &Warrant, request: &Value) -> Value {
    let mut stream = UnixStream::connect(w.home().join("run/control.sock")).unwrap();
    stream.write_all(format!("{request}\n").as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap()
}

#[test]
fn a_run_whose_workspace_holds_the_home_cannot_read_keys_write_policy_or_reach_the_control_socket()
{
    let w = Warrant::new(BIN);
    if !sandboxes_available(&w) {
        return;
    }
    // The workspace is the parent of Warrant's home (`<dir>/home`) and of
    // its witness; the person's $HOME is elsewhere.
    let workspace = w.dir.path().to_owned();
    let elsewhere = tempfile::tempdir().unwrap();
    let gw = w.up();
    let witness = workspace.join("home-witness.jsonl");
    let witnessed = std::fs::read(&witness).expect("the gateway keeps a witness beside the home");
    let script = format!(
        r#"
        cat home/keys/root.key 2>/dev/null && echo ROOT-KEY-READ
        cat home/keys/audit.key 2>/dev/null && echo AUDIT-KEY-READ
        cat home/audit.db >/dev/null 2>&1 && echo AUDIT-LOG-READ
        echo 'permit (principal, action, resource);' > home/policy/mine.cedar 2>/dev/null && echo POLICY-WRITTEN
        rm -f home/policy/default.cedar 2>/dev/null; test -e home/policy/default.cedar || echo POLICY-GONE-INSIDE
        mv home home-moved 2>/dev/null && echo HOME-MOVED
        : > home-witness.jsonl 2>/dev/null && echo WITNESS-EMPTIED
        rm -f home-witness.jsonl 2>/dev/null; test -e home-witness.jsonl || echo WITNESS-REMOVED
        test -e home/run/control.sock && echo SOCKET-SEEN
        {client} 2>/dev/null | grep -q . && echo SOCKET-ANSWERED
        echo ok > mine.txt && echo wrote-own
        "#,
        client = control_client("home/run/control.sock", "home/run/control.key", "approvals"),
    );
    let out = run_from(
        &w,
        &workspace,
        elsewhere.path(),
        &["--name", "neighbour", "--", "bash", "-c", &script],
    );
    assert_eq!(out.code, 0, "{out:?}");
    for escaped in [
        "ROOT-KEY-READ",
        "AUDIT-KEY-READ",
        "AUDIT-LOG-READ",
        "POLICY-WRITTEN",
        "HOME-MOVED",
        "WITNESS-EMPTIED",
        "WITNESS-REMOVED",
        "SOCKET-SEEN",
        "SOCKET-ANSWERED",
    ] {
        assert!(!out.stdout.contains(escaped), "{escaped}: {}", out.stdout);
    }
    assert!(out.stdout.contains("wrote-own"), "the rest of the workspace works: {out:?}");
    // The masked home looks empty inside, and nothing changed outside.
    assert!(out.stdout.contains("POLICY-GONE-INSIDE"), "{}", out.stdout);
    assert!(w.home().join("policy/default.cedar").exists());
    assert!(!w.home().join("policy/mine.cedar").exists());
    assert_eq!(std::fs::read_to_string(workspace.join("mine.txt")).unwrap(), "ok\n");
    assert!(std::fs::read(&witness).unwrap().starts_with(&witnessed), "the witness was rewritten");
    drop(gw);
}

/// `cd ~ && warrant run`: the home directory holds the shell's startup
/// files, git's and ssh's configuration and the secret stores; a sandbox
/// that could write it could run code as the person later. Refused, saying
/// why and what to do instead.
#[test]
fn a_run_from_the_home_directory_is_refused_with_a_reason() {
    let w = Warrant::new(BIN);
    let user_home = w.dir.path();
    let out = run_from(&w, user_home, user_home, &["--", "true"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("your home directory"), "{}", out.stderr);
    assert!(out.stderr.contains("project directory"), "{}", out.stderr);
}

/// A workspace that holds secret stores (a run in `~/.config`): each is
/// masked, and none can be moved out from under its mask for the next
/// sandbox to find unmasked.
#[test]
fn a_run_in_a_config_directory_can_neither_read_nor_move_the_stores_in_it() {
    let w = Warrant::new(BIN);
    if !sandboxes_available(&w) {
        return;
    }
    let user_home = tempfile::tempdir().unwrap();
    let config = user_home.path().join(".config");
    std::fs::create_dir_all(config.join("gh")).unwrap();
    std::fs::create_dir_all(config.join("git")).unwrap();
    std::fs::write(config.join("gh/hosts.yml"), "oauth_token: GH-SECRET").unwrap();
    std::fs::write(config.join("git/credentials"), "https://u:GIT-SECRET@example.com").unwrap();
    let script = r#"
        cat gh/hosts.yml git/credentials 2>/dev/null
        mv gh gh-aside 2>/dev/null && echo MOVED-STORE
        mv git git-aside 2>/dev/null && echo MOVED-PARENT
        rm -rf git 2>/dev/null; test -d git || echo REMOVED-PARENT
        echo ok > settings.toml && echo wrote-own
    "#;
    for round in ["first", "second"] {
        let out = run_from(&w, &config, user_home.path(), &["--", "bash", "-c", script]);
        assert_eq!(out.code, 0, "{round}: {out:?}");
        for escaped in ["GH-SECRET", "GIT-SECRET", "MOVED-STORE", "MOVED-PARENT", "REMOVED-PARENT"]
        {
            assert!(!out.stdout.contains(escaped), "{round}: {escaped}: {}", out.stdout);
        }
        assert!(out.stdout.contains("wrote-own"), "{round}: {out:?}");
    }
    assert!(config.join("git/credentials").exists() && config.join("gh/hosts.yml").exists());
}

#[test]
fn a_workspace_inside_the_home_is_refused_with_a_reason() {
    let w = Warrant::new(BIN);
    let out = run_from(&w, &w.home().join("policy"), w.dir.path(), &["--", "true"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("no sandbox sees"), "{}", out.stderr);
}

#[test]
fn a_sandbox_that_reaches_a_control_socket_and_its_key_is_still_refused() {
    // Gateway A's home lies inside the workspace of a run of another home B,
    // whose sandbox therefore sees A's socket and key (B masks only its own
    // home). The socket must still refuse: the peer is in a sandbox.
    let a = Warrant::new(BIN);
    let b = Warrant::new(BIN);
    if !sandboxes_available(&b) {
        return;
    }
    let gw = a.up();
    let socket = a.home().join("run/control.sock");
    let key = a.home().join("run/control.key");
    let script = [
        control_client(socket.to_str().unwrap(), key.to_str().unwrap(), "approvals"),
        control_client(socket.to_str().unwrap(), key.to_str().unwrap(), "approve"),
    ]
    .join("; ");
    let out = run_from(&b, a.dir.path(), b.dir.path(), &["--", "bash", "-c", &script]);
    let answers: Vec<Value> =
        out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(answers.len(), 2, "both requests were answered: {out:?}");
    for answer in &answers {
        assert_eq!(answer["ok"], false, "{answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains("another user or mount namespace"), "{error}");
    }
    // The operator, from outside, still can.
    assert_eq!(a.run(&["approvals", "--json"]).code, 0);
    drop(gw);
}

#[test]
fn a_process_of_the_operators_uid_without_the_control_key_is_refused() {
    let w = Warrant::new(BIN);
    let gw = w.up();
    let key = std::fs::read_to_string(w.home().join("run/control.key")).unwrap();
    for request in [json!({"op": "approvals"}), json!({"op": "reload_kills", "key": "00"})] {
        let answer = raw_control(&w, &request);
        assert_eq!(answer["ok"], false, "{answer}");
        assert!(answer["error"].as_str().unwrap().contains("wrong control key"), "{answer}");
    }
    let answer = raw_control(&w, &json!({"op": "approvals", "key": key}));
    assert_eq!(answer["ok"], true, "{answer}");
    // The key is new at every start: an old one stops working.
    drop(gw);
    let gw = w.up();
    let answer = raw_control(&w, &json!({"op": "approvals", "key": key}));
    assert_eq!(answer["ok"], false, "a previous start's key still works: {answer}");
    assert_eq!(w.run(&["approvals", "--json"]).code, 0, "the CLI reads the new key");
    drop(gw);
}

fn call(tool: &str, arguments: Value) -> Value {
    json!({"op": "call", "tool": tool, "arguments": arguments})
}

/// A home whose policy permits every call, so that only Warrant's own
/// barriers stand between an agent and the files.
fn permissive() -> Warrant {
    let w = Warrant::new(BIN);
    std::fs::write(
        w.home().join("policy/default.cedar"),
        "@id(\"all\") permit (principal, action == Action::\"call_tool\", resource);",
    )
    .unwrap();
    w
}

#[test]
fn file_tools_never_touch_the_home_or_its_witness_whatever_the_workspace() {
    let w = permissive();
    // The agent's workspace is the parent of Warrant's home and witness.
    let workspace = w.dir.path().to_owned();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(workspace.join("notes.txt"), "fine").unwrap();
    std::os::unix::fs::symlink("home/keys", workspace.join("keys-link")).unwrap();
    std::os::unix::fs::symlink("home/policy", workspace.join("policy-link")).unwrap();
    std::os::unix::fs::symlink("home/keys/root.key", workspace.join("key-link")).unwrap();
    w.set_env("HOME", elsewhere.path().to_str().unwrap());
    let (_, token) = w.spawn_agent("editor", &["--workspace", workspace.to_str().unwrap()]);
    let gw = w.up();
    let root_key = w.home().join("keys/root.key");
    let key_before = std::fs::read(&root_key).unwrap();
    let audit_before = std::fs::metadata(w.home().join("audit.db")).unwrap().len();
    let attempts = [
        call("warrant__read_file", json!({"path": "home/keys/root.key"})),
        call("warrant__read_file", json!({"path": root_key.to_str().unwrap()})),
        call("warrant__read_file", json!({"path": "keys-link/root.key"})),
        call("warrant__read_file", json!({"path": "key-link"})),
        call("warrant__read_file", json!({"path": "notes.txt/../home/keys/audit.key"})),
        call("warrant__read_file", json!({"path": "home-witness.jsonl"})),
        call("warrant__list_dir", json!({"path": "home"})),
        call("warrant__list_dir", json!({"path": "keys-link"})),
        call(
            "warrant__write_file",
            json!({"path": "home/policy/mine.cedar", "content": "permit (principal, action, resource);"}),
        ),
        call(
            "warrant__write_file",
            json!({"path": "policy-link/mine.cedar", "content": "permit (principal, action, resource);"}),
        ),
        call(
            "warrant__write_file",
            json!({"path": "home/made/deep.txt", "content": "x", "create_dirs": true}),
        ),
        call(
            "warrant__write_file",
            json!({"path": "policy-link/made/deep.txt", "content": "x", "create_dirs": true}),
        ),
        call("warrant__write_file", json!({"path": "home-witness.jsonl", "content": ""})),
    ];
    let mut script = vec![call("warrant__read_file", json!({"path": "notes.txt"}))];
    script.extend(attempts.iter().cloned());
    // Links planted by a sandboxed command, then written through: the
    // target must not be emptied or created before any check.
    script.push(call(
        "warrant__exec",
        json!({"command": "ln -s home/keys/root.key K; ln -s home/audit.db A; ln -s home/policy/new.cedar N; cat home/keys/root.key; ls -A home | wc -l"}),
    ));
    for link in ["K", "A", "N"] {
        script.push(call("warrant__write_file", json!({"path": link, "content": ""})));
    }
    let out = client(&gw.url, Some(&token), &Value::Array(script));
    let results = out["results"].as_array().unwrap();
    assert_eq!(results[0]["text"], "fine", "{out}");
    for (i, attempt) in attempts.iter().enumerate() {
        let result = &results[i + 1];
        let text = result["text"].as_str().unwrap_or_default();
        assert_eq!(result["is_error"], true, "{attempt} was allowed: {text}");
        assert!(text.contains("never touch"), "{attempt}: {text}");
    }
    let exec = &results[attempts.len() + 1];
    let exec: Value = serde_json::from_str(exec["text"].as_str().unwrap_or_default())
        .unwrap_or_else(|_| panic!("{out}"));
    assert_eq!(exec["stdout"], "0\n", "the home is empty to exec: {exec}");
    for result in &results[attempts.len() + 2..] {
        let text = result["text"].as_str().unwrap_or_default();
        assert_eq!(result["is_error"], true, "a write through a planted link: {text}");
        assert!(text.contains("symlink"), "{text}");
    }
    assert_eq!(std::fs::read(&root_key).unwrap(), key_before, "the root key was rewritten");
    assert!(std::fs::metadata(w.home().join("audit.db")).unwrap().len() >= audit_before);
    assert!(
        !w.home().join("policy/mine.cedar").exists() && !w.home().join("policy/new.cedar").exists()
    );
    assert!(!w.home().join("made").exists() && !w.home().join("policy/made").exists());
    drop(gw);
}

#[test]
fn file_tools_never_touch_secret_stores_and_refuse_the_home_directory_as_a_workspace() {
    let w = permissive();
    let user_home = tempfile::tempdir().unwrap();
    let config = user_home.path().join(".config");
    std::fs::create_dir_all(config.join("gh")).unwrap();
    std::fs::write(config.join("gh/hosts.yml"), "oauth_token: GH-SECRET").unwrap();
    std::fs::create_dir_all(config.join("git")).unwrap();
    std::fs::write(config.join("git/credentials"), "https://u:GIT-SECRET@example.com").unwrap();
    std::fs::write(config.join("settings.toml"), "fine").unwrap();
    std::os::unix::fs::symlink("gh", config.join("gh-link")).unwrap();
    w.set_env("HOME", user_home.path().to_str().unwrap());
    let (_, in_config) = w.spawn_agent("configurer", &["--workspace", config.to_str().unwrap()]);
    let home = user_home.path().to_str().unwrap();
    let (_, in_home) = w.spawn_agent("homebody", &["--workspace", home]);
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&in_config),
        &json!([
            call("warrant__read_file", json!({"path": "settings.toml"})),
            call("warrant__read_file", json!({"path": "gh/hosts.yml"})),
            call("warrant__read_file", json!({"path": "gh-link/hosts.yml"})),
            call("warrant__list_dir", json!({"path": "gh"})),
            call("warrant__exec", json!({"command": "mv gh aside 2>&1; ls"})),
            call("warrant__read_file", json!({"path": "aside/hosts.yml"})),
            call("warrant__read_file", json!({"path": "gh/hosts.yml"})),
            call("warrant__exec", json!({"command": "ln -s . d"})),
            call(
                "warrant__write_file",
                json!({"path": "d/git/credentials", "content": "ATTACKER"})
            ),
            call("warrant__write_file", json!({"path": "d/gh/made.yml", "content": "x"})),
        ]),
    );
    let results = out["results"].as_array().unwrap();
    assert_eq!(results[0]["text"], "fine", "{out}");
    for i in [1, 2, 3, 5, 6, 8, 9] {
        let text = results[i]["text"].as_str().unwrap_or_default();
        assert_eq!(results[i]["is_error"], true, "step {i}: {text}");
        assert!(!text.contains("GH-SECRET"), "step {i}: {text}");
    }
    let moved = results[4]["text"].as_str().unwrap_or_default();
    let listed: Value = serde_json::from_str(moved).unwrap_or_else(|_| panic!("{out}"));
    let listed = listed["stdout"].as_str().unwrap_or_default();
    assert!(listed.lines().any(|l| l == "gh"), "{listed}");
    assert!(!listed.lines().any(|l| l == "aside"), "the store was moved: {listed}");
    assert_eq!(
        std::fs::read_to_string(config.join("git/credentials")).unwrap(),
        "https://u:GIT-SECRET@example.com",
        "a store rewritten through a linked directory"
    );
    assert!(!config.join("gh/made.yml").exists());
    let out = client(
        &gw.url,
        Some(&in_home),
        &json!([call("warrant__read_file", json!({"path": ".config/settings.toml"}))]),
    );
    let text = out["results"][0]["text"].as_str().unwrap_or_default();
    assert_eq!(out["results"][0]["is_error"], true, "{text}");
    assert!(text.contains("holds your home directory"), "{text}");
    drop(gw);
}

/// `$HOME` named through a symlink (a `/home -> /var/home` layout) or as a
/// relative path, with a workspace around the real home: the home is still
/// the sandbox's private, empty one, and nothing written there reaches the
/// person's startup files.
#[test]
fn a_home_named_through_a_symlink_or_a_relative_path_is_still_private() {
    let w = Warrant::new(BIN);
    if !sandboxes_available(&w) {
        return;
    }
    let area = tempfile::tempdir().unwrap();
    let real = area.path().join("real");
    std::fs::create_dir_all(real.join("u/.ssh")).unwrap();
    std::fs::write(real.join("u/.bashrc"), "echo hi\n").unwrap();
    std::fs::write(real.join("u/.ssh/id_ed25519"), "SSH-PRIVATE-KEY").unwrap();
    std::os::unix::fs::symlink(&real, area.path().join("link")).unwrap();
    let script = format!(
        "ls -A {u} | wc -l; echo pwned >> {u}/.bashrc; cat {u}/.ssh/id_ed25519 2>/dev/null; true",
        u = real.join("u").display()
    );
    for home in [area.path().join("link/u"), std::path::PathBuf::from("u")] {
        let out = run_from(&w, &real, &home, &["--", "sh", "-c", &script]);
        assert_eq!(out.code, 0, "{home:?}: {out:?}");
        assert_eq!(
            out.stdout.lines().next(),
            Some("0"),
            "{home:?}: the real home is visible: {out:?}"
        );
        assert!(!out.stdout.contains("SSH-PRIVATE-KEY"), "{home:?}: {}", out.stdout);
        assert_eq!(
            std::fs::read_to_string(real.join("u/.bashrc")).unwrap(),
            "echo hi\n",
            "{home:?}"
        );
    }
}

/// Warrant's home named through a symlink: the witness beside the real home
/// is still the one every process writes and every sandbox masks.
#[test]
fn a_home_named_through_a_symlink_keeps_one_witness_out_of_reach() {
    let w = Warrant::new(BIN);
    if !sandboxes_available(&w) {
        return;
    }
    let workspace = w.dir.path();
    std::os::unix::fs::symlink(w.home(), workspace.join("linked")).unwrap();
    let witness = workspace.join("home-witness.jsonl");
    let before = std::fs::read(&witness).expect("init keeps a witness beside the home");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .arg("--home")
        .arg(workspace.join("linked"))
        .args(["run", "--", "sh", "-c", "(: > home-witness.jsonl) 2>/dev/null && echo EMPTIED; ls"])
        .current_dir(workspace)
        .env("HOME", elsewhere.path())
        .env_remove("WARRANT_HOME")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains("EMPTIED"), "{stdout}");
    assert!(!stdout.contains("linked-witness"), "a second witness appeared: {stdout}");
    assert!(std::fs::read(&witness).unwrap().starts_with(&before));
}

/// One agent's workspace inside another's: the outer agent replaces the
/// inner workspace with a link (to `/etc`, to a directory on PATH). The
/// inner agent's tools refuse it rather than follow.
#[test]
fn a_workspace_replaced_by_a_link_since_the_agent_got_it_is_refused() {
    let w = permissive();
    let outer = w.dir.path().join("outer");
    let inner = outer.join("inner");
    let elsewhere = w.dir.path().join("elsewhere");
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("secret.txt"), "ELSEWHERE").unwrap();
    let (_, outer_token) = w.spawn_agent("outer", &["--workspace", outer.to_str().unwrap()]);
    let (_, inner_token) = w.spawn_agent("inner", &["--workspace", inner.to_str().unwrap()]);
    let gw = w.up();
    let swap = format!("mv inner inner.old && ln -s {} inner", elsewhere.display());
    let out = client(
        &gw.url,
        Some(&outer_token),
        &json!([call("warrant__exec", json!({"command": swap}))]),
    );
    assert_eq!(out["results"][0]["is_error"], false, "{out}");
    assert!(std::fs::symlink_metadata(&inner).unwrap().file_type().is_symlink());
    let out = client(
        &gw.url,
        Some(&inner_token),
        &json!([
            call("warrant__read_file", json!({"path": "secret.txt"})),
            call("warrant__write_file", json!({"path": "planted.txt", "content": "x"})),
            call("warrant__exec", json!({"command": "cat secret.txt"})),
        ]),
    );
    for i in 0..3 {
        let text = out["results"][i]["text"].as_str().unwrap_or_default();
        assert_eq!(out["results"][i]["is_error"], true, "step {i}: {text}");
        assert!(text.contains("moved or replaced"), "step {i}: {text}");
    }
    assert!(!elsewhere.join("planted.txt").exists());
}

/// What an agent planted in its workspace cannot stall or escalate through
/// the file tools: a FIFO is refused at once instead of holding a gateway
/// thread, and a file rewritten by `warrant__write_file` loses set-user-ID.
#[test]
fn file_tools_refuse_fifos_and_drop_set_user_id_bits() {
    let w = permissive();
    let workspace = w.dir.path().join("project");
    std::fs::create_dir_all(&workspace).unwrap();
    let (_, token) = w.spawn_agent("planter", &["--workspace", workspace.to_str().unwrap()]);
    // A set-user-ID file already in the workspace (a sandbox cannot make
    // one: seccomp refuses the bits).
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(workspace.join("s"), "x").unwrap();
    std::fs::set_permissions(workspace.join("s"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&token),
        &json!([
            call("warrant__exec", json!({"command": "mkfifo fifo"})),
            call("warrant__read_file", json!({"path": "fifo"})),
            call("warrant__write_file", json!({"path": "fifo", "content": "x", "append": true})),
            call("warrant__write_file", json!({"path": "s", "content": "echo hi"})),
        ]),
    );
    for i in [1, 2] {
        let text = out["results"][i]["text"].as_str().unwrap_or_default();
        assert_eq!(out["results"][i]["is_error"], true, "step {i}: {text}");
        assert!(text.contains("not a regular file"), "step {i}: {text}");
    }
    assert_eq!(out["results"][3]["is_error"], false, "{out}");
    let mode = std::fs::metadata(workspace.join("s")).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755, "set-user-ID kept: {mode:o}");
    drop(gw);
}

/// The account's home in `/etc/passwd`, when this uid has one.
fn passwd_home() -> Option<std::path::PathBuf> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().nth(1)?;
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [_, _, id, _, _, home, ..] if id == &uid => Some(std::path::PathBuf::from(home)),
            _ => None,
        }
    })
}

/// `$HOME` unset, or pointing elsewhere, does not make the account's home
/// (in `/etc/passwd`) any less the person's: a run from it is refused.
#[test]
fn the_account_home_is_refused_whatever_home_says() {
    let w = Warrant::new(BIN);
    let Some(home) = passwd_home().filter(|h| h.is_dir() && h != std::path::Path::new("/")) else {
        eprintln!("SKIP: this uid has no home directory in /etc/passwd");
        return;
    };
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |home_var: Option<&std::path::Path>| {
        let mut cmd = w.command(&["run", "--", "true"]);
        cmd.current_dir(&home).stdin(Stdio::null());
        match home_var {
            Some(h) => cmd.env("HOME", h),
            None => cmd.env_remove("HOME"),
        };
        cmd.output().unwrap()
    };
    for (case, out) in [("unset", run(None)), ("elsewhere", run(Some(elsewhere.path())))] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "HOME {case}: a run from {home:?} was allowed");
        assert!(stderr.contains("your home directory"), "HOME {case}: {stderr}");
    }
}
