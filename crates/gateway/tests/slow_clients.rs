//! Slow clients on both HTTP/1 paths. A request whose body stops arriving
//! is answered 408 and its connection closed; one whose body trickles in,
//! a little in every period, goes through however long it takes in all.
//! A client that stops reading a large answer loses its connection.

mod harness;

use std::net::SocketAddr;
use std::time::Duration;

use berth_gateway::GatewayConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use harness::harness_with;

const PERIOD: Duration = Duration::from_millis(500);
/// Far beyond the two periods a stalled body may last: the bound on
/// waiting for the gateway's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

async fn gateway(lean: bool) -> SocketAddr {
    let config = GatewayConfig {
        lean_http1: lean,
        body_read_timeout: PERIOD,
        response_write_timeout: PERIOD,
        ..GatewayConfig::default()
    };
    harness_with(false, config).await.addr
}

fn upload_head(length: usize) -> String {
    format!(
        "POST /public/upload HTTP/1.1\r\nHost: notes.localhost\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n\r\n"
    )
}

/// Everything the gateway sends until it closes the connection, or `None`
/// if it is still open after `ANSWER_WITHIN`.
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut all = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(ANSWER_WITHIN, read).await.ok()?;
    Some(String::from_utf8_lossy(&all).into_owned())
}

async fn a_stalled_body_is_answered_408_and_closed_on(lean: bool) {
    let addr = gateway(lean).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(upload_head(100).as_bytes()).await.unwrap();
    stream.write_all(&[b'x'; 10]).await.unwrap();
    let answer = read_until_closed(&mut stream)
        .await
        .expect("the gateway kept the stalled connection open");
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert!(
        answer.contains("the request body stopped arriving"),
        "{answer:?}"
    );
}

async fn a_trickling_body_goes_through_on(lean: bool) {
    let addr = gateway(lean).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // 20 bytes, one every 100 ms: 2 s in all, four periods, and never a
    // whole period without a byte.
    stream.write_all(upload_head(20).as_bytes()).await.unwrap();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stream.write_all(b"y").await.unwrap();
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let whole = tokio::time::timeout(ANSWER_WITHIN, async {
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&answer));
            answer.extend_from_slice(&buf[..n]);
            if answer.ends_with(b"}") {
                return;
            }
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(whole.is_ok(), "no whole answer: {answer:?}");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer:?}");
    assert!(answer.ends_with(r#"{"received":20}"#), "{answer:?}");
}

/// Asks for a GiB, reads its first bytes, then nothing for several
/// periods; by then the gateway must have given up, so reading on ends
/// after what the kernel's buffers held, far short of the GiB.
async fn a_client_that_stops_reading_is_closed_on(lean: bool) {
    const GIB: u64 = 1 << 30;
    let addr = gateway(lean).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET /big?n={GIB} HTTP/1.1\r\nHost: notes.localhost\r\nCookie: berth_terminal=good\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let first = stream.read(&mut buf).await.unwrap();
    assert!(first > 0);
    tokio::time::sleep(6 * PERIOD).await;
    let mut total = first as u64;
    let drained = tokio::time::timeout(ANSWER_WITHIN, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => total += n as u64,
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "still open after {total} bytes");
    assert!(total < GIB, "the whole answer came: {total} bytes");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed() {
    a_client_that_stops_reading_is_closed_on(true).await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_on_hyper_path() {
    a_client_that_stops_reading_is_closed_on(false).await;
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_and_closed() {
    a_stalled_body_is_answered_408_and_closed_on(true).await;
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_and_closed_on_hyper_path() {
    a_stalled_body_is_answered_408_and_closed_on(false).await;
}

#[tokio::test]
async fn a_trickling_body_goes_through() {
    a_trickling_body_goes_through_on(true).await;
}

#[tokio::test]
async fn a_trickling_body_goes_through_on_hyper_path() {
    a_trickling_body_goes_through_on(false).await;
}
