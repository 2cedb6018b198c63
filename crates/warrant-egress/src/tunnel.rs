//! The byte relay of a CONNECT tunnel: both directions until both sides have
//! closed, the tunnel sat idle for the idle timeout, or the proxy shuts down.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::CancellationToken;

use crate::meter::{Direction, Tally};

/// Relays until the tunnel ends; returns why it ended abnormally, if it did.
/// Bytes are counted into `tally` as they are read (client → upstream is up).
pub(crate) async fn relay<C, U>(
    client: C,
    upstream: U,
    idle: Duration,
    tally: Arc<Tally>,
    shutdown: &CancellationToken,
) -> Option<String>
where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let mut client = Watched::new(client, Arc::clone(&tally), Direction::Up, None);
    let mut upstream = Watched::new(upstream, Arc::clone(&tally), Direction::Down, None);
    tokio::select! {
        result = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
            result.err().map(|err| format!("tunnel failed: {err}"))
        }
        () = tally.idle_for(idle) => Some(format!("tunnel idle for {idle:?}")),
        () = shutdown.cancelled() => Some("proxy shutting down".to_owned()),
    }
}

/// A stream that counts the bytes read from it (and, if told, those written
/// to it) and notes the activity.
pub(crate) struct Watched<S> {
    inner: S,
    tally: Arc<Tally>,
    direction: Direction,
    writes: Option<Direction>,
}

impl<S> Watched<S> {
    /// Reads count as `reads`; writes as `writes`, if given.
    pub(crate) fn new(
        inner: S,
        tally: Arc<Tally>,
        reads: Direction,
        writes: Option<Direction>,
    ) -> Self {
        Self { inner, tally, direction: reads, writes }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            this.tally.moved(this.direction, read);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let (Some(direction), Poll::Ready(Ok(written))) = (this.writes, &result)
            && *written > 0
        {
            this.tally.moved(direction, *written);
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
