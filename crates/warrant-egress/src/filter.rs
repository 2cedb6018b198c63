//! Response bodies the gate filters ([`Gate::filter_response`]): every data
//! frame passes through its [`ResponseFilter`] on the way to the client, and
//! the body's length is checked to be kept.
//!
//! [`Gate::filter_response`]: crate::Gate::filter_response

use std::pin::Pin;
use std::task::{Context, Poll};

use http::HeaderMap;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};

use crate::gate::ResponseFilter;
use crate::meter::Metered;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The filter wrote another number of bytes than it was given.
#[derive(Debug, thiserror::Error)]
#[error("the response filter changed the body's length ({given} bytes in, {written} out)")]
struct LengthChanged {
    given: u64,
    written: u64,
}

/// A response body passed through a [`ResponseFilter`].
pub(crate) struct Filtered {
    inner: Metered<Incoming>,
    filter: Box<dyn ResponseFilter>,
    /// Bytes taken from `inner`, and bytes the filter wrote.
    given: u64,
    written: u64,
    /// The upstream's body ended (or failed): nothing more is read.
    ended: bool,
    /// Trailers that came after the data, sent after what the filter held.
    trailers: Option<HeaderMap>,
}

impl Filtered {
    pub(crate) fn new(inner: Metered<Incoming>, filter: Box<dyn ResponseFilter>) -> Self {
        Self { inner, filter, given: 0, written: 0, ended: false, trailers: None }
    }

    /// The filter broke the length contract: noted for the exchange's
    /// record, and the body fails (the client's connection is cut).
    fn length_changed(&self) -> BoxError {
        let error = LengthChanged { given: self.given, written: self.written };
        self.inner.note_error(error.to_string());
        Box::new(error)
    }

    fn held(&self) -> u64 {
        self.given.saturating_sub(self.written)
    }

    /// The end of the upstream's body: what the filter still holds, checked
    /// for length.
    fn finish(&mut self) -> Option<Result<Frame<Bytes>, BoxError>> {
        self.ended = true;
        let mut out = Vec::new();
        self.filter.finish(&mut out);
        self.written = self.written.saturating_add(len(&out));
        if self.written != self.given {
            return Some(Err(self.length_changed()));
        }
        (!out.is_empty()).then(|| Ok(Frame::data(Bytes::from(out))))
    }
}

fn len(bytes: &[u8]) -> u64 {
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

impl Body for Filtered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => match this.finish() {
                    Some(frame) => return Poll::Ready(Some(frame)),
                    None => continue,
                },
                Poll::Ready(Some(Err(err))) => {
                    // Cut short: what the filter holds back stays held.
                    this.ended = true;
                    return Poll::Ready(Some(Err(err)));
                }
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            match frame.into_data() {
                Ok(data) => {
                    this.given = this.given.saturating_add(len(&data));
                    let mut out = Vec::with_capacity(data.len());
                    this.filter.push(&data, &mut out);
                    this.written = this.written.saturating_add(len(&out));
                    // Caught at once: more than given would overrun the framing.
                    if this.written > this.given {
                        this.ended = true;
                        return Poll::Ready(Some(Err(this.length_changed())));
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                    }
                }
                Err(frame) => {
                    this.trailers = frame.into_trailers().ok();
                    if let Some(frame) = this.finish() {
                        return Poll::Ready(Some(frame));
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.ended {
            return SizeHint::with_exact(0);
        }
        match self.inner.size_hint().exact() {
            Some(rest) => SizeHint::with_exact(rest.saturating_add(self.held())),
            None => SizeHint::default(),
        }
    }
}
