//! What this host can enforce, for `warrant doctor` and for tests that must skip.
//!
//! The probe tries each mechanism for real in a throw-away child process
//! (unshare, mount a /proc, set pid_max, install a filter, restrict itself
//! with Landlock and be refused) rather than reading configuration files.

use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::report::Control;
use crate::sys::{self, Fork};

/// A host capability the sandbox relies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    UserNamespaces,
    MountNamespace,
    PidNamespace,
    NetworkNamespace,
    IpcNamespace,
    UtsNamespace,
    /// pid_max settable per PID namespace (Linux 6.14): a process limit that binds uid 0.
    PidNamespacePidMax,
    NoNewPrivs,
    Seccomp,
    Landlock,
    /// Landlock ABI >= 4.
    LandlockNetwork,
    /// Landlock ABI >= 6.
    LandlockScopes,
    Rlimits,
    /// cgroup v2 memory controller delegated to this process's cgroup.
    CgroupMemory,
    /// cgroup v2 pids controller delegated to this process's cgroup.
    CgroupPids,
}

impl Capability {
    /// One line on how to make it available.
    pub fn how_to_enable(self) -> &'static str {
        match self {
            Capability::UserNamespaces => Control::UserNamespace.how_to_enable(),
            Capability::MountNamespace
            | Capability::PidNamespace
            | Capability::NetworkNamespace
            | Capability::IpcNamespace
            | Capability::UtsNamespace => Control::MountNamespace.how_to_enable(),
            Capability::PidNamespacePidMax => "use Linux >= 6.14 (per-PID-namespace pid_max)",
            Capability::NoNewPrivs => Control::NoNewPrivs.how_to_enable(),
            Capability::Seccomp => Control::Seccomp.how_to_enable(),
            Capability::Landlock => Control::LandlockFilesystem.how_to_enable(),
            Capability::LandlockNetwork => Control::LandlockNetwork.how_to_enable(),
            Capability::LandlockScopes => Control::LandlockScopes.how_to_enable(),
            Capability::Rlimits => "supported by every Linux kernel",
            Capability::CgroupMemory | Capability::CgroupPids => {
                "make a cgroup v2 directory whose `cgroup.subtree_control` hands out memory and pids \
                 (`echo +memory +pids > <dir>/cgroup.subtree_control`, the directory writable by you) and set \
                 `[sandbox] cgroup_parent` to it; until then limits fall back to rlimits"
            }
        }
    }
}

/// The probe's verdict on one capability.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeCheck {
    pub capability: Capability,
    pub available: bool,
    /// What was tried and observed.
    pub detail: String,
    /// Set when not available.
    pub how_to_enable: Option<String>,
}

/// The host capability report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostProbe {
    pub checks: Vec<ProbeCheck>,
    /// The kernel's Landlock ABI (0 when unavailable).
    pub landlock_abi: u32,
}

impl HostProbe {
    pub fn get(&self, capability: Capability) -> Option<&ProbeCheck> {
        self.checks.iter().find(|c| c.capability == capability)
    }

    pub fn available(&self, capability: Capability) -> bool {
        self.get(capability).is_some_and(|c| c.available)
    }
}

type Findings = Vec<(Capability, bool, String)>;

/// Probes the host. Takes a few milliseconds (it forks twice).
pub fn probe() -> HostProbe {
    let landlock_abi = sys::landlock_abi().unwrap_or(0);
    let mut findings = in_child(probe_in_child).unwrap_or_else(|reason| {
        [
            Capability::UserNamespaces,
            Capability::NoNewPrivs,
            Capability::Seccomp,
            Capability::Landlock,
        ]
        .into_iter()
        .map(|c| (c, false, format!("probe process failed: {reason}")))
        .collect()
    });
    findings.push((
        Capability::LandlockNetwork,
        landlock_abi >= 4,
        format!("Landlock ABI {landlock_abi}"),
    ));
    findings.push((
        Capability::LandlockScopes,
        landlock_abi >= 6,
        format!("Landlock ABI {landlock_abi}"),
    ));
    findings.extend(cgroups());
    let checks = findings
        .into_iter()
        .map(|(capability, available, detail)| ProbeCheck {
            capability,
            available,
            detail,
            how_to_enable: (!available).then(|| capability.how_to_enable().to_owned()),
        })
        .collect();
    HostProbe { checks, landlock_abi }
}

