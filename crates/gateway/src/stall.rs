//! Noticing a request body that stopped arriving.
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

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
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

    /// Some of the body arrived.
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
