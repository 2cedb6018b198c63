//! Sandboxes launched by a helper process the caller started by exec: output
//! comes back, requests run at once up to a bound, a dead helper is replaced,
//! bad frames run nothing, a cancelled or closed launch's command stops, and the caller's memory is not in the helper nor
//! in its sandboxes. This test binary is its own helper: re-run with
//! `HELPER_ENV` set, its `launcher_helper_entry` serves on stdin.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Fixture, host_processes_with, sh, skip_unless, strict, strict_needs};
use serde_json::{Value, json};
use warrant_sandbox::{
    CancelLaunch, Control, ControlStatus, HelperCommand, LaunchRequest, Launcher, LauncherError,
    MAX_OUTPUT_LIMIT, MAX_REQUEST, Rejection, Sandbox, SandboxSpec, ServeOptions, SpawnOptions,
    Stdio as SandboxStdio, serve_stdin,
};

/// Set in the helper's environment (to its `max_concurrent`).
const HELPER_ENV: &str = "WARRANT_SANDBOX_TEST_HELPER";

/// Not a test: the helper's entry when this binary is re-run as one.
#[test]
fn launcher_helper_entry() {
    let Some(max) = std::env::var_os(HELPER_ENV) else { return };
    let max_concurrent = max.to_str().and_then(|m| m.parse().ok()).unwrap();
    let code = serve_stdin(ServeOptions { max_concurrent, ..ServeOptions::default() });
    std::process::exit(if code == std::process::ExitCode::SUCCESS { 0 } else { 1 })
}

#[test]
fn a_command_runs_through_the_helper_and_its_output_comes_back() {
    let Some(fixture) = fixture("a_command_runs_through_the_helper_and_its_output_comes_back")
    else {
        return;
    };
    let launcher = Launcher::start(helper(8)).unwrap();
    let spec = fixture.spec(strict());
    // Not UTF-8: arguments and output cross the socket byte for byte.
    let argument = OsString::from_vec(b"caf\xe9 \xff\x01".to_vec());
    let command: Vec<OsString> = vec![
        "/bin/sh".into(),
        "-c".into(),
        "printf '%s' \"$1\"; echo oops >&2; exit 3".into(),
        "sh".into(),
        argument.clone(),
    ];
    let output = launcher.run(&spec, &command, 4096, &CancelLaunch::new()).unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(output.stdout, argument.as_bytes());
    assert_eq!(output.stderr, b"oops\n");
    assert_eq!(output.report.get(Control::Seccomp).unwrap().status, ControlStatus::Verified);

    let capped =
        launcher.run(&spec, &sh("head -c 10000 /dev/zero"), 100, &CancelLaunch::new()).unwrap();
    assert_eq!(capped.stdout.len(), 100);
    assert!(capped.stdout_truncated && !capped.stderr_truncated);

    // The environment is the one an in-process launch would give.
    let env = ["/usr/bin/env".into()];
    let helped = launcher.run(&spec, &env, 1 << 16, &CancelLaunch::new()).unwrap();
    let local = Sandbox::new(&spec).unwrap().run(&env, 1 << 16).unwrap();
    assert_eq!(helped.report.env_names, local.report.env_names);

    // A refusal keeps its control, and nothing runs.
    let mut profile = strict();
    profile.controls.landlock_min_abi = Some(99);
    let ran = fixture.workspace.join("ran");
    let touch = sh(&format!("touch {}", ran.display()));
    let err = launcher.run(&fixture.spec(profile), &touch, 64, &CancelLaunch::new()).unwrap_err();
    assert_eq!(err.control(), Some(Control::LandlockFilesystem), "{err}");
    assert!(err.to_string().contains("to enable it"), "{err}");
    assert!(!ran.exists());
}

