//! A real Chromium pairs itself through the pages a person sees, then
//! opens a private app at `http://<app>.localhost:<port>/`: the gateway
//! sends it to the core, the core to `/pair`, and after pairing a one-time
//! ticket carries the terminal cookie to the app's host.

use std::time::{Duration, Instant};

use berth_test_support::{Berth, Browser};
use serde_json::json;

use crate::apps_support::{app_name, Owner};
use crate::common::{bin, pair_terminal, pairing_code};

#[tokio::test]
async fn chromium_pairs_through_the_form_and_opens_a_private_app() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("paired");
    let image = berth_test_support::busybox_image().unwrap();
    let (s, v) = owner
        .install(&json!({
            "v": "4.0", "name": name, "image": image,
            "entrypoints": [{"container_port": 8080, "entrypoint_port": "http"}],
            "paths": {"": {"access": "private"}},
            "lifecycle": {"always_on": true}
        }))
        .await;
    assert!(s.is_success(), "{v}");
    owner.wait_status(&name, "running").await;
    let app_url = format!("http://{name}.localhost:{}/", b.ports.listen);
    // The gateway refreshes its routes twice a second; wait until it knows
    // the app (a private path answers 401 to a client without a cookie).
    let c = reqwest::Client::builder()
        .resolve(
            &format!("{name}.localhost"),
            format!("127.0.0.1:{}", b.ports.listen).parse().unwrap(),
        )
        .build()
        .unwrap();
    let start = Instant::now();
    while c.get(&app_url).send().await.unwrap().status() == 404 {
        assert!(start.elapsed() < Duration::from_secs(20), "never routed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let browser = Browser::start(1280).await.unwrap();
    browser.goto(&app_url).await.unwrap();
    browser
        .wait_for_text("Pair this browser", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        browser
            .current_url_lossy()
            .await
            .starts_with(&format!("http://localhost:{}/pair?next=", b.ports.listen)),
        "{}",
        browser.current_url_lossy().await
    );

    // A wrong code is refused on the page, and pairs nothing.
    browser.fill("#code", "WRONG-CODE").await.unwrap();
    browser.click("button[type=submit]").await.unwrap();
    browser
        .wait_for_text("not valid", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(browser.cookie("berth_terminal").await.unwrap(), None);

    // The owner's code pairs it, and the browser lands on the app.
    let code = pairing_code(&b).await;
    browser.fill("#code", &code).await.unwrap();
    browser.fill("#name", "chromium in e2e").await.unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    browser
        .screenshot(&std::path::Path::new(root).join("../../docs/screenshots/pair.png"))
        .await
        .unwrap();
    browser.click("button[type=submit]").await.unwrap();
    browser
        .wait_for_text("hello from busybox", Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(browser.current_url_lossy().await, app_url);
    assert!(
        browser.cookie("berth_terminal").await.unwrap().is_some(),
        "the app's host holds its own copy of the terminal cookie"
    );

    // The same code cannot pair a second device.
    let second = reqwest::Client::new()
        .post(b.url(&format!("/public/pair/terminal?code={code}")))
        .json(&json!({"name": "thief"}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 403, "a pairing code works once");

    // Revoking the terminal shuts the browser out on its next request.
    let terminals: serde_json::Value = reqwest::Client::new()
        .get(b.url("/protected/terminals"))
        .bearer_auth(b.owner_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = terminals.as_array().unwrap();
    let mine = list
        .iter()
        .find(|t| t["name"] == "chromium in e2e")
        .unwrap_or_else(|| panic!("{terminals}"));
    let id = mine["id"].as_str().unwrap();
    let deleted = reqwest::Client::new()
        .delete(b.url(&format!("/protected/terminals/id/{id}")))
        .bearer_auth(b.owner_token())
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    browser.goto(&app_url).await.unwrap();
    browser
        .wait_for_text("Pair this browser", Duration::from_secs(10))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_handoff_ticket_works_once_for_a_paired_browser_and_only_for_this_berths_apps() {
    let b = Berth::start(&bin()).await.unwrap();
    let owner = Owner::new(&b);
    let name = app_name("notes");
    let image = berth_test_support::busybox_image().unwrap();
    let (s, v) = owner
        .install(&json!({
            "v": "4.0", "name": name, "image": image,
            "entrypoints": [{"container_port": 8080, "entrypoint_port": "http"}],
            "paths": {"": {"access": "private"}},
            "lifecycle": {"always_on": true}
        }))
        .await;
    assert!(s.is_success(), "{v}");
    let port = b.ports.listen;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(
            &format!("{name}.localhost"),
            format!("127.0.0.1:{port}").parse().unwrap(),
        )
        .build()
        .unwrap();
    let cookie = pair_terminal(&b, "api client").await;
    // A paired terminal is the owner on `/protected/apps` too; a forged
    // cookie is not.
    let apps = http
        .get(b.url("/protected/apps"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(apps.status(), 200);
    let forged = http
        .get(b.url("/protected/apps"))
        .header("cookie", "berth_terminal=v1.x.y.1.2.zz")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let next = format!("http://{name}.localhost:{port}/x?y=1");
    let handoff = |cookie: Option<String>, next: String| {
        let mut req = http
            .get(b.url("/.berth/handoff"))
            .query(&[("next", next)])
            .header("host", format!("localhost:{port}"));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    // Without a cookie: off to pairing, coming back here afterwards.
    let r = handoff(None, next.clone()).await.unwrap();
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap();
    assert!(loc.starts_with("/pair?next=%2F.berth%2Fhandoff"), "{loc}");
    // Another site, or another port, is not a target.
    for bad in [
        format!("http://evil.example:{port}/"),
        format!("http://{name}.localhost:{}/", port + 1),
    ] {
        let r = handoff(Some(cookie.clone()), bad.clone()).await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    // With the cookie: a ticket for exactly that host and path.
    let r = handoff(Some(cookie.clone()), next.clone()).await.unwrap();
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    let prefix = format!("http://{name}.localhost:{port}/.berth/session?ticket=");
    assert!(loc.starts_with(&prefix), "{loc}");
    owner.wait_status(&name, "running").await;
    let start = Instant::now();
    let first = loop {
        let r = http.get(&loc).send().await.unwrap();
        if r.status() != 404 || start.elapsed() > Duration::from_secs(20) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(first.status(), 303);
    assert_eq!(first.headers()["location"], "/x?y=1");
    let set = first.headers()["set-cookie"].to_str().unwrap();
    assert!(set.starts_with("berth_terminal="), "{set}");
    assert!(!set.contains("Domain"), "host-only: {set}");
    assert!(set.contains("HttpOnly"), "{set}");
    // The same ticket again: refused, no cookie.
    let again = http.get(&loc).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.headers().get("set-cookie").is_none());
}
