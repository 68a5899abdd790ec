//! Browser traffic to installed apps through the gateway: per-path access
//! with a real paired terminal, header injection, idle shutdown and wake.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use berth_test_support::Berth;
use reqwest::Client;
use serde_json::json;

use crate::apps_support::{app_name, Owner};
use crate::common::{bin, pair_terminal};

fn client(b: &Berth, app: &str) -> Client {
    let addr: SocketAddr = format!("127.0.0.1:{}", b.ports.listen).parse().unwrap();
    Client::builder()
        .resolve(&format!("{app}.localhost"), addr)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn wait_routable(c: &Client, url: &str, cookie: &str) -> reqwest::Response {
    let start = Instant::now();
    loop {
        let r = c.get(url).header("cookie", cookie).send().await.unwrap();
        if r.status() != 404 || start.elapsed() > Duration::from_secs(20) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn private_and_public_paths_of_a_real_app_with_a_paired_terminal() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("web");
    let image = berth_test_support::busybox_image().unwrap();
    let (s, v) = owner
        .install(&json!({
            "v": "4.0", "name": name, "image": image,
            "entrypoints": [{"container_port": 8080, "entrypoint_port": "http"}],
            "paths": {
                "": {"access": "private", "headers": {"X-Ptl-Client-Id": "{{ auth.client_id }}"}},
                "/index.html": {"access": "public"}
            },
            "lifecycle": {"always_on": true}
        }))
        .await;
    assert!(s.is_success(), "{v}");
    owner.wait_status(&name, "running").await;
    let cookie = pair_terminal(&b, "e2e browser").await;
    let c = client(&b, &name);
    let base = format!("http://{name}.localhost:{}", b.ports.listen);

    let r = wait_routable(&c, &format!("{base}/"), &cookie).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap().trim(), "hello from busybox");
    // Anonymous: the private root is refused, the public page is open.
    assert_eq!(
        c.get(format!("{base}/")).send().await.unwrap().status(),
        401
    );
    let browser = c
        .get(format!("{base}/"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(browser.status(), 302);
    let public = c.get(format!("{base}/index.html")).send().await.unwrap();
    assert_eq!(public.status(), 200);
    // A forged cookie is refused like no cookie.
    let forged = c
        .get(format!("{base}/"))
        .header("cookie", "berth_terminal=v1.x.y.1.2.zz")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
}

#[tokio::test]
async fn an_idle_app_is_stopped_and_the_next_request_wakes_it() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("idle");
    let image = berth_test_support::busybox_image().unwrap();
    let (s, v) = owner
        .install(&json!({
            "v": "4.0", "name": name, "image": image,
            "entrypoints": [{"container_port": 8080, "entrypoint_port": "http"}],
            "paths": {"": {"access": "public"}},
            "lifecycle": {"always_on": false, "idle_time_for_shutdown": 5}
        }))
        .await;
    assert!(s.is_success(), "{v}");
    owner.wait_status(&name, "running").await;
    let statuses = watch_statuses(&b, &name).await;
    let c = client(&b, &name);
    let base = format!("http://{name}.localhost:{}", b.ports.listen);
    assert_eq!(
        wait_routable(&c, &format!("{base}/"), "").await.status(),
        200
    );

    // No traffic: berth stops the app after its idle time, and says why.
    owner.wait_status(&name, "idle-stopped").await;

    // An API client's request is held until the app answers.
    let r = c.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap().trim(), "hello from busybox");
    let (_, app) = owner.get(&name).await;
    assert_eq!(app["status"], "running", "{app}");

    // The events stream told the whole story, in order.
    let seen = wait_for_sequence(&statuses, &["idle-stopped", "starting", "running"]).await;
    assert!(seen, "events stream said {:?}", statuses.lock().unwrap());
}

/// Collects the statuses `/protected/events` reports for `app`.
async fn watch_statuses(b: &Berth, app: &str) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    use futures_util::StreamExt;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let anonymous = Client::new()
        .get(b.url("/protected/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "the stream is the owner's");
    let r = Client::new()
        .get(b.url("/protected/events"))
        .bearer_auth(b.owner_token())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let (app, sink) = (app.to_owned(), seen.clone());
    tokio::spawn(async move {
        let mut body = r.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
                    continue;
                };
                let v: serde_json::Value = serde_json::from_str(data).unwrap();
                if v["name"] == app.as_str() {
                    if let Some(status) = v["status"].as_str() {
                        sink.lock().unwrap().push(status.to_owned());
                    }
                }
            }
        }
    });
    seen
}

/// Waits up to 10 s for `want` to appear, in order, among the statuses.
async fn wait_for_sequence(seen: &std::sync::Mutex<Vec<String>>, want: &[&str]) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        {
            let seen = seen.lock().unwrap();
            let mut it = seen.iter();
            if want.iter().all(|w| it.any(|s| s == w)) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
