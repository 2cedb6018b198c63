//! Launching: the report, exit statuses, stdio, refusals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::io::Read;

use common::{Fixture, sh, skip_unless, strict, strict_needs};
use warrant_sandbox::{
    Control, ControlStatus, LaunchError, Profile, Sandbox, SpawnOptions, Stdio, run,
};

#[test]
fn true_runs_and_the_report_shows_every_control_verified() {
    if skip_unless("true_runs_and_the_report_shows_every_control_verified", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let output = run(&fixture.spec(strict()), &["/bin/true".into()]).unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    let report = &output.report;
    for control in Control::ALL {
        let entry =
            report.get(*control).unwrap_or_else(|| panic!("{control} missing from the report"));
        if *control == Control::Cgroup {
            // Where one is delegated; `strict` does not require it.
            assert!(!entry.required, "{}", entry.evidence);
            assert_ne!(entry.status, ControlStatus::NotRequested, "{}", entry.evidence);
            continue;
        }
        assert_eq!(entry.status, ControlStatus::Verified, "{control}: {}", entry.evidence);
        assert!(entry.required, "{control} should be required by `strict`");
        assert!(!entry.evidence.is_empty(), "{control} has no evidence");
    }
    assert!(report.landlock_abi >= 6);
    assert_eq!(report.sandbox_pid, 2, "the command is the second process of its PID namespace");
    // The evidence is observed state, not a restatement of the plan.
    let seccomp = &report.get(Control::Seccomp).unwrap().evidence;
    assert!(seccomp.contains("Seccomp: 2") && seccomp.contains("unshare(0) -> EPERM"), "{seccomp}");
    assert!(report.get(Control::NoNewPrivs).unwrap().evidence.contains("NoNewPrivs: 1"));
}

#[test]
fn exit_code_and_killing_signal_propagate() {
    if skip_unless("exit_code_and_killing_signal_propagate", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let spec = fixture.spec(strict());
    let sandbox = Sandbox::new(&spec).unwrap();
    let exited = sandbox.run(&sh("exit 7"), 1024).unwrap();
    assert_eq!(exited.status.code(), Some(7));
    assert!(!exited.status.success());
    let killed = sandbox.run(&sh("kill -TERM $$"), 1024).unwrap();
    assert_eq!(killed.status.signal(), Some(libc::SIGTERM));
    assert_eq!(killed.status.code(), None);
}

#[test]
fn captured_output_is_capped_and_flagged() {
    let Some((_fixture, sandbox)) = common::strict_sandbox("captured_output_is_capped_and_flagged")
    else {
        return;
    };
    let output = sandbox.run(&sh("head -c 100000 /dev/zero; echo err >&2"), 1000).unwrap();
    assert_eq!(output.stdout.len(), 1000);
    assert!(output.stdout_truncated);
    assert_eq!(output.stderr, b"err\n");
    assert!(!output.stderr_truncated);
}

#[test]
fn piped_stdin_reaches_the_command_and_wait_returns_its_status() {
    let Some((_fixture, sandbox)) =
        common::strict_sandbox("piped_stdin_reaches_the_command_and_wait_returns_its_status")
    else {
        return;
    };
    let options = SpawnOptions {
        stdin: Stdio::Piped,
        stdout: Stdio::Piped,
        stderr: Stdio::Null,
        env: None,
        grant: Vec::new(),
    };
    let mut child = sandbox.spawn(&["tr".into(), "a-z".into(), "A-Z".into()], options).unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"hello").unwrap();
    drop(child.stdin.take());
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert_eq!(out, "HELLO");
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_required_control_the_host_cannot_enforce_refuses_to_run() {
    if skip_unless("a_required_control_the_host_cannot_enforce_refuses_to_run", &[]) {
        return;
    }
    let fixture = Fixture::new();
    let mut profile = strict();
    profile.controls.landlock_min_abi = Some(99);
    // Even listed as best effort, an explicit minimum ABI is a requirement.
    profile.controls.best_effort = vec![Control::LandlockFilesystem];
    let marker = fixture.workspace.join("ran");
    let err = run(&fixture.spec(profile), &sh(&format!("touch {}", marker.display()))).unwrap_err();
    assert_eq!(err.control(), Some(Control::LandlockFilesystem), "{err}");
    let message = err.to_string();
    assert!(message.contains("landlock_filesystem") && message.contains("99"), "{message}");
    assert!(message.contains("to enable it"), "{message}");
    assert!(!marker.exists(), "the command ran despite the refusal");
}

#[test]
fn a_missing_program_is_an_exec_error() {
    if skip_unless("a_missing_program_is_an_exec_error", &strict_needs()) {
        return;
    }
    let fixture = Fixture::new();
    let err = run(&fixture.spec(strict()), &["no-such-program-anywhere".into()]).unwrap_err();
    assert!(matches!(err, LaunchError::Exec { .. }), "{err}");
    let err = run(&fixture.spec(strict()), &[]).unwrap_err();
    assert!(matches!(err, LaunchError::EmptyCommand), "{err}");
}

#[test]
fn shipped_coding_agent_profile_launches_with_its_proxy() {
    if skip_unless("shipped_coding_agent_profile_launches_with_its_proxy", &[]) {
        return;
    }
    let fixture = Fixture::new();
    let socket = fixture.outside.join("proxy.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let spec = fixture.spec(Profile::builtin("coding-agent").unwrap()).with_proxy_socket(&socket);
    let output =
        run(&spec, &sh("echo $HTTPS_PROXY; test -w \"$PWD\" && echo workspace-writable")).unwrap();
    assert!(
        output.status.success(),
        "{:?} {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(common::stdout(&output), "http://127.0.0.1:3128\nworkspace-writable\n");
    for control in Control::ALL {
        let entry = output.report.get(*control).unwrap();
        assert_ne!(
            entry.status,
            ControlStatus::NotRequested,
            "{control} should apply in proxy mode"
        );
    }
}

#[test]
fn proxy_mode_without_a_socket_is_rejected_before_launch() {
    let fixture = Fixture::new();
    let err = Sandbox::new(&fixture.spec(Profile::builtin("coding-agent").unwrap())).err().unwrap();
    assert!(matches!(err, LaunchError::MissingProxySocket), "{err}");
}

#[test]
fn launching_from_a_busy_multithreaded_process_does_not_deadlock() {
    if skip_unless("launching_from_a_busy_multithreaded_process_does_not_deadlock", &strict_needs())
    {
        return;
    }
    // The gateway forks from a multi-threaded runtime: the forked stages must
    // not depend on a lock another thread held at fork time.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let v: Vec<String> = (0..64).map(|i| format!("{i:>32}")).collect();
                    std::hint::black_box(v);
                }
            })
        })
        .collect();
    let fixture = Fixture::new();
    let sandbox = Sandbox::new(&fixture.spec(strict())).unwrap();
    for _ in 0..20 {
        let output = sandbox.run(&["/bin/true".into()], 16).unwrap();
        assert!(output.status.success());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
}
