//! The web UI's sessions in a real Chromium: sign in, a wrong password,
//! sign out revoking the session on the server, the security headers, and
//! CSRF: forged posts are refused and change nothing.

use std::time::Duration;

use berth_test_support::{Berth, Browser};

use crate::common::bin;
use crate::portus::Api;
use crate::web_support::{base, shot, sign_in, WebClient};

#[tokio::test]
async fn sign_in_wrong_password_and_sign_out_in_a_browser() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let browser = Browser::start(1440).await.unwrap();

    browser
        .goto(&format!("{}/sign-in", base(&b)))
        .await
        .unwrap();
    shot(&browser, "sign-in").await;
    browser.fill("#username", "alice").await.unwrap();
    browser.fill("#password", "not-her-password").await.unwrap();
    browser
        .click("form.card button[type=submit]")
        .await
        .unwrap();
    browser
        .wait_for_text("Wrong username or password", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(browser.cookie("berth_session").await.unwrap().is_none());

    sign_in(&browser, &b, "alice", &alice.password).await;
    let text = browser.text().await.unwrap();
    assert!(text.contains("alice"), "{text}");
    let session = browser.cookie("berth_session").await.unwrap().unwrap();
    shot(&browser, "dashboard").await;

    browser
        .click_to_next_page("form[action='/sign-out'] button", Duration::from_secs(10))
        .await
        .unwrap();
    browser
        .wait_for_text("Sign in", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(browser.cookie("berth_session").await.unwrap().is_none());
    // The old cookie is dead on the server too, not just in this browser.
    let mut replay = WebClient::new(&b);
    replay.set_cookie("berth_session", &session);
    let a = replay.get("/tokens").await;
    assert_eq!((a.status, a.location.as_str()), (303, "/sign-in"));
}

#[tokio::test]
async fn sign_in_counts_toward_the_lockout_and_pages_carry_security_headers() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let bob = api.create_user(&admin, "bob", false).await;
    let mut c = WebClient::new(&b);
    let page = c.get("/sign-in").await;
    assert_eq!(page.status, 200);
    let r = reqwest::get(format!("{}/sign-in", base(&b))).await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let token = c.csrf("/sign-in").await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let a = c
            .post(
                "/sign-in",
                &[
                    ("_csrf", &token),
                    ("username", "bob"),
                    ("password", "wrong"),
                ],
                &[],
            )
            .await;
        statuses.push(a.status);
    }
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    // Locked now: even the right password is refused, here and on the API.
    let a = c
        .post(
            "/sign-in",
            &[
                ("_csrf", &token),
                ("username", "bob"),
                ("password", &bob.password),
            ],
            &[],
        )
        .await;
    assert!(a.status == 401 || a.status == 429, "{}", a.status);
    assert!(c.cookie("berth_session").is_none());
    let (s, _) = api
        .call(&bob.auth(), reqwest::Method::GET, "/api/v1/teams", None)
        .await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn forged_posts_without_the_right_token_or_from_another_origin_change_nothing() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let carol = api.create_user(&admin, "carol", false).await;
    let mut c = WebClient::new(&b);
    c.sign_in("carol", &carol.password).await;
    let token = c.csrf("/teams").await;
    let origin = base(&b);

    let none = c.post("/teams", &[("name", "forged1")], &[]).await;
    assert_eq!(none.status, 403, "{}", none.body);
    assert!(none.body.contains("Form expired"));
    let wrong = c
        .post(
            "/teams",
            &[("_csrf", "x".repeat(43).as_str()), ("name", "forged2")],
            &[],
        )
        .await;
    assert_eq!(wrong.status, 403);
    // The right token from another site's page is refused too.
    let cross = c
        .post(
            "/teams",
            &[("_csrf", &token), ("name", "forged3")],
            &[
                ("origin", "http://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_eq!(cross.status, 403);
    // A token of another visitor (anonymous, fresh cookie) does not fit this session.
    let mut other = WebClient::new(&b);
    let foreign = other.csrf("/sign-in").await;
    let misfit = c
        .post("/teams", &[("_csrf", &foreign), ("name", "forged4")], &[])
        .await;
    assert_eq!(misfit.status, 403);
    let (_, teams) = api
        .call(&carol.auth(), reqwest::Method::GET, "/api/v1/teams", None)
        .await;
    assert_eq!(teams.as_array().unwrap().len(), 0, "{teams}");

    // The same form with the session's token and this origin works.
    let ok = c
        .post(
            "/teams",
            &[("_csrf", &token), ("name", "real")],
            &[
                ("origin", origin.as_str()),
                ("sec-fetch-site", "same-origin"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let (_, teams) = api
        .call(&carol.auth(), reqwest::Method::GET, "/api/v1/teams", None)
        .await;
    assert_eq!(teams[0]["name"], "real");
}

/// The session cookie is out of scripts' reach (`HttpOnly`), not sent on
/// cross-site subrequests (`SameSite=Lax`), and, over plain HTTP, not
/// marked `Secure` (a browser would then drop it); sign-out expires it.
#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let kim = api.create_user(&admin, "kim", false).await;
    let mut web = WebClient::new(&b);
    let token = web.csrf("/sign-in").await;
    let a = web
        .post(
            "/sign-in",
            &[
                ("_csrf", &token),
                ("username", "kim"),
                ("password", &kim.password),
            ],
            &[],
        )
        .await;
    assert_eq!(a.status, 303, "{}", a.body);
    let session: Vec<&String> = a
        .set_cookies
        .iter()
        .filter(|c| c.starts_with("berth_session="))
        .collect();
    assert_eq!(session.len(), 1, "{:?}", a.set_cookies);
    let attributes: Vec<&str> = session[0].split(';').skip(1).map(str::trim).collect();
    for wanted in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attributes.contains(&wanted), "{wanted} in {}", session[0]);
    }
    assert!(!attributes.contains(&"Secure"), "{}", session[0]);

    let token = web.csrf("/").await;
    let out = web.post("/sign-out", &[("_csrf", &token)], &[]).await;
    assert_eq!(out.status, 303);
    let cleared = out
        .set_cookies
        .iter()
        .find(|c| c.starts_with("berth_session="))
        .unwrap_or_else(|| panic!("sign-out sets no session cookie: {:?}", out.set_cookies));
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("HttpOnly"),
        "{cleared}"
    );
}
