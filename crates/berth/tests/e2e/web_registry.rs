//! The registry's pages in a real Chromium against a real berth, registry
//! and docker CLI: teams and visibility, a pushed tag appearing, an
//! application token used by `docker login`, anonymous explore with the 404
//! of a private repository, escaping of hostile names, and forbidden
//! actions neither offered nor accepted.

use std::time::{Duration, Instant};

use berth_test_support::{Berth, Browser};

use crate::common::bin;
use crate::docker_cli::{assert_ok, DockerClient};
use crate::portus::Api;
use crate::web_support::{base, shot, sign_in, store_of, WebClient};

#[tokio::test]
async fn create_a_team_add_a_member_and_make_a_namespace_public() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let dana = api.create_user(&admin, "dana", false).await;
    let erin = api.create_user(&admin, "erin", false).await;
    let browser = Browser::start(1440).await.unwrap();
    sign_in(&browser, &b, "dana", &dana.password).await;

    browser.goto(&format!("{}/teams", base(&b))).await.unwrap();
    browser.fill("#team-name", "crew").await.unwrap();
    browser
        .click_to_next_page("#new-team button", Duration::from_secs(10))
        .await
        .unwrap();
    browser
        .wait_for_text("Add a member", Duration::from_secs(10))
        .await
        .unwrap();
    browser.fill("#member-user", "erin").await.unwrap();
    browser
        .click_to_next_page("#add-member button", Duration::from_secs(10))
        .await
        .unwrap();
    browser
        .wait_for_text("Remove erin", Duration::from_secs(10))
        .await
        .unwrap();
    shot(&browser, "team").await;

    browser
        .goto(&format!("{}/namespaces", base(&b)))
        .await
        .unwrap();
    browser.fill("#ns-name", "crewns").await.unwrap();
    browser
        .fill("#ns-description", "the crew's images")
        .await
        .unwrap();
    browser
        .click_to_next_page("#new-namespace button", Duration::from_secs(10))
        .await
        .unwrap();
    browser
        .wait_for_text("Settings", Duration::from_secs(10))
        .await
        .unwrap();
    let select = browser.find("#visibility-select").await.unwrap();
    select.select_by_value("public").await.unwrap();
    browser
        .click_to_next_page("#namespace-settings button", Duration::from_secs(10))
        .await
        .unwrap();
    browser
        .wait_for_text("public", Duration::from_secs(10))
        .await
        .unwrap();
    let shown = browser
        .find("#visibility")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(shown, "public");
    shot(&browser, "namespace").await;
    browser
        .goto(&format!("{}/activities", base(&b)))
        .await
        .unwrap();
    browser
        .wait_for_text("namespace.change_visibility", Duration::from_secs(10))
        .await
        .unwrap();
    shot(&browser, "activities").await;
    // The API agrees: the change went through the same store.
    let (_, list) = api
        .call(
            &dana.auth(),
            reqwest::Method::GET,
            "/api/v1/namespaces",
            None,
        )
        .await;
    let ns = list
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "crewns")
        .unwrap()
        .clone();
    assert_eq!(ns["visibility"], "public");

    // erin, a viewer, is offered no member management and a forged form is refused.
    let mut e = WebClient::new(&b);
    e.sign_in("erin", &erin.password).await;
    let team_id = ns["team"]["id"].as_i64().unwrap_or_else(|| {
        panic!("team id in {ns}");
    });
    let page = e.get(&format!("/teams/{team_id}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("Add a member") && !page.body.contains("Remove dana"));
    let token = e.csrf(&format!("/teams/{team_id}")).await;
    let forged = e
        .post(
            &format!("/teams/{team_id}/members"),
            &[("_csrf", &token), ("user", "erin"), ("role", "owner")],
            &[],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let page = e.get(&format!("/namespaces/{}", ns["id"])).await;
    assert!(!page.body.contains("namespace-settings"));
    let forged = e
        .post(
            &format!("/namespaces/{}", ns["id"]),
            &[
                ("_csrf", &token),
                ("visibility", "private"),
                ("description", "x"),
            ],
            &[],
        )
        .await;
    assert_eq!(forged.status, 403);
    let (_, members) = api
        .call(
            &dana.auth(),
            reqwest::Method::GET,
            &format!("/api/v1/teams/{team_id}/members"),
            None,
        )
        .await;
    let erin_role = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == erin.id)
        .map(|m| m["role"].clone());
    assert_eq!(erin_role, Some(serde_json::json!("viewer")), "{members}");
}

#[tokio::test]
async fn a_pushed_tag_appears_and_an_application_token_logs_docker_in() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let frank = api.create_user(&admin, "frank", false).await;
    let browser = Browser::start(1440).await.unwrap();
    sign_in(&browser, &b, "frank", &frank.password).await;

    browser.goto(&format!("{}/tokens", base(&b))).await.unwrap();
    browser.fill("#application", "ci").await.unwrap();
    browser.click("#new-token-form button").await.unwrap();
    let secret = browser
        .find("#new-token")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(secret.len() >= 32, "{secret}");
    shot(&browser, "tokens").await;
    let docker = DockerClient::new(&b);
    assert_ok(&docker.login("frank", &secret));
    assert_ok(&docker.push("frank/web:1.0"));

    // The sync records the push from the registry's notification.
    let url = format!("{}/r/frank/web", base(&b));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        browser.goto(&url).await.unwrap();
        let text = browser.text().await.unwrap();
        if text.contains("1.0") && text.contains("frank") {
            break;
        }
        assert!(Instant::now() < deadline, "the tag did not appear:\n{text}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let pull = browser.find("#pull-1").await.unwrap().text().await.unwrap();
    assert_eq!(
        pull,
        format!("docker pull {}/frank/web:1.0", docker.registry())
    );
    shot(&browser, "repository").await;

    // Revoked from the page, the token no longer logs in.
    browser.goto(&format!("{}/tokens", base(&b))).await.unwrap();
    browser.click("#app-tokens button.danger").await.unwrap();
    browser
        .wait_for_text("No application tokens", Duration::from_secs(10))
        .await
        .unwrap();
    let again = DockerClient::new(&b);
    assert!(!again.login("frank", &secret).status.success());
}

#[tokio::test]
async fn anonymous_explore_shows_public_repositories_and_a_private_one_is_404() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let gina = api.create_user(&admin, "gina", false).await;
    api.create_team(&gina.auth(), "shop").await;
    let open = api.create_namespace(&gina.auth(), "open", "shop").await;
    let closed = api.create_namespace(&gina.auth(), "closed", "shop").await;
    assert_eq!(api.set_visibility(&gina.auth(), open, "public").await, 200);
    let store = store_of(&b).await;
    store.upsert_repository(open, "shown").await.unwrap();
    store.upsert_repository(closed, "hidden").await.unwrap();

    // A phone's width, by mobile emulation: a window cannot be that narrow.
    let browser = Browser::start_phone(375, 812).await.unwrap();
    browser
        .goto(&format!("{}/explore", base(&b)))
        .await
        .unwrap();
    let text = browser.text().await.unwrap();
    assert!(text.contains("open/shown"), "{text}");
    assert!(!text.contains("closed"), "{text}");
    let width = browser
        .client()
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap();
    assert_eq!(width, serde_json::json!(375));
    shot(&browser, "explore-375").await;
    browser.fill("#q", "show").await.unwrap();
    browser
        .click_to_next_page("form.filter button", Duration::from_secs(10))
        .await
        .unwrap();
    browser
        .wait_for_text("open/shown", Duration::from_secs(10))
        .await
        .unwrap();

    browser
        .goto(&format!("{}/r/open/shown", base(&b)))
        .await
        .unwrap();
    browser
        .wait_for_text("docker pull", Duration::from_secs(10))
        .await
        .unwrap();
    browser
        .goto(&format!("{}/r/closed/hidden", base(&b)))
        .await
        .unwrap();
    browser
        .wait_for_text("Not found", Duration::from_secs(10))
        .await
        .unwrap();
    let mut anon = WebClient::new(&b);
    assert_eq!(anon.get("/r/closed/hidden").await.status, 404);
    assert_eq!(anon.get(&format!("/namespaces/{closed}")).await.status, 404);
    // A signed-in member of the owning team reads it.
    let mut g = WebClient::new(&b);
    g.sign_in("gina", &gina.password).await;
    assert_eq!(g.get("/r/closed/hidden").await.status, 200);
}

