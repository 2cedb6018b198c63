//! The seccomp deny list, as data, and its compilation to BPF.
//!
//! The filter is a deny list (default allow): the sandbox already confines
//! files, processes and the network with namespaces and Landlock; seccomp
//! removes the kernel interfaces that would let a command undo or bypass that
//! (namespaces, mounts, ptrace) or that carry a large attack surface
//! (io_uring, BPF, perf, keyrings, modules). Denied calls fail with EPERM.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};

use crate::error::LaunchError;
use crate::profile::NetworkMode;

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("warrant-sandbox's seccomp filter supports x86_64 and aarch64 only");

/// When a listed syscall is denied.
#[derive(Clone, Copy, Debug)]
pub(crate) enum When {
    Always,
    /// The low 32 bits of argument `arg` equal `value` (ioctl request numbers are
    /// 32-bit in the kernel, so high bits must not let a caller dodge the rule).
    ArgEq {
        arg: u8,
        value: u64,
    },
    /// Argument `arg` has bit(s) `mask` set (low 32 bits).
    ArgHasBits {
        arg: u8,
        mask: u64,
    },
}

/// One entry of the deny list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Denied {
    pub name: &'static str,
    pub nr: libc::c_long,
    pub when: When,
    pub reason: &'static str,
}

const NS_REASON: &str = "creates namespaces: a new user namespace re-grants every capability";
const MOUNT_REASON: &str = "changes the file-system view the sandbox was built with";

/// Denied with EPERM.
pub(crate) const DENY_LIST: &[Denied] = &[
    Denied {
        name: "ptrace",
        nr: libc::SYS_ptrace,
        when: When::Always,
        reason: "inspects or takes over other processes",
    },
    Denied {
        name: "process_vm_readv",
        nr: libc::SYS_process_vm_readv,
        when: When::Always,
        reason: "reads another process's memory",
    },
    Denied {
        name: "process_vm_writev",
        nr: libc::SYS_process_vm_writev,
        when: When::Always,
        reason: "writes another process's memory",
    },
    Denied {
        name: "io_uring_setup",
        nr: libc::SYS_io_uring_setup,
        when: When::Always,
        reason: "io_uring operations bypass seccomp and have a long record of kernel bugs",
    },
    Denied {
        name: "io_uring_enter",
        nr: libc::SYS_io_uring_enter,
        when: When::Always,
        reason: "io_uring (see io_uring_setup)",
    },
    Denied {
        name: "io_uring_register",
        nr: libc::SYS_io_uring_register,
        when: When::Always,
        reason: "io_uring (see io_uring_setup)",
    },
    Denied {
        name: "bpf",
        nr: libc::SYS_bpf,
        when: When::Always,
        reason: "loads BPF programs: large kernel attack surface",
    },
    Denied {
        name: "perf_event_open",
        nr: libc::SYS_perf_event_open,
        when: When::Always,
        reason: "performance counters: side channels and kernel attack surface",
    },
    Denied {
        name: "keyctl",
        nr: libc::SYS_keyctl,
        when: When::Always,
        reason: "kernel keyrings are not namespaced",
    },
    Denied {
        name: "add_key",
        nr: libc::SYS_add_key,
        when: When::Always,
        reason: "kernel keyrings are not namespaced",
    },
    Denied {
        name: "request_key",
        nr: libc::SYS_request_key,
        when: When::Always,
        reason: "kernel keyrings are not namespaced",
    },
    Denied { name: "mount", nr: libc::SYS_mount, when: When::Always, reason: MOUNT_REASON },
    Denied { name: "umount2", nr: libc::SYS_umount2, when: When::Always, reason: MOUNT_REASON },
    Denied {
        name: "pivot_root",
        nr: libc::SYS_pivot_root,
        when: When::Always,
        reason: MOUNT_REASON,
    },
    Denied {
        name: "move_mount",
        nr: libc::SYS_move_mount,
        when: When::Always,
        reason: MOUNT_REASON,
    },
    Denied { name: "open_tree", nr: libc::SYS_open_tree, when: When::Always, reason: MOUNT_REASON },
    Denied { name: "fsopen", nr: libc::SYS_fsopen, when: When::Always, reason: MOUNT_REASON },
    Denied { name: "fsmount", nr: libc::SYS_fsmount, when: When::Always, reason: MOUNT_REASON },
    Denied { name: "fsconfig", nr: libc::SYS_fsconfig, when: When::Always, reason: MOUNT_REASON },
    Denied { name: "fspick", nr: libc::SYS_fspick, when: When::Always, reason: MOUNT_REASON },
    Denied {
        name: "mount_setattr",
        nr: libc::SYS_mount_setattr,
        when: When::Always,
        reason: MOUNT_REASON,
    },
    Denied {
        name: "open_by_handle_at",
        nr: libc::SYS_open_by_handle_at,
        when: When::Always,
        reason: "opens files by handle, around path-based checks",
    },
    Denied { name: "unshare", nr: libc::SYS_unshare, when: When::Always, reason: NS_REASON },
    Denied {
        name: "setns",
        nr: libc::SYS_setns,
        when: When::Always,
        reason: "enters other namespaces",
    },
    Denied {
        name: "clone(CLONE_NEWNS)",
        nr: libc::SYS_clone,
        when: When::ArgHasBits { arg: 0, mask: libc::CLONE_NEWNS as u64 },
        reason: NS_REASON,
    },
    Denied {
        name: "clone(CLONE_NEWUTS)",
        nr: libc::SYS_clone,
        when: When::ArgHasBits { arg: 0, mask: libc::CLONE_NEWUTS as u64 },
        reason: NS_REASON,
    },
    Denied {
        name: "clone(CLONE_NEWIPC)",
        nr: libc::SYS_clone,
        when: When::ArgHasBits { arg: 0, mask: libc::CLONE_NEWIPC as u64 },
        reason: NS_REASON,
    },
    Denied {
        name: "clone(CLONE_NEWUSER)",
        nr: libc::SYS_clone,
        when: When::ArgHasBits { arg: 0, mask: libc::CLONE_NEWUSER as u64 },
        reason: NS_REASON,
    },
    Denied {
        name: "clone(CLONE_NEWPID)",
        nr: libc::SYS_clone,
        when: When::ArgHasBits { arg: 0, mask: libc::CLONE_NEWPID as u64 },
        reason: NS_REASON,
    },
    Denied {
        name: "clone(CLONE_NEWNET)",
        nr: libc::SYS_clone,
        when: When::ArgHasBits { arg: 0, mask: libc::CLONE_NEWNET as u64 },
        reason: NS_REASON,
    },
    Denied {
        name: "clone(CLONE_NEWCGROUP)",
        nr: libc::SYS_clone,
        when: When::ArgHasBits { arg: 0, mask: libc::CLONE_NEWCGROUP as u64 },
        reason: NS_REASON,
    },
    Denied {
        name: "clone(CLONE_NEWTIME)",
        nr: libc::SYS_clone,
        when: When::ArgHasBits { arg: 0, mask: 0x80 },
        reason: NS_REASON,
    },
    Denied {
        name: "kexec_load",
        nr: libc::SYS_kexec_load,
        when: When::Always,
        reason: "replaces the running kernel",
    },
    Denied {
        name: "kexec_file_load",
        nr: libc::SYS_kexec_file_load,
        when: When::Always,
        reason: "replaces the running kernel",
    },
    Denied {
        name: "init_module",
        nr: libc::SYS_init_module,
        when: When::Always,
        reason: "loads kernel code",
    },
    Denied {
        name: "finit_module",
        nr: libc::SYS_finit_module,
        when: When::Always,
        reason: "loads kernel code",
    },
    Denied {
        name: "delete_module",
        nr: libc::SYS_delete_module,
        when: When::Always,
        reason: "unloads kernel code",
    },
    Denied {
        name: "userfaultfd",
        nr: libc::SYS_userfaultfd,
        when: When::Always,
        reason: "stalls the kernel at chosen points: an exploit primitive",
    },
    Denied {
        name: "ioctl(TIOCSTI)",
        nr: libc::SYS_ioctl,
        when: When::ArgEq { arg: 1, value: libc::TIOCSTI },
        reason: "pushes keystrokes into a terminal's input queue",
    },
    Denied {
        name: "ioctl(TIOCLINUX)",
        nr: libc::SYS_ioctl,
        when: When::ArgEq { arg: 1, value: libc::TIOCLINUX },
        reason: "virtual-console control, including input injection",
    },
];

