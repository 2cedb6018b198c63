//! A running sandbox: its report, waiting, killing.

use std::ffi::OsStr;
use std::fs::File;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::LaunchError;
use crate::report::{Frame, Report};
use crate::sys::{self, WaitStatus};

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExitStatus {
    pub(crate) code: Option<i32>,
    pub(crate) signal: Option<i32>,
    pub(crate) timed_out: bool,
}

impl ExitStatus {
    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The exit code, when the command exited.
    pub fn code(&self) -> Option<i32> {
        self.code
    }

    /// The signal that killed the command (SIGKILL when the tree was killed).
    pub fn signal(&self) -> Option<i32> {
        self.signal
    }

    /// The profile's wall-clock limit expired and the tree was killed.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }
}

/// A running sandboxed command. Dropping it kills the whole tree.
#[derive(Debug)]
pub struct Child {
    pub(crate) pid: libc::pid_t,
    /// Init's status pipe, and what has been read from it so far.
    pub(crate) status_pipe: File,
    pub(crate) status_bytes: Vec<u8>,
    pub(crate) status_eof: bool,
    pub(crate) report: Report,
    pub stdin: Option<File>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    pub(crate) status: Option<ExitStatus>,
    pub(crate) started: Instant,
    /// The sandbox's cgroup, removed once the tree is gone.
    pub(crate) group: Option<crate::cgroup::Group>,
}

impl Child {
    /// The host PID of the sandbox's init (PID 1 inside; the launcher's child).
    pub fn id(&self) -> u32 {
        self.pid.unsigned_abs()
    }

    /// What the sandbox verified before exec.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// When the launch started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Kills every process of the sandbox (SIGKILL to its PID namespace's
    /// init, and `cgroup.kill` when it has a cgroup).
    pub fn kill(&mut self) -> Result<(), LaunchError> {
        if self.status.is_none()
            && let Some(group) = &self.group
        {
            group.kill();
        }
        self.signal_init(libc::SIGKILL)
    }

    /// Sends SIGTERM to the command (forwarded by init).
    pub fn terminate(&mut self) -> Result<(), LaunchError> {
        self.signal_init(libc::SIGTERM)
    }

