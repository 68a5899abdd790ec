//! Connections to apps.
//!
//! A client connection keeps the upstream connection it last used and
//! drives it in its own task ([`ClientUpstreams::drive`]), so a request goes
//! from the client's socket to the app's and back without handing off to
//! another task or thread. A shared pool (hyper's client) costs a channel
//! send, a oneshot and a cross-thread wake each way; the profile of the
//! proxied path showed them as the largest part of the gateway's own CPU
//! per request. When a client connection ends, its idle upstream
//! connections are parked in the [`IdlePool`] for the next client
//! connection to the same app.
//!
//! Reuse is keyed on the app's address and start generation
//! ([`crate::Upstream`]): a connection to a container that has stopped is
//! never offered to its successor, even at the same address, since a
//! stopped container's sockets can vanish without a FIN reaching berth.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::body::BoxBody;
use crate::directory::Upstream;

type Sender = http1::SendRequest<BoxBody>;
type Connection = Pin<Box<http1::Connection<TokioIo<TcpStream>, BoxBody>>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A parked connection older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Parked connections kept per upstream at most.
const MAX_IDLE_PER_UPSTREAM: usize = 256;
/// How long a request waits for its kept connection to finish the previous
/// exchange before it opens another.
const READY_WAIT: Duration = Duration::from_secs(1);

/// Why a request could not be sent to the app.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect to the app: {0}")]
    Connect(std::io::Error),
    #[error("connecting to the app timed out")]
    ConnectTimeout,
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

/// Idle connections to apps that no client connection holds, by the app
/// start they go to: the next client connection to the same start takes
/// one. Both HTTP/1 paths park theirs here: hyper's client connections
/// ([`IdlePool`]) and the lean path's sockets.
pub(crate) struct Parking<T> {
    idle: Mutex<HashMap<Upstream, Vec<(T, Instant)>>>,
}

impl<T> Default for Parking<T> {
    fn default() -> Self {
        Self {
            idle: Mutex::default(),
        }
    }
}

impl<T> Parking<T> {
    /// The most recently parked connection to `upstream` that is not too
    /// old and that `usable` accepts (it checks the app has not closed it
    /// while it was parked); the ones it refuses are closed.
    pub(crate) fn take(
        &self,
        upstream: Upstream,
        mut usable: impl FnMut(&mut T) -> bool,
    ) -> Option<T> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let parked = idle.get_mut(&upstream)?;
        while let Some((mut conn, since)) = parked.pop() {
            if since.elapsed() < IDLE_TIMEOUT && usable(&mut conn) {
                return Some(conn);
            }
        }
        None
    }

    /// Parks `conn`, which must have finished its last exchange.
    pub(crate) fn park(&self, upstream: Upstream, conn: T) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // Parking is rare (once per client connection), so it also sweeps.
        idle.retain(|_, parked| {
            parked.retain(|(_, since)| since.elapsed() < IDLE_TIMEOUT);
            !parked.is_empty()
        });
        let parked = idle.entry(upstream).or_default();
        if parked.len() < MAX_IDLE_PER_UPSTREAM {
            parked.push((conn, Instant::now()));
        }
    }
}

/// Idle HTTP/1 client connections of hyper's path.
#[derive(Default)]
pub struct IdlePool {
    parked: Parking<(Sender, Connection)>,
}

impl IdlePool {
    /// The most recently parked live connection to `upstream`, if any.
    fn take(&self, upstream: Upstream) -> Option<(Sender, Connection)> {
        self.parked.take(upstream, |(sender, conn)| {
            // Nobody polled it while parked: let it read a close the app
            // sent meanwhile before it is trusted with a request.
            let mut cx = Context::from_waker(Waker::noop());
            conn.as_mut().poll(&mut cx).is_pending() && sender.is_ready()
        })
    }

    fn park(&self, upstream: Upstream, sender: Sender, conn: Connection) {
        self.parked.park(upstream, (sender, conn));
    }
}

