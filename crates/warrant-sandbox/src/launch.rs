//! The public launcher: [`Sandbox`], [`Child`], [`run`].

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::child::{Child, ExitStatus};
use crate::context::{CgroupLaunch, Launch, MadeAhead};
use crate::error::LaunchError;
use crate::plan::{CgroupPlan, Plan};
use crate::profile::{NetworkMode, SandboxSpec};
use crate::report::{Control, Frame, Report};
use crate::sys::{self, ExecArgs, Fork};

/// How long the sandbox may take to set up before the launcher gives up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on captured output per stream in [`run`].
pub const DEFAULT_CAPTURE_LIMIT: usize = 1 << 20;

/// What a standard stream of the command is connected to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stdio {
    /// The launcher's own descriptor.
    #[default]
    Inherit,
    /// /dev/null.
    Null,
    /// A pipe; the launcher's end is in [`Child`].
    Piped,
}

/// Per-launch options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpawnOptions {
    /// Defaults to [`Stdio::Null`]: a gateway's own stdin is often its protocol stream.
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    /// The environment the allowlist filters; `None` takes the launcher's.
    pub env: Option<Vec<(OsString, OsString)>>,
    /// Variables the caller hands the command on purpose, set last and not
    /// filtered: the command's own credential and endpoints (for example
    /// `WARRANT_TOKEN`), never something inherited. The report lists them.
    pub grant: Vec<(String, String)>,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        Self {
            stdin: Stdio::Null,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            env: None,
            grant: Vec::new(),
        }
    }
}

/// A prepared sandbox: the spec resolved once, launched any number of times.
pub struct Sandbox {
    plan: Plan,
}

impl Sandbox {
    /// Resolves paths, compiles the seccomp filter, records the launcher's namespaces.
    pub fn new(spec: &SandboxSpec) -> Result<Self, LaunchError> {
        Ok(Self { plan: Plan::resolve(spec)? })
    }

    /// The sandbox's HOME (an empty private tmpfs).
    pub fn home(&self) -> &Path {
        &self.plan.home
    }

    /// The workspace, canonicalised; mounted read-write at the same path.
    pub fn workspace(&self) -> &Path {
        &self.plan.workspace
    }

