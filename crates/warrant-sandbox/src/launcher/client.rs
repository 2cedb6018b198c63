//! The caller's side: starts the helper, sends it requests (and cancels),
//! restarts it when it dies.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, BufReader};
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::wire::{
    Answer, Cancel, CancelOf, EncodeError, Frame, LaunchRequest, MAX_ANSWER, MAX_REQUEST, Outcome,
    PROTOCOL, Rejection, Request, encode, read_frame, write_frame,
};
use super::{CancelLaunch, LauncherError};
use crate::launch::Output;
use crate::profile::SandboxSpec;

/// How long a new helper may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before restarting a helper that died without answering anything,
/// doubled for each such helper in a row, up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// How to start the helper: a program that calls [`super::serve_stdin`]
/// (typically the caller's own executable, `/proc/self/exe`, with a hidden
/// argument). It gets the socket as its stdin, `/dev/null` as stdout, the
/// caller's stderr, a process group of its own (a terminal's Ctrl-C does not
/// reach it), and an environment of `HOME` plus what [`HelperCommand::env`] adds.
#[derive(Clone, Debug)]
pub struct HelperCommand {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl HelperCommand {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self { program: program.into(), args: Vec::new(), env: Vec::new() }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds a variable to the helper's otherwise minimal environment.
    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Spawns the helper (by exec: a fresh image) with its end of a new
    /// socketpair as stdin; returns it and our end.
    fn spawn(&self) -> io::Result<(Child, UnixStream)> {
        // Both ends are close-on-exec: only the helper's stdin slot gets one.
        let (ours, theirs) = UnixStream::pair()?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0);
        if let Some(home) = std::env::var_os("HOME") {
            command.env("HOME", home);
        }
        command.envs(self.env.iter().map(|(name, value)| (name, value)));
        let child = command.spawn();
        // The command holds our copy of the helper's end: close it now, or the
        // helper's death would never read as end of file here.
        drop(command);
        Ok((child?, ours))
    }
}

/// Launches sandboxes through a helper process (see the module docs).
///
/// [`Launcher::run`] blocks: from async code, call it on a blocking thread
/// and fire its [`CancelLaunch`] when the caller gives up (a drop guard).
/// It may be called from many threads at once; each call is one request.
pub struct Launcher {
    command: HelperCommand,
    current: Mutex<Current>,
    next_id: AtomicU64,
}

struct Current {
    /// `None` after a restart failed.
    connection: Option<Arc<Connection>>,
    /// Helpers in a row that died without answering, or failed to start.
    failures: u32,
    /// [`Launcher::close`] was called: no helper is started again.
    closed: bool,
}

impl Launcher {
    /// Starts the helper and waits for its hello. Call it before loading any
    /// secret: a restart later is by exec too, but the first helper then
    /// never even shared a parent that held one.
    pub fn start(command: HelperCommand) -> Result<Self, LauncherError> {
        let connection = Connection::start(&command)?;
        Ok(Self {
            command,
            current: Mutex::new(Current {
                connection: Some(connection),
                failures: 0,
                closed: false,
            }),
            next_id: AtomicU64::new(1),
        })
    }

