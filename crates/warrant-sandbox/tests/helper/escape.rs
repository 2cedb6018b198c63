//! Test-only helper that runs inside a sandbox and attempts one named escape.
//!
//! Prints `<attempt>: allowed[ detail]` and exits 0 when the attempt worked, or
//! `<attempt>: denied errno=<n>` and exits 1 when the kernel refused it. Exit 2
//! is a usage error. Raw syscalls make the result precise: a test can tell
//! seccomp's EPERM from Landlock's EACCES from a missing path's ENOENT.
//!
//! Two modes run outside: `launch <workspace> <seconds>` starts `sleep
//! <seconds>` in a strict sandbox, prints `started`, and waits to be killed
//! (the test of what happens to a sandbox whose launcher dies);
//! `launch-pooled <workspace>` turns the namespace pool on and runs `true`
//! in a strict sandbox, printing what the report says of its network
//! namespace (the pool's test as an unprivileged user).

// The helper makes raw syscalls on purpose (io_uring, bpf, ptrace, ...).
#![allow(unsafe_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((attempt, rest)) = args.split_first() else {
        eprintln!("usage: warrant-sandbox-escape <attempt> [args]");
        std::process::exit(2);
    };
    let arg = |i: usize| rest.get(i).cloned().unwrap_or_default();
    let result = match attempt.as_str() {
        "read" => std::fs::read(arg(0)).map(|b| format!("{} bytes", b.len())),
        "list" => std::fs::read_dir(arg(0)).map(|d| format!("{} entries", d.count())),
        "write" => std::fs::write(arg(0), b"escape\n").map(|()| String::new()),
        "connect-unix" => UnixStream::connect(arg(0)).map(|_| String::new()),
        "connect-abstract" => connect_abstract(&arg(0)),
        "connect-tcp" => connect_tcp(&arg(0)),
        "udp-send" => udp_send(&arg(0)),
        "proxy-echo" => proxy_echo(&arg(0), &arg(1)),
        "ptrace" => ptrace_attach(parse(&arg(0))),
        "proc-mem" => std::fs::File::open(format!("/proc/{}/mem", arg(0))).map(|_| String::new()),
        "proc-environ" => {
            std::fs::read(format!("/proc/{}/environ", arg(0))).map(|b| format!("{} bytes", b.len()))
        }
        "process-vm-readv" => process_vm_readv(parse(&arg(0))),
        "kill" => kill(parse(&arg(0))),
        "io-uring" => io_uring_setup(),
        "tiocsti" => ioctl_stdin(libc::TIOCSTI),
        "tioclinux" => ioctl_stdin(libc::TIOCLINUX),
        "mount" => mount_tmpfs(),
        "unshare-user" => unshare_user(),
        "clone-newuser" => clone_newuser(),
        "bpf" => bpf(),
        "userfaultfd" => syscall0(libc::SYS_userfaultfd),
        "keyctl" => keyctl(),
        "add-key" => add_key(),
        "request-key" => request_key(),
        "socket-netlink" => socket(libc::AF_NETLINK, libc::SOCK_RAW),
        "socket-packet" => socket(libc::AF_PACKET, libc::SOCK_RAW),
        "socket-inet" => socket(libc::AF_INET, libc::SOCK_STREAM),
        "fork-bomb" => fork_bomb(),
        "memory-hog" => memory_hog(parse(&arg(0)), rest.get(1).map_or(0, |ms| parse(ms))),
        "launch" => launch(&arg(0), &arg(1)),
        "launch-pooled" => launch_pooled(&arg(0)),
        other => {
            eprintln!("unknown attempt `{other}`");
            std::process::exit(2);
        }
    };
    let mut out = io::stdout().lock();
    let code = match result {
        Ok(detail) => {
            let _ = writeln!(out, "{attempt}: allowed {detail}");
            0
        }
        Err(e) => {
            let _ =
                writeln!(out, "{attempt}: denied errno={} ({e})", e.raw_os_error().unwrap_or(-1));
            1
        }
    };
    let _ = out.flush();
    std::process::exit(code);
}

fn parse<T: std::str::FromStr + Default>(text: &str) -> T {
    text.parse().unwrap_or_default()
}

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

fn connect_abstract(name: &str) -> io::Result<String> {
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    std::os::unix::net::UnixStream::connect_addr(&addr).map(|_| String::new())
}

