//! The floor under the gateway's figures: hyper's HTTP/1.1 server and
//! client with the gateway's upstream connections and threading (a
//! single-threaded runtime per core, each client connection driving its own
//! upstream connection), and none of the gateway's phases: no routing,
//! authentication, decision, activity tracking or header rewriting. Every
//! request goes to one upstream. `scripts/bench-gateway.sh` measures it in
//! the same run as nginx and berth, so the part of the gap that berth's
//! phases cost and the part hyper costs are told apart.
//!
//! Usage: `floor_proxy LISTEN UPSTREAM` (both `ip:port`). Bench use only.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use berth_gateway::body::{BoxBody, BoxError};
use berth_gateway::upstream::{ClientUpstreams, IdlePool};
use berth_gateway::Upstream;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: floor_proxy LISTEN UPSTREAM";
    let listen: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let upstream = Upstream::new(args.next().ok_or(usage)?.parse()?, 1);
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let pool = Arc::new(IdlePool::default());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut handles = Vec::new();
    for _ in 0..threads {
        let listener = listener.try_clone()?;
        let pool = Arc::clone(&pool);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        handles.push(std::thread::spawn(move || {
            runtime.block_on(accept_loop(listener, pool, upstream))
        }));
    }
    for h in handles {
        let _ = h.join();
    }
    Ok(())
}

async fn accept_loop(listener: std::net::TcpListener, pool: Arc<IdlePool>, upstream: Upstream) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let pool = Arc::clone(&pool);
        tokio::spawn(async move {
            let upstreams = ClientUpstreams::new();
            let service = {
                let upstreams = upstreams.clone();
                let pool = Arc::clone(&pool);
                service_fn(move |req: Request<Incoming>| {
                    let upstreams = upstreams.clone();
                    let pool = Arc::clone(&pool);
                    async move {
                        let req = req.map(|b| b.map_err(BoxError::from).boxed_unsync());
                        let resp: Response<BoxBody> =
                            match upstreams.send(&pool, upstream, req).await {
                                Ok(r) => r.map(|b| b.map_err(BoxError::from).boxed_unsync()),
                                Err(_) => {
                                    let mut r = Response::new(berth_gateway::body::empty());
                                    *r.status_mut() = StatusCode::BAD_GATEWAY;
                                    r
                                }
                            };
                        Ok::<_, Infallible>(resp)
                    }
                })
            };
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                biased;
                _ = conn => {}
                () = upstreams.drive() => {}
            }
            upstreams.park(&pool);
        });
    }
}