    /// Starts `command` (program and arguments; the program is looked up in the
    /// sandbox's PATH when it has no `/`). Returns once the sandbox has verified
    /// every control and exec'd, with the [`Report`] in the [`Child`].
    ///
    /// This blocks for the few milliseconds the setup takes; from async code,
    /// call it on a blocking thread. It forks the calling process: the forked
    /// stages only allocate and make syscalls, which is safe in a child of a
    /// multi-threaded process with glibc.
    pub fn spawn(&self, command: &[OsString], options: SpawnOptions) -> Result<Child, LaunchError> {
        let (program, _) = command.split_first().ok_or(LaunchError::EmptyCommand)?;
        crate::child::reap_exited();
        let plan = &self.plan;
        let mut env = crate::env::build(
            &plan.profile.env,
            options.env.clone().unwrap_or_else(|| std::env::vars_os().collect()),
            &fixed_env(plan),
        );
        for (name, value) in &options.grant {
            env.insert(OsString::from(name), OsString::from(value));
        }
        let granted: Vec<String> = options.grant.iter().map(|(n, _)| n.clone()).collect();
        let candidates = candidates(program, crate::env::lookup(&env, "PATH"))?;
        let envp = ExecArgs::new(crate::env::to_c_strings(&env)?);
        let argv = ExecArgs::new(command.iter().map(|a| c_string(a)).collect::<Result<_, _>>()?);
        let proxy = match &plan.proxy_socket {
            Some(path) => Some(open_proxy_socket(path)?),
            None => None,
        };
        let (report_read, report_write) = sys::pipe_cloexec().map_err(LaunchError::io("pipe"))?;
        let (status_read, status_write) = sys::pipe_cloexec().map_err(LaunchError::io("pipe"))?;
        let report_write = at_least_3(report_write)?;
        let status_write = at_least_3(status_write)?;
        let stdin = StdioPair::new(options.stdin, true)?;
        let stdout = StdioPair::new(options.stdout, false)?;
        let stderr = StdioPair::new(options.stderr, false)?;
        let (group, no_cgroup) = match &plan.cgroup {
            CgroupPlan::Off => (None, None),
            CgroupPlan::Unavailable(reason) => (None, Some(reason.clone())),
            CgroupPlan::Parent(parent) => match parent.create(&plan.profile.limits) {
                Ok(group) => (Some(group), None),
                Err(e) if plan.requires(Control::Cgroup) => {
                    return Err(LaunchError::ControlUnavailable {
                        control: Control::Cgroup,
                        step: "create the sandbox's cgroup".to_owned(),
                        reason: e.to_string(),
                        hint: Control::Cgroup.how_to_enable(),
                    });
                }
                Err(e) => (None, Some(format!("creating the sandbox's cgroup failed: {e}"))),
            },
        };
        let procs = match &group {
            Some(group) => {
                Some(at_least_3(group.procs().map_err(LaunchError::io("open cgroup.procs"))?)?)
            }
            None => None,
        };
        let made_ahead = match plan.network.mode {
            NetworkMode::Host => None,
            NetworkMode::None | NetworkMode::Proxy => {
                crate::pool::take(plan.host.uid, plan.host.gid)
                    .map(|pair| {
                        Ok::<_, LaunchError>((at_least_3(pair.user)?, at_least_3(pair.net)?))
                    })
                    .transpose()?
            }
        };
        let launch = Launch {
            plan,
            argv: &argv,
            envp: &envp,
            candidates: &candidates,
            stdio: [stdin.child_fd(), stdout.child_fd(), stderr.child_fd()],
            report_fd: report_write.as_raw_fd(),
            status_fd: status_write.as_raw_fd(),
            proxy_fd: proxy.as_ref().map(AsRawFd::as_raw_fd),
            launcher_pid: sys::getpid(),
            granted: &granted,
            cgroup: group.as_ref().zip(procs.as_ref()).map(|(group, procs)| CgroupLaunch {
                procs_fd: procs.as_raw_fd(),
                path: &group.path,
                applied: &group.applied,
                missing: &group.missing,
            }),
            no_cgroup: no_cgroup.as_deref(),
            made_ahead: made_ahead
                .as_ref()
                .map(|(user, net)| MadeAhead { user: user.as_raw_fd(), net: net.as_raw_fd() }),
        };

        let started = Instant::now();
        let starter = match sys::fork().map_err(LaunchError::io("fork"))? {
            Fork::Child => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    crate::starter::run(&launch)
                }));
                sys::exit_now(crate::context::EXIT_SETUP_FAILED)
            }
            Fork::Parent(pid) => pid,
        };
        drop((report_write, status_write, proxy, procs, made_ahead));
        drop((stdin.child, stdout.child, stderr.child));
        let (frames, error) = read_report_pipe(File::from(report_read), started + SETUP_TIMEOUT);
        let init = frames.iter().find_map(|frame| match frame {
            Frame::Started { init } => Some(*init),
            _ => None,
        });
        if error.is_some() {
            // A stage is stuck or spoke garbage: stop everything that exists.
            let _ = sys::kill(starter, libc::SIGKILL);
            if let Some(init) = init {
                let _ = sys::kill(init, libc::SIGKILL);
            }
        }
        // The starter exits as soon as init exists, or when setup failed
        // before that; it is our child, so reap it now.
        let starter_status = sys::waitpid(starter, false).map_err(LaunchError::io("waitpid"))?;
        let Some(init) = init else {
            return Err(error.unwrap_or_else(|| match Child::failure(frames, program) {
                Some(failure) => failure,
                None => LaunchError::NoReport { status: format!("{starter_status:?}") },
            }));
        };
        let mut child = Child {
            pid: init,
            status_pipe: File::from(status_read),
            status_bytes: Vec::new(),
            status_eof: false,
            report: Report::default(),
            stdin: stdin.parent,
            stdout: stdout.parent,
            stderr: stderr.parent,
            status: None,
            started,
            group,
        };
        child.accept_report(error.map_or(Ok(frames), Err), program)?;
        Ok(child)
    }

    /// Runs `command` to completion with stdout and stderr captured (each
    /// capped at `capture_limit` bytes; the rest is read and discarded).
    pub fn run(&self, command: &[OsString], capture_limit: usize) -> Result<Output, LaunchError> {
        self.run_with_env(command, capture_limit, None, None)
    }

    /// [`Sandbox::run`] with `env` as the environment the allowlist filters
    /// (`None`: the launcher's), for the launcher helper; and `cancel`, a
    /// descriptor that becomes readable to stop the command: its whole tree
    /// is then killed, and the output so far is returned.
    pub(crate) fn run_with_env(
        &self,
        command: &[OsString],
        capture_limit: usize,
        env: Option<Vec<(OsString, OsString)>>,
        mut cancel: Option<BorrowedFd<'_>>,
    ) -> Result<Output, LaunchError> {
        let options = SpawnOptions {
            stdin: Stdio::Null,
            stdout: Stdio::Piped,
            stderr: Stdio::Piped,
            env,
            grant: Vec::new(),
        };
        let mut child = self.spawn(command, options)?;
        let mut streams = [
            Capture::new(child.stdout.take(), capture_limit),
            Capture::new(child.stderr.take(), capture_limit),
        ];
        // Until the streams end, and then (while a cancel may come) until
        // init reports the command's end on its status pipe.
        loop {
            let open = streams.iter().any(|s| s.file.is_some());
            if !open && cancel.is_none() {
                break;
            }
            let status = if open { -1 } else { child.status_pipe.as_raw_fd() };
            let watched = [cancel.as_ref().map_or(-1, AsRawFd::as_raw_fd), status];
            let mut fds: Vec<libc::pollfd> = streams
                .iter()
                .map(|s| s.file.as_ref().map_or(-1, AsRawFd::as_raw_fd))
                .chain(watched)
                .map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 })
                .collect();
            sys::poll(&mut fds, None).map_err(LaunchError::io("poll"))?;
            for (stream, polled) in streams.iter_mut().zip(&fds) {
                if polled.revents != 0 {
                    stream.read_some();
                }
            }
            let fired = |i: usize| fds.get(i).is_some_and(|p| p.revents != 0);
            if fired(2) {
                child.kill()?;
                cancel = None;
            }
            if fired(3) {
                break;
            }
        }
        let status = child.wait()?;
        let [out, err] = streams;
        Ok(Output {
            status,
            stdout: out.data,
            stdout_truncated: out.truncated,
            stderr: err.data,
            stderr_truncated: err.truncated,
            report: child.report().clone(),
        })
    }
}

