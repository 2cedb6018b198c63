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
    let mut client = Watched { inner: client, tally: Arc::clone(&tally), direction: Direction::Up };
    let mut upstream =
        Watched { inner: upstream, tally: Arc::clone(&tally), direction: Direction::Down };
    tokio::select! {
        result = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
            result.err().map(|err| format!("tunnel failed: {err}"))
        }
        () = tally.idle_for(idle) => Some(format!("tunnel idle for {idle:?}")),
        () = shutdown.cancelled() => Some("proxy shutting down".to_owned()),
    }
}

/// A stream that counts the bytes read from it and notes the activity.
struct Watched<S> {
    inner: S,
    tally: Arc<Tally>,
    direction: Direction,
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
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
