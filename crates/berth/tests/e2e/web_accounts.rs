//! Accounts through the web UI: admins create, disable and promote users
//! and see who is locked out; nobody else may (not offered, refused if
//! forged); the identity tokens `docker login` leaves are listed and
//! revocable by their owner only.

use crate::common::bin;
use crate::docker_cli::{assert_ok, DockerClient};
use crate::portus::Api;
use crate::web_support::WebClient;
use berth_test_support::Berth;

#[tokio::test]
async fn admins_manage_users_and_others_are_refused() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    api.bootstrap().await;
    let mut admin = WebClient::new(&b);
    admin.sign_in("admin", "admin-password").await;
    let token = admin.csrf("/users").await;
    let made = admin
        .post(
            "/users",
            &[
                ("_csrf", &token),
                ("username", "ivy"),
                ("email", "ivy@example.org"),
                ("password", "ivy-password"),
            ],
            &[],
        )
        .await;
    assert_eq!(
        (made.status, made.location.as_str()),
        (303, "/users"),
        "{}",
        made.body
    );
    let bad = admin
        .post(
            "/users",
            &[
                ("_csrf", &token),
                ("username", "Bad Name"),
                ("email", "x@y"),
                ("password", "long-enough"),
            ],
            &[],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Username:"), "{}", bad.body);

    // ivy is no admin: the page and its forms are refused.
    let mut ivy = WebClient::new(&b);
    ivy.sign_in("ivy", "ivy-password").await;
    assert!(!ivy.get("/").await.body.contains("href=\"/users\""));
    assert_eq!(ivy.get("/users").await.status, 403);
    let own = ivy.csrf("/tokens").await;
    let forged = ivy
        .post(
            "/users",
            &[
                ("_csrf", &own),
                ("username", "mallory"),
                ("email", "m@example.org"),
                ("password", "mallory-pw"),
            ],
            &[],
        )
        .await;
    assert_eq!(forged.status, 403);
    let ivy_id = api
        .call(
            &crate::portus::Auth::Password {
                user: "admin".into(),
                password: "admin-password".into(),
            },
            reqwest::Method::GET,
            "/api/v1/users/ivy@example.org",
            None,
        )
        .await
        .1["id"]
        .as_i64()
        .unwrap();
    let promote = ivy
        .post(
            &format!("/users/{ivy_id}/admin"),
            &[("_csrf", &own), ("admin", "true")],
            &[],
        )
        .await;
    assert_eq!(promote.status, 403);

    // Disabling ends ivy's session at once.
    let off = admin
        .post(
            &format!("/users/{ivy_id}/enabled"),
            &[("_csrf", &token), ("enabled", "false")],
            &[],
        )
        .await;
    assert_eq!(off.status, 303, "{}", off.body);
    let after = ivy.get("/tokens").await;
    assert_eq!((after.status, after.location.as_str()), (303, "/sign-in"));
    let page = admin.get("/users").await.body;
    assert!(page.contains("disabled"), "{page}");

    // Ten wrong passwords lock an account, and the admin sees it.
    api.create_user(
        &crate::portus::Auth::Password {
            user: "admin".into(),
            password: "admin-password".into(),
        },
        "jack",
        false,
    )
    .await;
    for _ in 0..10 {
        let _ = reqwest::Client::new()
            .get(b.url("/v2/token?service=berth-registry"))
            .basic_auth("jack", Some("wrong"))
            .send()
            .await
            .unwrap();
    }
    let page = admin.get("/users").await.body;
    assert!(page.contains("locked out"), "{page}");
}

#[tokio::test]
async fn docker_logins_are_listed_and_revocable_by_their_owner_only() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let kim = api.create_user(&admin, "kim", false).await;
    api.create_user(&admin, "lee", false).await;
    let docker = DockerClient::new(&b);
    assert_ok(&docker.login("kim", &kim.password));
    assert!(
        docker.config_json().contains("identitytoken"),
        "{}",
        docker.config_json()
    );

    let mut k = WebClient::new(&b);
    k.sign_in("kim", &kim.password).await;
    let page = k.get("/tokens").await.body;
    let marker = "action=\"/tokens/refresh/";
    let start = page.find(marker).unwrap_or_else(|| panic!("{page}")) + marker.len();
    let id: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();

    let mut l = WebClient::new(&b);
    l.sign_in("lee", "lee-password").await;
    let lee_token = l.csrf("/tokens").await;
    let theirs = l
        .post(
            &format!("/tokens/refresh/{id}/revoke"),
            &[("_csrf", &lee_token)],
            &[],
        )
        .await;
    assert_eq!(theirs.status, 404);
    assert!(!k.get("/tokens").await.body.contains("revoked"));

    let token = k.csrf("/tokens").await;
    let mine = k
        .post(
            &format!("/tokens/refresh/{id}/revoke"),
            &[("_csrf", &token)],
            &[],
        )
        .await;
    assert_eq!(mine.status, 303);
    assert!(k.get("/tokens").await.body.contains("revoked"));
}