fn connect_tcp(addr: &str) -> io::Result<String> {
    let addr: SocketAddr = addr.parse().map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map(|_| String::new())
}

fn udp_send(addr: &str) -> io::Result<String> {
    let socket = UdpSocket::bind("0.0.0.0:0")?;
    socket.send_to(b"escape", addr).map(|n| format!("{n} bytes sent"))
}

fn proxy_echo(port: &str, payload: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", parse::<u16>(port)))?;
    stream.write_all(payload.as_bytes())?;
    stream.shutdown(Shutdown::Write)?;
    let mut back = String::new();
    stream.read_to_string(&mut back)?;
    Ok(format!("echo={back}"))
}

fn ptrace_attach(pid: libc::pid_t) -> io::Result<String> {
    // SAFETY: PTRACE_ATTACH takes a pid and two ignored NULL arguments.
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_ATTACH,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    check(ret).map(|_| String::new())
}

fn process_vm_readv(pid: libc::pid_t) -> io::Result<String> {
    let mut buf = [0u8; 8];
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // Any address: the call is refused before the remote address is read.
    let remote = libc::iovec { iov_base: 0x1000 as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: `local` points to a live 8-byte buffer; the remote iovec is only
    // interpreted in the target process's address space.
    let ret = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    check(ret as libc::c_long).map(|n| format!("{n} bytes"))
}

fn kill(pid: libc::pid_t) -> io::Result<String> {
    // SAFETY: kill takes integers only; signal 0 only checks permission.
    check(unsafe { libc::kill(pid, 0) }.into()).map(|_| String::new())
}

fn io_uring_setup() -> io::Result<String> {
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup reads and writes a 120-byte io_uring_params struct,
    // which `params` provides.
    let ret = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr()) };
    check(ret).map(|fd| format!("fd {fd}"))
}

fn ioctl_stdin(request: libc::c_ulong) -> io::Result<String> {
    let byte: libc::c_char = b'x' as libc::c_char;
    // SAFETY: TIOCSTI reads one char through the pointer; TIOCLINUX reads one
    // byte (the subcode); both point at `byte`, alive for the call.
    let ret = unsafe { libc::ioctl(0, request as _, &byte) };
    check(ret.into()).map(|_| String::new())
}

fn mount_tmpfs() -> io::Result<String> {
    let _ = std::fs::create_dir_all("/tmp/escape-mount");
    let (src, target) = (c"tmpfs", c"/tmp/escape-mount");
    // SAFETY: all pointers are NUL-terminated literals or NULL.
    let ret =
        unsafe { libc::mount(src.as_ptr(), target.as_ptr(), src.as_ptr(), 0, std::ptr::null()) };
    check(ret.into()).map(|_| String::new())
}

fn unshare_user() -> io::Result<String> {
    // SAFETY: unshare takes an int.
    check(unsafe { libc::unshare(libc::CLONE_NEWUSER) }.into()).map(|_| String::new())
}

fn clone_newuser() -> io::Result<String> {
    let flags = (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong;
    // SAFETY: clone without CLONE_VM and with a NULL stack behaves like fork:
    // the child gets a copy of the address space and exits immediately.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if pid == 0 {
        // SAFETY: leaving the child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    let pid = check(pid)?;
    let mut status = 0;
    // SAFETY: waits for the child just created, writing its status to a local.
    unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    Ok(format!("child {pid}"))
}

fn bpf() -> io::Result<String> {
    let mut attr = [0u8; 128];
    // BPF_MAP_CREATE of an array map with 4-byte keys and values, one entry.
    for (offset, value) in [(0usize, 2u32), (4, 4), (8, 4), (12, 1)] {
        if let Some(slot) = attr.get_mut(offset..offset + 4) {
            slot.copy_from_slice(&value.to_ne_bytes());
        }
    }
    // SAFETY: bpf reads `attr.len()` bytes from a live buffer.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, 0i32, attr.as_mut_ptr(), attr.len() as u32) };
    check(ret).map(|fd| format!("map fd {fd}"))
}

fn syscall0(nr: libc::c_long) -> io::Result<String> {
    // SAFETY: the syscalls used here take no pointer arguments (flags 0).
    check(unsafe { libc::syscall(nr, 0usize) }).map(|r| format!("returned {r}"))
}

fn keyctl() -> io::Result<String> {
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    // SAFETY: KEYCTL_GET_KEYRING_ID takes integers only.
    check(unsafe {
        libc::syscall(libc::SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
    })
    .map(|id| format!("keyring {id}"))
}

/// The user keyring, as the kernel names it in `add_key`/`request_key`.
const KEY_SPEC_USER_KEYRING: libc::c_long = -4;

fn add_key() -> io::Result<String> {
    let (kind, description, payload) = (c"user", c"warrant-escape-probe", b"x");
    // SAFETY: the pointers are to NUL-terminated strings and a 1-byte
    // payload that outlive the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_add_key,
            kind.as_ptr(),
            description.as_ptr(),
            payload.as_ptr(),
            payload.len(),
            KEY_SPEC_USER_KEYRING,
        )
    })
    .map(|id| format!("key {id}"))
}

