//! The accept loop of the main listener: HTTP/1.1 with upgrades, every
//! connection handed to the [`Gateway`], graceful shutdown with a deadline.
//!
//! Each connection starts on the lean HTTP/1 path ([`crate::lean`]) and
//! moves to hyper's server at the first request that path leaves to it.
//!
//! [`serve_per_core`] runs one accept loop per core, each on a
//! single-threaded runtime of its own thread (as nginx runs a worker per
//! core): a client connection, its upstream connection and every wake
//! between them stay on one thread. On the shared work-stealing runtime the
//! gateway spent about a quarter of its CPU per request on moving tasks
//! between workers and waking parked ones.
//!
//! Each thread accepts from a listening socket of its own, bound with
//! `SO_REUSEPORT` ([`bind`]), so the kernel spreads new connections over
//! the threads by their addresses. With one socket shared, whichever
//! thread woke first took a burst of connections: splits of 70/30 were
//! common, and the busier thread's queue showed in the tail latency.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::lean::{self, rewind::Rewind};
use crate::stall::SendStallIo;
use crate::upstream::ClientUpstreams;
use crate::Gateway;

/// Serves until `shutdown` resolves, then lets open requests finish for up
/// to `grace` and drops whatever is still open (streams, WebSockets).
pub async fn serve(
    listener: TcpListener,
    gateway: Gateway,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, client) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let gateway = gateway.clone();
                let mut stop = stop_rx.clone();
                connections.spawn(async move {
                    // Plain app requests take the lean path; the first
                    // request that is hyper's takes the connection there,
                    // with the bytes already read.
                    let (stream, buffered) = if gateway.config().lean_http1 {
                        match lean::serve(&gateway, stream, client, &mut stop).await {
                            lean::End::Closed => return,
                            lean::End::HandOver { client, buffered } => (client, buffered),
                        }
                    } else {
                        (stream, bytes::Bytes::new())
                    };
                    serve_with_hyper(gateway, Rewind::new(buffered, stream), client, stop).await;
                });
                while connections.try_join_next().is_some() {}
            }
            _ = &mut shutdown => break,
        }
    }
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
}

/// Serves one client connection with hyper's HTTP/1 server, its upstream
/// connections driven in the same task (see `upstream`).
async fn serve_with_hyper(
    gateway: Gateway,
    io: Rewind,
    client: std::net::SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let upstreams = ClientUpstreams::new();
    let service = {
        let gateway = gateway.clone();
        let upstreams = upstreams.clone();
        service_fn(move |req| {
            let gateway = gateway.clone();
            let upstreams = upstreams.clone();
            async move { Ok::<_, Infallible>(gateway.handle(req, client, &upstreams).await) }
        })
    };
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(gateway.config().header_read_timeout)
        .serve_connection(
            TokioIo::new(SendStallIo::new(
                io,
                gateway.config().response_write_timeout,
            )),
            service,
        )
        .with_upgrades();
    let served = async {
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            () = stopping(&mut stop) => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    };
    tokio::select! {
        biased;
        () = served => {}
        () = upstreams.drive() => {}
    }
    gateway.release(&upstreams);
}

/// Resolves once `stop` is true (at once if it already is). The value's
/// read guard is not held past the check: it would make the future !Send.
pub(crate) async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// The gateway's per-core accept loops; [`PerCoreServer::shut_down`]
/// stops them.
pub struct PerCoreServer {
    stop: watch::Sender<bool>,
    done: Vec<oneshot::Receiver<()>>,
}

impl PerCoreServer {
    /// Stops accepting, lets open requests finish for up to the grace
    /// period, and resolves when every thread has stopped serving.
    pub async fn shut_down(self) {
        let _ = self.stop.send(true);
        for d in self.done {
            let _ = d.await;
        }
    }
}

/// A listening socket at `addr` that [`serve_per_core`] can give each
/// thread a sibling of (`SO_REUSEPORT`).
///
/// A port some other socket listens on is refused, even one in a group of
/// the same user's (a second berth started on the port would otherwise
/// join the first and take half its connections): a plain bind, which
/// any listener on the port refuses, goes first.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    if addr.port() != 0 {
        drop(std::net::TcpListener::bind(addr)?);
    }
    bind_in_group(addr)
}

/// A listening socket at `addr` in the `SO_REUSEPORT` group there, which
/// the kernel refuses unless every socket already bound there is in it.
fn bind_in_group(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Starts [`serve`] on `threads` threads, each with a single-threaded
/// runtime. The first accepts from `listener`; the others from siblings
/// bound to its address when `listener` came from [`bind`], else from
/// `listener` too. After shutdown the threads stay, idle, until the
/// process exits: whatever a request started on them (a database
/// connection a pool keeps, a wake under way) stays registered with their
/// runtimes, which must outlive it.
pub fn serve_per_core(
    listener: TcpListener,
    gateway: Gateway,
    grace: Duration,
    threads: usize,
) -> std::io::Result<PerCoreServer> {
    let addr = listener.local_addr()?;
    let listener = listener.into_std()?;
    let (stop, stop_rx) = watch::channel(false);
    let mut done = Vec::new();
    for n in 0..threads.max(1) {
        let gateway = gateway.for_thread();
        let mut stopped = stop_rx.clone();
        let (done_tx, done_rx) = oneshot::channel::<()>();
        // I/O and timers: what a request needs. tokio cannot leave the
        // process driver out of a runtime with I/O while its `process`
        // feature is on (the main runtime spawns berth's children), so
        // each park here still checks for orphaned children to reap; in
        // profiles that is under half a percent of the gateway's CPU.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        // Registered here, so a failure is the caller's error.
        let listener = {
            let _entered = runtime.enter();
            match n {
                0 => TcpListener::from_std(listener.try_clone()?)?,
                // A listener not made by `bind` has no group to join: the
                // threads share it.
                _ => {
                    bind_in_group(addr).or_else(|_| TcpListener::from_std(listener.try_clone()?))?
                }
            }
        };
        std::thread::Builder::new()
            .name(format!("berth-gateway-{n}"))
            .spawn(move || {
                runtime.block_on(async move {
                    let stop = async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    };
                    serve(listener, gateway, stop, grace).await;
                    let _ = done_tx.send(());
                    std::future::pending::<()>().await;
                });
            })?;
        done.push(done_rx);
    }
    Ok(PerCoreServer { stop, done })
}
