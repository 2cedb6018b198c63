//! Warrant's sandbox launcher: runs one command in a Linux sandbox and proves,
//! from inside, which controls are in force before the command starts.
//!
//! This is the only crate of the workspace allowed `unsafe`, confined to the
//! `sys` module of raw syscall wrappers. It does not decide *what* a command
//! may do (that is the policy crate's job) and does not run a proxy: in `proxy`
//! network mode it forwards a port to a Unix socket the caller provides.
//!
//! # Order of setup, and why
//!
//! Three processes, no re-exec of the launcher binary:
//!
//! 1. **Starter** (the launcher's child, for a few hundred microseconds):
//!    stdio installed, every other inherited descriptor closed
//!    (`close_range`), `setsid`, parent-death signal SIGKILL; it joins the
//!    sandbox's cgroup v2 when one was made (see below). Then namespaces:
//!    the user namespace first (it grants the capabilities the rest need; the
//!    caller's uid and gid are mapped to themselves, so this works as root and
//!    as a normal user), then mount, PID, IPC, UTS and network, one at a time
//!    so a failure names its control; loopback up. (A process that turned on
//!    [`enable_namespace_pool`] hands it a user and network namespace made
//!    ahead for this sandbox alone, which it joins instead.) It makes init with
//!    `CLONE_PARENT | CLONE_VM` on a stack of its own, so init is the
//!    launcher's own child and takes over the starter's memory instead of a
//!    copy of it; the starter then tells the launcher init's PID (without
//!    allocating: the memory is init's now) and exits.
//! 2. **Init** (PID 1 of the new PID namespace, the launcher's child; armed
//!    with its own parent-death signal and stopping at once if the launcher is
//!    already gone): builds the new root (a tmpfs;
//!    system directories and a minimal /etc read-only (small files are copied
//!    into the root, which is then remounted read-only), the workspace and declared
//!    paths bind-mounted, private HOME and /tmp, fresh /proc with its writable
//!    sysctls read-only, a minimal /dev (a directory of the read-only root with
//!    the usual device nodes bound onto it, and a private /dev/shm); nothing
//!    else: no /run, no host sockets,
//!    no other homes) and `pivot_root`s into it. In `proxy` mode it listens on
//!    127.0.0.1:`proxy_port` before starting the command; each connection is
//!    joined to the caller's Unix socket, reached through an `O_PATH`
//!    descriptor the launcher opened before fork (connecting to
//!    `/proc/self/fd/<n>`), so the socket is never mounted into the sandbox. It then reaps every
//!    process, forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT to the command, runs the
//!    forwarder and enforces the wall-clock limit. When the command exits,
//!    init kills and reaps everything left in the namespace, then reports the
//!    command's status on a pipe only it holds and exits. [`Child::wait`]
//!    returns on that report: every process of the sandbox is gone by then
//!    but init, which is exiting, and whose reaping (after the kernel has torn
//!    down the emptied namespaces, a few hundred microseconds) is left to
//!    the next launch, unless the sandbox has a cgroup to remove. If init dies
//!    without reporting (killed, or at the wall clock), the kernel kills what
//!    is left and the launcher waits for init itself. The launcher kills the
//!    tree by killing init.
//! 3. **Command** (PID 2): started with `CLONE_VM | CLONE_VFORK` on a stack of
//!    its own, so it shares init's memory (init is suspended until the exec)
//!    instead of copying it; it therefore leaves memory-wide state such as
//!    dumpability alone. It resets signals, closes init's descriptors, then
//!    rlimits, capability bounding set dropped, `no_new_privs`, Landlock (file
//!    rules matching the mounts, one for all of /etc and one for all of /dev, which
//!    hold only the plan's entries; TCP rules; scopes), capabilities cleared, and
//!    seccomp **last** because the earlier steps need calls it denies (one BPF
//!    program: a binary search over the denied syscall numbers). It then
//!    verifies every control by observation (see [`Report`]) and sends the
//!    report over a close-on-exec pipe. If a required control is missing it
//!    does not exec. `RLIMIT_AS` is set after the report is serialised: the
//!    process still maps the launcher's address space, so allocating
//!    under the limit could fail; it is read back before exec.
//!
//! A control listed in a profile's `best_effort` degrades to `unavailable` in the
//! report; every other control is required. The sandbox never silently runs
//! a command with less than the profile requires.
//!
//! # Profiles
//!
//! [`Profile::builtin`] ships `strict` and `coding-agent`. A profile is TOML:
//!
//! ```
//! # use warrant_sandbox::Profile;
//! let profile = Profile::from_toml(r#"
//! description = "build and test one repository, egress through the proxy"
//!
//! [network]
//! mode = "proxy"          # "none" (default), "proxy", or "host"
//! proxy_port = 3128       # 127.0.0.1:3128 inside -> SandboxSpec::proxy_socket
//!
//! [[path]]
//! path = "~/.cargo"       # absolute or ~/; mounted at the same path
//! access = "read-only"    # or "read-write"
//! optional = true         # skip when missing
//! reason = "toolchain"
//!
//! [env]
//! allow = ["CARGO_*", "RUST_LOG"]     # passed through unless on the denylist
//! set = { CI = "1" }
//!
//! [limits]
//! memory_bytes = 4294967296   # RLIMIT_AS per process
//! max_processes = 256         # RLIMIT_NPROC, and pid_max of the PID namespace
//! cpu_seconds = 600
//! file_size_bytes = 1073741824
//! open_files = 1024
//! wall_clock_seconds = 900    # whole tree, enforced by the sandbox's init
//! cgroup = "auto"             # a cgroup v2 for the tree where delegated; "required"; "off"
//!
//! [controls]
//! best_effort = ["landlock_scopes"]
//! landlock_min_abi = 4
//! "#)?;
//! # assert_eq!(profile.limits.max_processes, Some(256));
//! # Ok::<(), warrant_sandbox::ProfileError>(())
//! ```
//!
//! ```no_run
//! use std::ffi::OsString;
//! use warrant_sandbox::{Profile, SandboxSpec, run};
//!
//! let spec = SandboxSpec::new(Profile::builtin("strict")?, "/path/to/workspace");
//! let output = run(&spec, &[OsString::from("cargo"), OsString::from("--version")])?;
//! assert!(output.report.unverified().next().is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What it does not do
//!
//! - Memory and process limits bind the whole tree only where a cgroup v2 is
//!   delegated ([`SandboxSpec::cgroup_parent`], or the launcher's own cgroup
//!   when it hands out `memory` and `pids`): each sandbox then gets a cgroup
//!   of its own with `memory.max` and `pids.max`. Elsewhere (cgroup v1 hosts,
//!   undelegated ones) they are per-process rlimits plus the PID namespace's
//!   pid_max: a tree of N processes may use N times the address-space limit,
//!   and the report's `cgroup` entry says `unavailable`. RLIMIT_NPROC does not
//!   bind uid 0, so when the launcher runs as root without a cgroup the
//!   process bound is pid_max (at least 301 by kernel rule).
//! - Init runs in a copy of the launcher's memory (the starter's, a fork of
//!   the launcher, which init takes over). The command cannot read it: init is non-dumpable, the command has no
//!   capabilities, Landlock scopes ptrace and signals, and seccomp denies
//!   ptrace and process_vm_readv. Keep secrets out of the launching process
//!   anyway: a process that holds them launches through a [`Launcher`], a
//!   helper started by exec that holds none (see its docs).
//! - Landlock below ABI 9 cannot stop `connect` to a named Unix socket that is
//!   mounted into the sandbox: never mount a directory holding one.
//! - In `none` and `proxy` modes the command cannot bind TCP ports either
//!   (Landlock handles bind); Unix sockets work.
//! - There is no user-visible fallback: if a required control is missing the
//!   launch fails with [`LaunchError::ControlUnavailable`] and a hint.