    /// Runs `command` in a sandbox made from `spec`, through the helper, with
    /// each output stream captured up to `max_output` bytes (at most
    /// [`super::MAX_OUTPUT_LIMIT`]): what [`crate::Sandbox::run`] does, in
    /// the helper. The environment the profile's allowlist filters is this
    /// process's, filtered here before it is sent.
    ///
    /// When `cancel` fires, the helper is asked to kill the sandbox and the
    /// call returns [`LauncherError::Cancelled`] once it has (or the output,
    /// if the command ended first); fired before the call, nothing is sent.
    pub fn run(
        &self,
        spec: &SandboxSpec,
        command: &[OsString],
        max_output: usize,
        cancel: &CancelLaunch,
    ) -> Result<Output, LauncherError> {
        let env = crate::env::build(&spec.profile.env, std::env::vars_os(), &[]);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let launch = LaunchRequest {
            spec: spec.clone(),
            argv: command.to_vec(),
            env: env.into_iter().collect(),
            max_output,
        };
        let frame = encode(&Request { id, launch }, MAX_REQUEST).map_err(|e| match e {
            EncodeError::Json(e) => LauncherError::Encode(e),
            EncodeError::TooLarge { len, max } => LauncherError::TooLarge { len, max },
        })?;
        let (events, answer) = channel();
        if !cancel.watch(events.clone()) {
            return Err(LauncherError::Cancelled { may_have_run: false });
        }
        let answered = self.launch(id, &frame, events, &answer);
        cancel.unwatch();
        match answered {
            Answered::Launched(Outcome::Ran(output)) => Ok(output),
            Answered::Launched(Outcome::Refused { control, message }) => {
                Err(LauncherError::Refused { control, message })
            }
            Answered::Launched(Outcome::Cancelled) => {
                Err(LauncherError::Cancelled { may_have_run: true })
            }
            Answered::Rejected(rejection) => Err(LauncherError::Rejected(rejection)),
            Answered::Failed(e) => Err(e),
        }
    }

    /// Ends every launch in flight and starts no helper again: the helper's
    /// socket is closed, so it exits and its sandboxes die with it (each
    /// init has a parent-death signal). Calls in flight return
    /// [`LauncherError::Closed`] once the helper is gone; later ones at once.
    pub fn close(&self) {
        let mut current = lock(&self.current);
        current.closed = true;
        if let Some(connection) = &current.connection {
            let _ = lock(&connection.writer).shutdown(Shutdown::Both);
        }
    }

    /// Sends launch `id` and waits for its answer, sending a cancel when
    /// `events` says to.
    fn launch(
        &self,
        id: u64,
        frame: &[u8],
        events: Sender<Event>,
        answer: &Receiver<Event>,
    ) -> Answered {
        let connection = match self.register(id, events) {
            Ok(connection) => connection,
            Err(e) => return Answered::Failed(e),
        };
        if let Err(e) = connection.send(frame) {
            connection.forget(id);
            // A frame the helper did not read whole is never run.
            return Answered::Failed(self.died(false, format!("sending the request failed: {e}")));
        }
        loop {
            match answer.recv() {
                Ok(Event::Answer(answered)) => return answered,
                Ok(Event::Cancel) => {
                    let cancel = encode(&Cancel { cancel: CancelOf { id } }, MAX_REQUEST);
                    // If this fails, the helper is going: its end answers.
                    if let Ok(cancel) = cancel {
                        let _ = connection.send(&cancel);
                    }
                }
                Ok(Event::Ended) | Err(_) => {
                    return Answered::Failed(self.died(true, connection.cause()));
                }
            }
        }
    }

    /// The error of a call whose helper went away: closed, or died.
    fn died(&self, may_have_run: bool, cause: String) -> LauncherError {
        if lock(&self.current).closed {
            LauncherError::Closed
        } else {
            LauncherError::HelperDied { may_have_run, cause }
        }
    }

    /// The helper's PID, while one is running.
    pub fn helper_pid(&self) -> Option<u32> {
        let current = lock(&self.current);
        current.connection.as_ref().filter(|c| c.ended().is_none()).map(|c| c.pid)
    }

    /// Why the helper's namespace pool stopped making namespaces, as the
    /// helper last said (see [`crate::namespace_pool_failure`]).
    pub fn namespace_pool_failure(&self) -> Option<String> {
        let current = lock(&self.current);
        current.connection.as_ref().and_then(|c| c.calls().pool_failure.clone())
    }

    /// A live connection with `id` registered on it: the current helper, or a
    /// new one if it died (a helper found dead as the call registers is
    /// replaced once).
    fn register(&self, id: u64, events: Sender<Event>) -> Result<Arc<Connection>, LauncherError> {
        for _ in 0..2 {
            let connection = self.connection()?;
            if connection.register(id, events.clone()) {
                return Ok(connection);
            }
        }
        Err(LauncherError::HelperDied {
            may_have_run: false,
            cause: "it died as soon as it was started".to_owned(),
        })
    }

