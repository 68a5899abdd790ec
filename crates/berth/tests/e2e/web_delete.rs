//! Deleting a tag from the repository page in a real Chromium against a
//! real berth, registry and docker CLI: the confirmation names the tag that
//! goes and the siblings on its digest that stay, the registry agrees
//! afterwards, and a user who may only pull is neither offered the delete
//! nor able to forge it.

use std::time::Duration;

use berth_test_support::{Berth, Browser};
use fantoccini::Locator;
use reqwest::Method;
use serde_json::Value;

use crate::common::bin;
use crate::docker_cli::{assert_ok, skopeo_inspect, text, DockerClient};
use crate::portus::{Api, Auth};
use crate::sync::{tag_names, wait_for_tags};
use crate::web_support::{base, shot, sign_in, WebClient};

/// The id of tag `tag` of repository `full_name`, as `auth` sees it.
async fn ids(api: &Api, auth: &Auth, full_name: &str, tag: &str) -> (Value, i64) {
    let (_, repos) = api
        .call(auth, Method::GET, "/api/v1/repositories", None)
        .await;
    let repo = repos
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["full_name"] == full_name)
        .unwrap_or_else(|| panic!("no {full_name} in {repos}"))["id"]
        .clone();
    let (_, tags) = api
        .call(
            auth,
            Method::GET,
            &format!("/api/v1/repositories/{repo}/tags"),
            None,
        )
        .await;
    let id = tags
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == tag)
        .and_then(|t| t["id"].as_i64())
        .unwrap_or_else(|| panic!("no tag {tag} in {tags}"));
    (repo, id)
}

/// The tag names shown in the repository page's table.
async fn shown_tags(browser: &Browser) -> Vec<String> {
    let mut names = Vec::new();
    for e in browser
        .client()
        .find_all(Locator::Css("table.tags span.tag"))
        .await
        .unwrap()
    {
        names.push(e.text().await.unwrap());
    }
    names.sort();
    names
}

#[tokio::test]
async fn web_delete_tag_confirms_naming_the_siblings_and_refuses_a_puller() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let bob = api.create_user(&admin, "bob", false).await;
    // alice owns crewns through her team; bob is a viewer: he may pull only.
    let team = api.create_team(&alice.auth(), "crew").await;
    api.add_member(&alice.auth(), team, "bob", "viewer").await;
    api.create_namespace(&alice.auth(), "crewns", "crew").await;
    let docker = DockerClient::new(&b);
    assert_ok(&docker.login("alice", &alice.password));
    assert_ok(&docker.push("crewns/web:1"));
    assert_ok(&docker.push("crewns/web:stable"));
    wait_for_tags(&api, &alice.auth(), "crewns/web", &["1", "stable"]).await;
    let (repo, stable) = ids(&api, &alice.auth(), "crewns/web", "stable").await;
    let registry = docker.registry().to_owned();
    let creds = format!("alice:{}", alice.password);

    // bob sees the tags but no delete, and a forged confirmation or POST
    // with his own valid form token is refused and deletes nothing.
    let mut bob_web = WebClient::new(&b);
    bob_web.sign_in("bob", &bob.password).await;
    let page = bob_web.get("/r/crewns/web").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("stable"), "{}", page.body);
    assert!(!page.body.contains("/tag-delete/"), "{}", page.body);
    // A crafted link claims no delete that did not happen.
    let spoofed = bob_web.get("/r/crewns/web?deleted=stable").await;
    assert!(!spoofed.body.contains("Deleted tag"), "{}", spoofed.body);
    let confirm = bob_web.get(&format!("/tag-delete/{stable}")).await;
    assert_eq!(confirm.status, 403, "{}", confirm.body);
    let token = bob_web.csrf("/tokens").await;
    let forged = bob_web
        .post(&format!("/tag-delete/{stable}"), &[("_csrf", &token)], &[])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    // Without a valid token the form is refused before any authorization.
    let tokenless = bob_web
        .post(&format!("/tag-delete/{stable}"), &[("_csrf", "x")], &[])
        .await;
    assert_eq!(tokenless.status, 403, "{}", tokenless.body);
    assert_eq!(
        tag_names(&api, &alice.auth(), &repo).await,
        ["1", "stable"],
        "after the refused deletes"
    );
    for t in ["crewns/web:1", "crewns/web:stable"] {
        let o = skopeo_inspect(&registry, t, Some(&creds));
        assert!(
            o.status.success(),
            "{t} after a refused delete: {}",
            text(&o)
        );
    }

    // alice deletes `stable` from the page, after a confirmation naming `1`.
    let browser = Browser::start(1440).await.unwrap();
    sign_in(&browser, &b, "alice", &alice.password).await;
    browser
        .goto(&format!("{}/r/crewns/web", base(&b)))
        .await
        .unwrap();
    assert_eq!(shown_tags(&browser).await, ["1", "stable"]);
    browser.click("#delete-stable").await.unwrap();
    let what = browser
        .find("#tag-delete-what")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(what, "Delete tag crewns/web:stable?");
    let stays = browser
        .find("#tag-delete-stays")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        stays.starts_with("The tags sharing its digest") && stays.ends_with("stay: 1."),
        "{stays}"
    );
    shot(&browser, "tag-delete").await;
    browser.click("#tag-delete button").await.unwrap();
    browser
        .wait_for_text("Deleted tag crewns/web:stable.", Duration::from_secs(30))
        .await
        .unwrap();
    assert!(browser
        .current_url_lossy()
        .await
        .contains("/r/crewns/web?deleted=stable"));
    assert_eq!(shown_tags(&browser).await, ["1"]);

    // The registry agrees: `stable` is gone, `1` still pulls.
    let gone = skopeo_inspect(&registry, "crewns/web:stable", Some(&creds));
    assert!(!gone.status.success(), "stable survived: {}", text(&gone));
    assert_ok(&skopeo_inspect(&registry, "crewns/web:1", Some(&creds)));
    assert_ok(&docker.pull("crewns/web:1"));

    // The audit log names alice, as for a delete through the API.
    let (s, deletes) = api
        .call(
            &admin,
            Method::GET,
            "/api/v1/activities?repository=crewns/web&action=tag.delete",
            None,
        )
        .await;
    assert_eq!(s, 200, "{deletes}");
    let deletes = deletes.as_array().cloned().unwrap_or_default();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0]["actor"]["name"], "alice", "{deletes:?}");
    assert_eq!(deletes[0]["tag"], "stable", "{deletes:?}");

    // A tag that is gone is gone for the page too.
    let mut alice_web = WebClient::new(&b);
    alice_web.sign_in("alice", &alice.password).await;
    let again = alice_web.get(&format!("/tag-delete/{stable}")).await;
    assert_eq!(again.status, 404, "{}", again.body);
}
