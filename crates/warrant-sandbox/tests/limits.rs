//! Resource limits and the lifetime of the tree.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{
    Fixture, host_processes_with, is_root, run, sh, skip_unless, stdout, strict_needs, verdict,
    with_limits,
};
use warrant_sandbox::{Sandbox, SpawnOptions, Stdio};

/// A number unlikely to appear in any other process's command line.
fn marker(salt: u32) -> String {
    format!("{}", 9_000_000 + (std::process::id() % 100_000) * 10 + salt)
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_fork_bomb_is_stopped_by_the_process_limit() {
    if skip_unless("a_fork_bomb_is_stopped_by_the_process_limit", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let spec = fixture.spec(with_limits(|p| {
        p.limits.max_processes = Some(32);
        p.limits.wall_clock_seconds = Some(30);
    }));
    let started = Instant::now();
    let output = run(&spec, &fixture.attempt("fork-bomb", &[]));
    let text = stdout(&output);
    assert!(text.contains("fork-bomb: denied errno=11 "), "{text}");
    let forked: u32 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    // RLIMIT_NPROC binds a normal user; uid 0 is exempt, so the PID namespace's
    // pid_max (the kernel's floor is 301) is what stops it there.
    let bound = if is_root() { 301 } else { 32 };
    assert!(forked < bound, "forked {forked}, bound {bound}");
    assert!(!output.status.timed_out(), "stopped by the limit, not the clock");
    assert!(started.elapsed() < Duration::from_secs(20));
    // The paused children died with the namespace.
    assert!(host_processes_with(fixture.helper.to_str().unwrap()).is_empty());
}

#[test]
fn a_memory_hog_is_stopped_by_the_memory_limit() {
    if skip_unless("a_memory_hog_is_stopped_by_the_memory_limit", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let spec = fixture.spec(with_limits(|p| p.limits.memory_bytes = Some(256 << 20)));
    let small = verdict(&fixture, &spec, "memory-hog", &["16"]);
    assert!(small.contains("allowed"), "{small}");
    let big = verdict(&fixture, &spec, "memory-hog", &["1024"]);
    assert!(big.contains("denied errno=12 "), "{big}");
}

#[test]
fn the_wall_clock_limit_kills_the_whole_tree() {
    if skip_unless("the_wall_clock_limit_kills_the_whole_tree", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let spec = fixture.spec(with_limits(|p| p.limits.wall_clock_seconds = Some(2)));
    let (background, foreground) = (marker(1), marker(2));
    let sandbox = Sandbox::new(&spec).unwrap();
    let mut child = sandbox
        .spawn(&sh(&format!("sleep {background} & sleep {foreground}")), SpawnOptions::default())
        .unwrap();
    wait_until("the grandchild to start", || !host_processes_with(&background).is_empty());
    let status = child.wait().unwrap();
    assert!(status.timed_out(), "{status:?}");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(host_processes_with(&background).is_empty(), "the backgrounded grandchild survived");
    assert!(host_processes_with(&foreground).is_empty());
}

#[test]
fn kill_takes_down_the_whole_tree_and_terminate_is_forwarded() {
    let Some((_fixture, sandbox)) =
        common::strict_sandbox("kill_takes_down_the_whole_tree_and_terminate_is_forwarded")
    else {
        return;
    };
    let background = marker(3);
    let mut child =
        sandbox.spawn(&sh(&format!("sleep {background} & wait")), SpawnOptions::default()).unwrap();
    wait_until("the grandchild to start", || !host_processes_with(&background).is_empty());
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(!status.timed_out());
    assert!(host_processes_with(&background).is_empty(), "the grandchild survived kill()");

    let mut child =
        sandbox.spawn(&["sleep".into(), marker(4).into()], SpawnOptions::default()).unwrap();
    assert!(child.wait_timeout(Duration::from_millis(100)).unwrap().is_none());
    child.terminate().unwrap();
    let status =
        child.wait_timeout(Duration::from_secs(5)).unwrap().expect("SIGTERM reached the command");
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}

#[test]
fn when_wait_returns_nothing_the_command_left_behind_is_still_running() {
    let Some((_fixture, sandbox)) = common::strict_sandbox(
        "when_wait_returns_nothing_the_command_left_behind_is_still_running",
    ) else {
        return;
    };
    let background = marker(6);
    // The command leaves a process behind and exits when its stdin closes.
    let options = SpawnOptions { stdin: Stdio::Piped, ..SpawnOptions::default() };
    let script = format!("sleep {background} & read line; exit 7");
    let mut child = sandbox.spawn(&sh(&script), options).unwrap();
    // Its command line is `sleep`, NUL, the marker (the shell's holds the marker too).
    let sleeper = format!("sleep\0{background}");
    wait_until("the background process to start", || !host_processes_with(&sleeper).is_empty());
    let left_behind = host_processes_with(&sleeper)[0];
    // wait() closes stdin, so the command exits now.
    let status = child.wait().unwrap();
    // Checked at once: the kernel would kill it anyway once init had exited,
    // but wait() must not return before it is gone.
    let gone = !std::path::Path::new(&format!("/proc/{left_behind}")).exists();
    assert_eq!(status.code(), Some(7));
    assert!(gone, "process {left_behind}, left behind by the command, outlived wait()");
}

#[test]
fn finished_sandboxes_are_reaped_not_left_as_zombies() {
    let Some((_fixture, sandbox)) =
        common::strict_sandbox("finished_sandboxes_are_reaped_not_left_as_zombies")
    else {
        return;
    };
    let launch = || {
        let mut child = sandbox.spawn(&["/bin/true".into()], SpawnOptions::default()).unwrap();
        assert!(child.wait().unwrap().success());
    };
    for _ in 0..20 {
        launch();
    }
    // Each init finishes exiting within milliseconds of reporting; the next
    // launch reaps every one that has.
    std::thread::sleep(Duration::from_millis(300));
    launch();
    let zombies = zombie_children();
    assert!(zombies.len() <= 1, "inits left unreaped: {zombies:?}");
}

/// This process's children that have exited and not been reaped.
fn zombie_children() -> Vec<u32> {
    let mut zombies = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for pid in children.split_whitespace() {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z'));
            if state == Some(true) {
                zombies.push(pid.parse().unwrap());
            }
        }
    }
    zombies
}

#[test]
fn when_the_launcher_dies_the_whole_tree_dies_with_it() {
    if skip_unless("when_the_launcher_dies_the_whole_tree_dies_with_it", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let sleeper = marker(5);
    let mut launcher = std::process::Command::new(env!("CARGO_BIN_EXE_warrant-sandbox-escape"))
        .args(["launch".as_ref(), fixture.workspace.as_os_str(), sleeper.as_ref()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(launcher.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("started "), "the launcher said {line:?}");
    wait_until("the command to start", || !host_processes_with(&sleeper).is_empty());
    // No chance to clean up: the kernel's parent-death signal must do it.
    launcher.kill().unwrap();
    launcher.wait().unwrap();
    wait_until("the orphaned tree to die", || host_processes_with(&sleeper).is_empty());
}

#[test]
fn cpu_and_file_size_limits_stop_the_command() {
    if skip_unless("cpu_and_file_size_limits_stop_the_command", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let spec = fixture.spec(with_limits(|p| {
        p.limits.cpu_seconds = Some(1);
        p.limits.file_size_bytes = Some(1 << 20);
        p.limits.wall_clock_seconds = Some(20);
    }));
    let sandbox = Sandbox::new(&spec).unwrap();
    let busy =
        sandbox.run(&["/bin/sh".into(), "-c".into(), "while :; do :; done".into()], 1024).unwrap();
    assert_eq!(busy.status.signal(), Some(libc::SIGXCPU), "{:?}", busy.status);
    let big = fixture.workspace.join("big");
    let write =
        sandbox.run(&sh(&format!("head -c 2097152 /dev/zero > {}", big.display())), 1024).unwrap();
    let xfsz = write.status.signal() == Some(libc::SIGXFSZ)
        || write.status.code() == Some(128 + libc::SIGXFSZ);
    assert!(xfsz, "{:?}", write.status);
    assert!(std::fs::metadata(&big).unwrap().len() <= 1 << 20);
}
