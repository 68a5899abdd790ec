//! The header-read timeout on both HTTP/1 paths: a client that sends no
//! whole request head in time, whether silent from the start, stalled
//! mid-head (slow loris) or idle between requests, loses its connection;
//! one that keeps sending requests keeps it, however long it stays.

mod harness;

use std::net::SocketAddr;
use std::time::Duration;

use berth_gateway::GatewayConfig;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use harness::harness_with;

const PERIOD: Duration = Duration::from_millis(500);
/// Far beyond the two periods a connection may last without a head: the
/// bound on waiting for the gateway to close one.
const CLOSE_WITHIN: Duration = Duration::from_secs(10);

async fn gateway(lean: bool) -> SocketAddr {
    let config = GatewayConfig {
        lean_http1: lean,
        header_read_timeout: PERIOD,
        ..GatewayConfig::default()
    };
    harness_with(false, config).await.addr
}

/// Whether the gateway closes `stream` (end of stream or a reset) before
/// `CLOSE_WITHIN`; what it answers first is read and dropped.
async fn closed_by_gateway(mut stream: TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(CLOSE_WITHIN, read_to_end)
        .await
        .is_ok()
}

async fn a_silent_connection_is_closed_on(lean: bool) {
    let addr = gateway(lean).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    assert!(closed_by_gateway(stream).await);
}

async fn a_stalled_head_is_closed_on(lean: bool) {
    let addr = gateway(lean).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /public/x HTTP/1.1\r\nHost: notes.localhost\r\n")
        .await
        .unwrap();
    assert!(closed_by_gateway(stream).await);
}

/// Requests every 100 ms over more than three periods, on one connection,
/// all answered; then the connection, idle, is closed.
async fn a_busy_connection_stays_open_then_idles_out_on(lean: bool) {
    let addr = gateway(lean).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    let conn = tokio::spawn(conn);
    for n in 0..16 {
        sender.ready().await.unwrap();
        let req = Request::get(format!("/public/{n}"))
            .header("host", "notes.localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let res = sender.send_request(req).await.unwrap();
        assert_eq!(res.status(), 200, "request {n}");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains(&format!("\"/public/{n}\"")));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The client's side of the connection ends when the gateway closes it.
    let ended = tokio::time::timeout(CLOSE_WITHIN, conn).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
}

#[tokio::test]
async fn a_silent_connection_is_closed() {
    a_silent_connection_is_closed_on(true).await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_on_hyper_path() {
    a_silent_connection_is_closed_on(false).await;
}

#[tokio::test]
async fn a_stalled_head_is_closed() {
    a_stalled_head_is_closed_on(true).await;
}

#[tokio::test]
async fn a_stalled_head_is_closed_on_hyper_path() {
    a_stalled_head_is_closed_on(false).await;
}

#[tokio::test]
async fn a_busy_connection_stays_open_then_idles_out() {
    a_busy_connection_stays_open_then_idles_out_on(true).await;
}

#[tokio::test]
async fn a_busy_connection_stays_open_then_idles_out_on_hyper_path() {
    a_busy_connection_stays_open_then_idles_out_on(false).await;
}
