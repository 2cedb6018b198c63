//! The evidence a launch produces: which controls were applied, each verified
//! by observing the kernel's state from inside the sandbox, and the frames the
//! sandbox sends back to the launcher over its close-on-exec pipes.

use std::fmt;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

/// One confinement control the launcher applies and verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// The command leads its own session (no controlling terminal of the caller).
    Session,
    /// The sandbox dies with SIGKILL when its parent dies.
    ParentDeathSignal,
    /// Only stdio (and the launcher's report pipe, close-on-exec) reach the command.
    FileDescriptors,
    /// The environment is built from an allowlist; secrets are never passed.
    Environment,
    /// A user namespace owns the other namespaces.
    UserNamespace,
    /// A private mount table.
    MountNamespace,
    /// A private process tree; the launcher's processes are invisible.
    PidNamespace,
    /// An empty network namespace (loopback only).
    NetworkNamespace,
    /// Private System V IPC and POSIX message queues.
    IpcNamespace,
    /// A private host name.
    UtsNamespace,
    /// A new root containing only the planned mounts.
    PrivateRoot,
    /// Read-only mounts are read-only in the kernel's mount table.
    ReadOnlyMounts,
    /// Resource limits (address space, CPU, file size, open files, core dumps).
    ResourceLimits,
    /// A bound on the number of processes (RLIMIT_NPROC and the PID namespace's pid_max).
    ProcessLimit,
    /// A cgroup v2 of the sandbox's own bounding the whole tree's memory and
    /// processes (where delegated; required only when the profile says so).
    Cgroup,
    /// All capabilities dropped, including the bounding set.
    Capabilities,
    /// `no_new_privs`: exec cannot grant privileges.
    NoNewPrivs,
    /// Landlock file-system rules matching the mounts.
    LandlockFilesystem,
    /// Landlock TCP bind/connect rules (ABI 4).
    LandlockNetwork,
    /// Landlock scopes for abstract Unix sockets and signals (ABI 6).
    LandlockScopes,
    /// The seccomp deny list.
    Seccomp,
}

impl Control {
    /// Every control, in the order they appear in a [`Report`].
    pub const ALL: &'static [Control] = &[
        Control::Session,
        Control::ParentDeathSignal,
        Control::FileDescriptors,
        Control::Environment,
        Control::UserNamespace,
        Control::MountNamespace,
        Control::PidNamespace,
        Control::NetworkNamespace,
        Control::IpcNamespace,
        Control::UtsNamespace,
        Control::PrivateRoot,
        Control::ReadOnlyMounts,
        Control::ResourceLimits,
        Control::ProcessLimit,
        Control::Cgroup,
        Control::Capabilities,
        Control::NoNewPrivs,
        Control::LandlockFilesystem,
        Control::LandlockNetwork,
        Control::LandlockScopes,
        Control::Seccomp,
    ];

    /// The snake_case name used in profiles and reports.
    pub fn name(self) -> &'static str {
        match self {
            Control::Session => "session",
            Control::ParentDeathSignal => "parent_death_signal",
            Control::FileDescriptors => "file_descriptors",
            Control::Environment => "environment",
            Control::UserNamespace => "user_namespace",
            Control::MountNamespace => "mount_namespace",
            Control::PidNamespace => "pid_namespace",
            Control::NetworkNamespace => "network_namespace",
            Control::IpcNamespace => "ipc_namespace",
            Control::UtsNamespace => "uts_namespace",
            Control::PrivateRoot => "private_root",
            Control::ReadOnlyMounts => "read_only_mounts",
            Control::ResourceLimits => "resource_limits",
            Control::ProcessLimit => "process_limit",
            Control::Cgroup => "cgroup",
            Control::Capabilities => "capabilities",
            Control::NoNewPrivs => "no_new_privs",
            Control::LandlockFilesystem => "landlock_filesystem",
            Control::LandlockNetwork => "landlock_network",
            Control::LandlockScopes => "landlock_scopes",
            Control::Seccomp => "seccomp",
        }
    }

    /// One line on how to make this control available on a host that lacks it.
    pub fn how_to_enable(self) -> &'static str {
        match self {
            Control::UserNamespace => {
                "allow unprivileged user namespaces: `sysctl -w kernel.unprivileged_userns_clone=1` (Debian), \
                 `user.max_user_namespaces` > 0, and on Ubuntu 23.10+ `kernel.apparmor_restrict_unprivileged_userns=0` \
                 or an AppArmor profile granting `userns`"
            }
            Control::MountNamespace
            | Control::PidNamespace
            | Control::NetworkNamespace
            | Control::IpcNamespace
            | Control::UtsNamespace => {
                "use a kernel built with CONFIG_{MNT,PID,NET,IPC,UTS}_NS and raise the matching `user.max_*_namespaces` sysctl"
            }
            Control::PrivateRoot => {
                "needs user and mount namespaces and a fully visible /proc (not running under a container runtime that masks /proc)"
            }
            Control::ReadOnlyMounts => {
                "needs mount_setattr (Linux >= 5.12) for recursive read-only binds; a read-only path with a writable submount cannot be mounted"
            }
            Control::LandlockFilesystem => {
                "use Linux >= 5.13 built with CONFIG_SECURITY_LANDLOCK=y and boot with `lsm=landlock,...` in the kernel command line"
            }
            Control::LandlockNetwork => {
                "use Linux >= 6.7 (Landlock ABI 4) with Landlock enabled (`lsm=landlock,...`)"
            }
            Control::LandlockScopes => {
                "use Linux >= 6.12 (Landlock ABI 6) with Landlock enabled (`lsm=landlock,...`)"
            }
            Control::Seccomp => "use a kernel built with CONFIG_SECCOMP_FILTER=y",
            Control::NoNewPrivs => "use Linux >= 3.5",
            Control::ProcessLimit => {
                "run as a non-root user (RLIMIT_NPROC does not bind uid 0) or use Linux >= 6.14 for a per-PID-namespace pid_max"
            }
            Control::Cgroup => {
                "make a cgroup v2 directory writable by the launcher's user whose `cgroup.subtree_control` \
                 hands out memory and pids (`echo +memory +pids > <dir>/cgroup.subtree_control`) and name it \
                 as the cgroup parent (`[sandbox] cgroup_parent` in warrant.toml); controllers held by \
                 cgroup v1 cannot be used"
            }
            Control::Capabilities | Control::ResourceLimits => {
                "supported by every Linux kernel; this failure is a bug"
            }
            Control::Session
            | Control::ParentDeathSignal
            | Control::FileDescriptors
            | Control::Environment => {
                "supported by every Linux kernel >= 5.9 (close_range); this failure is a bug"
            }
        }
    }

    /// Whether a profile may list this control as best effort. The namespaces,
    /// the private root and process hygiene are structural: without them there
    /// is no sandbox, so they are always required.
    pub fn may_be_best_effort(self) -> bool {
        matches!(
            self,
            Control::LandlockFilesystem
                | Control::LandlockNetwork
                | Control::LandlockScopes
                | Control::Seccomp
                | Control::ProcessLimit
                | Control::Cgroup
        )
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the sandbox observed about one control.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlStatus {
    /// Applied, and the kernel's state shows it in force.
    Verified,
    /// The profile does not ask for it (e.g. the network namespace in `host` mode).
    NotRequested,
    /// Best effort and this host cannot enforce it; the evidence says why.
    Unavailable,
}

/// The result for one control.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlReport {
    pub control: Control,
    /// Required controls that fail abort the launch, so a report never holds a
    /// required control that is `Unavailable`.
    pub required: bool,
    pub status: ControlStatus,
    /// What was observed, e.g. `NoNewPrivs: 1` or `open(/.warrant-landlock-probe) -> EACCES`.
    pub evidence: String,
}