    /// The current helper, or a new one (after a pause when helpers keep
    /// dying without answering, so that a crash loop cannot spin).
    fn connection(&self) -> Result<Arc<Connection>, LauncherError> {
        let mut current = lock(&self.current);
        if current.closed {
            return Err(LauncherError::Closed);
        }
        if let Some(connection) = &current.connection {
            if connection.ended().is_none() {
                return Ok(connection.clone());
            }
            current.failures = if connection.calls().answered { 0 } else { current.failures + 1 };
            current.connection = None;
        }
        let pause = match current.failures {
            0 => Duration::ZERO,
            n => FIRST_PAUSE.saturating_mul(1 << (n - 1).min(10)).min(LONGEST_PAUSE),
        };
        // Callers wait here together: they would all need this helper.
        std::thread::sleep(pause);
        match Connection::start(&self.command) {
            Ok(connection) => {
                current.connection = Some(connection.clone());
                Ok(connection)
            }
            Err(e) => {
                current.failures += 1;
                Err(e)
            }
        }
    }
}

impl Drop for Launcher {
    /// Closes the socket: the helper exits, and its reader thread reaps it.
    fn drop(&mut self) {
        if let Some(connection) = &lock(&self.current).connection {
            let _ = lock(&connection.writer).shutdown(Shutdown::Both);
        }
    }
}

/// One helper process and the calls waiting for its answers.
struct Connection {
    pid: u32,
    writer: Mutex<UnixStream>,
    calls: Mutex<Calls>,
}

#[derive(Default)]
struct Calls {
    waiting: HashMap<u64, Sender<Event>>,
    /// Why the helper is gone, once it is: no call registers after that.
    ended: Option<String>,
    /// The helper answered at least one request.
    answered: bool,
    pool_failure: Option<String>,
}

/// What wakes a call waiting in [`Launcher::run`].
#[derive(Debug)]
pub(super) enum Event {
    Answer(Answered),
    /// Its [`CancelLaunch`] fired.
    Cancel,
    /// The helper is gone.
    Ended,
}

#[derive(Debug)]
pub(super) enum Answered {
    Launched(Outcome),
    Rejected(Rejection),
    /// Not answered by the helper.
    Failed(LauncherError),
}

