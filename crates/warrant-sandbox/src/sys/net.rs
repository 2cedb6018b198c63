//! Sockets for the loopback interface and the Landlock probes.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr;

use super::check;

/// Brings the loopback interface of the current network namespace up.
pub(crate) fn loopback_up() -> io::Result<()> {
    let socket = socket(libc::AF_INET, libc::SOCK_DGRAM)?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name from and writes the flags into `req`,
    // a live ifreq of the size the kernel expects.
    check(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, ptr::from_mut(&mut req)) })?;
    // SAFETY: the flags member of the union was just written by SIOCGIFFLAGS.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads `req` (name and flags), a live ifreq.
    check(unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, ptr::from_mut(&mut req)) })
        .map(drop)
}

/// `socket(2)` with close-on-exec.
pub(crate) fn socket(domain: libc::c_int, kind: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket takes integers only.
    let fd = check(unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: the kernel just created `fd` and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `connect(2)` of a TCP socket to 127.0.0.1:`port`.
pub(crate) fn connect_loopback_v4(fd: &OwnedFd, port: u16) -> io::Result<()> {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_port = port.to_be();
    addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `addr` is a live sockaddr_in and `len` is its exact size.
    check(unsafe { libc::connect(fd.as_raw_fd(), ptr::from_ref(&addr).cast(), len) }).map(drop)
}

/// Builds an abstract-namespace `sockaddr_un` for `name` (without the leading NUL).
fn abstract_addr(name: &[u8]) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let path =
        addr.sun_path.get_mut(1..).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    if name.len() > path.len() {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    for (slot, byte) in path.iter_mut().zip(name) {
        *slot = *byte as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + 1 + name.len();
    let len =
        libc::socklen_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok((addr, len))
}

/// Binds `fd` to the abstract Unix socket `name` and listens on it.
pub(crate) fn bind_abstract(fd: &OwnedFd, name: &[u8]) -> io::Result<()> {
    let (addr, len) = abstract_addr(name)?;
    // SAFETY: `addr` is a live sockaddr_un and `len` covers only its initialised prefix.
    check(unsafe { libc::bind(fd.as_raw_fd(), ptr::from_ref(&addr).cast(), len) })?;
    // SAFETY: listen takes integers only.
    check(unsafe { libc::listen(fd.as_raw_fd(), 1) }).map(drop)
}

/// Connects `fd` to the abstract Unix socket `name`.
pub(crate) fn connect_abstract(fd: &OwnedFd, name: &[u8]) -> io::Result<()> {
    let (addr, len) = abstract_addr(name)?;
    // SAFETY: `addr` is a live sockaddr_un and `len` covers only its initialised prefix.
    check(unsafe { libc::connect(fd.as_raw_fd(), ptr::from_ref(&addr).cast(), len) }).map(drop)
}
