//! The app the end-to-end gateway tests install: a hyper server on port
//! 8080 whose answers show what the gateway did to the request.
//!
//! Routes match on the path's end, so that one server answers under every
//! prefix a test gives its own access rule (`/public/headers`,
//! `/peer/headers`, `/headers`):
//! - `…/headers`: the request's headers as a JSON object (repeats joined
//!   by `, `), so a test sees what was injected, stripped or passed;
//! - `…/ws`: a WebSocket that echoes text and binary messages;
//! - `…/bytes/N`: N zero bytes, streamed in 64 KiB chunks and never held
//!   whole, so a download can be far larger than this process's memory;
//! - anything else: `ok`.
//!
//! `berth_test_support::upstream_image` builds it into an image FROM scratch.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::signal::unix::{signal, SignalKind};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

type Body = BoxBody<Bytes, Infallible>;

const CHUNK: usize = 64 * 1024;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    // An app that is slow to open its port, as many real ones are: tests
    // send requests while its container runs but nothing answers yet.
    if let Some(ms) = std::env::var("LISTEN_AFTER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let listener = tokio::net::TcpListener::bind(format!("0.0.0.0:{port}")).await?;
    // As a container's PID 1 the kernel ignores signals it has no handler
    // for: without this, `docker stop` waits out its whole grace period.
    let mut terminate = signal(SignalKind::terminate())?;
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = terminate.recv() => return Ok(()),
        };
        tokio::spawn(async move {
            let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                Ok::<_, Infallible>(answer(req))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

fn answer(req: Request<hyper::body::Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if path.ends_with("/headers") {
        let mut map = serde_json::Map::new();
        for name in req.headers().keys() {
            let values: Vec<&str> = req
                .headers()
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap_or("<not utf-8>"))
                .collect();
            map.insert(name.as_str().to_owned(), values.join(", ").into());
        }
        return text(StatusCode::OK, serde_json::Value::Object(map).to_string());
    }
    if path.ends_with("/ws") {
        return websocket(req);
    }
    if let Some(n) = path.rsplit_once("/bytes/").map(|(_, n)| n) {
        return match n.parse::<u64>() {
            Ok(n) => bytes(n),
            Err(_) => text(StatusCode::BAD_REQUEST, "bad length".into()),
        };
    }
    text(StatusCode::OK, "ok".into())
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
    *r.status_mut() = status;
    r
}

fn bytes(n: u64) -> Response<Body> {
    let chunk = Bytes::from(vec![0u8; CHUNK]);
    let stream = futures_util::stream::unfold(n, move |left| {
        let chunk = chunk.clone();
        async move {
            if left == 0 {
                return None;
            }
            let take = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            let frame = Frame::data(chunk.slice(..take));
            Some((Ok::<_, Infallible>(frame), left - take as u64))
        }
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    if let Ok(v) = n.to_string().parse() {
        r.headers_mut().insert(hyper::header::CONTENT_LENGTH, v);
    }
    r
}

/// Answers the upgrade by hand (hyper owns the connection) and echoes on
/// the upgraded stream.
fn websocket(mut req: Request<hyper::body::Incoming>) -> Response<Body> {
    let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
        return text(StatusCode::BAD_REQUEST, "not a websocket request".into());
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        while let Some(Ok(msg)) = ws.next().await {
            if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                return;
            }
        }
    });
    let mut r = text(StatusCode::SWITCHING_PROTOCOLS, String::new());
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONNECTION,
        HeaderValue::from_static("upgrade"),
    );
    h.insert(
        hyper::header::UPGRADE,
        HeaderValue::from_static("websocket"),
    );
    if let Ok(v) = derive_accept_key(key.as_bytes()).parse() {
        h.insert("sec-websocket-accept", v);
    }
    r
}