/// The upstream connections of one client connection. Cheap to clone; all
/// clones belong to the one task that serves the client connection.
#[derive(Clone, Default)]
pub struct ClientUpstreams {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// The connection the next request tries first, when it is idle.
    kept: Option<Kept>,
    /// Every open upstream connection of this client connection, by link
    /// number, polled by [`ClientUpstreams::drive`].
    conns: Vec<(u64, Connection)>,
    next_link: u64,
    driver: Option<Waker>,
}

struct Kept {
    upstream: Upstream,
    link: u64,
    sender: Sender,
}

impl ClientUpstreams {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Polls this client connection's upstream connections; never resolves.
    /// Run it in the client connection's task, beside the server side.
    pub fn drive(&self) -> impl Future<Output = ()> + Send + '_ {
        std::future::poll_fn(move |cx| {
            let mut state = self.state();
            state.driver = Some(cx.waker().clone());
            // A finished connection is closed (by the app, an error, or
            // because no sender is left); drop it.
            state
                .conns
                .retain_mut(|(_, conn)| conn.as_mut().poll(cx).is_pending());
            Poll::Pending
        })
    }

    /// Sends `req` to `upstream` over the kept connection, a parked one, or
    /// a new one. A request the kept or parked connection could not take
    /// (it closed first) is sent again over a new connection; one already
    /// written is not, since its body may be gone.
    pub async fn send(
        &self,
        pool: &IdlePool,
        upstream: Upstream,
        req: Request<BoxBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let req = match self.reusable(pool, upstream).await {
            Some((link, mut sender)) => match sender.try_send_request(req).await {
                Ok(resp) => {
                    self.keep(upstream, link, sender);
                    return Ok(resp);
                }
                Err(mut e) => match e.take_message() {
                    Some(req) => req,
                    None => return Err(e.into_error().into()),
                },
            },
            None => req,
        };
        let (link, mut sender) = self.connect(upstream).await?;
        let resp = sender.send_request(req).await?;
        self.keep(upstream, link, sender);
        Ok(resp)
    }

    /// The kept connection if it is to `upstream` and idle (waiting briefly
    /// for it to finish the previous exchange), else a parked one.
    async fn reusable(&self, pool: &IdlePool, upstream: Upstream) -> Option<(u64, Sender)> {
        let kept = self.state().kept.take();
        if let Some(Kept {
            upstream: to,
            link,
            mut sender,
        }) = kept
        {
            if to == upstream && !sender.is_closed() {
                if sender.is_ready() {
                    return Some((link, sender));
                }
                if let Ok(Ok(())) = tokio::time::timeout(READY_WAIT, sender.ready()).await {
                    return Some((link, sender));
                }
            }
        }
        let (sender, conn) = pool.take(upstream)?;
        Some((self.adopt(conn), sender))
    }

    async fn connect(&self, upstream: Upstream) -> Result<(u64, Sender), UpstreamError> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream.addr))
            .await
            .map_err(|_| UpstreamError::ConnectTimeout)?
            .map_err(UpstreamError::Connect)?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await?;
        Ok((self.adopt(Box::pin(conn)), sender))
    }

    /// Adds `conn` to those the driver polls; returns its link number.
    fn adopt(&self, conn: Connection) -> u64 {
        let mut state = self.state();
        let link = state.next_link;
        state.next_link += 1;
        state.conns.push((link, conn));
        if let Some(driver) = &state.driver {
            driver.wake_by_ref();
        }
        link
    }

    fn keep(&self, upstream: Upstream, link: u64, sender: Sender) {
        // A previously kept sender dropped here lets its connection close
        // once its exchange is done.
        self.state().kept = Some(Kept {
            upstream,
            link,
            sender,
        });
    }

    /// Hands the idle kept connection to `pool` when the client connection
    /// ends; the others close.
    pub fn park(&self, pool: &IdlePool) {
        let mut state = self.state();
        let Some(kept) = state.kept.take() else {
            return;
        };
        if !kept.sender.is_ready() {
            return;
        }
        if let Some(i) = state.conns.iter().position(|(link, _)| *link == kept.link) {
            let (_, conn) = state.conns.swap_remove(i);
            pool.park(kept.upstream, kept.sender, conn);
        }
    }
}