/// One mount of the sandbox's root, for auditing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSummary {
    pub path: String,
    /// `ro`, `rw`, `tmpfs`, `proc`, `dev` or `symlink`.
    pub kind: String,
}

/// Everything the sandbox verified before it exec'd the command.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub controls: Vec<ControlReport>,
    /// The kernel's Landlock ABI (0 when Landlock is unavailable).
    pub landlock_abi: u32,
    pub mounts: Vec<MountSummary>,
    /// Names (never values) of the environment variables the command receives.
    pub env_names: Vec<String>,
    /// The command's PID inside the sandbox's PID namespace.
    pub sandbox_pid: i32,
}

impl Report {
    /// The entry for `control`.
    pub fn get(&self, control: Control) -> Option<&ControlReport> {
        self.controls.iter().find(|c| c.control == control)
    }

    /// Controls that were neither verified nor deliberately not requested.
    pub fn unverified(&self) -> impl Iterator<Item = &ControlReport> {
        self.controls.iter().filter(|c| c.status == ControlStatus::Unavailable)
    }
}

/// Why the sandbox refused to exec the command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Failure {
    /// The control that could not be applied or verified, if any.
    pub control: Option<Control>,
    /// The setup step, e.g. `unshare` or `mount /usr`.
    pub step: String,
    pub reason: String,
}

/// Messages from the sandbox's processes to the launcher.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Frame {
    /// Sent by the starter: init exists, as the launcher's child.
    Started { init: libc::pid_t },
    /// Sent by the command's process just before exec.
    Report(Report),
    /// Setup failed; nothing was exec'd.
    Failure(Failure),
    /// Every candidate path for the program failed to exec.
    ExecFailed { errno: i32 },
    /// The command ended (sent by the sandbox's init).
    Exit { code: Option<i32>, signal: Option<i32> },
    /// The wall-clock limit expired and the tree was killed (sent by init).
    TimedOut,
}

/// Largest frame the launcher accepts: a report is a few KiB.
const MAX_FRAME: usize = 1 << 20;

