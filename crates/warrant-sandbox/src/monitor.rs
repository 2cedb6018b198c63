//! Stage 1, the monitor: the launcher's direct child. It cleans up what it
//! inherited, enters the new namespaces, forks the sandbox's init (PID 1 of the
//! new PID namespace), then stays outside the sandbox to enforce the
//! wall-clock limit and to kill the whole tree on request.

use std::time::Instant;

use crate::context::{FORWARDED_SIGNALS, KILL_TREE_SIGNAL, Launch, close_all_except};
use crate::profile::NetworkMode;
use crate::report::{Control, Failure, Frame};
use crate::sys::{self, Fork, SigSet, WaitStatus};

/// Runs in the launcher's forked child; never returns.
pub(crate) fn run(launch: &Launch<'_>) -> ! {
    let started = Instant::now();
    if let Err(failure) = hygiene(launch) {
        launch.fail(failure);
    }
    let signals = monitor_signals();
    if let Err(e) = signals.set_mask() {
        launch.fail(step_failure(None, "block signals", &e));
    }
    if let Err(failure) = enter_namespaces(launch) {
        launch.fail(failure);
    }
    let (alive_read, alive_write) = match sys::pipe_cloexec() {
        Ok(pipe) => pipe,
        Err(e) => launch.fail(step_failure(None, "pipe", &e)),
    };
    match sys::fork() {
        Ok(Fork::Child) => {
            drop(alive_write);
            crate::init::run(launch, alive_read)
        }
        Ok(Fork::Parent(init)) => {
            drop(alive_read);
            // The monitor keeps only the status pipe and the alive pipe.
            let mut keep = [launch.status_fd, std::os::fd::AsRawFd::as_raw_fd(&alive_write)];
            keep.sort_unstable();
            let _ = close_all_except(&keep);
            supervise(launch, init, &signals, started)
        }
        Err(e) => launch.fail(step_failure(Some(Control::PidNamespace), "fork init", &e)),
    }
}

fn step_failure(control: Option<Control>, step: &str, err: &std::io::Error) -> Failure {
    Failure { control, step: step.to_owned(), reason: err.to_string() }
}

fn ns(control: Control, step: &'static str) -> impl FnOnce(std::io::Error) -> Failure {
    move |e| step_failure(Some(control), step, &e)
}

fn monitor_signals() -> SigSet {
    let mut signals = vec![libc::SIGCHLD, KILL_TREE_SIGNAL];
    signals.extend_from_slice(FORWARDED_SIGNALS);
    SigSet::of(&signals)
}

/// stdio, descriptors, session, parent-death signal, signal dispositions.
fn hygiene(launch: &Launch<'_>) -> Result<(), Failure> {
    let fds = |e| step_failure(Some(Control::FileDescriptors), "stdio", &e);
    for (slot, fd) in (0..).zip(launch.stdio) {
        match fd {
            Some(fd) if fd == slot => sys::clear_cloexec(fd).map_err(fds)?,
            Some(fd) => sys::dup2(fd, slot).map_err(fds)?,
            None => {}
        }
    }
    let mut keep = vec![0, 1, 2, launch.report_fd, launch.status_fd];
    keep.extend(launch.proxy_fd);
    keep.sort_unstable();
    close_all_except(&keep)
        .map_err(|e| step_failure(Some(Control::FileDescriptors), "close_range", &e))?;
    sys::setsid().map_err(|e| step_failure(Some(Control::Session), "setsid", &e))?;
    sys::set_parent_death_signal(libc::SIGKILL).map_err(|e| {
        step_failure(Some(Control::ParentDeathSignal), "prctl(PR_SET_PDEATHSIG)", &e)
    })?;
    if sys::getppid() != launch.launcher_pid {
        // The launcher died before the death signal was armed.
        sys::exit_now(crate::context::EXIT_SETUP_FAILED);
    }
    // A launcher that ignores SIGPIPE or SIGCHLD must not pass that on.
    sys::reset_signal_dispositions();
    Ok(())
}

/// User namespace first (it grants the capabilities the others need), then
/// each other namespace separately so a failure names its control.
fn enter_namespaces(launch: &Launch<'_>) -> Result<(), Failure> {
    let plan = launch.plan;
    sys::unshare(libc::CLONE_NEWUSER)
        .map_err(ns(Control::UserNamespace, "unshare(CLONE_NEWUSER)"))?;
    let (uid, gid) = (plan.host.uid, plan.host.gid);
    std::fs::write("/proc/self/setgroups", "deny")
        .map_err(ns(Control::UserNamespace, "write setgroups"))?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1\n"))
        .map_err(ns(Control::UserNamespace, "write uid_map"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1\n"))
        .map_err(ns(Control::UserNamespace, "write gid_map"))?;

    let mut namespaces = vec![
        (libc::CLONE_NEWNS, Control::MountNamespace, "unshare(CLONE_NEWNS)"),
        (libc::CLONE_NEWPID, Control::PidNamespace, "unshare(CLONE_NEWPID)"),
        (libc::CLONE_NEWIPC, Control::IpcNamespace, "unshare(CLONE_NEWIPC)"),
        (libc::CLONE_NEWUTS, Control::UtsNamespace, "unshare(CLONE_NEWUTS)"),
    ];
    if plan.network.mode != NetworkMode::Host {
        namespaces.push((libc::CLONE_NEWNET, Control::NetworkNamespace, "unshare(CLONE_NEWNET)"));
    }
    for (flag, control, step) in namespaces {
        sys::unshare(flag).map_err(ns(control, step))?;
    }
    sys::sethostname(b"warrant-sandbox").map_err(ns(Control::UtsNamespace, "sethostname"))?;
    if plan.network.mode != NetworkMode::Host {
        sys::loopback_up().map_err(ns(Control::NetworkNamespace, "bring loopback up"))?;
    }
    Ok(())
}

/// Waits for init, forwarding signals, enforcing the wall clock.
fn supervise(launch: &Launch<'_>, init: libc::pid_t, signals: &SigSet, started: Instant) -> ! {
    let deadline = launch.plan.wall_clock.map(|limit| started + limit);
    let mut killed = false;
    loop {
        let timeout = match deadline {
            Some(deadline) if !killed => Some(deadline.saturating_duration_since(Instant::now())),
            _ => None,
        };
        match signals.wait(timeout) {
            Ok(Some(libc::SIGCHLD)) => {
                if let Ok(Some((_, status))) = sys::waitpid(init, true) {
                    sys::exit_now(match status {
                        WaitStatus::Exited(code) => code,
                        WaitStatus::Signaled(signal) => 128 + signal,
                    });
                }
            }
            Ok(Some(KILL_TREE_SIGNAL)) => {
                // Killing a PID namespace's init kills every process in it.
                let _ = sys::kill(init, libc::SIGKILL);
                killed = true;
            }
            Ok(Some(signal)) => {
                let _ = sys::kill(init, signal);
            }
            Ok(None) => {
                let _ = sys::write_all(launch.status_fd, &Frame::TimedOut.encode());
                let _ = sys::kill(init, libc::SIGKILL);
                killed = true;
            }
            Err(_) => {}
        }
    }
}
