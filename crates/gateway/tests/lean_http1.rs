//! The lean HTTP/1 path at the socket level: every response framing, one
//! upstream socket per client connection, pipelining, a kept socket the app
//! closed, and the hand-over of a connection to hyper mid-stream.
//!
//! The app is a scripted raw HTTP/1.1 server on 127.0.0.1 that counts the
//! connections it accepts; the client is hyper's (strict about what the
//! gateway writes) or raw bytes where the test is about the bytes.

mod harness;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_gateway::directory::{BoxFuture, NobodyAuthenticator};
use berth_gateway::{
    ActivityGuard, AppDirectory, AppRoute, GatewayConfig, Upstream, UpstreamState, WakeError,
};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use harness::serve_gateway;

const HOST: &str = "raw.localhost";

/// What the scripted app answers, by path.
fn reply(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut r: Vec<u8> = match path {
        "/len" => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, x-private\r\n\
                    x-private: 1\r\nx-kept: 1\r\n\r\nhello"
            .to_vec(),
        "/chunked" => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                        5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n"
            .to_vec(),
        "/close" => b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close".to_vec(),
        // Answers as if it kept the connection, then closes it.
        "/bye" => b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbye".to_vec(),
        "/hints" => b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n\
                      HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            .to_vec(),
        "/echo" => format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into(),
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
    };
    if method == "HEAD" {
        r = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec();
    } else if path == "/echo" {
        r.extend_from_slice(body);
    }
    r
}

struct RawApp {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

async fn raw_app() -> RawApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve_raw(stream));
        }
    });
    RawApp { addr, accepted }
}

async fn serve_raw(mut s: TcpStream) {
    let mut buf = Vec::new();
    loop {
        let (method, path, len, head_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(n)) = req.parse(&buf) {
                let len = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
                    .unwrap_or(0usize);
                let method = req.method.unwrap_or_default().to_owned();
                break (method, req.path.unwrap_or_default().to_owned(), len, n);
            }
            let mut chunk = [0u8; 4096];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        buf.drain(..head_len);
        while buf.len() < len {
            let mut chunk = [0u8; 65536];
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..len).collect();
        if s.write_all(&reply(&method, &path, &body)).await.is_err() {
            return;
        }
        if path == "/close" || path == "/bye" {
            return;
        }
    }
}

/// One app, `raw`, public but for `/secret`, always running at the scripted app's address;
/// counts the requests in flight.
struct OneApp {
    route: AppRoute,
    upstream: Upstream,
    active: Arc<AtomicUsize>,
}

impl AppDirectory for OneApp {
    fn route(&self, app: &str) -> Option<AppRoute> {
        (app == "raw").then(|| self.route.clone())
    }
    fn state(&self, _app: &str) -> UpstreamState {
        UpstreamState::Running(self.upstream)
    }
    fn wake<'a>(&'a self, _app: &'a str) -> BoxFuture<'a, Result<Upstream, WakeError>> {
        Box::pin(async move { Ok(self.upstream) })
    }
    fn begin_request(&self, _app: &str) -> ActivityGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        let active = self.active.clone();
        ActivityGuard::new(move || {
            active.fetch_sub(1, Ordering::SeqCst);
        })
    }
}

struct Harness {
    gateway: SocketAddr,
    app: RawApp,
    active: Arc<AtomicUsize>,
}

async fn harness() -> Harness {
    let app = raw_app().await;
    let manifest = berth_manifest::parse(
        r#"{"name": "raw", "image": "x/raw:1", "port": 80,
            "authentication": {"default_access": "private", "public_paths":
                ["/len", "/chunked", "/close", "/bye", "/hints", "/echo", "/nothing"]}}"#,
    )
    .unwrap()
    .manifest;
    let active = Arc::new(AtomicUsize::new(0));
    let dir = OneApp {
        route: AppRoute::from_manifest(&manifest).unwrap(),
        upstream: Upstream::new(app.addr, 1),
        active: active.clone(),
    };
    let addr = serve_gateway(
        GatewayConfig::default(),
        Arc::new(dir),
        Arc::new(NobodyAuthenticator),
    )
    .await;
    Harness {
        gateway: addr,
        app,
        active,
    }
}

type Sender = http1::SendRequest<Full<Bytes>>;

/// One client connection to the gateway, driven by hyper's client.
async fn client(gateway: SocketAddr) -> Sender {
    let stream = TcpStream::connect(gateway).await.unwrap();
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    sender
}

async fn send(
    sender: &mut Sender,
    method: &str,
    path: &str,
    body: &[u8],
) -> (StatusCode, http::HeaderMap, Bytes) {
    sender.ready().await.unwrap();
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", HOST)
        .header("content-length", body.len())
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, body)
}

