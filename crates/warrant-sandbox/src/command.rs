//! Stage 3, the command's process (PID 2 of the sandbox): confines itself in
//! the documented order, verifies every control, sends the report, execs.

use crate::context::{EXIT_EXEC_FAILED, EXIT_NOT_VERIFIED, Launch, close_all_except};
use crate::report::{Control, Failure, Frame, write_exec_failed};
use crate::sys::{self, FdWriter, SigSet};
use crate::verify::{self, Evidence};

/// Runs in init's forked child; never returns.
pub(crate) fn run(launch: &Launch<'_>) -> ! {
    let plan = launch.plan;
    let fail = |control: Control, step: &str, err: std::io::Error| -> ! {
        launch.fail(Failure {
            control: Some(control),
            step: step.to_owned(),
            reason: err.to_string(),
        })
    };
    // Process state inherited from init: blocked signals, non-dumpable, its
    // descriptors (signalfd, listener, status pipe, proxy socket).
    if let Err(e) = SigSet::empty().set_mask() {
        fail(Control::Session, "unblock signals", e);
    }
    if let Err(e) = sys::set_parent_death_signal(libc::SIGKILL) {
        fail(Control::ParentDeathSignal, "prctl(PR_SET_PDEATHSIG)", e);
    }
    if let Err(e) = sys::setsid() {
        fail(Control::Session, "setsid", e);
    }
    if let Err(e) = close_all_except(&[0, 1, 2, launch.report_fd]) {
        fail(Control::FileDescriptors, "close_range", e);
    }
    if let Err(e) = std::env::set_current_dir(&plan.cwd) {
        fail(Control::PrivateRoot, "chdir to the working directory", e);
    }

    for limit in &plan.rlimits {
        if let Err(e) = sys::setrlimit(limit.resource, limit.soft, limit.hard) {
            let control = if limit.resource == libc::RLIMIT_NPROC {
                Control::ProcessLimit
            } else {
                Control::ResourceLimits
            };
            fail(control, limit.name, e);
        }
    }
    // The bounding set needs CAP_SETPCAP, still held from the user namespace.
    for cap in 0..64 {
        match sys::drop_bounding_cap(cap) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => fail(Control::Capabilities, "prctl(PR_CAPBSET_DROP)", e),
        }
    }
    if let Err(e) = sys::clear_ambient_caps() {
        fail(Control::Capabilities, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", e);
    }
    if let Err(e) = sys::set_no_new_privs() {
        fail(Control::NoNewPrivs, "prctl(PR_SET_NO_NEW_PRIVS)", e);
    }

    let mut ev = Evidence::new(plan);
    let landlock_abi = crate::landlock_rules::apply(plan, &mut ev);
    if let Err(e) = sys::clear_capabilities() {
        fail(Control::Capabilities, "capset", e);
    }
    // Seccomp last: the steps above need calls it denies.
    let seccomp_installed = match seccompiler::apply_filter(&plan.seccomp) {
        Ok(()) => true,
        Err(e) => {
            ev.missing(Control::Seccomp, "seccomp(SECCOMP_SET_MODE_FILTER)", e.to_string());
            false
        }
    };
    verify::collect(launch, &mut ev, seccomp_installed);
    let env_names = verify::env_names(launch);
    let report = match ev.into_report(landlock_abi, env_names) {
        Ok(report) => report,
        Err(failure) => refuse(launch, &Frame::Failure(failure).encode()),
    };

    // RLIMIT_AS goes last: the forked process still maps the launcher's whole
    // address space, so any allocation after it could fail. Both outcomes are
    // serialised before it is set.
    let report_frame = Frame::Report(report).encode();
    if let Some(limit) = &plan.address_space {
        let refused = Frame::Failure(Failure {
            control: Some(Control::ResourceLimits),
            step: "setrlimit(RLIMIT_AS)".to_owned(),
            reason: format!("could not set and read back {} = {}", limit.name, limit.soft),
        })
        .encode();
        let applied = sys::setrlimit(limit.resource, limit.soft, limit.hard).is_ok()
            && sys::getrlimit(limit.resource).ok() == Some((limit.soft, limit.hard));
        if !applied {
            refuse(launch, &refused);
        }
    }
    if sys::write_all(launch.report_fd, &report_frame).is_err() {
        sys::exit_now(EXIT_NOT_VERIFIED);
    }
    let mut errno = libc::ENOENT;
    for candidate in launch.candidates {
        let err = sys::execve(candidate, launch.argv.pointers(), launch.envp.pointers());
        match err.raw_os_error() {
            // Keep looking along PATH, but remember a more telling error.
            Some(libc::ENOENT | libc::ENOTDIR) => {}
            Some(other) => errno = other,
            None => {}
        }
    }
    let _ = write_exec_failed(FdWriter(launch.report_fd), errno);
    sys::exit_now(EXIT_EXEC_FAILED)
}

fn refuse(launch: &Launch<'_>, frame: &[u8]) -> ! {
    let _ = sys::write_all(launch.report_fd, frame);
    sys::exit_now(EXIT_NOT_VERIFIED)
}