#[test]
fn requests_run_at_once_and_those_beyond_the_bound_are_refused_busy() {
    let Some(fixture) = fixture("requests_run_at_once_and_those_beyond_the_bound_are_refused_busy")
    else {
        return;
    };
    let launcher = Arc::new(Launcher::start(helper(2)).unwrap());
    let ws = fixture.workspace.display().to_string();
    let spec = fixture.spec(common::with_limits(|p| p.limits.wall_clock_seconds = Some(60)));
    // Each command waits for the other to have started: they can only both
    // finish if both run at once. Then they wait for `go`.
    let runs: Vec<_> = [(1, 2), (2, 1)]
        .into_iter()
        .map(|(me, other)| {
            let script = format!(
                "touch {ws}/arrived-{me}; \
                 until [ -e {ws}/arrived-{other} ] && [ -e {ws}/go ]; do sleep 0.02; done; echo {me}"
            );
            let (launcher, spec) = (launcher.clone(), spec.clone());
            std::thread::spawn(move || launcher.run(&spec, &sh(&script), 64, &CancelLaunch::new()))
        })
        .collect();
    wait_for("both commands to start", || {
        Path::new(&format!("{ws}/arrived-1")).exists()
            && Path::new(&format!("{ws}/arrived-2")).exists()
    });
    let busy = launcher
        .run(&spec, &sh(&format!("touch {ws}/third")), 64, &CancelLaunch::new())
        .unwrap_err();
    assert!(matches!(busy, LauncherError::Rejected(Rejection::Busy { max: 2 })), "{busy}");
    File::create(format!("{ws}/go")).unwrap();
    for (run, me) in runs.into_iter().zip(1..) {
        let output = run.join().unwrap().unwrap();
        assert!(!output.status.timed_out(), "the commands did not run at once");
        assert_eq!(output.stdout, format!("{me}\n").as_bytes());
    }
    assert!(!Path::new(&format!("{ws}/third")).exists());
    // The slots are free again.
    assert!(launcher.run(&spec, &sh("true"), 64, &CancelLaunch::new()).unwrap().status.success());
}

