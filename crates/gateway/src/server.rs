//! The accept loop of the main listener: HTTP/1.1 with upgrades, every
//! connection handed to the [`Gateway`], graceful shutdown with a deadline.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

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
                    // The client connection's upstream connections are
                    // driven here, in its own task (see `upstream`).
                    let upstreams = ClientUpstreams::new();
                    let service = {
                        let gateway = gateway.clone();
                        let upstreams = upstreams.clone();
                        service_fn(move |req| {
                            let gateway = gateway.clone();
                            let upstreams = upstreams.clone();
                            async move {
                                Ok::<_, Infallible>(gateway.handle(req, client, &upstreams).await)
                            }
                        })
                    };
                    let conn = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades();
                    let served = async {
                        tokio::pin!(conn);
                        tokio::select! {
                            _ = conn.as_mut() => {}
                            _ = stop.changed() => {
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