/// Convenience: prepare `spec`, run `command`, capture up to
/// [`DEFAULT_CAPTURE_LIMIT`] bytes of each output stream.
pub fn run(spec: &SandboxSpec, command: &[OsString]) -> Result<Output, LaunchError> {
    Sandbox::new(spec)?.run(command, DEFAULT_CAPTURE_LIMIT)
}

/// A finished command's status, captured output and report. It crosses the
/// launcher helper's socket with the streams in hex, byte for byte.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(into = "crate::launcher::WireOutput", from = "crate::launcher::WireOutput")]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stdout_truncated: bool,
    pub stderr: Vec<u8>,
    pub stderr_truncated: bool,
    pub report: Report,
}

/// Reads frames until EOF (the command exec'd or every stage exited) or the
/// deadline. Returns the complete frames read, and what went wrong, if anything.
fn read_report_pipe(mut pipe: File, deadline: Instant) -> (Vec<Frame>, Option<LaunchError>) {
    let mut bytes = Vec::new();
    let error = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Some(LaunchError::SetupTimeout(SETUP_TIMEOUT));
        }
        match crate::report::read_some(&mut pipe, &mut bytes, Some(left)) {
            Ok(true) => break None,
            Ok(false) => {}
            Err(e) => break Some(LaunchError::Io { operation: "read report", source: e }),
        }
    };
    let (frames, malformed) = Frame::decode_complete(&bytes);
    let error = error
        .or_else(|| malformed.map(|e| LaunchError::Io { operation: "decode report", source: e }));
    (frames, error)
}