#[test]
fn a_helper_killed_mid_run_fails_that_call_and_the_next_call_restarts_it() {
    let Some(fixture) =
        fixture("a_helper_killed_mid_run_fails_that_call_and_the_next_call_restarts_it")
    else {
        return;
    };
    let launcher = Arc::new(Launcher::start(helper(8)).unwrap());
    let spec = fixture.spec(strict());
    let first = launcher.helper_pid().unwrap();
    let tag = unique_sleep();
    let run = {
        let (launcher, spec) = (launcher.clone(), spec.clone());
        let script = format!("exec sleep {tag}");
        std::thread::spawn(move || launcher.run(&spec, &sh(&script), 64, &CancelLaunch::new()))
    };
    wait_for("the command to start", || !host_processes_with(&tag).is_empty());
    kill(first);
    let err = run.join().unwrap().unwrap_err();
    assert!(matches!(err, LauncherError::HelperDied { may_have_run: true, .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("signal: 9") && message.contains("may have run"), "{message}");
    // Its sandbox died with it (init's parent-death signal).
    wait_for("the sandbox to die", || host_processes_with(&tag).is_empty());

    let output = launcher.run(&spec, &sh("echo again"), 64, &CancelLaunch::new()).unwrap();
    assert_eq!(output.stdout, b"again\n");
    let second = launcher.helper_pid().unwrap();
    assert_ne!(second, first);
}

#[test]
fn a_program_that_never_says_hello_is_not_a_helper() {
    let err = Launcher::start(HelperCommand::new("/bin/true")).err().unwrap();
    assert!(matches!(err, LauncherError::Start { .. }), "{err}");
    assert!(err.to_string().contains("without a hello"), "{err}");
}

#[test]
fn malformed_oversized_and_unknown_frames_run_nothing_and_spare_other_requests() {
    let Some(fixture) =
        fixture("malformed_oversized_and_unknown_frames_run_nothing_and_spare_other_requests")
    else {
        return;
    };
    let ws = fixture.workspace.display().to_string();
    let (mut socket, mut helper) = raw_helper();
    assert_eq!(read_answer(&mut socket), json!({"hello": {"protocol": 2}}));
    let spec = fixture.spec(strict());
    let pwned = |name: &str| launch(&spec, &format!("touch {ws}/pwned-{name}"));

    let waiting = launch(&spec, &format!("until [ -e {ws}/go ]; do sleep 0.02; done; echo kept"));
    send(&mut socket, json!({"id": 1, "launch": waiting}).to_string().as_bytes());
    send(&mut socket, json!({"id": 2, "launch": pwned("b"), "also": 1}).to_string().as_bytes());
    let mut inner = pwned("c");
    inner["spec"]["extra"] = true.into();
    send(&mut socket, json!({"id": 3, "launch": inner}).to_string().as_bytes());
    send(&mut socket, json!({"id": 4, "shutdown": {}}).to_string().as_bytes());
    send(&mut socket, b"\xff\x00 not json");
    // Valid JSON once its padding is read: only the cap stops it.
    let mut padded = json!({"id": 6, "launch": pwned("f")}).to_string().into_bytes();
    padded.resize(MAX_REQUEST + 1, b' ');
    send(&mut socket, &padded);
    let mut structural = pwned("g");
    structural["spec"]["profile"]["controls"]["best_effort"] = json!(["user_namespace"]);
    send(&mut socket, json!({"id": 7, "launch": structural}).to_string().as_bytes());
    let mut greedy = pwned("h");
    greedy["max_output"] = (MAX_OUTPUT_LIMIT + 1).into();
    send(&mut socket, json!({"id": 8, "launch": greedy}).to_string().as_bytes());
    let mut smuggled = pwned("i");
    smuggled["env"] = json!([[hex(b"LD_PRELOAD=/x.so:LANG"), hex(b"C")]]);
    send(&mut socket, json!({"id": 9, "launch": smuggled}).to_string().as_bytes());
    let twice = json!({"id": 10, "launch": pwned("j")}).to_string();
    send(&mut socket, format!("{twice}{twice}").as_bytes());

    let expected = [
        (json!(2), "malformed"),
        (json!(3), "malformed"),
        (json!(4), "malformed"),
        (Value::Null, "malformed"),
        (Value::Null, "oversized"),
        (json!(7), "invalid"),
        (json!(8), "invalid"),
        (json!(9), "invalid"),
        // Two requests in one frame: not one request, so not even its id is read.
        (Value::Null, "malformed"),
    ];
    for (id, kind) in expected {
        let answer = read_answer(&mut socket);
        let rejected = &answer["rejected"];
        assert_eq!(rejected["id"], id, "{answer}");
        assert!(rejected["rejection"].get(kind).is_some(), "expected {kind}: {answer}");
    }
    // The request in flight is unharmed, and the helper still serves.
    File::create(format!("{ws}/go")).unwrap();
    let answer = read_answer(&mut socket);
    assert_eq!(answer["launched"]["id"], 1, "{answer}");
    assert_eq!(answer["launched"]["outcome"]["ran"]["stdout"], hex(b"kept\n"), "{answer}");
    send(
        &mut socket,
        json!({"id": 11, "launch": launch(&spec, "echo after")}).to_string().as_bytes(),
    );
    let answer = read_answer(&mut socket);
    assert_eq!(answer["launched"]["outcome"]["ran"]["stdout"], hex(b"after\n"), "{answer}");

    // A frame cut short by the end of the stream runs nothing either.
    let mut cut = json!({"id": 12, "launch": pwned("k")}).to_string().into_bytes();
    let full = u32::try_from(cut.len() + 8).unwrap();
    cut.extend_from_slice(b"    ");
    socket.write_all(&full.to_le_bytes()).unwrap();
    socket.write_all(&cut).unwrap();
    socket.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(helper.wait().unwrap().success());

    let left: Vec<_> = std::fs::read_dir(&fixture.workspace)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("pwned"))
        .collect();
    assert!(left.is_empty(), "rejected frames ran: {left:?}");
}

#[test]
fn when_the_caller_dies_the_helper_exits_and_its_sandboxes_die_with_it() {
    let Some(fixture) =
        fixture("when_the_caller_dies_the_helper_exits_and_its_sandboxes_die_with_it")
    else {
        return;
    };
    let (mut socket, mut helper) = raw_helper();
    assert_eq!(read_answer(&mut socket), json!({"hello": {"protocol": 2}}));
    let tag = unique_sleep();
    let request =
        json!({"id": 1, "launch": launch(&fixture.spec(strict()), &format!("exec sleep {tag}"))});
    send(&mut socket, request.to_string().as_bytes());
    wait_for("the command to start", || !host_processes_with(&tag).is_empty());
    // The caller's end closes, as it does when the caller dies.
    drop(socket);
    wait_for("the helper to exit", || helper.try_wait().unwrap().is_some());
    wait_for("the sandbox to die", || host_processes_with(&tag).is_empty());
}

/// THE PROPERTY: a secret in the caller's memory is in the init of a sandbox
/// the caller launches itself (a copy of the caller), and in neither the
/// helper nor the init of a sandbox the helper launches.
#[test]
fn a_secret_in_the_callers_memory_is_in_an_in_process_sandbox_but_not_through_the_helper() {
    let test =
        "a_secret_in_the_callers_memory_is_in_an_in_process_sandbox_but_not_through_the_helper";
    let Some(fixture) = fixture(test) else { return };
    if !common::is_root() {
        eprintln!("skipping {test}: reading a non-dumpable init's memory needs root");
        return;
    }
    let secret = random_marker();
    let spec = fixture.spec(strict());

    // The control: the scan finds the secret in a process forked from this one.
    let tag = unique_sleep();
    let options = SpawnOptions {
        stdout: SandboxStdio::Null,
        stderr: SandboxStdio::Null,
        ..SpawnOptions::default()
    };
    let mut child =
        Sandbox::new(&spec).unwrap().spawn(&sh(&format!("exec sleep {tag}")), options).unwrap();
    let local_init = child.id();
    assert!(
        memory_holds(local_init, &secret),
        "the scan does not find the secret in an in-process sandbox's init: it proves nothing"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // Started after the secret was made: a restart later is in the same place.
    let launcher = Arc::new(Launcher::start(helper(8)).unwrap());
    let helper_pid = launcher.helper_pid().unwrap();
    let tag = unique_sleep();
    let run = {
        let (launcher, spec) = (launcher.clone(), spec.clone());
        let script = format!("exec sleep {tag}");
        std::thread::spawn(move || launcher.run(&spec, &sh(&script), 64, &CancelLaunch::new()))
    };
    wait_for("the command to start", || !host_processes_with(&tag).is_empty());
    let command = host_processes_with(&tag)[0];
    let init = parent_of(command);
    assert_eq!(parent_of(init), helper_pid, "the sandbox's init is not the helper's child");
    assert!(!memory_holds(helper_pid, &secret), "the secret is in the helper's memory");
    assert!(!memory_holds(init, &secret), "the secret is in the helper's sandbox's init");
    kill(command);
    let output = run.join().unwrap().unwrap();
    assert_eq!(output.status.signal(), Some(libc::SIGKILL));
    std::hint::black_box(&secret);
}

#[test]
fn a_cancelled_launch_stops_its_command_and_other_launches_go_on() {
    let Some(fixture) = fixture("a_cancelled_launch_stops_its_command_and_other_launches_go_on")
    else {
        return;
    };
    let launcher = Arc::new(Launcher::start(helper(8)).unwrap());
    let ws = fixture.workspace.display().to_string();
    // A wall clock, so that a cancel that does nothing fails the test rather
    // than hanging it.
    let spec = fixture.spec(common::with_limits(|p| p.limits.wall_clock_seconds = Some(60)));
    let beat = |name: &str| format!("while :; do echo beat >> {ws}/{name}; sleep 0.05; done");
    let start = |script: String| {
        let (launcher, spec, cancel) = (launcher.clone(), spec.clone(), CancelLaunch::new());
        let handle = cancel.clone();
        (std::thread::spawn(move || launcher.run(&spec, &sh(&script), 64, &cancel)), handle)
    };
    // One beats with its output streams open, one with them closed (the
    // helper then waits on the sandbox's status, not its output).
    let (open, cancel_open) = start(beat("open"));
    let (closed, cancel_closed) = start(format!("exec >/dev/null 2>&1; {}", beat("closed")));
    let (other, _) = start(format!(
        "until [ -e {ws}/go ]; do echo beat >> {ws}/other; sleep 0.05; done; echo kept"
    ));
    let size = |name: &str| std::fs::metadata(format!("{ws}/{name}")).map_or(0, |m| m.len());
    wait_for("the three commands to beat", || {
        ["open", "closed", "other"].iter().all(|name| size(name) > 0)
    });

    cancel_open.cancel();
    cancel_closed.cancel();
    for run in [open, closed] {
        let err = run.join().unwrap().unwrap_err();
        assert!(matches!(err, LauncherError::Cancelled { may_have_run: true }), "{err}");
    }
    // The call returns once the tree is dead: nothing writes after it.
    let stopped = (size("open"), size("closed"));
    let other_then = size("other");
    wait_for("the other command to beat ten more times", || size("other") >= other_then + 10 * 6);
    assert_eq!((size("open"), size("closed")), stopped, "a cancelled command still runs");

    File::create(format!("{ws}/go")).unwrap();
    let output = other.join().unwrap().unwrap();
    assert_eq!(output.stdout, b"kept\n");
    assert!(!output.status.timed_out());

    // Fired before the call: nothing is sent, nothing runs.
    let fired = CancelLaunch::new();
    fired.cancel();
    let touch = sh(&format!("touch {ws}/never"));
    let err = launcher.run(&spec, &touch, 64, &fired).unwrap_err();
    assert!(matches!(err, LauncherError::Cancelled { may_have_run: false }), "{err}");
    assert!(!Path::new(&format!("{ws}/never")).exists());
    assert!(launcher.run(&spec, &sh("true"), 64, &CancelLaunch::new()).unwrap().status.success());
}

#[test]
fn a_cancel_names_one_running_launch_and_starts_nothing() {
    let Some(fixture) = fixture("a_cancel_names_one_running_launch_and_starts_nothing") else {
        return;
    };
    let ws = fixture.workspace.display().to_string();
    let (mut socket, mut helper) = raw_helper();
    assert_eq!(read_answer(&mut socket), json!({"hello": {"protocol": 2}}));
    let spec = fixture.spec(common::with_limits(|p| p.limits.wall_clock_seconds = Some(60)));
    let pwned = |name: &str| launch(&spec, &format!("touch {ws}/pwned-{name}"));

    // An id that is not running is ignored: the next answer is the next launch's.
    send(&mut socket, json!({"cancel": {"id": 5}}).to_string().as_bytes());
    send(&mut socket, json!({"id": 6, "launch": launch(&spec, "echo six")}).to_string().as_bytes());
    let answer = read_answer(&mut socket);
    assert_eq!(answer["launched"]["id"], 6, "{answer}");
    assert_eq!(answer["launched"]["outcome"]["ran"]["stdout"], hex(b"six\n"), "{answer}");

    let beat = format!("while :; do echo beat >> {ws}/beat; sleep 0.05; done");
    send(&mut socket, json!({"id": 7, "launch": launch(&spec, &beat)}).to_string().as_bytes());
    let size = || std::fs::metadata(format!("{ws}/beat")).map_or(0, |m| m.len());
    wait_for("the command to beat", || size() > 0);
    // A launch frame with a running launch's id is refused, and runs nothing.
    send(&mut socket, json!({"id": 7, "launch": pwned("a")}).to_string().as_bytes());
    let answer = read_answer(&mut socket);
    assert!(answer["rejected"]["rejection"].get("invalid").is_some(), "{answer}");
    assert_eq!(answer["rejected"]["id"], 7, "{answer}");
    send(&mut socket, json!({"cancel": {"id": 7}}).to_string().as_bytes());
    let answer = read_answer(&mut socket);
    assert_eq!(answer["launched"]["id"], 7, "{answer}");
    assert_eq!(answer["launched"]["outcome"], "cancelled", "{answer}");
    let stopped = size();

    // A second cancel of it is ignored; a cancel with anything more is not one.
    send(&mut socket, json!({"cancel": {"id": 7}}).to_string().as_bytes());
    send(&mut socket, json!({"cancel": {"id": 8, "launch": pwned("b")}}).to_string().as_bytes());
    send(
        &mut socket,
        json!({"cancel": {"id": 9}, "id": 9, "launch": pwned("c")}).to_string().as_bytes(),
    );
    for id in [Value::Null, json!(9)] {
        let answer = read_answer(&mut socket);
        assert_eq!(answer["rejected"]["id"], id, "{answer}");
        assert!(answer["rejected"]["rejection"].get("malformed").is_some(), "{answer}");
    }
    send(
        &mut socket,
        json!({"id": 10, "launch": launch(&spec, "sleep 0.5; echo ten")}).to_string().as_bytes(),
    );
    let answer = read_answer(&mut socket);
    assert_eq!(answer["launched"]["outcome"]["ran"]["stdout"], hex(b"ten\n"), "{answer}");
    assert_eq!(size(), stopped, "the cancelled command still runs");

    socket.shutdown(std::net::Shutdown::Both).unwrap();
    assert!(helper.wait().unwrap().success());
    let left: Vec<_> = std::fs::read_dir(&fixture.workspace)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("pwned"))
        .collect();
    assert!(left.is_empty(), "a cancel frame ran something: {left:?}");
}

#[test]
fn a_closed_launcher_ends_its_launches_and_starts_no_helper() {
    let Some(fixture) = fixture("a_closed_launcher_ends_its_launches_and_starts_no_helper") else {
        return;
    };
    let launcher = Arc::new(Launcher::start(helper(8)).unwrap());
    let ws = fixture.workspace.display().to_string();
    let spec = fixture.spec(common::with_limits(|p| p.limits.wall_clock_seconds = Some(60)));
    let run = {
        let (launcher, spec) = (launcher.clone(), spec.clone());
        let script = format!("while :; do echo beat >> {ws}/beat; sleep 0.05; done");
        std::thread::spawn(move || launcher.run(&spec, &sh(&script), 64, &CancelLaunch::new()))
    };
    let size = || std::fs::metadata(format!("{ws}/beat")).map_or(0, |m| m.len());
    wait_for("the command to beat", || size() > 0);
    let helper_pid = launcher.helper_pid().unwrap();
    launcher.close();
    let err = run.join().unwrap().unwrap_err();
    assert!(matches!(err, LauncherError::Closed), "{err}");
    wait_for("the helper to be reaped", || launcher.helper_pid().is_none());
    assert!(!Path::new(&format!("/proc/{helper_pid}")).exists());
    let err = launcher.run(&spec, &sh("true"), 64, &CancelLaunch::new()).unwrap_err();
    assert!(matches!(err, LauncherError::Closed), "{err}");
    // Its sandbox died with it: after a launch through a new helper has run
    // (time enough for beats), the file has not grown.
    let stopped = size();
    let other = Launcher::start(helper(8)).unwrap();
    let out = other.run(&spec, &sh("sleep 0.5; echo later"), 64, &CancelLaunch::new()).unwrap();
    assert_eq!(out.stdout, b"later\n");
    assert_eq!(size(), stopped, "the closed launcher's command still runs");
}

/// `/bin/true` through the helper and in-process (as `fn exec` did: a
/// `Sandbox::new` per launch, the namespace pool on), interleaved, 10 ms apart.
/// `cargo test -p warrant-sandbox --test launcher -- --ignored --nocapture figures`
#[test]
#[ignore = "prints figures; run on purpose"]
fn figures_true_through_the_helper_and_in_process() {
    let Some(fixture) = fixture("figures_true_through_the_helper_and_in_process") else {
        return;
    };
    let n: usize =
        std::env::var("WARRANT_BENCH_N").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let spec = fixture.spec(strict());
    let command = ["/bin/true".into()];
    warrant_sandbox::enable_namespace_pool(2);
    let launcher = Launcher::start(helper(8)).unwrap();
    let (mut helped, mut local) = (Vec::new(), Vec::new());
    for round in 0..n + 10 {
        std::thread::sleep(Duration::from_millis(10));
        let start = Instant::now();
        assert!(launcher.run(&spec, &command, 64, &CancelLaunch::new()).unwrap().status.success());
        let through = start.elapsed();
        std::thread::sleep(Duration::from_millis(10));
        let start = Instant::now();
        assert!(Sandbox::new(&spec).unwrap().run(&command, 64).unwrap().status.success());
        if round >= 10 {
            helped.push(through);
            local.push(start.elapsed());
        }
    }
    let build = if cfg!(debug_assertions) { "debug" } else { "release" };
    let (helped_median, helped_p99) = stats(&mut helped);
    let (local_median, local_p99) = stats(&mut local);
    println!("/bin/true, strict profile, {build} build, N={n}, 10 ms apart:");
    println!("  through the helper  median {helped_median:>8.3} ms   p99 {helped_p99:>8.3} ms");
    println!("  in-process          median {local_median:>8.3} ms   p99 {local_p99:>8.3} ms");
    println!(
        "  ratio               median {:>8.2}x     p99 {:>8.2}x",
        helped_median / local_median,
        helped_p99 / local_p99
    );
}

fn fixture(test: &str) -> Option<Fixture> {
    if skip_unless(test, &strict_needs()) {
        return None;
    }
    Some(Fixture::new())
}

/// This binary, re-run as the helper (as `warrant` runs `/proc/self/exe`).
fn helper(max_concurrent: usize) -> HelperCommand {
    ["launcher_helper_entry", "--exact", "--nocapture", "--test-threads=1"]
        .into_iter()
        .fold(HelperCommand::new("/proc/self/exe"), HelperCommand::arg)
        .env(HELPER_ENV, max_concurrent.to_string())
}

/// The helper, started by hand on a socket this test speaks raw frames on.
fn raw_helper() -> (UnixStream, std::process::Child) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let child = Command::new("/proc/self/exe")
        .args(["launcher_helper_entry", "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env(HELPER_ENV, "8")
        .envs(std::env::var_os("HOME").map(|home| ("HOME", home)))
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    ours.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    (ours, child)
}

/// A launch request as JSON, to edit before sending.
fn launch(spec: &SandboxSpec, script: &str) -> Value {
    let request =
        LaunchRequest { spec: spec.clone(), argv: sh(script), env: Vec::new(), max_output: 64 };
    serde_json::to_value(request).unwrap()
}

fn send(socket: &mut UnixStream, body: &[u8]) {
    let len = u32::try_from(body.len()).unwrap();
    socket.write_all(&len.to_le_bytes()).unwrap();
    socket.write_all(body).unwrap();
}

fn read_answer(socket: &mut UnixStream) -> Value {
    let mut len = [0u8; 4];
    socket.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; usize::try_from(u32::from_le_bytes(len)).unwrap()];
    socket.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 bytes that exist nowhere but in this process: hex of 16 random bytes.
fn random_marker() -> Vec<u8> {
    let mut random = [0u8; 16];
    File::open("/dev/urandom").unwrap().read_exact(&mut random).unwrap();
    hex(&random).into_bytes()
}

/// A `sleep` argument no other process has.
fn unique_sleep() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    format!("3600.{}{}", std::process::id(), nanos.subsec_nanos())
}

/// Whether any readable mapping of `pid` holds `needle`.
fn memory_holds(pid: u32, needle: &[u8]) -> bool {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mem = File::open(format!("/proc/{pid}/mem")).unwrap();
    const CHUNK: u64 = 1 << 20;
    let overlap = needle.len() as u64;
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else { continue };
        if !perms.starts_with('r') {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let (start, end) =
            (u64::from_str_radix(start, 16).unwrap(), u64::from_str_radix(end, 16).unwrap());
        let mut at = start;
        while at < end {
            let mut buf = vec![0u8; usize::try_from((end - at).min(CHUNK + overlap)).unwrap()];
            // Some mappings ([vvar], device memory) cannot be read: skip them.
            let Ok(read) = mem.read_at(&mut buf, at) else { break };
            if buf[..read].windows(needle.len()).any(|w| w == needle) {
                return true;
            }
            at += CHUNK;
        }
    }
    false
}

fn parent_of(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 1..];
    after_name.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn kill(pid: u32) {
    let killed = Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
}

/// Polls `done` until it holds; fails after a minute (a hang, not a timing).
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn stats(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    let n = samples.len();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(samples[n / 2]), ms(samples[(n * 99 / 100).min(n - 1)]))
}
