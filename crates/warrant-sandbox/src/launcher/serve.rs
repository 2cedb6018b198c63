//! The helper's side: reads launch requests from its socket and runs each on
//! a thread of its own, at most [`ServeOptions::max_concurrent`] at once, and
//! cancels a running launch when asked (its sandbox is killed).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, PipeReader, PipeWriter, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::wire::{
    Answer, Cancel, Frame, LaunchRequest, MAX_ANSWER, MAX_OUTPUT_LIMIT, MAX_REQUEST, Outcome,
    PROTOCOL, Rejection, Request, RequestId, encode, read_frame, skip, write_frame,
};
use crate::launch::Sandbox;

/// Limits of one helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    /// Launches running at once; a request beyond it is answered busy.
    pub max_concurrent: usize,
    /// Depth of the namespace pool enabled at the first request (0: none).
    pub namespaces_ahead: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self { max_concurrent: 32, namespaces_ahead: 2 }
    }
}

/// The helper's entry point, for a hidden subcommand of the caller's binary,
/// called before anything else: closes every inherited descriptor but stdio,
/// takes the socket from stdin (and puts `/dev/null` there), then [`serve`]s.
/// Fails when stdin is not a Unix socket (run by hand from a terminal).
pub fn serve_stdin(options: ServeOptions) -> ExitCode {
    match take_stdin() {
        Ok(socket) => serve(socket, options),
        Err(e) => {
            eprintln!("warrant: sandbox helper: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Says hello, then answers requests until the socket ends (the caller exited
/// or died); returns then, and the process should exit: its sandboxes die
/// with it (each init has a parent-death signal).
pub fn serve(socket: UnixStream, options: ServeOptions) -> ExitCode {
    let writer = match socket.try_clone() {
        Ok(writer) => Arc::new(Mutex::new(writer)),
        Err(e) => {
            eprintln!("warrant: sandbox helper: cannot use the socket: {e}");
            return ExitCode::FAILURE;
        }
    };
    let helper = Helper {
        writer,
        running: Arc::new(AtomicUsize::new(0)),
        cancels: Arc::new(Mutex::new(HashMap::new())),
        options,
    };
    helper.answer(&Answer::Hello { protocol: PROTOCOL });
    let mut input = BufReader::new(socket);
    loop {
        match read_frame(&mut input, MAX_REQUEST) {
            Ok(Frame::Body(body)) => helper.accept(&body),
            Ok(Frame::Oversized(len)) => {
                if skip(&mut input, len).is_err() {
                    break;
                }
                let max = u64::try_from(MAX_REQUEST).unwrap_or(u64::MAX);
                helper.answer(&Answer::Rejected {
                    id: None,
                    rejection: Rejection::Oversized { len, max },
                });
            }
            // The caller is gone, or cut a frame short as it went: nothing
            // from a partial frame runs.
            Ok(Frame::End) | Err(_) => break,
        }
    }
    ExitCode::SUCCESS
}

/// The write end of each running launch's cancel pipe, by request id: a
/// byte written there makes the launch kill its sandbox.
type Cancels = Arc<Mutex<HashMap<u64, PipeWriter>>>;

struct Helper {
    writer: Arc<Mutex<UnixStream>>,
    running: Arc<AtomicUsize>,
    cancels: Cancels,
    options: ServeOptions,
}

impl Helper {
    /// Runs a valid launch request on a thread of its own, or cancels the
    /// launch a valid cancel names; rejects anything else.
    fn accept(&self, body: &[u8]) {
        let request = match parse(body) {
            Ok(Parsed::Launch(request)) => *request,
            Ok(Parsed::Cancel(id)) => return self.cancel(id),
            Err((id, rejection)) => return self.answer(&Answer::Rejected { id, rejection }),
        };
        let id = request.id;
        let cancelled = match self.cancellable(id) {
            Ok(pipe) => pipe,
            Err(rejection) => return self.answer(&Answer::Rejected { id: Some(id), rejection }),
        };
        let Some(slot) = Slot::take(&self.running, self.options.max_concurrent) else {
            lock(&self.cancels).remove(&id);
            let rejection = Rejection::Busy { max: self.options.max_concurrent };
            return self.answer(&Answer::Rejected { id: Some(id), rejection });
        };
        if self.options.namespaces_ahead > 0 {
            crate::pool::enable_namespace_pool(self.options.namespaces_ahead);
        }
        let (writer, cancels) = (self.writer.clone(), self.cancels.clone());
        let spawned = std::thread::Builder::new().name(format!("launch-{id}")).spawn(move || {
            let outcome = launch(request.launch, &cancelled);
            drop(slot);
            // Its cancel pipe gone from the map means a cancel took it: the
            // launch was cancelled, whether or not the command had just ended.
            let outcome = match lock(&cancels).remove(&id) {
                Some(_) => outcome,
                None => Outcome::Cancelled,
            };
            let namespace_pool_failure = crate::pool::namespace_pool_failure();
            send(&writer, &Answer::Launched { id, outcome, namespace_pool_failure });
        });
        if let Err(e) = spawned {
            lock(&self.cancels).remove(&id);
            let message = format!("the helper cannot start a thread for the launch: {e}");
            let outcome = Outcome::Refused { control: None, message };
            self.answer(&Answer::Launched { id, outcome, namespace_pool_failure: None });
        }
    }

    /// A cancel pipe for launch `id`, its write end kept in the map; refused
    /// when a launch of that id is running (each cancel names one launch).
    fn cancellable(&self, id: u64) -> Result<PipeReader, Rejection> {
        let mut cancels = lock(&self.cancels);
        if cancels.contains_key(&id) {
            let reason = format!("a launch with id {id} is already running");
            return Err(Rejection::Invalid { reason });
        }
        let (read, write) = io::pipe().map_err(|e| Rejection::Invalid {
            reason: format!("the helper cannot make a cancel pipe: {e}"),
        })?;
        cancels.insert(id, write);
        Ok(read)
    }

    /// Stops launch `id` if it is running; a cancel for any other id (one
    /// that just ended, was refused, or never was) is ignored, and a cancel
    /// never starts anything.
    fn cancel(&self, id: u64) {
        if let Some(mut pipe) = lock(&self.cancels).remove(&id) {
            // A pipe's buffer takes one byte: this write cannot block.
            let _ = pipe.write_all(&[1]);
        }
    }

    fn answer(&self, answer: &Answer) {
        send(&self.writer, answer);
    }
}

/// One of the `max` launches that may run at once, released on drop.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(running: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| Self(running.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a client's frame asks.
enum Parsed {
    Launch(Box<Request>),
    Cancel(u64),
}

/// A request, fully checked; or the id to address a rejection to (when the
/// frame has one) and why. Nothing of a rejected frame is used but its id.
fn parse(body: &[u8]) -> Result<Parsed, (Option<u64>, Rejection)> {
    if let Ok(Cancel { cancel }) = serde_json::from_slice::<Cancel>(body) {
        return Ok(Parsed::Cancel(cancel.id));
    }
    let request: Request = serde_json::from_slice(body).map_err(|e| {
        let id = serde_json::from_slice::<RequestId>(body).ok().map(|r| r.id);
        (id, Rejection::Malformed { reason: e.to_string() })
    })?;
    let invalid = |reason: String| (Some(request.id), Rejection::Invalid { reason });
    let launch = &request.launch;
    launch.spec.profile.validate().map_err(|e| invalid(e.to_string()))?;
    if launch.max_output > MAX_OUTPUT_LIMIT {
        let max = MAX_OUTPUT_LIMIT;
        return Err(invalid(format!("an output cap of {} is over {max}", launch.max_output)));
    }
    for (name, _) in &launch.env {
        let name = name.as_bytes();
        if name.is_empty() || name.contains(&b'=') || name.contains(&0) {
            let name = String::from_utf8_lossy(name);
            return Err(invalid(format!("`{name}` is not an environment variable name")));
        }
    }
    Ok(Parsed::Launch(Box::new(request)))
}

/// What [`Sandbox::run`] does, with the caller's filtered environment, until
/// `cancel` is readable (then the sandbox is killed, or not started).
fn launch(request: LaunchRequest, cancel: &PipeReader) -> Outcome {
    let LaunchRequest { spec, argv, env, max_output } = request;
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let sandbox = Sandbox::new(&spec)?;
        if cancelled(cancel) {
            return Ok(None);
        }
        sandbox.run_with_env(&argv, max_output, Some(env), Some(cancel.as_fd())).map(Some)
    }));
    match ran {
        Ok(Ok(Some(output))) => Outcome::Ran(output),
        Ok(Ok(None)) => Outcome::Cancelled,
        Ok(Err(e)) => Outcome::Refused { control: e.control(), message: e.to_string() },
        Err(_) => Outcome::Refused {
            control: None,
            message: "the launch panicked in the helper; a sandbox it started was killed"
                .to_owned(),
        },
    }
}

/// Whether a cancel has been written to `pipe` (without waiting).
fn cancelled(pipe: &PipeReader) -> bool {
    let mut polled = [libc::pollfd { fd: pipe.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
    crate::sys::poll(&mut polled, Some(std::time::Duration::ZERO)).is_ok_and(|n| n > 0)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes one answer whole. An answer too large to send is replaced by a
/// refusal; a write that fails means the caller is gone, which the read
/// loop sees next.
fn send(writer: &Mutex<UnixStream>, answer: &Answer) {
    let frame = encode(answer, MAX_ANSWER).or_else(|e| {
        let Answer::Launched { id, .. } = answer else { return Err(e) };
        let outcome = Outcome::Refused { control: None, message: format!("the answer: {e}") };
        encode(&Answer::Launched { id: *id, outcome, namespace_pool_failure: None }, MAX_ANSWER)
    });
    if let Ok(frame) = frame {
        let mut writer = lock(writer);
        let _ = write_frame(&mut *writer, &frame);
    }
}

/// Closes every inherited descriptor but stdio, and takes stdin as the socket.
fn take_stdin() -> io::Result<UnixStream> {
    crate::context::close_all_except(&[0, 1, 2])?;
    let socket = UnixStream::from(io::stdin().as_fd().try_clone_to_owned()?);
    socket.local_addr().map_err(|e| {
        io::Error::new(e.kind(), format!("stdin is not a Unix socket from its launcher: {e}"))
    })?;
    let null = File::open("/dev/null")?;
    crate::sys::dup2(null.as_raw_fd(), 0)?;
    Ok(socket)
}