/// Variables the launcher always sets.
fn fixed_env(plan: &Plan) -> Vec<(&'static str, String)> {
    let mut fixed = vec![
        ("HOME", plan.home.display().to_string()),
        ("TMPDIR", "/tmp".to_owned()),
        ("PWD", plan.cwd.display().to_string()),
    ];
    if plan.network.mode == NetworkMode::Proxy && plan.network.proxy_env {
        let url = format!("http://127.0.0.1:{}", plan.network.proxy_port);
        for name in
            ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"]
        {
            fixed.push((name, url.clone()));
        }
        fixed.push(("NO_PROXY", "localhost,127.0.0.1".to_owned()));
    }
    fixed
}

fn c_string(value: &OsStr) -> Result<CString, LaunchError> {
    CString::new(value.as_bytes())
        .map_err(|_| LaunchError::NulByte(value.to_string_lossy().into_owned()))
}

/// Paths to exec, in order, as seen inside the sandbox.
fn candidates(program: &OsStr, path: Option<&OsStr>) -> Result<Vec<CString>, LaunchError> {
    if program.as_bytes().contains(&b'/') {
        return Ok(vec![c_string(program)?]);
    }
    path.map(|p| p.as_bytes().split(|b| *b == b':').collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|dir| dir.starts_with(b"/"))
        .map(|dir| c_string(PathBuf::from(OsStr::from_bytes(dir)).join(program).as_os_str()))
        .collect()
}

/// The stage code keeps 0..=2 for stdio, so every inherited descriptor must be >= 3.
fn at_least_3(fd: OwnedFd) -> Result<OwnedFd, LaunchError> {
    if fd.as_raw_fd() >= 3 {
        return Ok(fd);
    }
    sys::dup_cloexec_at_least(fd.as_raw_fd(), 3).map_err(LaunchError::io("fcntl(F_DUPFD_CLOEXEC)"))
}

fn open_proxy_socket(path: &Path) -> Result<OwnedFd, LaunchError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path)
        .map_err(|source| LaunchError::ProxySocket { path: path.to_path_buf(), source })?;
    at_least_3(OwnedFd::from(file))
}

/// The two ends of one standard stream.
struct StdioPair {
    child: Option<OwnedFd>,
    parent: Option<File>,
}

impl StdioPair {
    fn new(stdio: Stdio, input: bool) -> Result<Self, LaunchError> {
        match stdio {
            Stdio::Inherit => Ok(Self { child: None, parent: None }),
            Stdio::Null => {
                let file = std::fs::OpenOptions::new()
                    .read(input)
                    .write(!input)
                    .open("/dev/null")
                    .map_err(LaunchError::io("open /dev/null"))?;
                Ok(Self { child: Some(at_least_3(file.into())?), parent: None })
            }
            Stdio::Piped => {
                let (read, write) = sys::pipe_cloexec().map_err(LaunchError::io("pipe"))?;
                let (child, parent) = if input { (read, write) } else { (write, read) };
                Ok(Self { child: Some(at_least_3(child)?), parent: Some(File::from(parent)) })
            }
        }
    }

    fn child_fd(&self) -> Option<i32> {
        self.child.as_ref().map(AsRawFd::as_raw_fd)
    }
}

/// One captured output stream.
struct Capture {
    file: Option<File>,
    data: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl Capture {
    fn new(file: Option<File>, limit: usize) -> Self {
        Self { file, data: Vec::new(), limit, truncated: false }
    }

    fn read_some(&mut self) {
        let Some(file) = &mut self.file else { return };
        let mut chunk = [0u8; 16 * 1024];
        match file.read(&mut chunk) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Ok(0) | Err(_) => self.file = None,
            Ok(n) => {
                let room = self.limit.saturating_sub(self.data.len());
                let take = n.min(room);
                self.data.extend_from_slice(chunk.get(..take).unwrap_or_default());
                self.truncated |= take < n;
            }
        }
    }
}
