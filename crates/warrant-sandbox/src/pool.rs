//! User and network namespaces made ahead of a launch (opt-in, process-wide).
//!
//! Making a sandbox's user namespace and network namespace is about 0.6 ms
//! of every launch, most of it the kernel registering the new network
//! namespace's sysctl tables. A process that starts many sandboxes (the
//! gateway, for `warrant__exec`) can call [`enable_namespace_pool`]: a
//! background thread then keeps a few fresh pairs ready, each made by a
//! short-lived helper process, and each launch takes one instead of making
//! its own.
//!
//! - A pair serves one sandbox and is never handed out again: the launcher
//!   keeps the only descriptors of it, passes them to that sandbox's starter,
//!   and closes its own.
//! - The helper runs the starter's own steps for these two namespaces (its
//!   uid and gid mapped to themselves, `setgroups` denied, loopback up), as
//!   the same user.
//!   It holds nothing else: it closes every inherited descriptor first.
//! - The sandbox's verification is the same either way (its namespaces must
//!   differ from the launcher's), and its report says the pair was made ahead.
//! - When the pool is empty, or a pair could not be made, the starter makes
//!   its own namespaces as it always does, failing loudly if it cannot.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use crate::context::close_all_except;
use crate::sys::{self, Fork};

/// A user namespace and a network namespace owned by it.
pub(crate) struct Pair {
    pub user: OwnedFd,
    pub net: OwnedFd,
}

/// One pair, and the credentials of the helper that made it.
struct Made {
    uid: u32,
    gid: u32,
    pair: Pair,
}

struct State {
    /// How many pairs to keep ready.
    depth: usize,
    ready: VecDeque<Made>,
    /// Why a pair could not be made; the pool stops making them.
    failed: Option<String>,
}

struct Pool {
    state: Mutex<State>,
    /// Signalled when a pair is taken or the depth grows.
    wanted: Condvar,
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// Keeps `depth` fresh user and network namespace pairs ready for the
/// launches of this process (see the module docs). Calling it again raises
/// the depth, never lowers it. Costs one idle background thread, plus a
/// helper process for each pair as it is made.
pub fn enable_namespace_pool(depth: usize) {
    let pool = POOL.get_or_init(|| {
        let pool = Pool {
            state: Mutex::new(State { depth: 0, ready: VecDeque::new(), failed: None }),
            wanted: Condvar::new(),
        };
        let spawned = std::thread::Builder::new()
            .name("warrant-ns-pool".to_owned())
            .spawn(|| refill(POOL.wait()));
        if let Err(e) = spawned {
            pool.lock().failed = Some(format!("start the pool's thread: {e}"));
        }
        pool
    });
    let mut state = pool.lock();
    state.depth = state.depth.max(depth);
    pool.wanted.notify_one();
}

/// Why the pool stopped making pairs, if it has.
pub fn namespace_pool_failure() -> Option<String> {
    POOL.get().and_then(|pool| pool.lock().failed.clone())
}

/// A ready pair made by a helper with these credentials, if the pool has one.
pub(crate) fn take(uid: u32, gid: u32) -> Option<Pair> {
    let pool = POOL.get()?;
    let mut state = pool.lock();
    // Pairs made under other credentials (the process changed its own) are
    // of no use: drop them.
    state.ready.retain(|made| made.uid == uid && made.gid == gid);
    let made = state.ready.pop_front()?;
    pool.wanted.notify_one();
    Some(made.pair)
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The pool's thread: makes a pair whenever fewer than `depth` are ready.
fn refill(pool: &Pool) {
    loop {
        {
            let mut state = pool.lock();
            while state.failed.is_some() || state.ready.len() >= state.depth {
                state = pool.wanted.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
        }
        let (uid, gid) = (sys::geteuid(), sys::getegid());
        let made = make_pair(uid, gid);
        let mut state = pool.lock();
        match made {
            Ok(pair) => state.ready.push_back(Made { uid, gid, pair }),
            Err(e) => state.failed = Some(e.to_string()),
        }
    }
}

/// Forks a helper that makes the namespaces, opens them through its /proc
/// entries while it waits, then lets it exit: the descriptors keep them.
fn make_pair(uid: u32, gid: u32) -> io::Result<Pair> {
    let (ready_read, ready_write) = sys::pipe_cloexec()?;
    let (hold_read, hold_write) = sys::pipe_cloexec()?;
    let helper = match sys::fork()? {
        Fork::Child => helper(&ready_write, hold_read, uid, gid),
        Fork::Parent(pid) => pid,
    };
    drop((ready_write, hold_read));
    let mut made = [0u8; 1];
    let result = match File::from(ready_read).read(&mut made) {
        Ok(1) if made == [1] => open_namespaces(helper),
        Ok(_) => Err(io::Error::other("the helper could not make the namespaces")),
        Err(e) => Err(e),
    };
    // The helper exits once its end of this pipe reads EOF.
    drop(hold_write);
    let _ = sys::waitpid(helper, false);
    result
}

fn open_namespaces(helper: libc::pid_t) -> io::Result<Pair> {
    let open = |name: &str| -> io::Result<OwnedFd> {
        Ok(OwnedFd::from(File::open(format!("/proc/{helper}/ns/{name}"))?))
    };
    Ok(Pair { user: open("user")?, net: open("net")? })
}

/// The helper, in the forked child: the same steps as the starter's, then a
/// wait until the launcher has opened the namespaces. Never returns.
fn helper(ready: &OwnedFd, hold: OwnedFd, uid: u32, gid: u32) -> ! {
    let mut keep = [ready.as_raw_fd(), hold.as_raw_fd()];
    keep.sort_unstable();
    let made = close_all_except(&keep).is_ok()
        && crate::starter::enter_user_namespace(uid, gid).is_ok()
        && crate::starter::enter_network_namespace().is_ok();
    if sys::write_all(ready.as_raw_fd(), &[u8::from(made)]).is_ok() {
        // Returns at EOF: the launcher closed its end (or died).
        let _ = File::from(hold).read(&mut [0u8; 1]);
    }
    sys::exit_now(0)
}