#[tokio::test]
async fn script_payloads_in_a_team_name_and_a_description_never_run() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let hal = api.create_user(&admin, "hal", false).await;
    let team_payload = "<script>window.__xss=1;document.title='pwned'</script>";
    let desc_payload = "<img src=x onerror=\"window.__xss=2;document.title='pwned'\">";
    let team = api.create_team(&hal.auth(), team_payload).await;
    let ns = api.create_namespace(&hal.auth(), "xss", team_payload).await;
    let (s, _) = api
        .call(
            &hal.auth(),
            reqwest::Method::PUT,
            &format!("/api/v1/namespaces/{ns}"),
            Some(serde_json::json!({"namespace": {"description": desc_payload}})),
        )
        .await;
    assert_eq!(s, 200);

    store_of(&b)
        .await
        .upsert_repository(ns, "app")
        .await
        .unwrap();

    let browser = Browser::start(1440).await.unwrap();
    sign_in(&browser, &b, "hal", &hal.password).await;
    // A Markdown description with script, a handler and a script URL.
    browser
        .goto(&format!("{}/r/xss/app", base(&b)))
        .await
        .unwrap();
    let markdown = "**bold** <script>window.__xss=3</script> [click](javascript:window.__xss=4)";
    browser.fill("#description-md", markdown).await.unwrap();
    browser
        .click("#repository-description button")
        .await
        .unwrap();
    browser
        .wait_for_text("bold", Duration::from_secs(10))
        .await
        .unwrap();
    let strong = browser
        .find("#description strong")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(strong, "bold");
    let href = browser
        .find("#description a")
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(href.as_deref(), Some("#"));
    browser.click("#description a").await.unwrap();
    // And a comment carrying a payload.
    browser
        .goto(&format!("{}/r/xss/app", base(&b)))
        .await
        .unwrap();
    browser
        .fill(
            "#comment-body",
            "<script>window.__xss=5;document.title='pwned'</script>",
        )
        .await
        .unwrap();
    browser.click("#new-comment button").await.unwrap();
    browser
        .wait_for_text("Delete comment", Duration::from_secs(10))
        .await
        .unwrap();
    for path in [
        "/r/xss/app".to_owned(),
        format!("/teams/{team}"),
        "/teams".to_owned(),
        format!("/namespaces/{ns}"),
        "/namespaces".to_owned(),
        "/".to_owned(),
    ] {
        browser.goto(&format!("{}{path}", base(&b))).await.unwrap();
        let text = browser.text().await.unwrap();
        assert!(
            text.contains("<script>") || text.contains("<img src=x"),
            "{path}: the payload is not shown as text:\n{text}"
        );
        let ran = browser
            .client()
            .execute("return [document.title, typeof window.__xss];", vec![])
            .await
            .unwrap();
        assert_ne!(ran[0], "pwned", "{path}");
        assert_eq!(ran[1], "undefined", "{path}");
        assert!(browser
            .client()
            .find_all(fantoccini::Locator::Css("main img"))
            .await
            .unwrap()
            .is_empty());
    }
}