/// Runs `f` in a forked child and returns what it wrote as JSON.
fn in_child(f: fn() -> Findings) -> Result<Findings, String> {
    let (read, write) = sys::pipe_cloexec().map_err(|e| e.to_string())?;
    match sys::fork().map_err(|e| e.to_string())? {
        Fork::Child => {
            drop(read);
            let findings = f();
            let _ = sys::write_all(
                std::os::fd::AsRawFd::as_raw_fd(&write),
                &serde_json::to_vec(&findings).unwrap_or_default(),
            );
            sys::exit_now(0)
        }
        Fork::Parent(pid) => {
            drop(write);
            let mut bytes = Vec::new();
            let read_result = std::fs::File::from(read).read_to_end(&mut bytes);
            let _ = sys::waitpid(pid, false);
            read_result.map_err(|e| e.to_string())?;
            serde_json::from_slice(&bytes).map_err(|e| e.to_string())
        }
    }
}

/// Runs in the throw-away child. Order matters: Landlock goes last because it
/// restricts the child itself.
fn probe_in_child() -> Findings {
    let mut out = Findings::new();
    let uid = sys::geteuid();
    let gid = sys::getegid();
    let userns = sys::unshare(libc::CLONE_NEWUSER)
        .and_then(|()| std::fs::write("/proc/self/setgroups", "deny"))
        .and_then(|()| std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1\n")))
        .and_then(|()| std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1\n")));
    out.push((
        Capability::UserNamespaces,
        userns.is_ok(),
        outcome("unshare(CLONE_NEWUSER) + uid_map", &userns),
    ));
    for (capability, flag, name) in [
        (Capability::MountNamespace, libc::CLONE_NEWNS, "CLONE_NEWNS"),
        (Capability::PidNamespace, libc::CLONE_NEWPID, "CLONE_NEWPID"),
        (Capability::NetworkNamespace, libc::CLONE_NEWNET, "CLONE_NEWNET"),
        (Capability::IpcNamespace, libc::CLONE_NEWIPC, "CLONE_NEWIPC"),
        (Capability::UtsNamespace, libc::CLONE_NEWUTS, "CLONE_NEWUTS"),
    ] {
        let result = sys::unshare(flag);
        out.push((
            capability,
            result.is_ok(),
            outcome(&format!("unshare({name}) in a user namespace"), &result),
        ));
    }
    let pid_max = probe_pid_max();
    out.push((Capability::PidNamespacePidMax, pid_max.is_ok(), pid_max.unwrap_or_else(|e| e)));

    let limit =
        sys::setrlimit(libc::RLIMIT_CORE, 0, 0).and_then(|()| sys::getrlimit(libc::RLIMIT_CORE));
    out.push((
        Capability::Rlimits,
        matches!(limit, Ok((0, 0))),
        format!("RLIMIT_CORE set and read back: {limit:?}"),
    ));

    let status = |key: &str| {
        let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        crate::verify::status_field(&text, key).map(str::to_owned)
    };
    let nnp = sys::set_no_new_privs().map(|()| status("NoNewPrivs"));
    out.push((
        Capability::NoNewPrivs,
        matches!(&nnp, Ok(Some(v)) if v == "1"),
        format!("NoNewPrivs after prctl: {nnp:?}"),
    ));
    let seccomp = crate::seccomp::compile(crate::profile::NetworkMode::Host)
        .map_err(|e| e.to_string())
        .and_then(|program| seccompiler::apply_filter(&program).map_err(|e| e.to_string()))
        .map(|()| (status("Seccomp"), sys::unshare(0).err().and_then(|e| e.raw_os_error())));
    let seccomp_ok = matches!(&seccomp, Ok((Some(mode), Some(libc::EPERM))) if mode == "2");
    out.push((
        Capability::Seccomp,
        seccomp_ok,
        format!("filter installed; (Seccomp, unshare(0) errno): {seccomp:?}"),
    ));

    let landlock = probe_landlock();
    out.push((Capability::Landlock, landlock.is_ok(), landlock.unwrap_or_else(|e| e)));
    out
}

fn outcome(what: &str, result: &std::io::Result<()>) -> String {
    match result {
        Ok(()) => format!("{what}: ok"),
        Err(e) => format!("{what}: {e}"),
    }
}

/// In the new PID and mount namespaces: a child (PID 1) mounts a /proc and
/// writes pid_max there.
fn probe_pid_max() -> Result<String, String> {
    match sys::fork().map_err(|e| e.to_string())? {
        Fork::Child => {
            // A mount namespace of its own, so the probe's /proc stays the host's.
            let ok = sys::unshare(libc::CLONE_NEWNS)
                .and_then(|()| sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None))
                .and_then(|()| {
                    sys::mount(
                        Some(c"proc"),
                        c"/proc",
                        Some(c"proc"),
                        libc::MS_NOSUID | libc::MS_NODEV,
                        None,
                    )
                })
                .and_then(|()| std::fs::write("/proc/sys/kernel/pid_max", "400"))
                .and_then(|()| std::fs::read_to_string("/proc/sys/kernel/pid_max"))
                .is_ok_and(|v| v.trim() == "400");
            sys::exit_now(if ok { 0 } else { 1 })
        }
        Fork::Parent(pid) => match sys::waitpid(pid, false) {
            Ok(Some((_, sys::WaitStatus::Exited(0)))) => {
                Ok("pid_max=400 written and read back in a new PID namespace".into())
            }
            other => Err(format!("pid_max not settable in a new PID namespace ({other:?})")),
        },
    }
}

/// Restricts this child to nothing and checks a read is refused.
fn probe_landlock() -> Result<String, String> {
    use landlock::{ABI, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetStatus};
    let abi = sys::landlock_abi().map_err(|e| format!("landlock_create_ruleset(VERSION): {e}"))?;
    let status = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_read(ABI::V1))
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self())
        .map_err(|e| e.to_string())?;
    if status.ruleset != RulesetStatus::FullyEnforced {
        return Err(format!("ruleset {:?}", status.ruleset));
    }
    match std::fs::File::open("/proc/self/status") {
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
            Ok(format!("ABI {abi}; after restricting, open(/proc/self/status) -> EACCES"))
        }
        other => Err(format!("restricted but open(/proc/self/status) -> {other:?}")),
    }
}

