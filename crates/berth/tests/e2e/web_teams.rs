//! Managing a team's members in a real Chromium: its owner changes a
//! member's role and removes one; a contributor's forged forms and an
//! outsider's are refused and change nothing; the last owner stays.

use std::time::Duration;

use berth_test_support::{Berth, Browser};
use fantoccini::Locator;

use crate::common::bin;
use crate::portus::{Api, Auth};
use crate::web_support::{base, sign_in, WebClient};

/// The team's members as the API lists them: (user id, role).
async fn roles(api: &Api, auth: &Auth, team: i64) -> Vec<(i64, String)> {
    let (s, members) = api
        .call(
            auth,
            reqwest::Method::GET,
            &format!("/api/v1/teams/{team}/members"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{members}");
    let mut out: Vec<(i64, String)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user_id"].as_i64().unwrap(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The member id of `name` in a team page's role forms (`role-<id>`).
fn member_id(page: &str, name: &str) -> String {
    let label = format!(">Role of {name}</label>");
    let at = page
        .find(&label)
        .unwrap_or_else(|| panic!("no role form for {name}"));
    let before = &page[..at];
    let start = before.rfind("for=\"role-").unwrap() + "for=\"role-".len();
    before[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn an_owner_changes_roles_and_removes_members_and_others_cannot() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let dana = api.create_user(&admin, "dana", false).await;
    let erin = api.create_user(&admin, "erin", false).await;
    api.create_user(&admin, "finn", false).await;
    let gus = api.create_user(&admin, "gus", false).await;
    let team = api.create_team(&dana.auth(), "crew").await;
    api.add_member(&dana.auth(), team, "erin", "viewer").await;
    api.add_member(&dana.auth(), team, "finn", "viewer").await;

    let browser = Browser::start(1440).await.unwrap();
    sign_in(&browser, &b, "dana", &dana.password).await;
    browser
        .goto(&format!("{}/teams/{team}", base(&b)))
        .await
        .unwrap();
    let row = "//table[@id='members']//tr[td[1][normalize-space()='erin']]";
    browser
        .client()
        .find(Locator::XPath(&format!("{row}//select")))
        .await
        .unwrap()
        .select_by_value("contributor")
        .await
        .unwrap();
    browser
        .client()
        .find(Locator::XPath(&format!("{row}//button[text()='Change']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The form goes back to the team's page once the change is made.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !roles(&api, &dana.auth(), team)
        .await
        .contains(&(erin.id, "contributor".to_owned()))
    {
        assert!(std::time::Instant::now() < deadline, "erin's role stayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser
        .goto(&format!("{}/teams/{team}", base(&b)))
        .await
        .unwrap();
    let selected = browser
        .client()
        .find(Locator::XPath(&format!("{row}//select")))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(selected.as_deref(), Some("contributor"));
    browser
        .client()
        .find(Locator::XPath("//button[text()='Remove finn']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mut expected = vec![
        (dana.id, "owner".to_owned()),
        (erin.id, "contributor".to_owned()),
    ];
    expected.sort();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while roles(&api, &dana.auth(), team).await != expected {
        assert!(std::time::Instant::now() < deadline, "finn stayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser
        .goto(&format!("{}/teams/{team}", base(&b)))
        .await
        .unwrap();
    let text = browser.text().await.unwrap();
    assert!(
        text.contains("Remove erin") && !text.contains("Remove finn"),
        "{text}"
    );

    // erin, a contributor, sees no controls, and her forged forms fail.
    let mut owner_web = WebClient::new(&b);
    owner_web.sign_in("dana", &dana.password).await;
    let page = owner_web.get(&format!("/teams/{team}")).await.body;
    let dana_member = member_id(&page, "dana");
    let erin_member = member_id(&page, "erin");
    let mut e = WebClient::new(&b);
    e.sign_in("erin", &erin.password).await;
    let shown = e.get(&format!("/teams/{team}")).await;
    assert_eq!(shown.status, 200);
    assert!(!shown.body.contains("Remove dana") && !shown.body.contains("role-"));
    let token = e.csrf(&format!("/teams/{team}")).await;
    let forged = e
        .post(
            &format!("/teams/{team}/members/{dana_member}/role"),
            &[("_csrf", &token), ("role", "viewer")],
            &[],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let forged = e
        .post(
            &format!("/teams/{team}/members/{erin_member}/role"),
            &[("_csrf", &token), ("role", "owner")],
            &[],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let forged = e
        .post(
            &format!("/teams/{team}/members/{dana_member}/remove"),
            &[("_csrf", &token)],
            &[],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    // gus, no member, may not even see the team.
    let mut g = WebClient::new(&b);
    g.sign_in("gus", &gus.password).await;
    let token = g.csrf("/teams").await;
    let forged = g
        .post(
            &format!("/teams/{team}/members/{dana_member}/remove"),
            &[("_csrf", &token)],
            &[],
        )
        .await;
    assert_eq!(forged.status, 404, "{}", forged.body);
    assert_eq!(roles(&api, &dana.auth(), team).await, expected);

    // The last owner cannot step down: the page says why.
    let token = owner_web.csrf(&format!("/teams/{team}")).await;
    let refused = owner_web
        .post(
            &format!("/teams/{team}/members/{dana_member}/role"),
            &[("_csrf", &token), ("role", "viewer")],
            &[],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("role=\"alert\""), "{}", refused.body);
    assert_eq!(roles(&api, &dana.auth(), team).await, expected);
}