impl Frame {
    /// Length-prefixed JSON.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let body = serde_json::to_vec(self).unwrap_or_default();
        let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
        let mut out = Vec::with_capacity(body.len() + 4);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// The frames in `bytes` up to the first truncated or malformed one, and
    /// what was wrong with it.
    pub(crate) fn decode_complete(mut bytes: &[u8]) -> (Vec<Frame>, Option<io::Error>) {
        let mut frames = Vec::new();
        while !bytes.is_empty() {
            let Some((len, rest)) = bytes.split_first_chunk::<4>() else {
                let error = io::Error::new(io::ErrorKind::InvalidData, "truncated frame header");
                return (frames, Some(error));
            };
            let len = usize::try_from(u32::from_le_bytes(*len)).unwrap_or(usize::MAX);
            if len > MAX_FRAME || len > rest.len() {
                let error =
                    io::Error::new(io::ErrorKind::InvalidData, "truncated or oversized frame");
                return (frames, Some(error));
            }
            let (body, rest) = rest.split_at(len);
            match serde_json::from_slice(body) {
                Ok(frame) => frames.push(frame),
                Err(e) => return (frames, Some(io::Error::other(e))),
            }
            bytes = rest;
        }
        (frames, None)
    }
}

/// Waits at most `timeout` (`None`: as long as it takes) for a frame pipe to
/// be readable, and appends what one read returns to `bytes`. `Ok(true)` at
/// end of file, when every writer has closed its end.
pub(crate) fn read_some(
    pipe: &mut std::fs::File,
    bytes: &mut Vec<u8>,
    timeout: Option<std::time::Duration>,
) -> io::Result<bool> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut fds = [libc::pollfd { fd: pipe.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
    if crate::sys::poll(&mut fds, timeout)? == 0 {
        return Ok(false);
    }
    let mut chunk = [0u8; 8192];
    match pipe.read(&mut chunk) {
        Ok(0) => Ok(true),
        Ok(n) => {
            bytes.extend_from_slice(chunk.get(..n).unwrap_or_default());
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes an `ExecFailed` frame without allocating: the address-space limit is
/// already in force when exec fails, so the heap may be unusable.
pub(crate) fn write_exec_failed(out: impl Write, errno: i32) -> io::Result<()> {
    write_small_frame(out, "ExecFailed", "errno", errno)
}

/// Writes a `Started` frame without allocating: the starter shares its memory
/// with init by then and must leave the heap alone.
pub(crate) fn write_started(out: impl Write, init: libc::pid_t) -> io::Result<()> {
    write_small_frame(out, "Started", "init", init)
}

/// `{"<variant>":{"<field>":<value>}}`, length-prefixed, built on the stack
/// and written with one call (a pipe write that small is atomic, so it cannot
/// interleave with another stage's frame).
fn write_small_frame(
    mut out: impl Write,
    variant: &str,
    field: &str,
    value: i32,
) -> io::Result<()> {
    let mut frame = [0u8; 80];
    let mut len = 4usize;
    let mut push = |bytes: &[u8]| {
        for &b in bytes {
            if let Some(slot) = frame.get_mut(len) {
                *slot = b;
                len += 1;
            }
        }
    };
    let mut digits = [0u8; 12];
    let mut n = value.unsigned_abs();
    let mut start = digits.len();
    loop {
        start -= 1;
        if let Some(slot) = digits.get_mut(start) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    for part in [b"{\"".as_slice(), variant.as_bytes(), b"\":{\"", field.as_bytes(), b"\":"] {
        push(part);
    }
    if value < 0 {
        push(b"-");
    }
    push(digits.get(start..).unwrap_or_default());
    push(b"}}");
    let body = u32::try_from(len - 4).unwrap_or(0).to_le_bytes();
    if let Some(header) = frame.get_mut(..4) {
        header.copy_from_slice(&body);
    }
    out.write_all(frame.get(..len).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    /// Every frame in `bytes`; any truncated or malformed frame is an error.
    fn decode_all(bytes: &[u8]) -> io::Result<Vec<Frame>> {
        match Frame::decode_complete(bytes) {
            (frames, None) => Ok(frames),
            (_, Some(error)) => Err(error),
        }
    }

    #[test]
    fn exec_failed_frame_written_without_allocation_parses() {
        let mut out = Vec::new();
        write_exec_failed(&mut out, 2).unwrap();
        write_exec_failed(&mut out, 13).unwrap();
        write_started(&mut out, 4_194_304).unwrap();
        write_exec_failed(&mut out, -7).unwrap();
        let frames = decode_all(&out).unwrap();
        assert!(matches!(frames[0], Frame::ExecFailed { errno: 2 }));
        assert!(matches!(frames[1], Frame::ExecFailed { errno: 13 }));
        assert!(matches!(frames[2], Frame::Started { init: 4_194_304 }));
        assert!(matches!(frames[3], Frame::ExecFailed { errno: -7 }));
    }

    #[test]
    fn truncated_frame_is_rejected() {
        let mut bytes = Frame::TimedOut.encode();
        bytes.pop();
        assert!(decode_all(&bytes).is_err());
    }

    #[test]
    fn every_control_has_a_distinct_name_and_a_hint() {
        let mut names: Vec<_> = Control::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Control::ALL.len());
        for control in Control::ALL {
            assert!(!control.how_to_enable().is_empty());
            let json = serde_json::to_string(control).unwrap();
            assert_eq!(json, format!("\"{}\"", control.name()));
        }
    }
}
