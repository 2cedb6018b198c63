//! The command's environment comes from an allowlist; secrets never pass.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::ffi::OsString;

use common::{Fixture, skip_unless, stdout, strict, strict_needs};
use warrant_sandbox::{Profile, Sandbox, SpawnOptions, Stdio};

const SECRETS: &[(&str, &str)] = &[
    ("AWS_SECRET_ACCESS_KEY", "aws-secret-value"),
    ("AWS_ACCESS_KEY_ID", "aws-key-id-value"),
    ("GITHUB_TOKEN", "ghp-token-value"),
    ("NPM_TOKEN", "npm-token-value"),
    ("SSH_AUTH_SOCK", "/run/user/1000/ssh-agent.sock"),
    ("OPENAI_API_KEY", "sk-value"),
    ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus"),
    ("DISPLAY", ":0"),
    ("WAYLAND_DISPLAY", "wayland-0"),
    ("WARRANT_HOME", "/home/u/.warrant"),
    ("DB_PASSWORD", "hunter2"),
];

fn env_inside(profile: Profile) -> String {
    let fixture = Fixture::new();
    let sandbox = Sandbox::new(&fixture.spec(profile)).unwrap();
    let mut env: Vec<(OsString, OsString)> =
        SECRETS.iter().map(|(k, v)| (k.into(), v.into())).collect();
    env.push(("LANG".into(), "C.UTF-8".into()));
    env.push(("EDITOR".into(), "vi".into()));
    let options = SpawnOptions {
        stdin: Stdio::Null,
        stdout: Stdio::Piped,
        stderr: Stdio::Null,
        env: Some(env),
        grant: Vec::new(),
    };
    let mut child = sandbox.spawn(&["/usr/bin/env".into()], options).unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(child.wait().unwrap().success());
    out
}

#[test]
fn secrets_in_the_launchers_environment_never_reach_the_command() {
    if skip_unless("secrets_in_the_launchers_environment_never_reach_the_command", &strict_needs())
    {
        return;
    }
    let env = env_inside(strict());
    for (name, value) in SECRETS {
        assert!(!env.contains(name) && !env.contains(value), "{name} leaked:\n{env}");
    }
    assert!(env.contains("LANG=C.UTF-8"), "allowlisted variables pass:\n{env}");
    assert!(!env.contains("EDITOR"), "unlisted variables do not pass:\n{env}");
    assert!(env.contains("TMPDIR=/tmp"));
}

#[test]
fn the_denylist_wins_over_a_catch_all_allowlist() {
    if skip_unless("the_denylist_wins_over_a_catch_all_allowlist", &strict_needs()) {
        return;
    }
    let mut profile = strict();
    profile.env.allow = vec!["*".into()];
    let env = env_inside(profile);
    for (name, value) in SECRETS {
        assert!(!env.contains(name) && !env.contains(value), "{name} leaked:\n{env}");
    }
    assert!(env.contains("EDITOR=vi"), "`*` lets ordinary variables through:\n{env}");
}

#[test]
fn the_init_process_does_not_expose_the_launchers_environment() {
    if skip_unless("the_init_process_does_not_expose_the_launchers_environment", &strict_needs()) {
        return;
    }
    // Init is a fork of the launcher: its memory and environ are the launcher's.
    let fixture = Fixture::new();
    let spec = fixture.spec(strict());
    common::assert_denied(&fixture, &spec, "proc-environ", &["1"], libc::EACCES);
    let output =
        common::run(&spec, &common::sh("cat /proc/1/cmdline /proc/1/environ 2>&1 | head -c 200"));
    assert!(!stdout(&output).contains("PATH="), "{}", stdout(&output));
}

#[test]
fn a_granted_variable_reaches_the_command_and_an_inherited_one_of_that_name_does_not() {
    let Some((_fixture, sandbox)) =
        common::strict_sandbox("a_granted_variable_reaches_the_command")
    else {
        return;
    };
    let options = SpawnOptions {
        stdin: Stdio::Null,
        stdout: Stdio::Piped,
        stderr: Stdio::Null,
        env: Some(vec![
            ("WARRANT_TOKEN".into(), "inherited-token".into()),
            ("GITHUB_TOKEN".into(), "ghp-token-value".into()),
        ]),
        grant: vec![("WARRANT_TOKEN".into(), "granted-token".into())],
    };
    let mut child = sandbox.spawn(&["/usr/bin/env".into()], options).unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(out.contains("WARRANT_TOKEN=granted-token"), "{out}");
    assert!(!out.contains("inherited-token") && !out.contains("ghp-token-value"), "{out}");
    let env = child.report().get(warrant_sandbox::Control::Environment).unwrap();
    assert_eq!(env.status, warrant_sandbox::ControlStatus::Verified, "{env:?}");
}
