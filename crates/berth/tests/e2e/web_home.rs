//! The owner's home in a real Chromium: pages refuse browsers that are not
//! paired, a paired browser creates the registry's admin, installs an app
//! from a pasted app.json (a bad one shows its errors by field path), sees
//! it appear and run without reloading, and opens it through the gateway.

use std::time::Duration;

use berth_test_support::{Berth, Browser};
use serde_json::json;

use crate::apps_support::app_name;
use crate::common::{bin, pair_terminal, pairing_code};
use crate::web_support::{base, shot, WebClient};

/// Pairs a terminal through the API and returns its cookie's value.
async fn terminal_cookie(b: &Berth) -> String {
    let pair = pair_terminal(b, "e2e chromium").await;
    pair.split_once('=').unwrap().1.to_owned()
}

#[tokio::test]
async fn the_home_needs_a_paired_terminal() {
    let b = Berth::start(&bin()).await.unwrap();
    let mut anon = WebClient::new(&b);
    for path in ["/home", "/home/terminals", "/home/identity"] {
        let a = anon.get(path).await;
        assert_eq!(
            (a.status, a.location.as_str()),
            (303, "/pair?next=/home"),
            "{path}"
        );
    }
    let token = anon.csrf("/sign-in").await;
    let a = anon
        .post(
            "/home/install",
            &[("_csrf", &token), ("manifest", "{}")],
            &[],
        )
        .await;
    assert_eq!((a.status, a.location.as_str()), (303, "/pair?next=/home"));
    let mut owner = WebClient::new(&b);
    owner.set_cookie("berth_terminal", &terminal_cookie(&b).await);
    assert_eq!(owner.get("/home").await.status, 200);
}

#[tokio::test]
async fn the_owner_creates_the_admin_and_installs_an_app_from_the_browser() {
    let b = Berth::start(&bin()).await.unwrap();
    let browser = Browser::start(1440).await.unwrap();
    // The home sends an unpaired browser to the pairing page, and back.
    browser.goto(&format!("{}/home", base(&b))).await.unwrap();
    browser
        .fill("#code", &pairing_code(&b).await)
        .await
        .unwrap();
    browser.fill("#name", "web ui e2e").await.unwrap();
    browser.click("button[type=submit]").await.unwrap();
    browser
        .wait_for_text(
            "Create the registry's admin account",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    browser.fill("#a-name", "root").await.unwrap();
    browser.fill("#a-email", "root@example.org").await.unwrap();
    browser.fill("#a-password", "root-password").await.unwrap();
    browser
        .click_to_next_page("#create-admin button", Duration::from_secs(10))
        .await
        .unwrap();
    browser
        .wait_for_text("No apps installed yet", Duration::from_secs(10))
        .await
        .unwrap();
    // On the registry's pages the owner acts as that admin.
    browser.goto(&format!("{}/users", base(&b))).await.unwrap();
    browser
        .wait_for_text("root (owner)", Duration::from_secs(10))
        .await
        .unwrap();
    shot(&browser, "users").await;
    browser
        .goto(&format!("{}/home/identity", base(&b)))
        .await
        .unwrap();
    browser
        .wait_for_text("Peers", Duration::from_secs(10))
        .await
        .unwrap();
    shot(&browser, "identity").await;

    browser.goto(&format!("{}/home", base(&b))).await.unwrap();
    let bad = json!({"v": "4.0", "name": "Bad Name", "image": ""}).to_string();
    browser.fill("#manifest", &bad).await.unwrap();
    browser.click("#install button").await.unwrap();
    browser
        .wait_for_text("was not accepted", Duration::from_secs(10))
        .await
        .unwrap();
    let errors = browser
        .find("#install-errors")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        errors.contains("/name") && errors.contains("/image"),
        "{errors}"
    );
    shot(&browser, "home-install-errors").await;

    // This window watches an empty home; the install happens in another,
    // and the tile must arrive here by server-sent events, with no reload
    // (a reload would lose the marker).
    browser.goto(&format!("{}/home", base(&b))).await.unwrap();
    browser.find("#apps").await.unwrap();
    browser
        .client()
        .execute("window.__marker = 'kept'; return null;", vec![])
        .await
        .unwrap();
    let watcher = browser.client().window().await.unwrap();
    let installer = browser.client().new_window(true).await.unwrap().handle;
    browser.client().switch_to_window(installer).await.unwrap();
    browser.goto(&format!("{}/home", base(&b))).await.unwrap();

    let name = app_name("webui");
    let image = berth_test_support::busybox_image().unwrap();
    let manifest = json!({
        "v": "4.0", "name": name, "image": image,
        "entrypoints": [{"container_port": 8080, "entrypoint_port": "http"}],
        "paths": {"": {"access": "public"}},
        "lifecycle": {"always_on": true}
    });
    browser
        .fill("#manifest", &manifest.to_string())
        .await
        .unwrap();
    // The install goes on in the background; the form returns to the home.
    // Its window may close only then: closing it mid-request would abort
    // the install.
    browser
        .click_to_next_page("#install button", Duration::from_secs(30))
        .await
        .unwrap();
    assert!(
        browser.current_url_lossy().await.ends_with("/home"),
        "{}",
        browser.current_url_lossy().await
    );
    let status = format!("[data-app='{name}'] [data-field='status']");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    browser.client().close_window().await.unwrap();
    browser.client().switch_to_window(watcher).await.unwrap();
    loop {
        let shown = match browser.find(&status).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if shown == "running" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "status stayed `{shown}`"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let marker = browser
        .client()
        .execute("return window.__marker;", vec![])
        .await
        .unwrap();
    assert_eq!(marker, json!("kept"), "the home was reloaded");
    // The redrawn tile has the controls of a running app.
    browser
        .find(&format!(
            "[data-app='{name}'] form[action='/home/apps/{name}/stop']"
        ))
        .await
        .unwrap();
    shot(&browser, "home").await;

    let open = browser
        .find(&format!("[data-app='{name}'] h3 a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let app_url = format!("http://{name}.localhost:{}/", b.ports.listen);
    let handoff: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &app_url)
        .finish();
    assert_eq!(open, format!("/.berth/handoff?{handoff}"));
    browser
        .click(&format!("[data-app='{name}'] h3 a"))
        .await
        .unwrap();
    // The gateway learns of new apps on its next refresh (twice a second),
    // which may come just after the tile says running: open it again then.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = browser.text().await.unwrap_or_default();
        if text.contains("hello from busybox") {
            break;
        }
        if std::time::Instant::now() > deadline {
            let log = b.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            panic!("the app did not open:\n{text}\n{}", tail.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        browser.goto(&format!("{}{open}", base(&b))).await.unwrap();
    }

    browser
        .goto(&format!("{}/home/terminals", base(&b)))
        .await
        .unwrap();
    browser
        .click("form[action='/home/terminals/code'] button")
        .await
        .unwrap();
    let code = browser
        .find("#pairing-code")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!code.is_empty());
    browser
        .wait_for_text("left)", Duration::from_secs(5))
        .await
        .unwrap();
    shot(&browser, "terminals").await;

    // Uninstall with purge, after the confirmation that names the app.
    browser
        .goto(&format!("{}/home/apps/{name}/uninstall", base(&b)))
        .await
        .unwrap();
    browser.fill("#confirm", &name).await.unwrap();
    browser.click("#uninstall input[name=purge]").await.unwrap();
    browser.click("#uninstall button").await.unwrap();
    browser
        .wait_for_text("No apps installed yet", Duration::from_secs(60))
        .await
        .unwrap();
}