/// cgroup v2 delegation: the controllers listed for this process's own cgroup
/// and a writable subtree_control.
fn cgroups() -> Findings {
    let result = (|| -> Result<(String, bool), String> {
        let own =
            crate::cgroup::own_cgroup().ok_or("no cgroup v2 hierarchy (cgroup2 is not mounted)")?;
        let dir = own.dir().display().to_string();
        let controllers = std::fs::read_to_string(format!("{dir}/cgroup.controllers"))
            .map_err(|e| e.to_string())?;
        let writable = std::fs::OpenOptions::new()
            .write(true)
            .open(format!("{dir}/cgroup.subtree_control"))
            .is_ok();
        Ok((format!("{dir}: controllers `{}`", controllers.trim()), writable))
    })();
    match result {
        Ok((detail, writable)) => ["memory", "pids"]
            .into_iter()
            .zip([Capability::CgroupMemory, Capability::CgroupPids])
            .map(|(name, capability)| {
                let listed =
                    detail.split('`').nth(1).is_some_and(|c| c.split(' ').any(|x| x == name));
                let ok = listed && writable;
                (capability, ok, format!("{detail}; writable: {writable}"))
            })
            .collect(),
        Err(reason) => vec![
            (Capability::CgroupMemory, false, reason.clone()),
            (Capability::CgroupPids, false, reason),
        ],
    }
}
