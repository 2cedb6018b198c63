//! Stage 1, the starter: the launcher's direct child, for the few hundred
//! microseconds it takes to make the sandbox's init. It cleans up what it
//! inherited, enters the new namespaces, and makes init (PID 1 of the new PID
//! namespace) with `CLONE_PARENT`, so init is the launcher's own child: the
//! launcher waits for it, signals it and kills the whole tree through it, with
//! no process in between. Init takes over the starter's memory
//! (`CLONE_VM`, on a stack of its own) rather than a copy of it; the starter
//! then only tells the launcher init's PID, without allocating, and exits.

use crate::context::{Launch, close_all_except};
use crate::profile::NetworkMode;
use crate::report::{Control, Failure, write_started};
use crate::sys::{self, FdWriter};

/// Init's stack: it runs on it for the sandbox's whole life.
const INIT_STACK: usize = 8 << 20;

/// Runs in the launcher's forked child; never returns.
pub(crate) fn run(launch: &Launch<'_>) -> ! {
    if let Err(failure) = hygiene(launch) {
        launch.fail(failure);
    }
    if let Err(failure) = enter_namespaces(launch) {
        launch.fail(failure);
    }
    let stack = match sys::ChildStack::new(INIT_STACK) {
        Ok(stack) => stack,
        Err(e) => launch.fail(step_failure(None, "map init's stack", &e)),
    };
    let mut body = || -> std::convert::Infallible { crate::init::run(launch) };
    sys::spawn_sibling_sharing_memory(stack, &mut body, |made| match made {
        Ok(init) => {
            // Init shares this memory now: no allocation from here on.
            if write_started(FdWriter(launch.report_fd), init).is_err() {
                // The launcher cannot learn of init: do not leave it running.
                let _ = sys::kill(init, libc::SIGKILL);
            }
            sys::exit_now(0)
        }
        Err(e) => launch.fail(step_failure(Some(Control::PidNamespace), "clone init", &e)),
    })
}

fn step_failure(control: Option<Control>, step: &str, err: &std::io::Error) -> Failure {
    Failure { control, step: step.to_owned(), reason: err.to_string() }
}

fn ns(control: Control, step: &'static str) -> impl FnOnce(std::io::Error) -> Failure {
    move |e| step_failure(Some(control), step, &e)
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
    keep.extend(launch.cgroup.as_ref().map(|c| c.procs_fd));
    keep.extend(launch.made_ahead.iter().flat_map(|pair| [pair.user, pair.net]));
    keep.sort_unstable();
    close_all_except(&keep)
        .map_err(|e| step_failure(Some(Control::FileDescriptors), "close_range", &e))?;
    if let Some(cgroup) = &launch.cgroup {
        // Join the sandbox's cgroup while still in the launcher's user
        // namespace; init and the command inherit it. Whether it worked is
        // checked from inside (a failure here is the command's evidence).
        let _ = sys::write_all(cgroup.procs_fd, b"0");
        sys::close(cgroup.procs_fd);
    }
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
/// each other namespace separately so a failure names its control. The user
/// and network namespaces may have been made ahead by the pool: then the
/// starter joins them instead.
fn enter_namespaces(launch: &Launch<'_>) -> Result<(), Failure> {
    let plan = launch.plan;
    let with_net = plan.network.mode != NetworkMode::Host;
    match launch.made_ahead {
        Some(pair) => {
            sys::setns(pair.user, libc::CLONE_NEWUSER)
                .map_err(ns(Control::UserNamespace, "setns(user namespace made ahead)"))?;
            if with_net {
                sys::setns(pair.net, libc::CLONE_NEWNET).map_err(ns(
                    Control::NetworkNamespace,
                    "setns(network namespace made ahead)",
                ))?;
            }
            sys::close(pair.user);
            sys::close(pair.net);
        }
        None => enter_user_namespace(plan.host.uid, plan.host.gid)?,
    }
    for (flag, control, step) in [
        (libc::CLONE_NEWNS, Control::MountNamespace, "unshare(CLONE_NEWNS)"),
        (libc::CLONE_NEWPID, Control::PidNamespace, "unshare(CLONE_NEWPID)"),
        (libc::CLONE_NEWIPC, Control::IpcNamespace, "unshare(CLONE_NEWIPC)"),
        (libc::CLONE_NEWUTS, Control::UtsNamespace, "unshare(CLONE_NEWUTS)"),
    ] {
        sys::unshare(flag).map_err(ns(control, step))?;
    }
    sys::sethostname(b"warrant-sandbox").map_err(ns(Control::UtsNamespace, "sethostname"))?;
    if with_net && launch.made_ahead.is_none() {
        enter_network_namespace()?;
    }
    Ok(())
}

/// A new network namespace with its loopback up (also run by the pool's helper).
pub(crate) fn enter_network_namespace() -> Result<(), Failure> {
    sys::unshare(libc::CLONE_NEWNET)
        .map_err(ns(Control::NetworkNamespace, "unshare(CLONE_NEWNET)"))?;
    sys::loopback_up().map_err(ns(Control::NetworkNamespace, "bring loopback up"))
}

/// A new user namespace in which `uid` and `gid` map to themselves and
/// `setgroups` is denied (also run by the pool's helper).
pub(crate) fn enter_user_namespace(uid: u32, gid: u32) -> Result<(), Failure> {
    sys::unshare(libc::CLONE_NEWUSER)
        .map_err(ns(Control::UserNamespace, "unshare(CLONE_NEWUSER)"))?;
    std::fs::write("/proc/self/setgroups", "deny")
        .map_err(ns(Control::UserNamespace, "write setgroups"))?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1\n"))
        .map_err(ns(Control::UserNamespace, "write uid_map"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1\n"))
        .map_err(ns(Control::UserNamespace, "write gid_map"))?;
    Ok(())
}
