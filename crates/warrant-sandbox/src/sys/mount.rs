//! Namespaces, mounts, the root, the host name.

use std::ffi::CStr;
use std::io;
use std::os::fd::RawFd;
use std::ptr;

use super::{check, check_long};

pub(crate) fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare takes an int; it changes this process's namespaces only.
    check(unsafe { libc::unshare(flags) }).map(drop)
}

/// `setns(2)`: joins the namespace `fd` refers to; `nstype` must name its kind.
pub(crate) fn setns(fd: RawFd, nstype: libc::c_int) -> io::Result<()> {
    // SAFETY: setns takes integers only; it changes this process's namespaces only.
    check(unsafe { libc::setns(fd, nstype) }).map(drop)
}

/// `mount(2)`; `None` arguments are passed as NULL.
pub(crate) fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> io::Result<()> {
    let source = source.map_or(ptr::null(), CStr::as_ptr);
    let fstype = fstype.map_or(ptr::null(), CStr::as_ptr);
    let data = data.map_or(ptr::null(), |d| d.as_ptr().cast::<libc::c_void>());
    // SAFETY: all pointers are NULL or point to NUL-terminated strings borrowed
    // for the duration of the call.
    check(unsafe { libc::mount(source, target.as_ptr(), fstype, flags, data) }).map(drop)
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(crate) const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(crate) const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// `mount_setattr(2)` (Linux 5.12) on `path`, recursively when asked.
pub(crate) fn mount_setattr(path: &CStr, attr_set: u64, recursive: bool) -> io::Result<()> {
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let mut attr = MountAttr { attr_set, attr_clr: 0, propagation: 0, userns_fd: 0 };
    let flags = if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: `path` is NUL-terminated and `attr` is a live #[repr(C)] struct
    // whose exact size is passed alongside it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            flags,
            ptr::from_mut(&mut attr),
            std::mem::size_of::<MountAttr>(),
        )
    };
    check_long(ret).map(drop)
}

pub(crate) fn umount_detach(target: &CStr) -> io::Result<()> {
    // SAFETY: `target` is a NUL-terminated string borrowed for the call.
    check(unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) }).map(drop)
}

pub(crate) fn pivot_root(new_root: &CStr, put_old: &CStr) -> io::Result<()> {
    // SAFETY: both arguments are NUL-terminated strings borrowed for the call.
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
    check_long(ret).map(drop)
}

pub(crate) fn sethostname(name: &[u8]) -> io::Result<()> {
    // SAFETY: the kernel reads exactly `name.len()` bytes from `name`.
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// The `ST_*` mount flags of the file system holding `path` (`statvfs(3)`).
pub(crate) fn statvfs_flags(path: &CStr) -> io::Result<u64> {
    // SAFETY: statvfs is plain old data; all-zero is a valid value.
    let mut buf: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `buf` is a live, writable statvfs.
    check(unsafe { libc::statvfs(path.as_ptr(), &mut buf) })?;
    Ok(buf.f_flag)
}
