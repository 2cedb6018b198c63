//! What the three stages share: the plan, the exec arguments, and the
//! descriptors they inherit from the launcher.

use std::ffi::CString;
use std::os::fd::RawFd;

use crate::plan::Plan;
use crate::report::{Failure, Frame};
use crate::sys::{self, ExecArgs};

/// Signals the sandbox's init forwards to the command.
pub(crate) const FORWARDED_SIGNALS: &[libc::c_int] =
    &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// Exit codes of the stages when they refuse to continue.
pub(crate) const EXIT_SETUP_FAILED: i32 = 125;
pub(crate) const EXIT_NOT_VERIFIED: i32 = 126;
pub(crate) const EXIT_EXEC_FAILED: i32 = 127;

/// Built by the launcher before fork; read-only afterwards.
pub(crate) struct Launch<'a> {
    pub plan: &'a Plan,
    pub argv: &'a ExecArgs,
    pub envp: &'a ExecArgs,
    /// Absolute paths to try, in order (PATH lookup done before fork, in the
    /// sandbox's view: every candidate is a path inside the sandbox).
    pub candidates: &'a [CString],
    /// Descriptors to install as 0, 1, 2 (`None`: inherit the launcher's).
    pub stdio: [Option<RawFd>; 3],
    /// Write end of the report pipe (close-on-exec), >= 3.
    pub report_fd: RawFd,
    /// Write end of the status pipe (close-on-exec), >= 3.
    pub status_fd: RawFd,
    /// O_PATH descriptor of the host's proxy socket (`proxy` mode), >= 3.
    pub proxy_fd: Option<RawFd>,
    pub launcher_pid: libc::pid_t,
    /// Names of the variables the caller granted (`SpawnOptions::grant`).
    pub granted: &'a [String],
    /// The sandbox's cgroup, if one was made: the starter joins it through
    /// `cgroup.procs` (this descriptor, >= 3) and the command checks it.
    pub cgroup: Option<CgroupLaunch<'a>>,
    /// Why there is no cgroup, when there is none and the profile wanted one.
    pub no_cgroup: Option<&'a str>,
    /// A user namespace and a network namespace made ahead by the pool
    /// (descriptors >= 3), which the starter joins instead of making its own.
    pub made_ahead: Option<MadeAhead>,
}

/// Descriptors of a pair from [`crate::pool`].
#[derive(Clone, Copy)]
pub(crate) struct MadeAhead {
    pub user: RawFd,
    pub net: RawFd,
}

/// What the stages know of the sandbox's cgroup.
pub(crate) struct CgroupLaunch<'a> {
    pub procs_fd: RawFd,
    /// As /proc/self/cgroup shows it.
    pub path: &'a str,
    pub applied: &'a [String],
    pub missing: &'a [String],
}

impl Launch<'_> {
    /// Reports `failure` on the report pipe and exits without running anything.
    pub(crate) fn fail(&self, failure: Failure) -> ! {
        let _ = sys::write_all(self.report_fd, &Frame::Failure(failure).encode());
        sys::exit_now(EXIT_SETUP_FAILED)
    }
}

/// Closes every descriptor except those in `keep` (which must be sorted).
pub(crate) fn close_all_except(keep: &[RawFd]) -> std::io::Result<()> {
    let mut next: u32 = 0;
    for &fd in keep {
        let Ok(fd) = u32::try_from(fd) else { continue };
        if fd > next {
            sys::close_range(next, fd - 1)?;
        }
        next = next.max(fd.saturating_add(1));
    }
    sys::close_range(next, u32::MAX)
}
