//! Descriptors: pipes, duplication, closing, writing, polling.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{check, check_long};

/// `pipe2(O_CLOEXEC)`: returns (read end, write end).
pub(crate) fn pipe_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [libc::c_int; 2] = [-1, -1];
    // SAFETY: `fds` is a valid, writable array of two ints for the kernel to fill.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    let [read, write] = fds;
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(read), OwnedFd::from_raw_fd(write)) })
}

/// `fcntl(F_DUPFD_CLOEXEC, min)`: a close-on-exec duplicate numbered `min` or above.
pub(crate) fn dup_cloexec_at_least(fd: RawFd, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes an int argument and only reads `fd`.
    let new = check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) })?;
    // SAFETY: the kernel just created `new` and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// `dup2(2)`: makes `new` a copy of `old` (the copy is not close-on-exec).
pub(crate) fn dup2(old: RawFd, new: RawFd) -> io::Result<()> {
    // SAFETY: dup2 only manipulates the descriptor table; `new` is deliberately
    // replaced (stdio slots in the child).
    check(unsafe { libc::dup2(old, new) }).map(drop)
}

/// Clears `FD_CLOEXEC` on `fd` (needed when `dup2` would be a no-op).
pub(crate) fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_SETFD with an int flag value; no pointers involved.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }).map(drop)
}

/// Reads `FD_CLOEXEC` of `fd`.
pub(crate) fn is_cloexec(fd: RawFd) -> io::Result<bool> {
    // SAFETY: F_GETFD takes no argument and only reads the descriptor table.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    Ok(flags & libc::FD_CLOEXEC != 0)
}

/// `close(2)` on a raw descriptor the caller owns and will not use again.
pub(crate) fn close(fd: RawFd) {
    // SAFETY: closing a descriptor is memory-safe; callers only pass descriptors
    // they own and never use afterwards (errors such as EBADF are irrelevant).
    unsafe { libc::close(fd) };
}

/// `close_range(2)`: closes every descriptor in `first..=last`.
/// Falls back to closing one by one where the syscall is missing (Linux < 5.9).
pub(crate) fn close_range(first: u32, last: u32) -> io::Result<()> {
    if first > last {
        return Ok(());
    }
    // SAFETY: close_range takes three integers; it only closes descriptors,
    // which the caller has established nobody in this process still uses.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    match check_long(ret) {
        Ok(_) => Ok(()),
        Err(err) if err.raw_os_error() == Some(libc::ENOSYS) => {
            let upper = last.min(65_535);
            for fd in first..=upper {
                if let Ok(fd) = RawFd::try_from(fd) {
                    close(fd);
                }
            }
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// `poll(2)` over `(fd, events)` pairs; fills in `revents`. Retries on EINTR.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    // Rounded up: a deadline less than a millisecond away must not spin.
    let timeout_ms = timeout.map_or(-1, |t| {
        libc::c_int::try_from(t.as_micros().div_ceil(1000)).unwrap_or(libc::c_int::MAX)
    });
    let count = libc::nfds_t::try_from(fds.len())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    loop {
        // SAFETY: `fds` is a live, writable slice of exactly `count` pollfds.
        let ret = unsafe { libc::poll(fds.as_mut_ptr(), count, timeout_ms) };
        match check(ret) {
            Ok(n) => return Ok(usize::try_from(n).unwrap_or(0)),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
    }
}

/// `write(2)` until all of `bytes` is written; retries on EINTR.
pub(crate) fn write_all(fd: RawFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: the kernel reads at most `bytes.len()` bytes from a live slice.
        let ret = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if ret == -1 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        let written = usize::try_from(ret).unwrap_or(0);
        bytes = bytes.get(written..).unwrap_or_default();
    }
    Ok(())
}

/// An [`io::Write`] over a borrowed raw descriptor (not closed on drop).
pub(crate) struct FdWriter(pub RawFd);

impl io::Write for FdWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        write_all(self.0, buf).map(|()| buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
