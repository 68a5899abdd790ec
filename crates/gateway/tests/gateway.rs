//! The gateway in front of real HTTP and WebSocket upstreams on loopback.
//!
//! The app directory and authenticator here are the two seams the rest of
//! berth fills in (apps service, identity service); the proxying, the
//! decisions, the header handling and the streaming are the real thing.

mod harness;

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};

use harness::{harness, harness_on, Harness};

#[tokio::test]
async fn each_access_kind_allows_and_forbids() {
    each_access_kind_on(harness(false).await).await;
}

/// Hyper's path still serves every request the lean one hands over, with
/// the same phases: the same proofs hold there.
#[tokio::test]
async fn each_access_kind_allows_and_forbids_on_hyper_path() {
    each_access_kind_on(harness_on(false, false).await).await;
}

async fn each_access_kind_on(h: Harness) {
    let c = h.client();
    // public: anyone
    assert_eq!(h.echo(c.get(h.url("notes", "/public/x"))).await.0, 200);
    // segment-aware: /publicity is not /public, so it is private
    assert_eq!(h.echo(c.get(h.url("notes", "/publicity"))).await.0, 401);
    // private: anonymous API client 401 problem, browser redirected to pairing
    let r = c.get(h.url("notes", "/secret")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = c
        .get(h.url("notes", "/secret?a=1"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        loc.starts_with(&format!(
            "http://localhost:{}/.berth/handoff?next=",
            h.addr.port()
        )),
        "{loc}"
    );
    assert!(loc.contains("notes.localhost"), "{loc}");
    // private: terminal passes, peer is forbidden
    let (s, _) = h
        .echo(
            c.get(h.url("notes", "/secret"))
                .header("cookie", "berth_terminal=good"),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        h.echo(c.get(h.url("notes", "/secret")).header("x-test-peer", "p1"))
            .await
            .0,
        403
    );
    assert_eq!(
        h.echo(
            c.get(h.url("notes", "/secret"))
                .header("cookie", "berth_terminal=bad")
        )
        .await
        .0,
        401
    );
    // peer: peer and terminal pass, anonymous does not
    assert_eq!(
        h.echo(c.get(h.url("notes", "/peer/x")).header("x-test-peer", "p1"))
            .await
            .0,
        200
    );
    assert_eq!(
        h.echo(
            c.get(h.url("notes", "/peer/x"))
                .header("cookie", "berth_terminal=good")
        )
        .await
        .0,
        200
    );
    assert_eq!(h.echo(c.get(h.url("notes", "/peer/x"))).await.0, 401);
    // a traversal is refused before any rule
    let raw = c
        .get(format!("{}/public/../secret", h.url("notes", "")))
        .send()
        .await
        .unwrap();
    assert_ne!(raw.status(), 200);
}

#[tokio::test]
async fn headers_are_injected_spoofs_removed_and_the_cookie_never_reaches_the_app() {
    headers_injected_on(harness(false).await).await;
}

#[tokio::test]
async fn headers_are_injected_and_spoofs_removed_on_hyper_path() {
    headers_injected_on(harness_on(false, false).await).await;
}

async fn headers_injected_on(h: Harness) {
    let c = h.client();
    let (s, v) = h
        .echo(
            c.get(h.url("notes", "/secret"))
                .header("cookie", "theme=dark; berth_terminal=good")
                .header("x-ptl-client-id", "spoofed")
                .header("x-forwarded-for", "6.6.6.6"),
        )
        .await;
    assert_eq!(s, 200);
    let hd = &v["headers"];
    assert_eq!(hd["x-ptl-client-id"], "t1");
    assert_eq!(hd["x-ptl-client-name"], "Ann's phone");
    assert_eq!(hd["x-ptl-client-type"], "terminal");
    assert_eq!(hd["cookie"], "theme=dark");
    assert_eq!(hd["x-forwarded-for"], "127.0.0.1");
    assert_eq!(hd["x-forwarded-proto"], "http");
    assert_eq!(
        hd["x-forwarded-host"],
        format!("notes.localhost:{}", h.addr.port())
    );

    // On a public path nothing names the client, and spoofs still vanish.
    let (_, v) = h
        .echo(
            c.get(h.url("notes", "/public"))
                .header("x-ptl-client-id", "spoofed")
                .header("x-ptl-client-name", "spoofed")
                .header("cookie", "berth_terminal=good"),
        )
        .await;
    assert!(v["headers"].get("x-ptl-client-id").is_none(), "{v}");
    assert!(v["headers"].get("x-ptl-client-name").is_none(), "{v}");
    assert!(v["headers"].get("cookie").is_none(), "{v}");
    // The 0.0 migration gives public paths a literal `public` client type.
    assert_eq!(v["headers"]["x-ptl-client-type"], "public");
}

/// An absolute-form request target names the app without a `Host` header;
/// the hop to the app is origin-form, so the app still learns the host.
#[tokio::test]
async fn an_absolute_form_request_reaches_the_app_with_its_host() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = harness(false).await;
    let mut s = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let host = format!("notes.localhost:{}", h.addr.port());
    s.write_all(
        format!("GET http://{host}/public/page?x=1 HTTP/1.1\r\nconnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["path"], "/public/page");
    assert_eq!(v["headers"]["host"], host);
}

#[tokio::test]
async fn unknown_apps_crashed_apps_and_the_core() {
    let h = harness(false).await;
    let c = h.client();
    assert_eq!(
        c.get(h.url("ghost", "/")).send().await.unwrap().status(),
        404
    );
    let r = c
        .get(h.url("dead", "/"))
        .header("cookie", "berth_terminal=good")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    let core = reqwest::get(format!("http://127.0.0.1:{}/anything", h.addr.port()))
        .await
        .unwrap();
    assert_eq!(core.text().await.unwrap(), "core");
}

/// The idle-stop race: a request must count as activity before the gateway
/// reads where the app is, so a directory can never stop the app between
/// that read and the request (it sees the request, or its stop is already
/// visible in the state read).
#[tokio::test]
async fn a_request_is_active_before_the_app_state_is_read() {
    let h = harness(false).await;
    let c = h.client();
    for _ in 0..5 {
        let r = c.get(h.url("notes", "/public/x")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    assert!(h.dir.state_calls.load(Ordering::SeqCst) >= 5);
    assert_eq!(h.dir.state_calls_unguarded.load(Ordering::SeqCst), 0);
    assert_eq!(h.dir.active.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_stopped_app_is_started_once_for_fifty_concurrent_requests() {
    let h = harness(true).await;
    let c = h.client();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let req = c.get(h.url("notes", "/public/wake"));
        tasks.push(tokio::spawn(async move {
            req.send().await.map(|r| r.status().as_u16())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 200);
    }
    assert_eq!(h.dir.starts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn browsers_get_a_waiting_page_while_the_app_starts() {
    let h = harness(true).await;
    let c = h.client();
    let r = c
        .get(h.url("notes", "/public/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let page = r.text().await.unwrap();
    assert!(page.contains("http-equiv=\"refresh\""), "{page}");
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = c
            .get(h.url("notes", "/public/"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            ok = true;
            break;
        }
    }
    assert!(ok, "the app never came up behind the waiting page");
}

#[tokio::test]
async fn websocket_echo_passes_through() {
    let h = harness(false).await;
    let stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    let req = http::Request::builder()
        .uri(format!("ws://chat.localhost:{}/public/ws", h.addr.port()))
        .header("host", format!("chat.localhost:{}", h.addr.port()))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header(
            "sec-websocket-key",
            tokio_tungstenite::tungstenite::handshake::client::generate_key(),
        )
        .body(())
        .unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async(req, stream).await.unwrap();
    assert_eq!(resp.status(), 101);
    for i in 0..3 {
        ws.send(format!("hello {i}").into()).await.unwrap();
        let echo = ws.next().await.unwrap().unwrap();
        assert_eq!(echo.into_text().unwrap().as_str(), format!("hello {i}"));
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_one_gib_download_streams_with_flat_memory() {
    let h = harness(false).await;
    let c = h.client();
    let before = rss_kib();
    let n: u64 = 1 << 30;
    let mut r = c
        .get(h.url("notes", &format!("/big?n={n}")))
        .header("cookie", "berth_terminal=good")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut total = 0u64;
    let mut peak = before;
    while let Some(chunk) = r.chunk().await.unwrap() {
        total += chunk.len() as u64;
        if total % (64 << 20) < chunk.len() as u64 {
            peak = peak.max(rss_kib());
        }
    }
    assert_eq!(total, n);
    let grew_mib = peak.saturating_sub(before) / 1024;
    assert!(
        grew_mib < 64,
        "memory grew by {grew_mib} MiB while streaming 1 GiB"
    );
    // The activity guard was released when the body ended.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.dir.active.load(Ordering::SeqCst), 0);
}