    fn signal_init(&mut self, signal: libc::c_int) -> Result<(), LaunchError> {
        if self.status.is_some() {
            return Ok(());
        }
        // Init is our unreaped child, so its PID cannot have been reused.
        match sys::kill(self.pid, signal) {
            Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                Err(LaunchError::Io { operation: "kill", source: e })
            }
            _ => Ok(()),
        }
    }

    /// Waits for the command to end. When this returns, every process of the
    /// sandbox is gone but its init, which has reaped them all and is exiting
    /// (the launcher reaps it without waiting, unless the sandbox has a cgroup
    /// to remove).
    pub fn wait(&mut self) -> Result<ExitStatus, LaunchError> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        drop(self.stdin.take());
        loop {
            if let Some(status) = self.try_finish()? {
                return Ok(status);
            }
            self.read_status(None)?;
        }
    }

    /// Waits at most `timeout`; `Ok(None)` if the sandbox is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, LaunchError> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_finish()? {
                return Ok(Some(status));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.read_status(Some(left))?;
        }
    }

    /// Reads what init has written to the status pipe, waiting at most `timeout`.
    fn read_status(&mut self, timeout: Option<Duration>) -> Result<(), LaunchError> {
        let ended =
            crate::report::read_some(&mut self.status_pipe, &mut self.status_bytes, timeout)
                .map_err(LaunchError::io("read status"))?;
        self.status_eof |= ended;
        Ok(())
    }

    /// The command's status, once init has reported it or has exited.
    fn try_finish(&mut self) -> Result<Option<ExitStatus>, LaunchError> {
        // A frame still arriving is incomplete, not malformed: only complete
        // frames count, and only init writes to this pipe.
        let (frames, _) = Frame::decode_complete(&self.status_bytes);
        let timed_out = frames.iter().any(|f| matches!(f, Frame::TimedOut));
        let exit = frames.iter().find_map(|f| match f {
            Frame::Exit { code, signal } => Some((*code, *signal)),
            _ => None,
        });
        let status = if let Some((code, signal)) = exit {
            // Init wrote this after reaping every other process of the
            // sandbox, and exits next. The kill makes that so whatever the
            // frame says; init's exit (the kernel tearing down the emptied
            // namespaces, a few hundred microseconds) is not waited for.
            let _ = sys::kill(self.pid, libc::SIGKILL);
            match self.group.take() {
                // A cgroup can be removed only once init has left it.
                Some(group) => {
                    let _ = sys::waitpid(self.pid, false);
                    drop(group);
                }
                None => reap_later(self.pid),
            }
            ExitStatus { code, signal, timed_out }
        } else if self.status_eof {
            // Init is gone without reporting (killed, or at the wall clock).
            let (_, init) = sys::waitpid(self.pid, false)
                .map_err(LaunchError::io("waitpid"))?
                .ok_or_else(|| LaunchError::Io {
                    operation: "waitpid",
                    source: std::io::ErrorKind::Other.into(),
                })?;
            let (code, signal) = match init {
                WaitStatus::Exited(code) if code > 128 => (None, Some(code - 128)),
                WaitStatus::Exited(code) => (Some(code), None),
                WaitStatus::Signaled(signal) => (None, Some(signal)),
            };
            // Init has been reaped, so every process of the tree is gone.
            drop(self.group.take());
            ExitStatus { code, signal, timed_out }
        } else {
            return Ok(None);
        };
        self.status = Some(status);
        Ok(Some(status))
    }

    /// The refusal the frames carry, if any.
    pub(crate) fn failure(frames: Vec<Frame>, program: &OsStr) -> Option<LaunchError> {
        let mut error = None;
        for frame in frames {
            match frame {
                Frame::Failure(f) => {
                    error = Some(match f.control {
                        Some(control) => LaunchError::ControlUnavailable {
                            control,
                            step: f.step,
                            reason: f.reason,
                            hint: control.how_to_enable(),
                        },
                        None => LaunchError::Setup { step: f.step, reason: f.reason },
                    });
                }
                Frame::ExecFailed { errno } => {
                    error = Some(LaunchError::Exec {
                        program: program.to_string_lossy().into_owned(),
                        source: std::io::Error::from_raw_os_error(errno),
                    });
                }
                Frame::Started { .. } | Frame::Report(_) | Frame::Exit { .. } | Frame::TimedOut => {
                }
            }
        }
        error
    }

    /// Interprets the report pipe's frames; on refusal reaps the sandbox.
    pub(crate) fn accept_report(
        &mut self,
        frames: Result<Vec<Frame>, LaunchError>,
        program: &OsStr,
    ) -> Result<(), LaunchError> {
        let error = match frames {
            Err(e) => e,
            Ok(frames) => {
                let report = frames.iter().rev().find_map(|frame| match frame {
                    Frame::Report(report) => Some(report.clone()),
                    _ => None,
                });
                match (Self::failure(frames, program), report) {
                    (None, Some(report)) => {
                        self.report = report;
                        return Ok(());
                    }
                    (Some(error), _) => error,
                    (None, None) => {
                        let _ = self.kill();
                        let status =
                            self.wait().map(|s| format!("{s:?}")).unwrap_or_else(|e| e.to_string());
                        return Err(LaunchError::NoReport { status });
                    }
                }
            }
        };
        let _ = self.kill();
        let _ = self.wait();
        Err(error)
    }
}

/// Inits that reported their command's status and are still exiting: each is
/// our child, so its PID stays ours until it is reaped here.
static EXITING: Mutex<Vec<libc::pid_t>> = Mutex::new(Vec::new());

/// Reaps `init` if it has finished exiting, or leaves it for [`reap_exited`].
fn reap_later(init: libc::pid_t) {
    let mut exiting = EXITING.lock().unwrap_or_else(PoisonError::into_inner);
    exiting.push(init);
    exiting.retain(|&pid| still_exiting(pid));
}

/// Reaps every init in [`EXITING`] that has finished; called at each launch.
pub(crate) fn reap_exited() {
    EXITING.lock().unwrap_or_else(PoisonError::into_inner).retain(|&pid| still_exiting(pid));
}

fn still_exiting(pid: libc::pid_t) -> bool {
    matches!(sys::waitpid(pid, true), Ok(None))
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.kill();
            let _ = self.wait();
        }
    }
}
