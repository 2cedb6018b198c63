//! The helper's side: reads launch requests from its socket and runs each on
//! a thread of its own, at most [`ServeOptions::max_concurrent`] at once.

use std::fs::File;
use std::io::{self, BufReader};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::wire::{
    Answer, Frame, LaunchRequest, MAX_ANSWER, MAX_OUTPUT_LIMIT, MAX_REQUEST, Outcome, PROTOCOL,
    Rejection, Request, RequestId, encode, read_frame, skip, write_frame,
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
    let helper = Helper { writer, running: Arc::new(AtomicUsize::new(0)), options };
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

struct Helper {
    writer: Arc<Mutex<UnixStream>>,
    running: Arc<AtomicUsize>,
    options: ServeOptions,
}

impl Helper {
    /// Runs a valid request on a thread of its own; rejects anything else.
    fn accept(&self, body: &[u8]) {
        let request = match parse(body) {
            Ok(request) => request,
            Err((id, rejection)) => return self.answer(&Answer::Rejected { id, rejection }),
        };
        let id = request.id;
        let Some(slot) = Slot::take(&self.running, self.options.max_concurrent) else {
            let rejection = Rejection::Busy { max: self.options.max_concurrent };
            return self.answer(&Answer::Rejected { id: Some(id), rejection });
        };
        if self.options.namespaces_ahead > 0 {
            crate::pool::enable_namespace_pool(self.options.namespaces_ahead);
        }
        let writer = self.writer.clone();
        let spawned = std::thread::Builder::new().name(format!("launch-{id}")).spawn(move || {
            let outcome = launch(request.launch);
            drop(slot);
            let namespace_pool_failure = crate::pool::namespace_pool_failure();
            send(&writer, &Answer::Launched { id, outcome, namespace_pool_failure });
        });
        if let Err(e) = spawned {
            let message = format!("the helper cannot start a thread for the launch: {e}");
            let outcome = Outcome::Refused { control: None, message };
            self.answer(&Answer::Launched { id, outcome, namespace_pool_failure: None });
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

/// A request, fully checked; or the id to address a rejection to (when the
/// frame has one) and why. Nothing of a rejected frame is used but its id.
fn parse(body: &[u8]) -> Result<Request, (Option<u64>, Rejection)> {
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
    Ok(request)
}

/// What [`Sandbox::run`] does, with the caller's filtered environment.
fn launch(request: LaunchRequest) -> Outcome {
    let LaunchRequest { spec, argv, env, max_output } = request;
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Sandbox::new(&spec).and_then(|sandbox| sandbox.run_with_env(&argv, max_output, Some(env)))
    }));
    match ran {
        Ok(Ok(output)) => Outcome::Ran(output),
        Ok(Err(e)) => Outcome::Refused { control: e.control(), message: e.to_string() },
        Err(_) => Outcome::Refused {
            control: None,
            message: "the launch panicked in the helper; a sandbox it started was killed"
                .to_owned(),
        },
    }
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
        let mut writer = writer.lock().unwrap_or_else(PoisonError::into_inner);
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