/// Fail with ENOSYS instead of EPERM, so libc falls back to an older call.
pub(crate) const ENOSYS_LIST: &[Denied] = &[Denied {
    name: "clone3",
    nr: libc::SYS_clone3,
    when: When::Always,
    reason: "its flags live in memory seccomp cannot inspect; ENOSYS makes libc fall back to clone(2), whose namespace flags are filtered",
}];

/// A socket address family the sandbox may create sockets of.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AllowedFamily {
    pub family: libc::c_int,
    pub name: &'static str,
    pub reason: &'static str,
}

/// Every other family (netlink, packet, vsock, bluetooth, ...) is denied.
const LOCAL_FAMILIES: &[AllowedFamily] = &[AllowedFamily {
    family: libc::AF_UNIX,
    name: "AF_UNIX",
    reason: "local IPC between the command's own processes",
}];
const INET_FAMILIES: &[AllowedFamily] = &[
    AllowedFamily {
        family: libc::AF_UNIX,
        name: "AF_UNIX",
        reason: "local IPC between the command's own processes",
    },
    AllowedFamily {
        family: libc::AF_INET,
        name: "AF_INET",
        reason: "TCP to the egress proxy's forwarder (proxy) or the host network (host)",
    },
    AllowedFamily { family: libc::AF_INET6, name: "AF_INET6", reason: "as AF_INET" },
];

