//! A fast static upstream for the gateway benchmark: one small HTML page on
//! port 8080 over HTTP/1.1 keep-alive, from a multi-threaded hyper server.
//!
//! busybox httpd forks a process per request, so with it the upstream, not
//! the proxy in front, sets the pace; this server leaves the proxies as the
//! thing measured. scripts/bench-gateway.sh puts it in an image FROM scratch.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::signal::unix::{signal, SignalKind};

const PAGE: &str = "<!doctype html><html><head><title>bench</title></head>\
<body><h1>hello from the bench upstream</h1><p>A small static page.</p></body></html>\n";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let listener = tokio::net::TcpListener::bind(format!("0.0.0.0:{port}")).await?;
    // As a container's PID 1 the kernel ignores signals it has no handler
    // for: without this, `docker stop` waits out its whole grace period.
    let mut terminate = signal(SignalKind::terminate())?;
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = terminate.recv() => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_req: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(
                    Response::builder()
                        .header("content-type", "text/html; charset=utf-8")
                        .body(Full::new(Bytes::from_static(PAGE.as_bytes())))
                        .unwrap_or_default(),
                )
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
