//! Signals and waiting for processes.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::ptr;

use super::check;

pub(crate) fn kill(pid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: kill takes integers only.
    check(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// How a waited-for process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitStatus {
    Exited(i32),
    Signaled(i32),
}

/// `waitpid(2)`; `Ok(None)` when `nohang` and the child is still running.
/// Retries on EINTR.
pub(crate) fn waitpid(
    pid: libc::pid_t,
    nohang: bool,
) -> io::Result<Option<(libc::pid_t, WaitStatus)>> {
    let flags = if nohang { libc::WNOHANG } else { 0 };
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: the kernel writes one int into `status`, a live local.
        let ret = unsafe { libc::waitpid(pid, &mut status, flags) };
        if ret == -1 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if ret == 0 {
            return Ok(None);
        }
        let decoded = if libc::WIFEXITED(status) {
            WaitStatus::Exited(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            WaitStatus::Signaled(libc::WTERMSIG(status))
        } else {
            // Stopped/continued are not requested (no WUNTRACED); keep waiting.
            continue;
        };
        return Ok(Some((ret, decoded)));
    }
}

/// A set of signals.
#[derive(Clone, Copy)]
pub(crate) struct SigSet(libc::sigset_t);

impl SigSet {
    pub(crate) fn empty() -> Self {
        // SAFETY: sigset_t is plain old data; sigemptyset then initialises it.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a live sigset_t.
        unsafe { libc::sigemptyset(&mut set) };
        Self(set)
    }

    pub(crate) fn of(signals: &[libc::c_int]) -> Self {
        let mut set = Self::empty();
        for &signal in signals {
            // SAFETY: `set.0` is an initialised sigset_t; invalid numbers only
            // make sigaddset return EINVAL.
            unsafe { libc::sigaddset(&mut set.0, signal) };
        }
        set
    }

    /// Replaces the calling thread's signal mask with this set.
    pub(crate) fn set_mask(&self) -> io::Result<()> {
        // SAFETY: reads one live sigset_t; the old mask is not requested.
        let ret = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, ptr::null_mut()) };
        if ret == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(ret)) }
    }

    /// `signalfd(2)` for this set (non-blocking, close-on-exec).
    pub(crate) fn signalfd(&self) -> io::Result<OwnedFd> {
        // SAFETY: reads one live sigset_t.
        let fd =
            check(unsafe { libc::signalfd(-1, &self.0, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) })?;
        // SAFETY: the kernel just created `fd` and nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Resets every catchable signal to its default disposition. Ignored signals
/// (such as SIGPIPE in Rust programs) would otherwise stay ignored across exec.
pub(crate) fn reset_signal_dispositions() {
    for signal in 1..libc::SIGRTMAX() {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL is always sound; invalid numbers only
        // return an error, which is irrelevant here.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
}
