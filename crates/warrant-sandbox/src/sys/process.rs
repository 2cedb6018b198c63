//! Processes: fork and exec, identity, prctl, capabilities, rlimits, Landlock's ABI.

use std::ffi::{CStr, CString};
use std::io;
use std::ptr;

use super::{check, check_long};

/// Outcome of [`fork`].
pub(crate) enum Fork {
    Parent(libc::pid_t),
    Child,
}

/// `fork(2)`.
///
/// The child of a multi-threaded process may only use code that takes no lock
/// another thread could have held at fork time. The stages run in the child
/// (`starter`, `init`, `command`) only allocate (glibc's malloc is reset by its fork
/// handler), make syscalls, and never touch `std::env` or stdio locks.
pub(crate) fn fork() -> io::Result<Fork> {
    // SAFETY: fork has no memory-safety preconditions; the async-signal-safety
    // rules for the child are upheld by the callers as documented above.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid)),
    }
}

/// `_exit(2)`: leaves without running destructors or atexit handlers, which in a
/// forked child belong to the parent.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

pub(crate) fn getpid() -> libc::pid_t {
    // SAFETY: getpid cannot fail and has no arguments.
    unsafe { libc::getpid() }
}

pub(crate) fn getppid() -> libc::pid_t {
    // SAFETY: getppid cannot fail and has no arguments.
    unsafe { libc::getppid() }
}

pub(crate) fn geteuid() -> u32 {
    // SAFETY: geteuid cannot fail and has no arguments.
    unsafe { libc::geteuid() }
}

pub(crate) fn getegid() -> u32 {
    // SAFETY: getegid cannot fail and has no arguments.
    unsafe { libc::getegid() }
}

pub(crate) fn setsid() -> io::Result<()> {
    // SAFETY: setsid has no arguments.
    check(unsafe { libc::setsid() }).map(drop)
}

pub(crate) fn getsid() -> io::Result<libc::pid_t> {
    // SAFETY: getsid(0) queries the calling process.
    check(unsafe { libc::getsid(0) })
}

/// `prctl` with integer arguments only.
fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> io::Result<libc::c_int> {
    // SAFETY: every option used through this helper takes integer arguments
    // (no pointers), so no memory is read or written by the kernel.
    check(unsafe {
        libc::prctl(option, arg2, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong)
    })
}

pub(crate) fn set_parent_death_signal(signal: libc::c_int) -> io::Result<()> {
    let signal =
        libc::c_ulong::try_from(signal).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    prctl(libc::PR_SET_PDEATHSIG, signal).map(drop)
}

pub(crate) fn parent_death_signal() -> io::Result<libc::c_int> {
    let mut signal: libc::c_int = 0;
    // SAFETY: PR_GET_PDEATHSIG writes one int through the pointer, which points
    // to `signal`, alive for the whole call.
    check(unsafe { libc::prctl(libc::PR_GET_PDEATHSIG, ptr::from_mut(&mut signal)) })?;
    Ok(signal)
}

pub(crate) fn set_no_new_privs() -> io::Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1).map(drop)
}

pub(crate) fn set_dumpable(dumpable: bool) -> io::Result<()> {
    prctl(libc::PR_SET_DUMPABLE, libc::c_ulong::from(dumpable)).map(drop)
}

/// Drops capability `cap` from the bounding set. `Ok(false)` once `cap` is past
/// the kernel's last capability (EINVAL).
pub(crate) fn drop_bounding_cap(cap: u32) -> io::Result<bool> {
    match prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap)) {
        Ok(_) => Ok(true),
        Err(err) if err.raw_os_error() == Some(libc::EINVAL) => Ok(false),
        Err(err) => Err(err),
    }
}

