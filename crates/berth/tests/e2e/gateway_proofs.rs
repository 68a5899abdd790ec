//! The gateway's proofs against a real app container: header injection and
//! anti-spoofing, the peer access kind, a WebSocket echo, a 1 GiB download
//! with flat memory in berth, and fifty concurrent requests that start a
//! stopped app exactly once, an `always_on` app outliving an idle one, and
//! the 502 page of a crashed app. The app is `test-upstream` (test-support),
//! whose answers show what the gateway did to each request.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use berth_identity::httpsig::{new_nonce, sign_request, Target};
use berth_identity::key::{public_key_to_b64, IdentityKey};
use berth_test_support::Berth;
use futures_util::{SinkExt, StreamExt};
use reqwest::Client;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::apps_support::{app_name, docker, Owner};
use crate::common::{bin, pair_terminal};
use crate::identity::owner_token;

fn client(b: &Berth, app: &str) -> Client {
    let addr: SocketAddr = format!("127.0.0.1:{}", b.ports.listen).parse().unwrap();
    Client::builder()
        .resolve(&format!("{app}.localhost"), addr)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Installs the test upstream as `name` and waits until the gateway routes
/// to it. `/public` is public, `/peer` admits peers, the rest is private;
/// each injects the `X-Ptl-*` headers it may.
async fn install_upstream(b: &Berth, owner: &Owner, name: &str, lifecycle: Value) -> Client {
    install_upstream_with_env(b, owner, name, lifecycle, json!({})).await
}

async fn install_upstream_with_env(
    b: &Berth,
    owner: &Owner,
    name: &str,
    lifecycle: Value,
    env_vars: Value,
) -> Client {
    let image = berth_test_support::upstream_image().unwrap();
    let (s, v) = owner
        .install(&json!({
            "v": "4.0", "name": name, "image": image, "env_vars": env_vars,
            "entrypoints": [{"container_port": 8080, "entrypoint_port": "http"}],
            "paths": {
                "": {"access": "private", "headers": {
                    "X-Ptl-Client-Id": "{{ auth.client_id }}",
                    "X-Ptl-Client-Name": "{{ auth.client_name }}",
                    "X-Ptl-Client-Type": "{{ auth.client_type }}"
                }},
                "/public": {"access": "public", "headers": {"X-Ptl-Client-Type": "{{ auth.client_type }}"}},
                "/peer": {"access": "peer", "headers": {
                    "X-Ptl-Client-Id": "{{ auth.client_id }}",
                    "X-Ptl-Client-Type": "{{ auth.client_type }}"
                }}
            },
            "lifecycle": lifecycle
        }))
        .await;
    assert!(s.is_success(), "{v}");
    owner.wait_status(name, "running").await;
    let c = client(b, name);
    let url = format!("http://{name}.localhost:{}/public/", b.ports.listen);
    let start = Instant::now();
    loop {
        let r = c.get(&url).send().await.unwrap();
        if r.status() == 200 {
            assert_eq!(r.text().await.unwrap(), "ok");
            return c;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "never routable");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Installs the upstream with a 5 s idle time and waits until berth has
/// stopped it for idleness, for tests of what wakes it.
async fn install_idle_stopped(b: &Berth, owner: &Owner, name: &str, env_vars: Value) -> Client {
    let lifecycle = json!({"always_on": false, "idle_time_for_shutdown": 5});
    let c = install_upstream_with_env(b, owner, name, lifecycle, env_vars).await;
    owner.wait_status(name, "idle-stopped").await;
    c
}

async fn echoed(r: reqwest::RequestBuilder) -> Value {
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// berth's resident memory, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn headers_peers_websockets_and_a_gib_through_a_real_app() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("proof");
    let c = install_upstream(&b, &owner, &name, json!({"always_on": true})).await;
    let base = format!("http://{name}.localhost:{}", b.ports.listen);
    let cookie = pair_terminal(&b, "proof phone").await;

    // A terminal: the app sees who it is, not what the client claimed, and
    // never the terminal cookie.
    let h = echoed(
        c.get(format!("{base}/headers"))
            .header("cookie", format!("theme=dark; {cookie}"))
            .header("x-ptl-client-id", "evil")
            .header("X-Ptl-Client-Type", "owner")
            .header("x-forwarded-for", "6.6.6.6"),
    )
    .await;
    assert_eq!(h["x-ptl-client-type"], "terminal", "{h}");
    assert_eq!(h["x-ptl-client-name"], "proof phone", "{h}");
    let id = h["x-ptl-client-id"].as_str().unwrap();
    assert!(!id.is_empty() && id != "evil", "{h}");
    assert_eq!(h["cookie"], "theme=dark", "{h}");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1", "{h}");
    assert_eq!(
        h["x-forwarded-host"],
        format!("{name}.localhost:{}", b.ports.listen)
    );

    // Anonymous on the public path: a header only other paths inject is
    // stripped here too, and the private path stays closed.
    let h = echoed(
        c.get(format!("{base}/public/headers"))
            .header("x-ptl-client-id", "evil")
            .header("x-ptl-client-name", "evil"),
    )
    .await;
    assert_eq!(h["x-ptl-client-type"], "public", "{h}");
    assert!(h.get("x-ptl-client-id").is_none(), "{h}");
    assert!(h.get("x-ptl-client-name").is_none(), "{h}");
    let anon = c.get(format!("{base}/headers")).send().await.unwrap();
    assert_eq!(anon.status(), 401);

    // A known peer's signed request passes the peer path as that peer.
    let peer = IdentityKey::generate();
    let put = Client::new()
        .put(b.url("/protected/peers"))
        .bearer_auth(owner_token(&b))
        .json(&json!({"id": peer.id(), "name": "other berth",
            "public_bytes_b64": public_key_to_b64(&peer.public_bytes())}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let authority = format!("{name}.localhost:{}", b.ports.listen);
    let signed = |key: &IdentityKey, path: &'static str| {
        let target = Target {
            method: "GET",
            authority: &authority,
            path,
            query: None,
        };
        let s = sign_request(
            key,
            &target,
            b"",
            chrono::Utc::now().timestamp(),
            &new_nonce(),
        );
        c.get(format!("{base}{path}"))
            .header("signature-input", s.signature_input)
            .header("signature", s.signature)
            .header("content-digest", s.content_digest)
    };
    let h = echoed(signed(&peer, "/peer/headers").header("x-ptl-client-id", "evil")).await;
    assert_eq!(h["x-ptl-client-type"], "peer", "{h}");
    assert_eq!(h["x-ptl-client-id"], peer.id(), "{h}");
    // Forbidden: the peer on a private path, a stranger's key, nobody.
    let r = signed(&peer, "/headers").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let stranger = IdentityKey::generate();
    let r = signed(&stranger, "/peer/headers").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c.get(format!("{base}/peer/headers")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // A WebSocket through the gateway to the container, and back.
    let ws_url = format!("ws://{name}.localhost:{}/public/ws", b.ports.listen);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", b.ports.listen))
        .await
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(ws_url.into_client_request().unwrap(), tcp)
        .await
        .unwrap();
    for i in 0..3 {
        ws.send(Message::text(format!("ping {i}"))).await.unwrap();
        let back = ws.next().await.unwrap().unwrap();
        assert_eq!(back.into_text().unwrap().as_str(), format!("ping {i}"));
    }
    ws.close(None).await.unwrap();
    // The private WebSocket path refuses an anonymous upgrade.
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", b.ports.listen))
        .await
        .unwrap();
    let private = format!("ws://{name}.localhost:{}/ws", b.ports.listen);
    let refused =
        tokio_tungstenite::client_async(private.into_client_request().unwrap(), tcp).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("anonymous upgrade was not refused: {:?}", other.map(|_| ())),
    }

    // 1 GiB from the container: berth streams it, its memory stays flat.
    let pid = b.pid().unwrap();
    let before = rss_kib(pid);
    let mut r = c
        .get(format!("{base}/public/bytes/{}", 1u64 << 30))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (mut total, mut peak, mut next_sample) = (0u64, before, 0u64);
    while let Some(chunk) = r.chunk().await.unwrap() {
        total += chunk.len() as u64;
        if total >= next_sample {
            peak = peak.max(rss_kib(pid));
            next_sample += 32 << 20;
        }
    }
    assert_eq!(total, 1 << 30);
    let growth = peak.saturating_sub(before);
    assert!(
        growth < 64 * 1024,
        "berth grew by {growth} KiB for a 1 GiB download"
    );
}

#[tokio::test]
async fn fifty_concurrent_requests_start_a_stopped_app_once() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("fifty");
    // Stopped by idle shutdown, whose claim makes the gateway treat the app
    // as stopped from the moment the stop is decided, so no request below
    // can reach the container while it goes down.
    let c = install_idle_stopped(&b, &owner, &name, json!({})).await;
    let since = chrono::Utc::now().timestamp().to_string();

    let url = format!("http://{name}.localhost:{}/public/x", b.ports.listen);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let req = c.get(&url);
        tasks.push(tokio::spawn(async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), (200, "ok".to_owned()));
    }

    // The engine's own record: one start of this container since the stop.
    let until = (chrono::Utc::now().timestamp() + 1).to_string();
    let (ok, out) = docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &format!("container={name}"),
        "--filter",
        "event=start",
        "--format",
        "{{.Action}}",
    ]);
    assert!(ok, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.trim() == "start").count(),
        1,
        "{out}"
    );
}

