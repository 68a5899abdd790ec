//! Lists on the web UI's pages are paged, 30 rows a page, each list of a
//! page by its own parameter: a team's members (`?members=N`) and a
//! repository's comments (`?comments=N`, the latest first) reach a second
//! page, and no row is on both pages or on neither. Paging one list of a
//! page keeps the page another list is on.

use berth_test_support::Berth;

use crate::common::bin;
use crate::portus::Api;
use crate::web_support::{store_of, WebClient};

#[tokio::test]
async fn team_members_and_comments_go_on_to_a_second_page() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let dana = api.create_user(&admin, "dana", false).await;
    let team = api.create_team(&dana.auth(), "big").await;
    let names: Vec<String> = (0..31).map(|i| format!("m{i:02}")).collect();
    for name in &names {
        api.create_user(&admin, name, false).await;
        api.add_member(&dana.auth(), team, name, "viewer").await;
    }
    let mut web = WebClient::new(&b);
    web.sign_in("dana", &dana.password).await;

    let first = web.get(&format!("/teams/{team}")).await;
    assert_eq!(first.status, 200);
    assert!(
        first.body.contains("Page 1 of 2 (32 in all)"),
        "{}",
        first.body
    );
    assert!(first
        .body
        .contains(&format!("href=\"/teams/{team}?members=2\"")));
    let second = web.get(&format!("/teams/{team}?members=2")).await;
    assert!(second.body.contains("Page 2 of 2"), "{}", second.body);
    let on = |body: &str, name: &str| body.contains(&format!("Remove {name}</button>"));
    let mut on_second = 0;
    for name in &names {
        assert!(
            on(&first.body, name) != on(&second.body, name),
            "{name} is on both pages or on neither"
        );
        on_second += usize::from(on(&second.body, name));
    }
    assert!(on_second >= 1);

    // With two lists of two pages each, paging one keeps the other's page
    // (askama writes `&` in an attribute as `&#38;`).
    for i in 0..31 {
        api.create_namespace(&dana.auth(), &format!("ns{i:02}"), "big")
            .await;
    }
    let both = web
        .get(&format!("/teams/{team}?members=2&namespaces=2"))
        .await;
    assert_eq!(both.status, 200);
    assert!(
        both.body.contains(&format!(
            "href=\"/teams/{team}?namespaces=2&#38;members=1\""
        )),
        "{}",
        both.body
    );
    assert!(
        both.body.contains(&format!(
            "href=\"/teams/{team}?members=2&#38;namespaces=1\""
        )),
        "{}",
        both.body
    );

    let ns = api.create_namespace(&dana.auth(), "bigns", "big").await;
    let store = store_of(&b).await;
    let repo = store.upsert_repository(ns, "app").await.unwrap();
    for i in 0..31 {
        store
            .add_comment(repo, dana.id, &format!("comment {i:02}"))
            .await
            .unwrap();
    }
    let latest = web.get("/r/bigns/app").await;
    assert_eq!(latest.status, 200);
    assert!(latest.body.contains("comment 30") && latest.body.contains("comment 01"));
    assert!(!latest.body.contains("comment 00"), "{}", latest.body);
    assert!(latest.body.contains("href=\"/r/bigns/app?comments=2\""));
    let older = web.get("/r/bigns/app?comments=2").await;
    assert!(older.body.contains("comment 00"), "{}", older.body);
    assert!(!older.body.contains("comment 01"));
}
