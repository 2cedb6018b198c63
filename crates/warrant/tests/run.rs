//! `warrant run`: a command with its own identity, in a sandbox that cannot
//! see the operator's keys, write outside its workspace or reach the network
//! except through Warrant's egress proxy; stopped by `warrant kill`; refused
//! outright when the host cannot enforce what its profile requires.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use warrant_test_support::{Output, Warrant, audit_records, wait_for_pending};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

/// `warrant run ARGS` from `workspace`, with `env` added to its environment.
fn run_in(w: &Warrant, workspace: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = w.command(&["run"]);
    cmd.args(args).current_dir(workspace).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn sandboxes_available(w: &Warrant) -> bool {
    let doctor = w.run(&["doctor", "--json"]);
    let report = doctor.json();
    let runs = report["profiles"].as_array().unwrap().iter().all(|p| p["runs"] == true);
    if !runs {
        eprintln!("SKIP: this host cannot start the shipped sandbox profiles: {report}");
    }
    runs
}

fn workspace(w: &Warrant) -> std::path::PathBuf {
    let dir = w.dir.path().join("project");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_run_cannot_see_keys_write_outside_or_reach_the_network_and_its_identity_ends_with_it() {
    let w = Warrant::new(BIN);
    if !sandboxes_available(&w) {
        return;
    }
    let ws = workspace(&w);
    let secret_dir = w.dir.path().join("secrets");
    std::fs::create_dir_all(&secret_dir).unwrap();
    std::fs::write(secret_dir.join("id_rsa"), "PRIVATE KEY").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        r#"
        echo "id=$WARRANT_AGENT_ID"
        echo "token=${{WARRANT_TOKEN:+present}}"
        echo "github=${{GITHUB_TOKEN:-absent}}"
        cat {keys}/* 2>/dev/null && echo KEYS-READ
        cat {secret}/id_rsa 2>/dev/null && echo SECRET-READ
        echo x > /etc/warrant-planted 2>/dev/null && echo WROTE-ETC
        echo x > /usr/warrant-planted 2>/dev/null && echo WROTE-USR
        # Beside the workspace is the sandbox's own private /tmp (the test's
        # directories live in /tmp): a write there never reaches the host.
        echo x > {outside}/planted 2>/dev/null
        echo made > inside.txt && echo wrote-inside
        (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo TCP-CONNECTED
        exit 7
        "#,
        keys = w.home().join("keys").display(),
        secret = secret_dir.display(),
        outside = w.dir.path().display(),
    );
    let out = run_in(
        &w,
        &ws,
        &["--name", "contained", "--", "bash", "-c", &script],
        &[("GITHUB_TOKEN", "ghp_secretvalue")],
    );
    assert_eq!(out.code, 7, "the command's exit status is the run's: {out:?}");
    for escaped in ["KEYS-READ", "SECRET-READ", "WROTE-ETC", "WROTE-USR", "TCP-CONNECTED", "ghp_"] {
        assert!(!out.stdout.contains(escaped), "{escaped}: {}", out.stdout);
    }
    assert!(
        out.stdout.contains("token=present") && out.stdout.contains("github=absent"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("wrote-inside"), "{}", out.stdout);
    assert_eq!(std::fs::read_to_string(ws.join("inside.txt")).unwrap(), "made\n");
    assert!(!w.dir.path().join("planted").exists());
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "the host listener was reached");

    // The run is on the record: who, what, with which controls, how it ended.
    let id = out.stdout.lines().find_map(|l| l.strip_prefix("id=")).unwrap().to_owned();
    let records = audit_records(&w);
    let of = |kind: &str| -> Vec<&Value> {
        records.iter().filter(|r| r["kind"] == kind && r["agent"] == id.as_str()).collect()
    };
    let spawned = of("agent_spawned");
    assert_eq!(spawned[0]["body"]["run"]["profile"], "strict");
    let started = of("sandbox_started");
    let controls = started[0]["body"]["report"]["controls"].as_array().unwrap();
    assert!(controls.len() >= 20);
    for c in controls {
        if c["control"] == "cgroup" {
            // Where a cgroup v2 is delegated; not required by `strict`.
            assert_eq!(c["required"], false, "{c}");
            assert_ne!(c["status"], "not_requested", "{c}");
            continue;
        }
        assert_eq!(c["status"], "verified", "{c}");
    }
    assert_eq!(of("sandbox_exited")[0]["body"]["code"], 7);
    assert!(started[0]["seq"].as_u64() < of("sandbox_exited")[0]["seq"].as_u64());
    // Its identity ended with it.
    let agents = w.run(&["agents", "list", "--json"]).json();
    let me = agents.as_array().unwrap().iter().find(|a| a["id"] == id.as_str()).unwrap();
    assert_eq!(me["state"], "revoked", "{me}");
    assert_eq!(w.run(&["audit", "verify"]).code, 0);
}

/// A one-shot HTTP server on 127.0.0.1: answers each request with `body`.
fn http_server(body: &'static str) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0_u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, hits)
}

#[test]
fn the_network_is_only_the_proxy_and_policy_decides_each_host() {
    let w = Warrant::new(BIN);
    if !sandboxes_available(&w) {
        return;
    }
    // A local server stands in for the internet: loopback must be opened on
    // purpose, and then policy still decides per host.
    w.configure_egress("allow_private = [\"127.0.0.1\"]");
    let (port, hits) = http_server("hello from outside");
    let gw = w.up();
    let ws = workspace(&w);
    let script = format!(
        r#"
        via() {{ curl -s -m 10 --noproxy '' -x "$HTTPS_PROXY" "$@"; echo " [$?]"; }}
        echo "declared: $(via http://127.0.0.1:{port}/)"
        echo "metadata: $(via http://169.254.169.254/latest/meta-data/)"
        echo "direct: $(curl -s -m 5 --noproxy '*' http://127.0.0.1:{port}/; echo " [$?]")"
        echo "mcp: $(curl -s -m 10 -X POST "$WARRANT_MCP_URL" -H "Authorization: Bearer $WARRANT_TOKEN" \
            -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
            -d '{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{}},"clientInfo":{{"name":"c","version":"1"}}}}}}' | tr -d '\n')"
        "#
    );
    let declared = run_in(
        &w,
        &ws,
        &["--profile", "coding-agent", "--allow-host", "127.0.0.1", "--", "bash", "-c", &script],
        &[],
    );
    assert_eq!(declared.code, 0, "{declared:?}");
    let line = |prefix: &str| {
        declared.stdout.lines().find(|l| l.starts_with(prefix)).unwrap_or_default().to_owned()
    };
    assert!(line("declared:").contains("hello from outside [0]"), "{}", declared.stdout);
    let metadata = line("metadata:");
    assert!(metadata.contains("link-local") && !metadata.contains("hello"), "{metadata}");
    assert!(!line("direct:").contains("hello"), "{}", declared.stdout);
    assert!(line("mcp:").contains("\"name\":\"warrant\""), "{}", declared.stdout);
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "only the proxied request arrived"
    );

    // Not declared: policy denies, nothing connects, and the agent is told why.
    let undeclared = run_in(
        &w,
        &ws,
        &[
            "--profile",
            "coding-agent",
            "--",
            "bash",
            "-c",
            &format!("curl -s --noproxy '' -x \"$HTTPS_PROXY\" http://127.0.0.1:{port}/"),
        ],
        &[],
    );
    assert!(undeclared.stdout.contains("--allow-host"), "{undeclared:?}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);

    let records = audit_records(&w);
    assert!(records.iter().any(|r| r["kind"] == "egress_decision"
        && r["body"]["outcome"] == "allow"
        && r["body"]["port"] == port));
    assert!(
        records.iter().any(|r| r["kind"] == "egress_decision" && r["body"]["outcome"] == "deny")
    );
    assert!(records.iter().any(|r| r["kind"] == "egress_refused"
        && r["body"]["reason"].as_str().unwrap_or_default().contains("169.254.169.254")));
    drop(gw);
}

/// Starts `warrant run [extra] -- bash -c "sleep N & sleep N; echo SURVIVED"`
/// and returns once its sandbox has started.
fn start_runaway(w: &Warrant, ws: &Path, extra: &[&str], seconds: u32) -> std::process::Child {
    let script = format!("sleep {seconds} & sleep {seconds}; echo SURVIVED");
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.extend(["--", "bash", "-c", &script]);
    let child = w
        .command(&args)
        .current_dir(ws)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !audit_records(w).iter().any(|r| r["kind"] == "sandbox_started") {
        assert!(Instant::now() < deadline, "the run did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// Waits (at most 20 s after `since`) for a run from [`start_runaway`] to be
/// killed, then checks its whole tree is gone and the record gives `why`.
/// Returns how long after `since` it ended.
fn assert_runaway_stopped(
    w: &Warrant,
    mut child: std::process::Child,
    since: Instant,
    seconds: u32,
    why: &str,
) -> Duration {
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(since.elapsed() < Duration::from_secs(20), "the run was not stopped ({why})");
        std::thread::sleep(Duration::from_millis(20));
    };
    let ended = since.elapsed();
    assert_eq!(status.code(), Some(137));
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(!out.contains("SURVIVED"));
    let exited = audit_records(w).into_iter().find(|r| r["kind"] == "sandbox_exited").unwrap();
    assert!(exited["body"]["stopped"].as_str().unwrap().contains(why), "{exited}");
    // No process of the run is left on the host.
    let ps = Command::new("pgrep").args(["-f", &format!("sleep {seconds}")]).output().unwrap();
    assert!(String::from_utf8_lossy(&ps.stdout).trim().is_empty(), "left behind: {ps:?}");
    ended
}

#[test]
fn kill_ends_the_whole_run_and_a_wall_clock_limit_ends_it_too() {
    let w = Warrant::new(BIN);
    if !sandboxes_available(&w) {
        return;
    }
    let ws = workspace(&w);
    let child = start_runaway(&w, &ws, &["--name", "runaway"], 313);
    let killed_at = Instant::now();
    assert_eq!(w.run(&["kill", "runaway"]).code, 0);
    assert_runaway_stopped(&w, child, killed_at, 313, "warrant kill");

    // A profile of the operator's own with a 1 s wall clock.
    std::fs::create_dir_all(w.home().join("profiles")).unwrap();
    std::fs::write(
        w.home().join("profiles/brief.toml"),
        "description = \"one second\"\n[limits]\nwall_clock_seconds = 1\n",
    )
    .unwrap();
    let started = Instant::now();
    let out = run_in(&w, &ws, &["--profile", "brief", "--", "sleep", "30"], &[]);
    assert_eq!(out.code, 124, "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(out.stderr.contains("wall-clock"), "{}", out.stderr);
}

#[test]
fn a_run_whose_kill_switch_cannot_be_read_is_stopped() {
    let w = Warrant::new(BIN);
    if !sandboxes_available(&w) {
        return;
    }
    let ws = workspace(&w);
    let child = start_runaway(&w, &ws, &[], 317);
    // The registry breaks under the run: its kill switch can no longer be read.
    let db = rusqlite::Connection::open(w.home().join("state.db")).unwrap();
    db.execute_batch("ALTER TABLE kills RENAME TO kills_unreadable").unwrap();
    let broken_at = Instant::now();
    let ended = assert_runaway_stopped(
        &w,
        child,
        broken_at,
        317,
        "cannot be read to check for `warrant kill`",
    );
    // Two seconds of failed reads, then the tree is killed: not sooner (one
    // failed read is not enough).
    assert!(ended >= Duration::from_millis(1500), "{ended:?}");
}

#[test]
fn a_profile_that_needs_what_the_host_cannot_enforce_refuses_to_run() {
    let w = Warrant::new(BIN);
    if !sandboxes_available(&w) {
        return;
    }
    let ws = workspace(&w);
    std::fs::create_dir_all(w.home().join("profiles")).unwrap();
    std::fs::write(
        w.home().join("profiles/needy.toml"),
        "description = \"needs a Landlock from the future\"\n[controls]\nlandlock_min_abi = 99\n",
    )
    .unwrap();
    let out = run_in(&w, &ws, &["--profile", "needy", "--", "touch", "ran"], &[]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("refused to run") && out.stderr.contains("landlock"),
        "{}",
        out.stderr
    );
    assert!(!ws.join("ran").exists(), "the command ran without the control");
    let unknown = run_in(&w, &ws, &["--profile", "nope", "--", "true"], &[]);
    assert!(
        unknown.stderr.contains("strict") && unknown.stderr.contains("coding-agent"),
        "{unknown:?}"
    );
    let doctor = w.run(&["doctor"]);
    assert_eq!(doctor.code, 0, "{doctor:?}");
    assert!(
        doctor.stdout.contains("landlock") && doctor.stdout.contains("strict"),
        "{}",
        doctor.stdout
    );
}

/// The same containment for an unprivileged user: the sandbox's user
/// namespace is then a real unprivileged one. Runs only as root (which can
/// switch to uid 65534); as any other user the tests above already are the
/// unprivileged case.
#[test]
fn an_unprivileged_user_gets_the_same_sandbox() {
    use std::os::unix::fs::{PermissionsExt, chown};
    let me = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    if me.ok() != Some(0) {
        eprintln!("SKIP: not root; the other tests already ran unprivileged");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = base.path().join("home");
    let ws = base.path().join("ws");
    for (dir, mode) in [(&home, 0o700), (&ws, 0o755)] {
        std::fs::create_dir(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
        chown(dir, Some(65534), Some(65534)).unwrap();
    }
    let secret = base.path().join("secret");
    std::fs::write(&secret, "ROOT-ONLY").unwrap();
    let as_nobody = |args: &[&str]| {
        let out = Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups", BIN, "--home"])
            .arg(&home)
            .args(args)
            .current_dir(&ws)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, doctor, err) = as_nobody(&["doctor"]);
    if code != 0 {
        eprintln!("SKIP: the sandbox cannot start for an unprivileged user here:\n{doctor}{err}");
        return;
    }
    let script = format!(
        r#"
        echo "uid=$(id -u)"
        cat {secret} 2>/dev/null && echo READ-HOST-FILE
        echo x > /etc/planted 2>/dev/null && echo WROTE-ETC
        (exec 3<>/dev/tcp/127.0.0.1/22) 2>/dev/null && echo TCP-OUT
        unshare -U true 2>/dev/null && echo NESTED-USERNS
        echo ok > inside.txt && echo wrote-inside
        "#,
        secret = secret.display()
    );
    let (code, out, err) = as_nobody(&["run", "--", "bash", "-c", &script]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("uid=65534") && out.contains("wrote-inside"), "{out}{err}");
    for escaped in ["READ-HOST-FILE", "WROTE-ETC", "TCP-OUT", "NESTED-USERNS"] {
        assert!(!out.contains(escaped), "{escaped}: {out}");
    }
    assert_eq!(std::fs::read_to_string(ws.join("inside.txt")).unwrap(), "ok\n");
    let (code, _, _) = as_nobody(&["audit", "verify"]);
    assert_eq!(code, 0);
}

#[test]
fn a_connection_policy_asks_about_waits_for_a_person() {
    let w = Warrant::new(BIN);
    if !sandboxes_available(&w) {
        return;
    }
    w.configure_egress("allow_private = [\"127.0.0.1\"]");
    let (port, hits) = http_server("fetched after approval");
    std::fs::write(
        w.home().join("policy/ask.cedar"),
        format!(
            r#"@id("ask-local-service") @ask("the local service holds customer data")
forbid (principal, action == Action::"connect", resource) when {{ context.port == {port} }};"#
        ),
    )
    .unwrap();
    let gw = w.up();
    let ws = workspace(&w);
    let script = format!(
        r#"via() {{ curl -s -m 60 --noproxy '' -x "$HTTPS_PROXY" "$@"; echo " [$?]"; }}
echo "first: $(via http://127.0.0.1:{port}/one)"
echo "second: $(via http://127.0.0.1:{port}/two)""#
    );
    let run = {
        let (w_home, ws) = (w.command(&["run"]), ws.clone());
        let mut cmd = w_home;
        cmd.args(["--profile", "coding-agent", "--allow-host", "127.0.0.1", "--", "bash", "-c"])
            .arg(&script)
            .current_dir(ws)
            .stdin(Stdio::null());
        std::thread::spawn(move || cmd.output().unwrap())
    };

    // The first connection waits in `warrant approvals` like a call; a
    // person approves it.
    let subject = format!("egress: GET 127.0.0.1:{port}");
    let first = wait_for_pending(&w, &subject);
    assert_eq!(first["tool"], format!("egress: GET 127.0.0.1:{port}"), "{first}");
    assert_eq!(first["rule"], "ask-local-service");
    assert_eq!(first["why"], "the local service holds customer data");
    assert_eq!(first["agent_name"], "run");
    let approved = w.run(&["approve", first["id"].as_str().unwrap(), "--by", "alice"]);
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    // The second waits again (an approval is for one connection); denied.
    let second = wait_for_pending(&w, &subject);
    assert_ne!(second["id"], first["id"]);
    let denied = w.run(&["deny", second["id"].as_str().unwrap(), "--by", "bob"]);
    assert_eq!(denied.code, 0, "{}", denied.stderr);

    let out = run.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = |prefix: &str| {
        stdout.lines().find(|l| l.starts_with(prefix)).unwrap_or_default().to_owned()
    };
    assert!(line("first:").contains("fetched after approval [0]"), "{stdout}");
    let refused = line("second:");
    assert!(refused.contains("a person (bob) denied this connection"), "{refused}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1, "the denied one connected");

    let records = audit_records(&w);
    let resolved: Vec<&Value> = records
        .iter()
        .filter(|r| r["kind"] == "approval_resolved" && r["body"]["outcome"].is_string())
        .collect();
    let outcomes: Vec<(&str, &str)> = resolved
        .iter()
        .map(|r| (r["body"]["outcome"].as_str().unwrap(), r["body"]["by"].as_str().unwrap()))
        .collect();
    assert_eq!(outcomes, [("approved", "alice"), ("denied", "bob")], "{resolved:?}");
    assert_eq!(records.iter().filter(|r| r["kind"] == "approval_requested").count(), 2);
    let decisions: Vec<&str> = records
        .iter()
        .filter(|r| r["kind"] == "egress_decision" && r["body"]["port"] == port)
        .map(|r| r["body"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["allow", "deny"]);

    // A run that goes away while its connection waits withdraws the request.
    let mut waiting = w.command(&["run"]);
    waiting
        .args(["--profile", "coding-agent", "--allow-host", "127.0.0.1", "--", "bash", "-c"])
        .arg(format!("curl -s -m 60 --noproxy '' -x \"$HTTPS_PROXY\" http://127.0.0.1:{port}/gone"))
        .current_dir(&ws)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut waiting = waiting.spawn().unwrap();
    let third = wait_for_pending(&w, &subject);
    waiting.kill().unwrap();
    waiting.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.run(&["approvals", "--json"]).json().as_array().is_some_and(|a| !a.is_empty()) {
        assert!(Instant::now() < deadline, "the abandoned request is still pending");
        std::thread::sleep(Duration::from_millis(100));
    }
    let records = audit_records(&w);
    assert!(records.iter().any(|r| r["kind"] == "approval_resolved"
        && r["body"]["approval"] == third["id"]
        && r["body"]["outcome"] == "abandoned"));
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);

    // With no gateway running there is no one to ask: refused, saying so.
    drop(gw);
    let alone = run_in(
        &w,
        &ws,
        &[
            "--profile",
            "coding-agent",
            "--allow-host",
            "127.0.0.1",
            "--",
            "bash",
            "-c",
            &format!("curl -s -m 10 --noproxy '' -x \"$HTTPS_PROXY\" http://127.0.0.1:{port}/"),
        ],
        &[],
    );
    assert!(alone.stdout.contains("no gateway is running to ask through"), "{alone:?}");
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A fresh cgroup v2 directory under this process's own cgroup, or `None`
/// (said) where none can be made.
fn test_cgroup(test: &str) -> Option<(std::path::PathBuf, String)> {
    let Some(own) = warrant_sandbox::own_cgroup() else {
        eprintln!("SKIP {test}: no cgroup v2 hierarchy here");
        return None;
    };
    let name = format!("warrant-run-test-{}", std::process::id());
    let dir = own.dir().join(&name);
    if let Err(e) = std::fs::create_dir(&dir) {
        eprintln!("SKIP {test}: cannot create a cgroup v2 directory here ({e})");
        return None;
    }
    Some((dir, format!("{}/{name}", own.path.trim_end_matches('/'))))
}

#[test]
fn a_run_gets_a_cgroup_of_its_own_under_the_configured_parent() {
    let test = "a_run_gets_a_cgroup_of_its_own_under_the_configured_parent";
    let w = Warrant::new(BIN);
    if !sandboxes_available(&w) {
        return;
    }
    let Some((dir, path)) = test_cgroup(test) else { return };
    let config = w.home().join("warrant.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let example = "# cgroup_parent = \"/sys/fs/cgroup/warrant\"";
    assert!(text.contains(example), "the default warrant.toml names cgroup_parent");
    let line = format!("cgroup_parent = \"{}\"", dir.display());
    std::fs::write(&config, text.replacen(example, &line, 1)).unwrap();

    // doctor starts its profile checks under the configured parent.
    let doctor = w.run(&["doctor", "--json"]).json();
    assert_eq!(doctor["cgroup_parent"], dir.display().to_string(), "{doctor}");
    assert!(doctor["profiles"].as_array().unwrap().iter().all(|p| p["runs"] == true), "{doctor}");

    let ws = workspace(&w);
    let out = run_in(&w, &ws, &["--", "cat", "/proc/self/cgroup"], &[]);
    let children: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    let _ = std::fs::remove_dir(&dir);
    assert_eq!(out.code, 0, "{out:?}");
    let inside = out.stdout.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or_default();
    assert!(inside.starts_with(&format!("{path}/warrant-")), "inside: {inside:?}, parent {path}");
    assert!(children.iter().all(|c| !c.path().is_dir()), "left behind: {children:?}");
    // The record of the start names it.
    let records = audit_records(&w);
    let started = records.iter().find(|r| r["kind"] == "sandbox_started").unwrap();
    let controls = started["body"]["report"]["controls"].as_array().unwrap();
    let cgroup = controls.iter().find(|c| c["control"] == "cgroup").unwrap();
    assert!(cgroup["evidence"].as_str().unwrap().contains(inside), "{cgroup}");
}