/// The window between a woken container starting and its port answering:
/// berth then wants the app running and Docker says it runs, but a request
/// arriving now must wait for the wake, not be told the app crashed.
#[tokio::test]
async fn a_request_while_a_woken_app_opens_its_port_waits_for_it() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("slowport");
    let env = json!({"LISTEN_AFTER_MS": "4000"});
    let c = install_idle_stopped(&b, &owner, &name, env).await;

    let url = format!("http://{name}.localhost:{}/public/x", b.ports.listen);
    let first = tokio::spawn(c.get(&url).send());
    // The container runs (so berth's record says it should), its port is
    // still closed, and the gateway's directory has refreshed since.
    let start = Instant::now();
    while docker(&["inspect", "-f", "{{.State.Running}}", &name])
        .1
        .trim()
        != "true"
    {
        assert!(start.elapsed() < Duration::from_secs(20), "never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_, v) = owner.get(&name).await;
    assert_eq!(v["status"], "starting", "{v}");

    let second = c.get(&url).send().await.unwrap();
    let status = second.status().as_u16();
    assert_eq!(
        (status, second.text().await.unwrap()),
        (200, "ok".to_owned())
    );
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 200);
}

#[tokio::test]
async fn always_on_apps_are_never_idle_stopped_and_a_crashed_app_gets_a_502_page() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let steady = app_name("steady");
    let sleepy = app_name("sleepy");
    let c = install_upstream(&b, &owner, &steady, json!({"always_on": true})).await;
    // Installed after `steady`, so its last request came later: once berth
    // has found `sleepy` idle, `steady` has been idle longer.
    let idle = json!({"always_on": false, "idle_time_for_shutdown": 5});
    install_upstream(&b, &owner, &sleepy, idle).await;
    owner.wait_status(&sleepy, "idle-stopped").await;
    let (_, v) = owner.get(&steady).await;
    assert_eq!(v["status"], "running", "{v}");

    // `steady` exits behind berth's back: it still wants to run, so it has
    // crashed, and requests get 502 naming that, not a wake.
    assert!(docker(&["stop", "-t", "1", &steady]).0);
    owner.wait_status(&steady, "exited").await;
    let base = format!("http://{steady}.localhost:{}", b.ports.listen);
    let start = Instant::now();
    let page = loop {
        let r = c
            .get(format!("{base}/public/"))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502);
        let body = r.text().await.unwrap();
        // Until the gateway's map catches up, the connection itself fails.
        if body.contains("app crashed") || start.elapsed() > Duration::from_secs(20) {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(page.starts_with("<!doctype html>"), "{page}");
    assert!(
        page.contains("app crashed") && page.contains(&steady),
        "{page}"
    );
    let api = c.get(format!("{base}/public/")).send().await.unwrap();
    assert_eq!(api.status(), 502);
    assert_eq!(api.headers()["content-type"], "application/problem+json");
    let (_, v) = owner.get(&steady).await;
    assert_eq!(
        v["status"], "exited",
        "the gateway must not restart a crashed app: {v}"
    );
}

