//! The seccomp deny list as data, with a reason on each entry: what the
//! filter denies, and when (always, or for some values of an argument).
//! `seccomp.rs` compiles it to one BPF program.

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

/// Why a mode with set-user-ID or set-group-ID is refused.
const SETID_REASON: &str = "a file made set-user-ID or set-group-ID in the workspace keeps the bit on the host, where the sandbox's nosuid mount does not apply: an executable that runs as the operator for anyone who can reach it";

/// `fchmodat2(2)`: 452 on every architecture (the syscall table is shared
/// since Linux 5.1); libc does not name it on aarch64 yet.
const SYS_FCHMODAT2: libc::c_long = 452;

/// The set-user-ID and set-group-ID mode bits.
const S_ISUID: u64 = 0o4000;
const S_ISGID: u64 = 0o2000;

/// `name` denied when its mode argument `arg` has the set-ID bit `bit`.
const fn setid(name: &'static str, nr: libc::c_long, arg: u8, bit: u64) -> Denied {
    Denied { name, nr, when: When::ArgHasBits { arg, mask: bit }, reason: SETID_REASON }
}

/// Denied with EPERM: this list, and on x86_64 [`LEGACY_DENY_LIST`].
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
    setid("fchmod(S_ISUID)", libc::SYS_fchmod, 1, S_ISUID),
    setid("fchmod(S_ISGID)", libc::SYS_fchmod, 1, S_ISGID),
    setid("fchmodat(S_ISUID)", libc::SYS_fchmodat, 2, S_ISUID),
    setid("fchmodat(S_ISGID)", libc::SYS_fchmodat, 2, S_ISGID),
    setid("fchmodat2(S_ISUID)", SYS_FCHMODAT2, 2, S_ISUID),
    setid("fchmodat2(S_ISGID)", SYS_FCHMODAT2, 2, S_ISGID),
    // The mode of `openat` counts only with O_CREAT or O_TMPFILE; libc
    // passes 0 otherwise, so this refuses only a creation with the bits.
    setid("openat(S_ISUID)", libc::SYS_openat, 3, S_ISUID),
    setid("openat(S_ISGID)", libc::SYS_openat, 3, S_ISGID),
];

/// The x86_64 system calls that have no counterpart on newer architectures,
/// denied like their `*at` forms in [`DENY_LIST`].
#[cfg(target_arch = "x86_64")]
pub(crate) const LEGACY_DENY_LIST: &[Denied] = &[
    setid("chmod(S_ISUID)", libc::SYS_chmod, 1, S_ISUID),
    setid("chmod(S_ISGID)", libc::SYS_chmod, 1, S_ISGID),
    setid("open(S_ISUID)", libc::SYS_open, 2, S_ISUID),
    setid("open(S_ISGID)", libc::SYS_open, 2, S_ISGID),
    setid("creat(S_ISUID)", libc::SYS_creat, 1, S_ISUID),
    setid("creat(S_ISGID)", libc::SYS_creat, 1, S_ISGID),
];
#[cfg(not(target_arch = "x86_64"))]
pub(crate) const LEGACY_DENY_LIST: &[Denied] = &[];

/// Every entry denied with EPERM.
pub(crate) fn deny_list() -> Vec<Denied> {
    DENY_LIST.iter().chain(LEGACY_DENY_LIST).copied().collect()
}

/// Fail with ENOSYS instead of EPERM, so libc falls back to an older call.
pub(crate) const ENOSYS_LIST: &[Denied] = &[
    Denied {
        name: "clone3",
        nr: libc::SYS_clone3,
        when: When::Always,
        reason: "its flags live in memory seccomp cannot inspect; ENOSYS makes libc fall back to clone(2), whose namespace flags are filtered",
    },
    Denied {
        name: "openat2",
        nr: libc::SYS_openat2,
        when: When::Always,
        reason: "its mode lives in memory seccomp cannot inspect; ENOSYS makes callers fall back to openat(2), whose set-user-ID mode bits are filtered",
    },
];