impl Connection {
    /// Spawns a helper, waits for its hello, and starts the thread that reads
    /// its answers.
    fn start(command: &HelperCommand) -> Result<Arc<Self>, LauncherError> {
        let failed = |source| LauncherError::Start { program: command.program.clone(), source };
        let (mut child, stream) = command.spawn().map_err(failed)?;
        let reader = hello(&stream).and_then(|()| stream.try_clone());
        let reader = match reader {
            Ok(reader) => reader,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(e));
            }
        };
        let connection = Arc::new(Self {
            pid: child.id(),
            writer: Mutex::new(stream),
            calls: Mutex::new(Calls::default()),
        });
        let answers = connection.clone();
        std::thread::Builder::new()
            .name("warrant-sandbox-helper".to_owned())
            .spawn(move || answers.read_answers(reader, child))
            .map_err(failed)?;
        Ok(connection)
    }

    fn calls(&self) -> MutexGuard<'_, Calls> {
        lock(&self.calls)
    }

    fn ended(&self) -> Option<String> {
        self.calls().ended.clone()
    }

    fn cause(&self) -> String {
        self.ended().unwrap_or_else(|| "its answer was lost".to_owned())
    }

    /// Registers call `id`; false when the helper has ended.
    fn register(&self, id: u64, events: Sender<Event>) -> bool {
        let mut calls = self.calls();
        if calls.ended.is_some() {
            return false;
        }
        calls.waiting.insert(id, events);
        true
    }

    fn forget(&self, id: u64) {
        self.calls().waiting.remove(&id);
    }

    /// Writes one whole frame. On failure the socket is shut down: the helper
    /// drops the partial frame and exits, and the reader ends this connection.
    fn send(&self, frame: &[u8]) -> io::Result<()> {
        let mut writer = lock(&self.writer);
        let sent = write_frame(&mut *writer, frame);
        if sent.is_err() {
            let _ = writer.shutdown(Shutdown::Both);
        }
        sent
    }

    /// The reader thread: hands each answer to its call until the helper's
    /// socket ends or the helper breaks the protocol (then it is killed).
    /// Either way the helper is reaped and every waiting call fails.
    fn read_answers(self: Arc<Self>, reader: UnixStream, mut child: Child) {
        let mut input = BufReader::new(reader);
        let broken = loop {
            let body = match read_frame(&mut input, MAX_ANSWER) {
                Ok(Frame::Body(body)) => body,
                // Killed mid-answer reads as a cut frame: it died, it did not lie.
                Ok(Frame::End) | Err(_) => break None,
                Ok(Frame::Oversized(len)) => break Some(format!("it sent a frame of {len} bytes")),
            };
            let delivered = match serde_json::from_slice::<Answer>(&body) {
                Ok(Answer::Launched { id, outcome, namespace_pool_failure }) => {
                    self.deliver(id, Answered::Launched(outcome), namespace_pool_failure)
                }
                Ok(Answer::Rejected { id: Some(id), rejection }) => {
                    self.deliver(id, Answered::Rejected(rejection), None)
                }
                Ok(Answer::Rejected { id: None, rejection }) => {
                    break Some(format!("it rejected a frame of ours: {rejection}"));
                }
                Ok(Answer::Hello { .. }) => break Some("it said hello twice".to_owned()),
                Err(e) => break Some(format!("it sent a malformed answer: {e}")),
            };
            if !delivered {
                break Some("it answered a request that was not waiting".to_owned());
            }
        };
        // The helper has exited (its socket closed with it) or must: kill it
        // either way (a no-op on an exited one), then reap it.
        let _ = child.kill();
        let status = child.wait();
        let cause = match (broken, status) {
            (Some(broken), _) => format!("{broken}; it was killed"),
            (None, Ok(status)) => format!("{status}"),
            (None, Err(e)) => format!("it cannot be waited for: {e}"),
        };
        let mut calls = self.calls();
        calls.ended = Some(cause);
        for (_, waiting) in calls.waiting.drain() {
            let _ = waiting.send(Event::Ended);
        }
    }

    /// Hands `answer` to call `id`; false if no such call is waiting.
    fn deliver(&self, id: u64, answer: Answered, pool_failure: Option<String>) -> bool {
        let mut calls = self.calls();
        calls.answered = true;
        if pool_failure.is_some() {
            calls.pool_failure = pool_failure;
        }
        match calls.waiting.remove(&id) {
            Some(sender) => sender.send(Event::Answer(answer)).is_ok(),
            None => false,
        }
    }
}

/// Reads the helper's hello (within [`HELLO_TIMEOUT`]) and checks its protocol.
fn hello(stream: &UnixStream) -> io::Result<()> {
    stream.set_read_timeout(Some(HELLO_TIMEOUT))?;
    let frame = read_frame(&mut &*stream, MAX_ANSWER).map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            io::Error::new(e.kind(), format!("no hello within {HELLO_TIMEOUT:?}"))
        }
        _ => e,
    })?;
    stream.set_read_timeout(None)?;
    let answer = match frame {
        Frame::Body(body) => serde_json::from_slice::<Answer>(&body).ok(),
        Frame::End => {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "it exited without a hello"));
        }
        Frame::Oversized(_) => None,
    };
    match answer {
        Some(Answer::Hello { protocol }) if protocol == PROTOCOL => Ok(()),
        Some(Answer::Hello { protocol }) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it speaks protocol {protocol}, not {PROTOCOL}"),
        )),
        _ => Err(io::Error::new(io::ErrorKind::InvalidData, "its first frame was not a hello")),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
