//! Noticing a client that stalls: a request body that stops arriving, or
//! an answer the client stops taking.
//!
//! A client that sends a head with `Content-Length: 1000000` and then a
//! byte a minute holds a client socket and a socket to the app for as long
//! as it likes; a few thousand of them run the gateway (or the app) out of
//! file descriptors. The header-read timeout does not cover this: the head
//! is whole. nginx's answer is `client_body_timeout` (60 s between two
//! reads of the body); berth's is [`crate::GatewayConfig::body_read_timeout`].
//!
//! Why a period rather than a timer per read: a body streams in thousands
//! of pieces, and setting and clearing a timer for each costs a lock on the
//! runtime's timer wheel each time. [`StallTimer`] arms one sleep per
//! period and only notes, per piece, that progress was made; a stall is
//! therefore noticed between one and two periods after the last piece.
//!
//! The other direction has the same hole: a client that asks for a large
//! answer and never reads it keeps its sockets once the kernel's buffers
//! are full. [`write_all_or_stall`] (lean path) and [`SendStallIo`]
//! (hyper's path, upgrades included) give up after
//! [`crate::GatewayConfig::response_write_timeout`] with nothing taken, as
//! nginx's `send_timeout` does. Their timer is armed only when a write
//! finds the socket full, which never happens in a common exchange.

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use crate::body::{BoxBody, BoxError};

/// Fires once a whole period has passed with no [`StallTimer::progress`].
pub(crate) struct StallTimer {
    sleep: Pin<Box<Sleep>>,
    period: Duration,
    progressed: bool,
}

impl StallTimer {
    /// Armed now, for `period`.
    pub(crate) fn new(period: Duration) -> Self {
        Self {
            sleep: Box::pin(tokio::time::sleep(period)),
            period,
            progressed: false,
        }
    }

    /// Some bytes moved: the stall, if any, is over.
    pub(crate) fn progress(&mut self) {
        self.progressed = true;
    }

    /// Ready when a whole period passed without progress; otherwise the
    /// timer re-arms itself for the next period.
    pub(crate) fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            ready!(self.sleep.as_mut().poll(cx));
            if !std::mem::take(&mut self.progressed) {
                return Poll::Ready(());
            }
            let next = Instant::now() + self.period;
            self.sleep.as_mut().reset(next);
        }
    }

    /// Resolves when the body has stalled.
    pub(crate) async fn stalled(&mut self) {
        poll_fn(|cx| self.poll_stalled(cx)).await;
    }
}

/// A request body that ends in an error once it stalls, so whatever is
/// sending it to the app gives up. The error is marked in `stalled` as
/// well: by the time it surfaces from the client that was sending the
/// body, it may be wrapped past recognition.
pub(crate) struct StallLimitedBody {
    inner: BoxBody,
    period: Duration,
    /// Armed when the body is first found waiting: until the app's side
    /// asks for the body, its pace is not the client's doing.
    timer: Option<StallTimer>,
    stalled: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body stopped arriving")]
pub(crate) struct BodyStalled;

impl StallLimitedBody {
    pub(crate) fn new(inner: BoxBody, period: Duration, stalled: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            period,
            timer: None,
            stalled,
        }
    }
}

impl Body for StallLimitedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(timer) = this.timer.as_mut() {
                    timer.progress();
                }
                Poll::Ready(frame)
            }
            Poll::Pending => match this
                .timer
                .get_or_insert_with(|| StallTimer::new(this.period))
                .poll_stalled(cx)
            {
                Poll::Ready(()) => {
                    this.stalled.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(Box::new(BodyStalled))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Writes all of `buf` to the client, or fails with `TimedOut` once it has
/// taken nothing for a whole period.
pub(crate) async fn write_all_or_stall(
    stream: &TcpStream,
    mut buf: &[u8],
    period: Duration,
) -> io::Result<()> {
    let mut timer: Option<StallTimer> = None;
    while !buf.is_empty() {
        match stream.try_write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                if let Some(timer) = timer.as_mut() {
                    timer.progress();
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let timer = timer.get_or_insert_with(|| StallTimer::new(period));
                tokio::select! {
                    biased;
                    ready = stream.writable() => ready?,
                    () = timer.stalled() => return Err(client_stopped_reading()),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn client_stopped_reading() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")
}

/// A client connection whose writes fail with `TimedOut` once the client
/// has taken nothing for a whole period; reads pass through.
pub(crate) struct SendStallIo<T> {
    inner: T,
    period: Duration,
    /// Armed at the first write that finds the socket full.
    timer: Option<StallTimer>,
}

impl<T> SendStallIo<T> {
    pub(crate) fn new(inner: T, period: Duration) -> Self {
        Self {
            inner,
            period,
            timer: None,
        }
    }

    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(Ok(n)) => {
                if let Some(timer) = self.timer.as_mut() {
                    timer.progress();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let period = self.period;
                match self
                    .timer
                    .get_or_insert_with(|| StallTimer::new(period))
                    .poll_stalled(cx)
                {
                    Poll::Ready(()) => Poll::Ready(Err(client_stopped_reading())),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SendStallIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SendStallIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.after_write(cx, written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.after_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_silent_body_stalls_after_one_period() {
        let start = Instant::now();
        let mut timer = StallTimer::new(Duration::from_secs(60));
        timer.stalled().await;
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn progress_in_a_period_buys_the_next_one() {
        let start = Instant::now();
        let mut timer = StallTimer::new(Duration::from_secs(60));
        // A piece at 59 s: the check at 60 s sees progress and re-arms;
        // nothing after it, so the stall is noticed at 120 s.
        tokio::time::sleep(Duration::from_secs(59)).await;
        timer.progress();
        timer.stalled().await;
        assert_eq!(start.elapsed(), Duration::from_secs(120));
    }
}
