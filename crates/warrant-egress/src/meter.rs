//! Counting what an allowed exchange moves, bounding how long it may stall,
//! and recording how it ended, even when it ends by being dropped.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::gate::{EgressEvent, EgressRequest, Gate, Outcome};
use crate::proxy::Shared;

/// Bytes moved by one exchange, when they last moved, and its first error.
#[derive(Debug)]
pub(crate) struct Tally {
    started: Instant,
    /// Milliseconds from `started` to the last byte moved.
    last_ms: AtomicU64,
    up: AtomicU64,
    down: AtomicU64,
    /// The response body reached its end (HTTP only).
    down_complete: AtomicBool,
    error: Mutex<Option<String>>,
}

/// Which way a metered body flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Up,
    Down,
}

/// No body bytes moved for the idle timeout.
#[derive(Debug, thiserror::Error)]
#[error("no body bytes for {0:?}")]
pub(crate) struct IdleTimeout(Duration);

/// A body that counts its data bytes, fails after `idle` without a frame, and
/// may own a [`Finish`] so the exchange is recorded when the body is dropped.
pub(crate) struct Metered<B: Body<Data = Bytes> + Unpin> {
    inner: B,
    tally: Arc<Tally>,
    direction: Direction,
    idle: Duration,
    /// Armed at the first wait, so time before the body is polled is free.
    timer: Option<Pin<Box<Sleep>>>,
    done: bool,
    _finish: Option<Box<dyn Send + 'static>>,
}

/// Records [`EgressEvent::Finished`] when dropped, wherever that happens: at
/// the end of a body, of a tunnel, on an error path, or when the client goes
/// away and hyper drops the request's future.
pub(crate) struct Finish<G: Gate> {
    shared: Arc<Shared<G>>,
    request: EgressRequest,
    pub(crate) tally: Arc<Tally>,
    /// The status the client received, once one was sent.
    pub(crate) status: Option<u16>,
}

impl Tally {
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            up: AtomicU64::new(0),
            down: AtomicU64::new(0),
            down_complete: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    /// Counts `len` bytes moved in `direction`, now.
    pub(crate) fn moved(&self, direction: Direction, len: usize) {
        let counter = match direction {
            Direction::Up => &self.up,
            Direction::Down => &self.down,
        };
        counter.fetch_add(u64::try_from(len).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.touch();
    }

    /// Restarts the idle clock, as if a byte had just moved.
    pub(crate) fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Completes once no byte has moved either way for `idle`.
    pub(crate) async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }

    /// Runs `work` unless no byte moves for `idle` first (the clock starts
    /// now); `None` then.
    pub(crate) async fn unless_idle<T>(
        &self,
        idle: Duration,
        work: impl Future<Output = T>,
    ) -> Option<T> {
        self.touch();
        tokio::select! {
            value = work => Some(value),
            () = self.idle_for(idle) => None,
        }
    }

    /// Keeps the first error; later ones are consequences.
    pub(crate) fn note_error(&self, error: String) {
        if let Ok(mut slot) = self.error.lock()
            && slot.is_none()
        {
            *slot = Some(error);
        }
    }
}

impl<B> Metered<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    pub(crate) fn new(inner: B, tally: Arc<Tally>, direction: Direction, idle: Duration) -> Self {
        Self { inner, tally, direction, idle, timer: None, done: false, _finish: None }
    }

    /// Hands the exchange's record to this body: it is written when the body
    /// is dropped.
    pub(crate) fn owning<G: Gate>(mut self, finish: Finish<G>) -> Self {
        self._finish = Some(Box::new(finish));
        self
    }

    /// Notes why the exchange failed, from outside the body (a filter).
    pub(crate) fn note_error(&self, error: String) {
        self.tally.note_error(error);
    }

    fn end(&mut self) {
        self.done = true;
        if self.direction == Direction::Down {
            self.tally.down_complete.store(true, Ordering::Relaxed);
        }
    }
}

impl<B> Body for Metered<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.tally.moved(this.direction, frame.data_ref().map_or(0, Bytes::len));
                if let Some(timer) = this.timer.as_mut() {
                    timer.as_mut().reset(Instant::now() + this.idle);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => {
                let err = err.into();
                this.tally.note_error(format!("body failed: {err}"));
                this.done = true;
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(None) => {
                this.end();
                Poll::Ready(None)
            }
            Poll::Pending => {
                let idle = this.idle;
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let err = IdleTimeout(this.idle);
                this.tally.note_error(err.to_string());
                this.done = true;
                Poll::Ready(Some(Err(Box::new(err))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body<Data = Bytes> + Unpin> Drop for Metered<B> {
    fn drop(&mut self) {
        // Dropped unpolled (a HEAD or 304 response): whole if it had nothing.
        if self.direction == Direction::Down && !self.done && self.inner.is_end_stream() {
            self.tally.down_complete.store(true, Ordering::Relaxed);
        }
        // `_finish` is dropped after this body, so it sees the flag.
    }
}

impl<G: Gate> Finish<G> {
    pub(crate) fn new(shared: Arc<Shared<G>>, request: EgressRequest) -> Self {
        Self { shared, request, tally: Arc::new(Tally::new()), status: None }
    }

    /// The exchange or tunnel this records.
    pub(crate) fn request(&self) -> &EgressRequest {
        &self.request
    }

    /// The exchange failed with `status` sent to the client.
    pub(crate) fn fail(&mut self, status: u16, error: String) {
        self.status = Some(status);
        self.tally.note_error(error);
    }
}

impl<G: Gate> Drop for Finish<G> {
    fn drop(&mut self) {
        let mut error = self.tally.error.lock().ok().and_then(|mut slot| slot.take());
        let http = !matches!(self.request.kind, crate::gate::RequestKind::Connect);
        if error.is_none() && self.status.is_none() {
            error = Some("client went away before a response".to_owned());
        } else if error.is_none() && http && !self.tally.down_complete.load(Ordering::Relaxed) {
            error = Some("response body cut short".to_owned());
        }
        let outcome = Outcome {
            status: self.status,
            bytes_up: self.tally.up.load(Ordering::Relaxed),
            bytes_down: self.tally.down.load(Ordering::Relaxed),
            duration: self.tally.started.elapsed(),
            error,
        };
        let event = EgressEvent::Finished { request: self.request.clone(), outcome };
        let gate = Arc::clone(&self.shared.gate);
        let record = async move {
            if let Err(err) = gate.record(event).await {
                tracing::warn!(
                    error = &err as &dyn std::error::Error,
                    "recording the end of an exchange failed"
                );
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(self.shared.tasks.spawn_on(record, &handle)),
            Err(_) => tracing::warn!("no runtime to record the end of an exchange"),
        }
    }
}