fn request_key() -> io::Result<String> {
    let (kind, description) = (c"user", c"warrant:vault-key:probe");
    // SAFETY: the pointers are to NUL-terminated strings that outlive the
    // call; no callout (NULL).
    check(unsafe {
        libc::syscall(
            libc::SYS_request_key,
            kind.as_ptr(),
            description.as_ptr(),
            std::ptr::null::<libc::c_char>(),
            0 as libc::c_long,
        )
    })
    .map(|id| format!("key {id}"))
}

fn socket(family: libc::c_int, kind: libc::c_int) -> io::Result<String> {
    // SAFETY: socket takes integers only.
    let fd = check(unsafe { libc::socket(family, kind, 0) }.into())?;
    // SAFETY: the kernel just created `fd`; wrapping it closes it on drop.
    drop(unsafe { OwnedFd::from_raw_fd(fd as i32) });
    Ok(String::new())
}

/// Forks until the kernel refuses; children wait to be killed with the tree.
fn fork_bomb() -> io::Result<String> {
    let mut forked = 0u32;
    loop {
        // SAFETY: the helper is single-threaded; the child only calls pause and _exit.
        let pid = unsafe { libc::fork() };
        match pid {
            0 => loop {
                // SAFETY: pause has no arguments.
                unsafe { libc::pause() };
            },
            -1 => {
                let err = io::Error::last_os_error();
                println!("forked {forked} before the kernel refused");
                return Err(err);
            }
            _ => forked += 1,
        }
        if forked >= 100_000 {
            return Ok(format!("forked {forked}"));
        }
    }
}

/// Allocates and touches `mib` MiB, then holds it for `hold_ms` milliseconds.
fn memory_hog(mib: usize, hold_ms: u64) -> io::Result<String> {
    let bytes = mib.saturating_mul(1 << 20);
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(bytes).map_err(|_| io::Error::from_raw_os_error(libc::ENOMEM))?;
    v.resize(bytes, 1);
    let sum: u64 = v.iter().step_by(4096).map(|b| u64::from(*b)).sum();
    std::thread::sleep(Duration::from_millis(hold_ms));
    Ok(format!("touched {mib} MiB ({sum})"))
}

/// Starts a sandbox and never returns: the caller kills this process.
fn launch_pooled(workspace: &str) -> io::Result<String> {
    use warrant_sandbox::{Control, Profile, Sandbox, SandboxSpec};
    warrant_sandbox::enable_namespace_pool(1);
    // The pool makes a pair in a few milliseconds.
    std::thread::sleep(Duration::from_millis(300));
    let profile = Profile::builtin("strict").map_err(io::Error::other)?;
    let sandbox = Sandbox::new(&SandboxSpec::new(profile, workspace)).map_err(io::Error::other)?;
    let output = sandbox.run(&["true".into()], 4096).map_err(io::Error::other)?;
    if let Some(failure) = warrant_sandbox::namespace_pool_failure() {
        return Err(io::Error::other(failure));
    }
    let net = output.report.get(Control::NetworkNamespace).map(|c| c.evidence.clone());
    Ok(format!("exit={:?} net={}", output.status.code(), net.unwrap_or_default()))
}

fn launch(workspace: &str, seconds: &str) -> io::Result<String> {
    use warrant_sandbox::{Profile, Sandbox, SandboxSpec, SpawnOptions};
    let profile = Profile::builtin("strict").map_err(io::Error::other)?;
    let sandbox = Sandbox::new(&SandboxSpec::new(profile, workspace)).map_err(io::Error::other)?;
    let child = sandbox
        .spawn(&["sleep".into(), seconds.into()], SpawnOptions::default())
        .map_err(io::Error::other)?;
    println!("started {}", child.id());
    io::stdout().flush()?;
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}
