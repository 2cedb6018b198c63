//! Shared fixtures of the integration tests: a workspace with the escape helper
//! in it, a sibling directory standing in for the user's home, probe-based skips.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tempfile::TempDir;
use warrant_sandbox::{Capability, HostProbe, Output, Profile, Sandbox, SandboxSpec};

/// Capabilities every launch needs.
pub const BASE: &[Capability] = &[
    Capability::UserNamespaces,
    Capability::MountNamespace,
    Capability::PidNamespace,
    Capability::NetworkNamespace,
    Capability::IpcNamespace,
    Capability::UtsNamespace,
    Capability::NoNewPrivs,
    Capability::Seccomp,
    Capability::Landlock,
];

pub fn host() -> &'static HostProbe {
    static PROBE: OnceLock<HostProbe> = OnceLock::new();
    PROBE.get_or_init(warrant_sandbox::probe)
}

/// True (and says why on stderr) when the host lacks one of `needed`.
pub fn skip_unless(test: &str, needed: &[Capability]) -> bool {
    let missing: Vec<_> = BASE.iter().chain(needed).filter(|c| !host().available(**c)).collect();
    if missing.is_empty() {
        return false;
    }
    eprintln!("skipping {test}: this host lacks {missing:?}");
    true
}

/// The `strict` profile, edited.
pub fn with_limits(edit: impl FnOnce(&mut Profile)) -> Profile {
    let mut profile = strict();
    edit(&mut profile);
    profile
}

/// A `strict` sandbox on a fresh fixture, or `None` (said) where this host
/// lacks what the profile needs. Keep the fixture: it holds the workspace.
pub fn strict_sandbox(test: &str) -> Option<(Fixture, Sandbox)> {
    if skip_unless(test, &strict_needs()) {
        return None;
    }
    let fixture = Fixture::new();
    let sandbox = Sandbox::new(&fixture.spec(strict())).unwrap();
    Some((fixture, sandbox))
}

/// Everything the `strict` profile requires on this host.
pub fn strict_needs() -> Vec<Capability> {
    let mut needed = vec![Capability::LandlockNetwork, Capability::LandlockScopes];
    if is_root() {
        needed.push(Capability::PidNamespacePidMax);
    }
    needed
}

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// A workspace and, beside it in the same parent directory, a directory that
/// stands in for the user's home or `$WARRANT_HOME` (with a secret file). Both
/// live outside /tmp so that the sandbox's private /tmp proves nothing by accident.
pub struct Fixture {
    pub base: TempDir,
    pub workspace: PathBuf,
    pub outside: PathBuf,
    pub secret: PathBuf,
    pub helper: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let base = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let workspace = base.path().join("workspace");
        let outside = base.path().join("warrant-home");
        std::fs::create_dir(&workspace).unwrap();
        std::fs::create_dir(&outside).unwrap();
        let secret = outside.join("secret.key");
        std::fs::write(&secret, "TOP-SECRET-VALUE\n").unwrap();
        let helper = workspace.join("escape");
        std::fs::copy(env!("CARGO_BIN_EXE_warrant-sandbox-escape"), &helper).unwrap();
        Self { base, workspace, outside, secret, helper }
    }

    pub fn spec(&self, profile: Profile) -> SandboxSpec {
        SandboxSpec::new(profile, &self.workspace)
    }

    /// `escape <attempt> <args>` as a command.
    pub fn attempt(&self, attempt: &str, args: &[&str]) -> Vec<OsString> {
        let mut cmd = vec![self.helper.clone().into_os_string(), attempt.into()];
        cmd.extend(args.iter().map(OsString::from));
        cmd
    }
}

pub fn strict() -> Profile {
    Profile::builtin("strict").unwrap()
}

pub fn sh(script: &str) -> Vec<OsString> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

pub fn run(spec: &SandboxSpec, command: &[OsString]) -> Output {
    Sandbox::new(spec)
        .unwrap()
        .run(command, 1 << 20)
        .unwrap_or_else(|e| panic!("launch failed: {e}"))
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs the helper and returns its one-line verdict.
pub fn verdict(fixture: &Fixture, spec: &SandboxSpec, attempt: &str, args: &[&str]) -> String {
    let output = run(spec, &fixture.attempt(attempt, args));
    let text = stdout(&output);
    assert!(
        text.starts_with(attempt),
        "helper said {text:?}, stderr {:?}",
        String::from_utf8_lossy(&output.stderr)
    );
    text.trim().to_owned()
}

/// Asserts the helper was denied with `errno`.
pub fn assert_denied(
    fixture: &Fixture,
    spec: &SandboxSpec,
    attempt: &str,
    args: &[&str],
    errno: i32,
) {
    let verdict = verdict(fixture, spec, attempt, args);
    assert!(
        verdict.contains(&format!("denied errno={errno} ")),
        "{attempt} {args:?}: expected errno {errno}, got {verdict}"
    );
}

/// Host processes whose command line contains `marker`.
pub fn host_processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(marker))
                .unwrap_or(false)
        })
        .collect()
}

pub fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}
