//! The main pages fit a phone (375 px, by Chromium's mobile emulation,
//! since a window cannot be that narrow) and a desktop (1440 px): nothing
//! is wider than the viewport, so nobody scrolls sideways to read a page.

use std::time::Duration;

use berth_test_support::{Berth, Browser};

use crate::common::{bin, pairing_code};
use crate::portus::Api;
use crate::web_support::{base, store_of};

/// The page's width, the viewport's, and the elements whose content is
/// wider than the width asked for (`arguments[0]`), innermost last, for the
/// failure message. Under mobile emulation a page wider than the device
/// widens the layout viewport itself (the phone zooms out), so both widths
/// are compared with the device's, not with each other.
const OVERFLOW: &str = "
    const width = arguments[0];
    const wide = Array.from(document.querySelectorAll('body *'))
        .filter(e => e.scrollWidth > width)
        .slice(-4)
        .map(e => e.tagName.toLowerCase() + '.' + e.className + ' (' + e.scrollWidth + ' px): '
            + e.textContent.trim().slice(0, 50));
    return [document.documentElement.scrollWidth, window.innerWidth, wide.join('; ')];";

/// Pairs `browser` through the pairing page as terminal `name` (names are
/// unique), so it is the owner, acting as the registry's admin on its pages.
async fn pair(browser: &Browser, b: &Berth, name: &str) {
    browser.goto(&format!("{}/home", base(b))).await.unwrap();
    browser.fill("#code", &pairing_code(b).await).await.unwrap();
    browser.fill("#name", name).await.unwrap();
    browser.click("button[type=submit]").await.unwrap();
    browser
        .wait_for_text("Install an app", Duration::from_secs(10))
        .await
        .unwrap();
}

async fn assert_pages_fit(browser: &Browser, b: &Berth, width: i64, paths: &[String]) {
    for path in paths {
        browser.goto(&format!("{}{path}", base(b))).await.unwrap();
        browser.find("main h1").await.unwrap();
        let got = browser
            .client()
            .execute(OVERFLOW, vec![width.into()])
            .await
            .unwrap();
        let (scroll, inner) = (got[0].as_i64().unwrap(), got[1].as_i64().unwrap());
        assert!(
            scroll <= width && inner == width,
            "{path} is {scroll} px wide in a viewport of {inner} at {width} px; sticking out: {}",
            got[2]
        );
    }
}

#[tokio::test]
async fn main_pages_have_no_horizontal_overflow_at_375_and_1440_px() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let team = api
        .create_team(&admin, "a-team-with-a-rather-long-name-for-a-phone")
        .await;
    let ns = api
        .create_namespace(
            &admin,
            "a-namespace-with-a-long-name",
            "a-team-with-a-rather-long-name-for-a-phone",
        )
        .await;
    assert_eq!(api.set_visibility(&admin, ns, "public").await, 200);
    let store = store_of(&b).await;
    let repo = "a-repository-whose-name-is-longer-than-a-phone-is-wide";
    let repo_id = store.upsert_repository(ns, repo).await.unwrap();
    let long_tag = format!("v1.2.3-{}", "build".repeat(20));
    let digest = format!("sha256:{}", "ab".repeat(32));
    let tag_id = store.upsert_tag(repo_id, &long_tag, &digest).await.unwrap();
    store.upsert_tag(repo_id, "latest", &digest).await.unwrap();
    store
        .update_repository_description(
            repo_id,
            &format!("# Notes\n\nSee https://example.org/{}", "x".repeat(120)),
        )
        .await
        .unwrap();

    let full = format!("a-namespace-with-a-long-name/{repo}");
    let paths = vec![
        "/explore".to_owned(),
        format!("/r/{full}"),
        "/".to_owned(),
        "/home".to_owned(),
        format!("/search?q={repo}"),
        "/namespaces".to_owned(),
        format!("/namespaces/{ns}"),
        "/teams".to_owned(),
        format!("/teams/{team}"),
        "/tokens".to_owned(),
        "/activities".to_owned(),
        "/users".to_owned(),
        format!("/tag-delete/{tag_id}"),
        "/home/terminals".to_owned(),
        "/home/identity".to_owned(),
    ];

    let phone = Browser::start_phone(375, 812).await.unwrap();
    pair(&phone, &b, "phone").await;
    assert_pages_fit(&phone, &b, 375, &paths).await;
    let desktop = Browser::start(1440).await.unwrap();
    pair(&desktop, &b, "desktop").await;
    assert_pages_fit(&desktop, &b, 1440, &paths).await;
}