#[tokio::test]
async fn stars_and_comments_follow_read_access() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let mia = api.create_user(&admin, "mia", false).await;
    let ned = api.create_user(&admin, "ned", false).await;
    let repo_ns = api
        .call(
            &mia.auth(),
            reqwest::Method::GET,
            "/api/v1/namespaces",
            None,
        )
        .await
        .1
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "mia")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    crate::web_support::store_of(&b)
        .await
        .upsert_repository(repo_ns, "notes")
        .await
        .unwrap();

    let mut m = WebClient::new(&b);
    m.sign_in("mia", &mia.password).await;
    let token = m.csrf("/r/mia/notes").await;
    let star = m
        .post(
            "/star/mia/notes",
            &[("_csrf", &token), ("starred", "true")],
            &[],
        )
        .await;
    assert_eq!(star.status, 303);
    let said = m
        .post(
            "/comments/mia/notes",
            &[("_csrf", &token), ("body", "first!")],
            &[],
        )
        .await;
    assert_eq!(said.status, 303);
    let page = m.get("/r/mia/notes").await.body;
    assert!(
        page.contains("<span id=\"stars\">1</span>") && page.contains("first!"),
        "{page}"
    );

    // ned may not read mia's private namespace: nothing to star or say there.
    let mut n = WebClient::new(&b);
    n.sign_in("ned", &ned.password).await;
    let theirs = n.csrf("/tokens").await;
    assert_eq!(n.get("/r/mia/notes").await.status, 404);
    let s = n
        .post(
            "/star/mia/notes",
            &[("_csrf", &theirs), ("starred", "true")],
            &[],
        )
        .await;
    assert_eq!(s.status, 404);
    let c = n
        .post(
            "/comments/mia/notes",
            &[("_csrf", &theirs), ("body", "hi")],
            &[],
        )
        .await;
    assert_eq!(c.status, 404);
    let marker = "action=\"/comment-delete/";
    let start = page.find(marker).unwrap() + marker.len();
    let comment: String = page[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    let d = n
        .post(
            &format!("/comment-delete/{comment}"),
            &[("_csrf", &theirs)],
            &[],
        )
        .await;
    assert_eq!(d.status, 404);
    // Made public, ned reads and comments, but still cannot delete mia's comment.
    assert_eq!(
        api.set_visibility(&mia.auth(), repo_ns, "public").await,
        200
    );
    assert_eq!(n.get("/r/mia/notes").await.status, 200);
    let d = n
        .post(
            &format!("/comment-delete/{comment}"),
            &[("_csrf", &theirs)],
            &[],
        )
        .await;
    assert_eq!(d.status, 403);
    let mine = m
        .post(
            &format!("/comment-delete/{comment}"),
            &[("_csrf", &token)],
            &[],
        )
        .await;
    assert_eq!(mine.status, 303);
    assert!(!m.get("/r/mia/notes").await.body.contains("first!"));
}

#[tokio::test]
async fn changes_made_in_the_browser_are_audited_and_shown_to_whom_they_concern() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let olga = api.create_user(&admin, "olga", false).await;
    let pete = api.create_user(&admin, "pete", false).await;
    let mut o = WebClient::new(&b);
    o.sign_in("olga", &olga.password).await;
    let token = o.csrf("/teams").await;
    let made = o
        .post("/teams", &[("_csrf", &token), ("name", "audited")], &[])
        .await;
    assert_eq!(made.status, 303);

    let page = o.get("/activities?action=team.create").await.body;
    assert!(
        page.contains("team.create") && page.contains("team audited"),
        "{page}"
    );
    let dashboard = o.get("/").await.body;
    assert!(dashboard.contains("team.create"), "{dashboard}");
    let csv = o.get("/activities.csv?user=olga").await;
    assert_eq!(csv.status, 200);
    let line = csv
        .body
        .lines()
        .find(|l| l.contains("team.create"))
        .unwrap_or_else(|| panic!("{}", csv.body));
    assert!(
        line.contains(",olga,127.0.0.1,") && line.contains("audited"),
        "{line}"
    );
    let none = o.get("/activities?action=team.delete").await.body;
    assert!(none.contains("No activities match"));

    // pete is in no way concerned: the team's creation is not his to see.
    let mut p = WebClient::new(&b);
    p.sign_in("pete", &pete.password).await;
    let theirs = p.get("/activities").await.body;
    assert!(!theirs.contains("team audited"), "{theirs}");
    assert!(!p.get("/activities.csv").await.body.contains("audited"));
    let mut anon = WebClient::new(&b);
    assert_eq!(anon.get("/activities").await.location, "/sign-in");
}