/// One HTTP/1.1 request on `conn`, a connection kept open across calls;
/// the status and, for a 200, the echoed headers.
async fn on_connection(
    conn: &mut tokio::io::BufReader<tokio::net::TcpStream>,
    host: &str,
    cookie: Option<&str>,
) -> (u16, Value) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    let request = format!("GET /headers HTTP/1.1\r\nHost: {host}\r\n{cookie}\r\n");
    conn.get_mut().write_all(request.as_bytes()).await.unwrap();
    let mut status_line = String::new();
    conn.read_line(&mut status_line).await.unwrap();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {status_line:?}"));
    let mut length = None;
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        assert!(!name.eq_ignore_ascii_case("connection") || !value.contains("close"));
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length.expect("a content-length answer")];
    conn.read_exact(&mut body).await.unwrap();
    let json = if status == 200 {
        serde_json::from_slice(&body).unwrap()
    } else {
        Value::Null
    };
    (status, json)
}

/// The gateway remembers a connection's caller between its requests; the
/// memory must never outlive what it was made from.
#[tokio::test]
async fn a_kept_alive_connection_sees_renames_and_revocations_on_its_next_request() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("memo");
    install_upstream(&b, &owner, &name, json!({"always_on": true})).await;
    let host = format!("{name}.localhost:{}", b.ports.listen);
    let cookie = pair_terminal(&b, "memo phone").await;
    let other = pair_terminal(&b, "memo laptop").await;
    let me: Value = Client::new()
        .get(b.url("/public/meta/whoami"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["id"].as_str().unwrap().to_owned();
    let socket = tokio::net::TcpStream::connect(("127.0.0.1", b.ports.listen))
        .await
        .unwrap();
    let mut conn = tokio::io::BufReader::new(socket);

    for _ in 0..3 {
        let (status, h) = on_connection(&mut conn, &host, Some(&cookie)).await;
        assert_eq!(status, 200);
        assert_eq!(h["x-ptl-client-name"], "memo phone", "{h}");
    }
    // Other credentials, or none, on the same connection are not the
    // remembered caller.
    let (status, h) = on_connection(&mut conn, &host, Some(&other)).await;
    assert_eq!(
        (status, &h["x-ptl-client-name"]),
        (200, &json!("memo laptop"))
    );
    let (status, _) = on_connection(&mut conn, &host, None).await;
    assert_eq!(status, 401);
    let tampered = format!("{cookie}x");
    let (status, _) = on_connection(&mut conn, &host, Some(&tampered)).await;
    assert_eq!(status, 401);
    let (status, h) = on_connection(&mut conn, &host, Some(&cookie)).await;
    assert_eq!(
        (status, &h["x-ptl-client-name"]),
        (200, &json!("memo phone"))
    );

    let c = Client::new();
    let token = owner_token(&b);
    let renamed = c
        .put(b.url(&format!("/protected/terminals/id/{id}")))
        .bearer_auth(&token)
        .json(&json!({"name": "renamed phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    let (status, h) = on_connection(&mut conn, &host, Some(&cookie)).await;
    assert_eq!(
        (status, &h["x-ptl-client-name"]),
        (200, &json!("renamed phone"))
    );

    let deleted = c
        .delete(b.url(&format!("/protected/terminals/id/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (status, _) = on_connection(&mut conn, &host, Some(&cookie)).await;
    assert_eq!(
        status, 401,
        "a deleted terminal is refused on its next request"
    );
    let (status, _) = on_connection(&mut conn, &host, Some(&other)).await;
    assert_eq!(status, 200, "other terminals are not affected");
}