mod cgroup;
mod child;
mod command;
mod context;
mod env;
mod error;
mod forward;
mod init;
mod landlock_rules;
mod launch;
mod launcher;
mod mounts;
mod plan;
mod pool;
mod probe;
mod profile;
mod protect;
mod report;
mod seccomp;
mod seccomp_list;
mod starter;
#[allow(unsafe_code)]
mod sys;
mod tables;
mod verify;

pub use cgroup::{OwnCgroup, own_cgroup};
pub use child::{Child, ExitStatus};
pub use error::{LaunchError, ProfileError};
pub use launch::{DEFAULT_CAPTURE_LIMIT, Output, Sandbox, SpawnOptions, Stdio, run};
pub use launcher::{
    CancelLaunch, HelperCommand, LaunchRequest, Launcher, LauncherError, MAX_OUTPUT_LIMIT,
    MAX_REQUEST, Rejection, ServeOptions, serve, serve_stdin,
};
pub use pool::{enable_namespace_pool, namespace_pool_failure};
pub use probe::{Capability, HostProbe, ProbeCheck, probe};
pub use profile::{
    Access, CgroupMode, ControlPolicy, EnvPolicy, Limits, NetworkMode, NetworkPolicy, PathRule,
    Profile, SandboxSpec,
};
pub use protect::{Protected, launcher_homes, protected_paths};
pub use report::{Control, ControlReport, ControlStatus, MountSummary, Report};
pub use seccomp::seccomp_deny_list;