#[tokio::test]
async fn one_client_connection_carries_every_framing_over_one_app_socket() {
    let h = harness().await;
    let mut c = client(h.gateway).await;

    let (status, headers, body) = send(&mut c, "GET", "/len", b"").await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
    // Hop-by-hop headers, and those the app's Connection names, stay here.
    assert!(headers.get("x-private").is_none(), "{headers:?}");
    assert!(headers.get("connection").is_none(), "{headers:?}");
    assert_eq!(headers["x-kept"], "1");

    let (status, headers, body) = send(&mut c, "GET", "/chunked", b"").await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello world"[..]));
    assert_eq!(headers["transfer-encoding"], "chunked");

    let (status, headers, body) = send(&mut c, "HEAD", "/len", b"").await;
    assert_eq!((status, body.len()), (StatusCode::OK, 0));
    assert_eq!(headers["content-length"], "100");

    // The 103 reaches the client, which goes on to the final answer.
    let (status, _, body) = send(&mut c, "GET", "/hints", b"").await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));

    // An upload larger than every buffer streams through whole.
    let upload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (status, _, body) = send(&mut c, "POST", "/echo", &upload).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body[..] == upload[..], "the echo differs from the upload");

    let (status, _, _) = send(&mut c, "GET", "/nothing", b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    assert_eq!(h.app.accepted.load(Ordering::SeqCst), 1, "one app socket");
    assert_eq!(h.active.load(Ordering::SeqCst), 0, "every request ended");
}

#[tokio::test]
async fn a_close_delimited_answer_closes_the_client_connection() {
    let h = harness().await;
    let mut c = client(h.gateway).await;
    let (status, headers, body) = send(&mut c, "GET", "/close", b"").await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"until close"[..]));
    assert_eq!(headers["connection"], "close");
    // hyper's client sees the close: the connection takes no more requests.
    tokio::time::timeout(Duration::from_secs(5), async {
        while !c.is_closed() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the gateway closes the client connection");
    assert_eq!(h.active.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_kept_socket_the_app_closed_is_replaced() {
    let h = harness().await;
    let mut c = client(h.gateway).await;
    send(&mut c, "GET", "/bye", b"").await;
    // A GET may be sent again on a new socket when the kept one is closed.
    let (status, _, body) = send(&mut c, "GET", "/len", b"").await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
    assert_eq!(h.app.accepted.load(Ordering::SeqCst), 2);
    send(&mut c, "GET", "/bye", b"").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A POST must never go twice: the kept socket is proven open first.
    let (status, _, body) = send(&mut c, "POST", "/echo", b"once").await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"once"[..]));
    assert_eq!(h.app.accepted.load(Ordering::SeqCst), 3);
}

/// Sends `raw` on a fresh connection and reads until the gateway closes.
async fn exchange_raw(gateway: SocketAddr, raw: &str) -> String {
    let mut s = TcpStream::connect(gateway).await.unwrap();
    s.write_all(raw.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("the gateway closes the connection")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let h = harness().await;
    let out = exchange_raw(
        h.gateway,
        &format!(
            "GET /chunked HTTP/1.1\r\nHost: {HOST}\r\n\r\n\
             POST /echo HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 5\r\n\r\nfirst\
             GET /len HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    let chunked = out
        .find("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n")
        .unwrap();
    let echo = out.find("\r\n\r\nfirst").unwrap();
    let len = out.rfind("\r\n\r\nhello").unwrap();
    assert!(chunked < echo && echo < len, "{out}");
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 3, "{out}");
    assert_eq!(h.app.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_moves_to_hyper_at_a_request_the_lean_path_leaves() {
    let h = harness().await;
    // Lean, then HTTP/1.0 keep-alive (hyper's), then a 1.1 request that
    // hyper, now owning the connection, serves too.
    let out = exchange_raw(
        h.gateway,
        &format!(
            "GET /len HTTP/1.1\r\nHost: {HOST}\r\n\r\n\
             GET /len HTTP/1.0\r\nHost: {HOST}\r\nConnection: keep-alive\r\n\r\n\
             GET /len HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(out.matches("hello").count(), 3, "{out}");
    assert!(out.contains("HTTP/1.0 200 OK"), "{out}");
    // The core's host and a malformed head are hyper's as well.
    let core = exchange_raw(
        h.gateway,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        core.starts_with("HTTP/1.1 200") && core.ends_with("core"),
        "{core}"
    );
    let bad = exchange_raw(
        h.gateway,
        &format!("GET / HTTP/1.1\r\nHost: {HOST}\r\nBad Header\r\n\r\n"),
    )
    .await;
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
}

#[tokio::test]
async fn a_refused_request_with_a_body_leaves_the_next_request_intact() {
    let h = harness().await;
    // The body of the refused POST is read past, not taken for a head.
    let out = exchange_raw(
        h.gateway,
        &format!(
            "POST /secret HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 19\r\n\r\n\
             GET /bogus HTTP/1.1\
             GET /len HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(out.starts_with("HTTP/1.1 401"), "{out}");
    assert!(out.contains("application/problem+json"), "{out}");
    assert!(out.ends_with("hello"), "{out}");
    assert_eq!(out.matches("HTTP/1.1 ").count(), 2, "{out}");
    assert_eq!(
        h.app.accepted.load(Ordering::SeqCst),
        1,
        "only /len reached the app"
    );
}