/// The socket families allowed in `mode`.
pub(crate) fn allowed_families(mode: NetworkMode) -> &'static [AllowedFamily] {
    match mode {
        NetworkMode::None => LOCAL_FAMILIES,
        NetworkMode::Proxy | NetworkMode::Host => INET_FAMILIES,
    }
}

/// The BPF programs to install, in order.
pub(crate) fn compile(mode: NetworkMode) -> Result<Vec<BpfProgram>, LaunchError> {
    let mut programs = Vec::new();
    #[cfg(target_arch = "x86_64")]
    programs.push(x32_guard());

    let mut rules = rule_map(DENY_LIST)?;
    let socket_rule = SeccompRule::new(
        allowed_families(mode)
            .iter()
            .map(|f| condition(0, SeccompCmpOp::Ne, u64::from(f.family.unsigned_abs())))
            .collect::<Result<_, _>>()?,
    )
    .map_err(seccomp_err)?;
    rules.entry(libc::SYS_socket).or_default().push(socket_rule);
    programs.push(program(rules, libc::EPERM)?);
    programs.push(program(rule_map(ENOSYS_LIST)?, libc::ENOSYS)?);
    Ok(programs)
}

/// Everything the seccomp filter denies in `mode`, with the reason for each
/// entry (for audits and `warrant doctor`).
pub fn seccomp_deny_list(mode: NetworkMode) -> Vec<(String, &'static str)> {
    let mut list: Vec<_> =
        DENY_LIST.iter().chain(ENOSYS_LIST).map(|d| (d.name.to_owned(), d.reason)).collect();
    let allowed: Vec<_> =
        allowed_families(mode).iter().map(|f| format!("{} ({})", f.name, f.reason)).collect();
    list.push((
        format!("socket(family not in {})", allowed.join(", ")),
        "netlink, packet and other families expose kernel attack surface and host network state",
    ));
    list
}

pub(crate) fn denied_names(mode: NetworkMode) -> Vec<String> {
    seccomp_deny_list(mode).into_iter().map(|(name, _)| name).collect()
}

fn seccomp_err(err: seccompiler::BackendError) -> LaunchError {
    LaunchError::Seccomp(err.to_string())
}

fn condition(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, LaunchError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(seccomp_err)
}

/// Groups entries by syscall number. An unconditional entry makes the
/// syscall's rule list empty, which seccompiler treats as "always matches".
fn rule_map(entries: &[Denied]) -> Result<BTreeMap<i64, Vec<SeccompRule>>, LaunchError> {
    let mut always = Vec::new();
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for entry in entries {
        let nr = entry.nr;
        let cond = match entry.when {
            When::Always => {
                always.push(nr);
                continue;
            }
            When::ArgEq { arg, value } => condition(arg, SeccompCmpOp::Eq, value)?,
            When::ArgHasBits { arg, mask } => condition(arg, SeccompCmpOp::MaskedEq(mask), mask)?,
        };
        rules.entry(nr).or_default().push(SeccompRule::new(vec![cond]).map_err(seccomp_err)?);
    }
    for nr in always {
        rules.insert(nr, Vec::new());
    }
    Ok(rules)
}

fn program(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    errno: libc::c_int,
) -> Result<BpfProgram, LaunchError> {
    let errno = u32::try_from(errno).map_err(|_| LaunchError::Seccomp("negative errno".into()))?;
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(errno), ARCH)
        .map_err(seccomp_err)?;
    BpfProgram::try_from(filter).map_err(seccomp_err)
}

/// x86_64's x32 ABI reports the same audit arch as x86_64 but numbers its
/// syscalls from 0x40000000; without this guard every rule above could be
/// sidestepped through the x32 entry points. (The main filter's arch check
/// already kills i386 compat calls.)
#[cfg(target_arch = "x86_64")]
fn x32_guard() -> BpfProgram {
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let stmt = |code: u32, k: u32| sock_filter { code: code as u16, jt: 0, jf: 0, k };
    vec![
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
        sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ERRNO | libc::EPERM.unsigned_abs()),
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    #[test]
    fn every_mode_compiles() {
        for mode in [NetworkMode::None, NetworkMode::Proxy, NetworkMode::Host] {
            let programs = compile(mode).unwrap();
            assert!(programs.iter().all(|p| !p.is_empty()));
        }
    }

    #[test]
    fn every_entry_has_a_reason() {
        for entry in DENY_LIST.iter().chain(ENOSYS_LIST) {
            assert!(!entry.reason.is_empty(), "{}", entry.name);
        }
        for family in allowed_families(NetworkMode::Host) {
            assert!(!family.reason.is_empty(), "{}", family.name);
        }
    }

    #[test]
    fn deny_list_names_the_brief_syscalls() {
        let names = denied_names(NetworkMode::None);
        assert!(names.last().unwrap().contains("AF_UNIX"));
        for needed in
            ["ptrace", "io_uring_setup", "bpf", "unshare", "mount", "ioctl(TIOCSTI)", "userfaultfd"]
        {
            assert!(names.iter().any(|n| n == needed), "{needed}");
        }
    }
}
