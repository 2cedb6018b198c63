//! A running sandbox: its report, waiting, killing.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::LaunchError;
use crate::report::{Frame, Report, read_all_frames};
use crate::sys::{self, WaitStatus};

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    pub(crate) pidfd: Option<OwnedFd>,
    pub(crate) status_pipe: File,
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

    /// Waits for the whole sandbox to end. When this returns, every process of
    /// the sandbox is gone.
    pub fn wait(&mut self) -> Result<ExitStatus, LaunchError> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        drop(self.stdin.take());
        let (_, init) = sys::waitpid(self.pid, false)
            .map_err(LaunchError::io("waitpid"))?
            .ok_or_else(|| LaunchError::Io {
                operation: "waitpid",
                source: std::io::ErrorKind::Other.into(),
            })?;
        Ok(self.finish(init))
    }

    /// Waits at most `timeout`; `Ok(None)` if the sandbox is still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, LaunchError> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pidfd) = &self.pidfd {
                let mut fds =
                    [libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
                let left = deadline.saturating_duration_since(Instant::now());
                sys::poll(&mut fds, Some(left)).map_err(LaunchError::io("poll"))?;
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
            if let Some((_, init)) =
                sys::waitpid(self.pid, true).map_err(LaunchError::io("waitpid"))?
            {
                return Ok(Some(self.finish(init)));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    fn finish(&mut self, init: WaitStatus) -> ExitStatus {
        let frames = read_all_frames(&mut self.status_pipe).unwrap_or_default();
        let timed_out = frames.iter().any(|f| matches!(f, Frame::TimedOut));
        let exit = frames.iter().find_map(|f| match f {
            Frame::Exit { code, signal } => Some((*code, *signal)),
            _ => None,
        });
        let (code, signal) = exit.unwrap_or(match init {
            WaitStatus::Exited(code) if code > 128 => (None, Some(code - 128)),
            WaitStatus::Exited(code) => (Some(code), None),
            WaitStatus::Signaled(signal) => (None, Some(signal)),
        });
        let status = ExitStatus { code, signal, timed_out };
        self.status = Some(status);
        // Init has been reaped, so every process of the tree is gone.
        drop(self.group.take());
        status
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

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.kill();
            let _ = self.wait();
        }
    }
}
