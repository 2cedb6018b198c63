//! Thin, safe wrappers over the raw Linux syscalls the launcher needs.
//!
//! This is the only module of the crate (and of the workspace's libraries) that
//! contains `unsafe`. Each wrapper does one syscall, checks its return value and
//! turns `errno` into [`std::io::Error`]. Pointers passed to the kernel always
//! come from live Rust values borrowed for the duration of the call; nothing
//! here keeps a pointer beyond the call.
//!
//! Several wrappers are called in a freshly forked child of a possibly
//! multi-threaded parent. They only make syscalls and touch no global locks.

use std::io;

mod fd;
mod mount;
mod net;
mod process;
mod signal;

pub(crate) use fd::{
    FdWriter, clear_cloexec, close, close_range, dup_cloexec_at_least, dup2, is_cloexec,
    pipe_cloexec, poll, write_all,
};
pub(crate) use mount::{
    MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, mount,
    mount_setattr, pivot_root, sethostname, setns, statvfs_flags, umount_detach, unshare,
};
pub(crate) use net::{bind_abstract, connect_abstract, connect_loopback_v4, loopback_up, socket};
pub(crate) use process::{
    ChildStack, ExecArgs, Fork, clear_ambient_caps, clear_capabilities, drop_bounding_cap, execve,
    exit_now, fork, getegid, geteuid, getpid, getppid, getrlimit, getsid, landlock_abi,
    parent_death_signal, set_dumpable, set_no_new_privs, set_parent_death_signal, setrlimit,
    setsid, spawn_sharing_memory, spawn_sibling_sharing_memory,
};
pub(crate) use signal::{SigSet, WaitStatus, kill, reset_signal_dispositions, waitpid};

/// Converts a `-1`-on-error return value into a `Result`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Same as [`check`] for the `long` returned by `syscall(2)`.
fn check_long(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}
