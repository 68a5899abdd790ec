//! The gateway on its own threads ([`serve_per_core`]): each thread gets a
//! listening socket of its own when the listener came from
//! [`server::bind`], a port already listened on is refused, every
//! connection is served whichever socket the kernel gives it to, and shut
//! down closes the port.

mod harness;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use berth_gateway::server::{self, serve_per_core, PerCoreServer};
use berth_gateway::{Gateway, GatewayConfig};
use tokio::net::TcpListener;

use harness::TestAuth;

/// How many sockets listen on 127.0.0.1:`port`, from the kernel's table.
fn listening_sockets(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address, then rem_address, then st: 0A is LISTEN.
            cols.get(1) == Some(&local.as_str()) && cols.get(3) == Some(&"0A")
        })
        .count()
}

/// The harness's apps behind a gateway on two threads accepting from
/// `listener`.
async fn serve_on_two_threads(listener: TcpListener) -> (SocketAddr, PerCoreServer) {
    let harness = harness::harness(false).await;
    let core: berth_gateway::CoreHandler =
        Arc::new(|_req| Box::pin(async { http::Response::new(berth_gateway::body::full("core")) }));
    let gateway = Gateway::new(
        GatewayConfig::default(),
        harness.dir,
        Arc::new(TestAuth),
        core,
    );
    let addr = listener.local_addr().unwrap();
    let running = serve_per_core(listener, gateway, Duration::from_secs(1), 2).unwrap();
    (addr, running)
}

fn bind_loopback() -> TcpListener {
    server::bind("127.0.0.1:0".parse().unwrap()).unwrap()
}

/// Fresh connections, each with one request to a public path of `notes`.
async fn served_on_fresh_connections(addr: SocketAddr, n: usize) -> usize {
    let mut ok = 0;
    for _ in 0..n {
        let client = reqwest::Client::builder()
            .resolve("notes.localhost", addr)
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let r = client
            .get(format!("http://notes.localhost:{}/public/x", addr.port()))
            .send()
            .await
            .unwrap();
        if r.status() == 200 && r.text().await.unwrap().contains("\"/public/x\"") {
            ok += 1;
        }
    }
    ok
}

#[tokio::test]
async fn each_thread_listens_on_a_socket_of_its_own() {
    let (addr, running) = serve_on_two_threads(bind_loopback()).await;
    assert_eq!(listening_sockets(addr.port()), 2);

    assert_eq!(served_on_fresh_connections(addr, 40).await, 40);

    running.shut_down().await;
    assert_eq!(listening_sockets(addr.port()), 0);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_port_in_use_is_refused_even_by_a_group_of_the_same_user() {
    let (addr, running) = serve_on_two_threads(bind_loopback()).await;

    let second = server::bind(addr).unwrap_err();
    assert_eq!(second.kind(), std::io::ErrorKind::AddrInUse);
    assert_eq!(listening_sockets(addr.port()), 2);
    assert_eq!(served_on_fresh_connections(addr, 4).await, 4);

    running.shut_down().await;
}

#[tokio::test]
async fn a_listener_from_elsewhere_is_shared_by_the_threads() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (addr, running) = serve_on_two_threads(listener).await;
    assert_eq!(listening_sockets(addr.port()), 1);

    assert_eq!(served_on_fresh_connections(addr, 20).await, 20);

    running.shut_down().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
