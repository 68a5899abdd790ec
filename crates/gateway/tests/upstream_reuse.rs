//! Reuse of upstream connections: kept per client connection, parked between
//! client connections, and never carried across an app's restart. The app
//! is a raw HTTP/1.1 server on 127.0.0.1 that counts the connections it
//! accepts, so each test sees exactly when berth opened a new one.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use berth_gateway::body::{empty, BoxBody};
use berth_gateway::upstream::{ClientUpstreams, IdlePool};
use berth_gateway::Upstream;
use http::Request;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the test app treats a connection after answering.
#[derive(Clone, Copy)]
enum AfterAnswer {
    /// Waits for the next request.
    KeepOpen,
    /// Closes it after this long without a request, like a server's
    /// keep-alive timeout.
    CloseWhenIdle(Duration),
}

struct TestApp {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

async fn test_app(after: AfterAnswer) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(serve(stream, n, after));
        }
    });
    TestApp { addr, accepted }
}

/// Answers each request with the number of the connection it came on.
async fn serve(mut stream: TcpStream, connection: usize, after: AfterAnswer) {
    let mut buf = Vec::new();
    loop {
        let read = match after {
            AfterAnswer::KeepOpen => read_head(&mut stream, &mut buf).await,
            AfterAnswer::CloseWhenIdle(idle) => {
                match tokio::time::timeout(idle, read_head(&mut stream, &mut buf)).await {
                    Ok(r) => r,
                    Err(_) => return,
                }
            }
        };
        if !read {
            return;
        }
        let body = connection.to_string();
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Reads one request head (the tests send no bodies); false at EOF.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            return true;
        }
        let mut chunk = [0u8; 1024];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// One request through `upstreams`, driving them as the client connection's
/// task does; returns the number of the app connection that answered.
async fn fetch(upstreams: &ClientUpstreams, pool: &IdlePool, to: Upstream) -> usize {
    let req: Request<BoxBody> = Request::builder()
        .uri(format!("http://{}/", to.addr))
        .header("host", "app")
        .body(empty())
        .unwrap();
    let exchange = async {
        let resp = upstreams.send(pool, to, req).await.expect("app answers");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap().parse().unwrap()
    };
    tokio::select! {
        n = exchange => n,
        () = upstreams.drive() => unreachable!("the driver never ends"),
    }
}

#[tokio::test]
async fn a_client_connection_keeps_one_upstream_connection() {
    let app = test_app(AfterAnswer::KeepOpen).await;
    let pool = IdlePool::default();
    let upstreams = ClientUpstreams::new();
    let to = Upstream::new(app.addr, 1);
    for _ in 0..20 {
        assert_eq!(fetch(&upstreams, &pool, to).await, 1);
    }
    assert_eq!(app.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_next_client_connection_reuses_a_parked_connection() {
    let app = test_app(AfterAnswer::KeepOpen).await;
    let pool = IdlePool::default();
    let to = Upstream::new(app.addr, 1);
    let first = ClientUpstreams::new();
    assert_eq!(fetch(&first, &pool, to).await, 1);
    first.park(&pool);
    let second = ClientUpstreams::new();
    assert_eq!(fetch(&second, &pool, to).await, 1);
    assert_eq!(app.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_new_start_of_the_app_gets_a_new_connection_at_the_same_address() {
    let app = test_app(AfterAnswer::KeepOpen).await;
    let pool = IdlePool::default();
    let upstreams = ClientUpstreams::new();
    assert_eq!(
        fetch(&upstreams, &pool, Upstream::new(app.addr, 1)).await,
        1
    );
    // Same address, next generation: the kept connection is not used...
    assert_eq!(
        fetch(&upstreams, &pool, Upstream::new(app.addr, 2)).await,
        2
    );
    // ...nor is one parked under the old generation.
    let old = ClientUpstreams::new();
    assert_eq!(fetch(&old, &pool, Upstream::new(app.addr, 3)).await, 3);
    old.park(&pool);
    let next = ClientUpstreams::new();
    assert_eq!(fetch(&next, &pool, Upstream::new(app.addr, 4)).await, 4);
    assert_eq!(app.accepted.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn connections_the_app_closed_while_idle_are_not_used() {
    let app = test_app(AfterAnswer::CloseWhenIdle(Duration::from_millis(50))).await;
    let pool = IdlePool::default();
    let to = Upstream::new(app.addr, 1);
    // Kept by the client connection: its driver sees the close.
    let upstreams = ClientUpstreams::new();
    assert_eq!(fetch(&upstreams, &pool, to).await, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fetch(&upstreams, &pool, to).await, 2);
    // Parked, so polled by nobody: checked when taken.
    upstreams.park(&pool);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let next = ClientUpstreams::new();
    assert_eq!(fetch(&next, &pool, to).await, 3);
    assert_eq!(app.accepted.load(Ordering::SeqCst), 3);
}
