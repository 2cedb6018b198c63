//! Stage 2, the sandbox's init: PID 1 of the new PID namespace and the
//! launcher's own child. It builds the new root, starts the command, then
//! reaps every process of the namespace, forwards termination signals to the
//! command, runs the egress forwarder in `proxy` mode and enforces the
//! wall-clock limit. When the command exits, init kills and reaps whatever is
//! left in the namespace, reports the command's status and exits. Should init
//! die first (killed, or at the wall clock), the kernel kills everything left.
//!
//! Init is not confined by Landlock or seccomp (it must accept connections and
//! reach the host socket), so it holds no capability the command could borrow:
//! it is non-dumpable, which with the command's empty capability sets and
//! Landlock's ptrace scoping keeps /proc/1/{mem,environ} and ptrace out of reach.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::context::{FORWARDED_SIGNALS, Launch};
use crate::forward::Forwarder;
use crate::profile::NetworkMode;
use crate::report::{Control, Failure, Frame};
use crate::sys::{self, SigSet, WaitStatus};

/// The command's stack until it execs: its setup (Landlock, seccomp,
/// verification, the report) runs on it.
const COMMAND_STACK: usize = 1 << 20;

/// Runs as PID 1 of the sandbox; never returns.
pub(crate) fn run(launch: &Launch<'_>) -> ! {
    let deadline = launch.plan.wall_clock.map(|limit| Instant::now() + limit);
    if sys::set_parent_death_signal(libc::SIGKILL).is_err() {
        sys::exit_now(crate::context::EXIT_SETUP_FAILED);
    }
    // If the launcher died before the death signal was armed, the report pipe
    // has no reader left (its read end is the launcher's, close-on-exec): stop
    // here rather than run unsupervised. (Should a copy of that end linger in
    // some other child of the launcher, the command still cannot exec: it must
    // first hand its report to a reader.)
    let mut fds = [libc::pollfd { fd: launch.report_fd, events: libc::POLLOUT, revents: 0 }];
    if sys::poll(&mut fds, Some(Duration::ZERO)).is_err()
        || fds.iter().any(|p| p.revents & libc::POLLERR != 0)
    {
        sys::exit_now(crate::context::EXIT_SETUP_FAILED);
    }

    if let Err(failure) = crate::mounts::build_root(launch.plan) {
        launch.fail(failure);
    }
    let listener = match launch.plan.network.mode {
        NetworkMode::Proxy => {
            match std::net::TcpListener::bind(("127.0.0.1", launch.plan.network.proxy_port)) {
                Ok(listener) => Some(listener),
                Err(e) => launch.fail(Failure {
                    control: Some(Control::NetworkNamespace),
                    step: "listen on the proxy port".into(),
                    reason: e.to_string(),
                }),
            }
        }
        NetworkMode::None | NetworkMode::Host => None,
    };
    let mut handled = vec![libc::SIGCHLD];
    handled.extend_from_slice(FORWARDED_SIGNALS);
    let mut blocked = handled.clone();
    // A write to a closed forwarder socket must return EPIPE, not kill init.
    blocked.push(libc::SIGPIPE);
    let signalfd = SigSet::of(&blocked).set_mask().and_then(|()| SigSet::of(&handled).signalfd());
    let signalfd = match signalfd {
        Ok(fd) => fd,
        Err(e) => {
            launch.fail(Failure { control: None, step: "signalfd".into(), reason: e.to_string() })
        }
    };
    let _ = sys::set_dumpable(false);

    let stack = match sys::ChildStack::new(COMMAND_STACK) {
        Ok(stack) => stack,
        Err(e) => launch.fail(Failure {
            control: None,
            step: "map the command's stack".into(),
            reason: e.to_string(),
        }),
    };
    let mut body = || -> std::convert::Infallible { crate::command::run(launch) };
    match sys::spawn_sharing_memory(&stack, &mut body) {
        Ok(command) => {
            drop(stack);
            // Init keeps the status pipe, the signalfd, the listener and the
            // proxy socket; stdio and the report pipe belong to the command.
            for fd in [0, 1, 2, launch.report_fd] {
                sys::close(fd);
            }
            let forwarder = listener.and_then(|l| launch.proxy_fd.map(|fd| Forwarder::new(l, fd)));
            supervise(launch, command, &signalfd, forwarder, deadline)
        }
        Err(e) => launch.fail(Failure {
            control: None,
            step: "start the command".into(),
            reason: e.to_string(),
        }),
    }
}

fn supervise(
    launch: &Launch<'_>,
    command: libc::pid_t,
    signalfd: &OwnedFd,
    mut forwarder: Option<Forwarder>,
    deadline: Option<Instant>,
) -> ! {
    loop {
        let mut fds =
            vec![libc::pollfd { fd: signalfd.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
        if let Some(forwarder) = &forwarder {
            forwarder.register(&mut fds);
        }
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if timeout.is_some_and(|t| t.is_zero()) {
            // Exiting kills every process of the namespace.
            let _ = sys::write_all(launch.status_fd, &Frame::TimedOut.encode());
            sys::exit_now(128 + libc::SIGKILL);
        }
        if sys::poll(&mut fds, timeout).is_err() {
            continue;
        }
        let signals_ready = fds.first().is_some_and(|p| p.revents != 0);
        if let Some(forwarder) = &mut forwarder {
            forwarder.service(fds.get(1..).unwrap_or_default());
        }
        if signals_ready {
            for signal in drain_signals(signalfd) {
                if signal == libc::SIGCHLD {
                    reap(launch, command);
                } else {
                    let _ = sys::kill(command, signal);
                }
            }
        }
    }
}

/// Reads every pending `signalfd_siginfo` and returns the signal numbers.
fn drain_signals(signalfd: &OwnedFd) -> Vec<libc::c_int> {
    use std::io::Read;
    let mut signals = Vec::new();
    let mut file = match signalfd.try_clone() {
        Ok(fd) => std::fs::File::from(fd),
        Err(_) => return vec![libc::SIGCHLD],
    };
    let mut info = [0u8; 128];
    while let Ok(128) = file.read(&mut info) {
        if let Some(signo) = info.first_chunk::<4>() {
            signals.push(libc::c_int::try_from(u32::from_ne_bytes(*signo)).unwrap_or(0));
        }
    }
    signals
}

/// Reaps every exited process. When the command is among them, ends and reaps
/// whatever it left behind, then reports its status and exits: by the time the
/// launcher reads the status, init is the namespace's only process, and it is
/// already exiting. (The launcher does not wait for the kernel to finish
/// tearing down the emptied namespaces before it returns the status.)
fn reap(launch: &Launch<'_>, command: libc::pid_t) {
    while let Ok(Some((pid, status))) = sys::waitpid(-1, true) {
        if pid != command {
            continue;
        }
        // From PID 1, -1 is every other process of this PID namespace.
        let _ = sys::kill(-1, libc::SIGKILL);
        // Blocks until ECHILD: every orphan of the namespace is init's child.
        while sys::waitpid(-1, false).is_ok() {}
        let (code, signal, exit) = match status {
            WaitStatus::Exited(code) => (Some(code), None, code),
            WaitStatus::Signaled(signal) => (None, Some(signal), 128 + signal),
        };
        let _ = sys::write_all(launch.status_fd, &Frame::Exit { code, signal }.encode());
        sys::exit_now(exit);
    }
}