pub(crate) fn clear_ambient_caps() -> io::Result<()> {
    // SAFETY: PR_CAP_AMBIENT with PR_CAP_AMBIENT_CLEAR_ALL takes integers only.
    check(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
    .map(drop)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `capset(2)`: empties the effective, permitted and inheritable sets.
pub(crate) fn clear_capabilities() -> io::Result<()> {
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let data = [CapData { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: version 3 capset reads one header and two data structs; both are
    // live, correctly laid out (#[repr(C)]) locals.
    let ret = unsafe { libc::syscall(libc::SYS_capset, ptr::from_mut(&mut header), data.as_ptr()) };
    check_long(ret).map(drop)
}

/// A resource limit as (soft, hard); `u64::MAX` is "unlimited".
pub(crate) fn setrlimit(
    resource: libc::__rlimit_resource_t,
    soft: u64,
    hard: u64,
) -> io::Result<()> {
    let limit = libc::rlimit64 { rlim_cur: soft, rlim_max: hard };
    // SAFETY: the kernel reads one rlimit64 from `limit`, a live local.
    check(unsafe { libc::setrlimit64(resource, &limit) }).map(drop)
}

pub(crate) fn getrlimit(resource: libc::__rlimit_resource_t) -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit64 { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: the kernel writes one rlimit64 into `limit`, a live local.
    check(unsafe { libc::getrlimit64(resource, &mut limit) })?;
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// The Landlock ABI version of the running kernel, or the errno (EOPNOTSUPP when
/// Landlock is built but disabled, ENOSYS when absent).
pub(crate) fn landlock_abi() -> io::Result<u32> {
    const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
    // SAFETY: a NULL attribute pointer with size 0 and the VERSION flag is the
    // documented way to query the ABI; nothing is read or written.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    let version = check_long(ret)?;
    u32::try_from(version).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `execve(2)`. Only returns on failure.
pub(crate) fn execve(
    path: &CStr,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> io::Error {
    if argv.last() != Some(&ptr::null()) || envp.last() != Some(&ptr::null()) {
        return io::Error::from_raw_os_error(libc::EINVAL);
    }
    // SAFETY: `path` is NUL-terminated; `argv` and `envp` are NULL-terminated
    // arrays (checked above) of pointers into CStrings the caller keeps alive
    // (`ExecArgs` owns them) for the duration of the call.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    io::Error::last_os_error()
}

/// NULL-terminated pointer arrays over owned C strings, built before fork so
/// the child only passes them to [`execve`].
pub(crate) struct ExecArgs {
    strings: Vec<CString>,
    pointers: Vec<*const libc::c_char>,
}

impl ExecArgs {
    pub(crate) fn new(strings: Vec<CString>) -> Self {
        let mut pointers: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        pointers.push(ptr::null());
        Self { strings, pointers }
    }

    pub(crate) fn pointers(&self) -> &[*const libc::c_char] {
        &self.pointers
    }

    pub(crate) fn strings(&self) -> &[CString] {
        &self.strings
    }
}

// SAFETY: the raw pointers point into `strings`, which `ExecArgs` owns and never
// mutates; moving the struct moves the CString heap buffers' owners, not the
// buffers, so the pointers stay valid on any thread.
unsafe impl Send for ExecArgs {}
// SAFETY: shared access only reads the pointers and strings (see Send above).
unsafe impl Sync for ExecArgs {}

/// A stack for [`spawn_sharing_memory`]: anonymous memory with an inaccessible
/// guard page below it, so an overflow faults instead of writing into the
/// caller's memory.
pub(crate) struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

impl ChildStack {
    const GUARD: usize = 4096;

    pub(crate) fn new(usable: usize) -> io::Result<Self> {
        let len = usable + Self::GUARD;
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = Self { base, len };
        // SAFETY: the first page of the mapping just created, owned by `stack`.
        check(unsafe { libc::mprotect(base, Self::GUARD, libc::PROT_NONE) })?;
        Ok(stack)
    }

    /// Gives the mapping up for good: for a child that runs on it until it
    /// exits, in memory that outlives the caller.
    fn leak(self) {
        std::mem::forget(self);
    }

    /// The highest address, 16-byte aligned (the stack grows down).
    fn top(&self) -> *mut libc::c_void {
        let top = self.base as usize + self.len;
        (top & !15) as *mut libc::c_void
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` created; no reference into it
        // outlives the child that used it (the caller resumes only once the
        // child has exec'd or exited).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

type ChildBody<'a> = &'a mut dyn FnMut() -> std::convert::Infallible;

extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `&mut ChildBody` that `spawn_sharing_memory` or
    // `spawn_sibling_sharing_memory` passed to clone: alive in the caller's
    // frame, which the caller does not leave while this child may read it
    // (suspended until exec or exit, or never returning).
    let body = unsafe { &mut *arg.cast::<ChildBody<'_>>() };
    // A panic must not unwind into the frame clone built.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    exit_now(crate::context::EXIT_SETUP_FAILED)
}

/// `clone(CLONE_VM | CLONE_VFORK)` on `stack`: a child process that shares the
/// caller's memory, while the caller is suspended until the child execs or
/// exits. Saves copying the caller's page tables, the copy-on-write faults, and
/// exec tearing the copy down again.
///
/// The caller must be single-threaded (so no lock in the shared memory can be
/// held by anyone else) and `body` must end in exec or exit. Per-process state
/// (descriptors, credentials, seccomp, Landlock, rlimits, signal mask, working
/// directory) is the child's own; memory-wide state such as `PR_SET_DUMPABLE`
/// is shared, so the child must not change it.
pub(crate) fn spawn_sharing_memory(
    stack: &ChildStack,
    body: &mut dyn FnMut() -> std::convert::Infallible,
) -> io::Result<libc::pid_t> {
    let mut body: ChildBody<'_> = body;
    // SAFETY: `child_entry` runs on `stack`, which outlives the child's use of
    // it (the caller is suspended until exec or exit, and `stack` is borrowed
    // for this call); `arg` points at `body` on this frame, which likewise
    // stays alive while the caller is suspended.
    let pid = unsafe {
        libc::clone(
            child_entry,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&raw mut body).cast(),
        )
    };
    check(pid)
}

/// `clone(CLONE_VM | CLONE_PARENT)` on `stack`: a child of the caller's
/// parent that shares the caller's memory and runs `body` on `stack` (given to
/// it for good) until it exits, without copying the caller's page tables.
/// `then` runs in this frame with the outcome, and must end the caller.
///
/// The two processes share memory until the caller exits, so: the caller must
/// be single-threaded, and `then` must not allocate (glibc's malloc takes no
/// lock in a process that has one thread) nor return (this frame holds what
/// `body` captured, which the child may still be reading).
pub(crate) fn spawn_sibling_sharing_memory(
    stack: ChildStack,
    body: &mut dyn FnMut() -> std::convert::Infallible,
    then: impl FnOnce(io::Result<libc::pid_t>) -> std::convert::Infallible,
) -> ! {
    let mut body: ChildBody<'_> = body;
    // glibc's fork asked the kernel to zero the caller's thread-id word when
    // it exits (CLONE_CHILD_CLEARTID); that word is in the thread control
    // block the child now shares, so withdraw the request first.
    // SAFETY: set_tid_address with a null pointer stores nothing; it only
    // clears the kernel's record of where to write on exit.
    unsafe { libc::syscall(libc::SYS_set_tid_address, ptr::null_mut::<libc::c_int>()) };
    // SAFETY: `child_entry` runs on `stack`, which is leaked to the child
    // below, so it is never unmapped while the child lives; `arg` points at
    // `body` in this frame, which is never popped (`then` cannot return and
    // the caller exits from it).
    let pid = check(unsafe {
        libc::clone(
            child_entry,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_PARENT | libc::SIGCHLD,
            (&raw mut body).cast(),
        )
    });
    if pid.is_ok() {
        stack.leak();
    }
    match then(pid) {}
}
