//! The Portus API's forbidden side: every route refuses a caller lacking its
//! grant, plus the cases issue 4 names (non-admin creating users, tokens of
//! another user, non-owner managing a team), and the OpenAPI document.

use berth_api::portus_routes;
use berth_authz::portus_api::ApiGrant;
use berth_store::{ConnectOptions, Store};
use berth_test_support::Berth;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::bin;
use crate::portus::{Api, Auth};

/// The metadata store of a test's berth, over its Unix socket.
async fn store_of(b: &Berth) -> Store {
    let options = ConnectOptions::new()
        .socket(b.data_dir().join("run/postgres"))
        .port(b.ports.postgres)
        .username("postgres")
        .database("berth");
    Store::connect(options).await.unwrap()
}

#[tokio::test]
async fn api_routes_refuse_callers_lacking_their_grant() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let owner = api.create_user(&admin, "owner", false).await;
    let viewer = api.create_user(&admin, "viewer", false).await;
    let outsider = api.create_user(&admin, "outsider", false).await;
    let team = api.create_team(&owner.auth(), "crew").await;
    api.add_member(&owner.auth(), team, "viewer", "viewer")
        .await;
    let ns = api.create_namespace(&owner.auth(), "crew", "crew").await;
    let (s, v) = api
        .call(
            &owner.auth(),
            Method::POST,
            &format!("/api/v1/users/{}/application_tokens", owner.id),
            Some(json!({"application": "x"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let owner_token = v["id"].as_i64().unwrap();
    let members = api
        .call(
            &owner.auth(),
            Method::GET,
            &format!("/api/v1/teams/{team}/members"),
            None,
        )
        .await
        .1;
    let member = members[0]["id"].as_i64().unwrap();
    // Repositories come from the sync; record one directly for the walk.
    let repo = store_of(&b)
        .await
        .upsert_repository(ns, "app")
        .await
        .unwrap();

    let mut checked = 0;
    for route in portus_routes() {
        let path = route
            .path
            .replace("{member_id}", &member.to_string())
            .replace("{token_id}", "1")
            .replace("{wid}", "1")
            .replace("{did}", "1")
            .replace(
                "{id}",
                &match (route.grant, route.path) {
                    (ApiGrant::TokenOwner, _) => owner_token,
                    (_, p) if p.starts_with("/api/v1/users/") => owner.id,
                    (_, p) if p.starts_with("/api/v1/teams/") => team,
                    (_, p) if p.starts_with("/api/v1/namespaces/") => ns,
                    _ => repo,
                }
                .to_string(),
            );
        let body = match (route.method, route.path) {
            ("POST", "/api/v1/users/bootstrap" | "/api/v1/users") => Some(
                json!({"user": {"username": "zed", "email": "z@example.org", "password": "zed-password"}}),
            ),
            ("PUT", "/api/v1/users/{id}") => Some(json!({"user": {"display_name": "x"}})),
            ("POST", "/api/v1/users/{id}/application_tokens") => {
                Some(json!({"application": "stolen"}))
            }
            ("POST", "/api/v1/teams") => Some(json!({"name": "t2"})),
            ("PUT", "/api/v1/teams/{id}") => Some(json!({"team": {"description": "x"}})),
            ("POST", "/api/v1/teams/{id}/members") => {
                Some(json!({"user": "outsider", "role": "owner"}))
            }
            ("PUT", "/api/v1/teams/{id}/members/{member_id}") => Some(json!({"role": "viewer"})),
            ("POST", "/api/v1/namespaces") => Some(json!({"name": "sneaky", "team": "crew"})),
            ("PUT", "/api/v1/namespaces/{id}") => {
                Some(json!({"namespace": {"visibility": "public"}}))
            }
            ("PUT", "/api/v1/repositories/{id}") => {
                Some(json!({"repository": {"description": "x"}}))
            }
            _ => None,
        };
        // Who lacks the grant, and what they must get.
        let (caller, want): (Auth, u16) = match route.grant {
            ApiGrant::Anyone => continue,
            ApiGrant::Bootstrap => (Auth::Anonymous, 400),
            ApiGrant::LoggedIn => (Auth::Anonymous, 401),
            ApiGrant::Admin | ApiGrant::UserSelf | ApiGrant::TokenOwner => (outsider.auth(), 403),
            ApiGrant::TeamMember | ApiGrant::Pull => (outsider.auth(), 403),
            ApiGrant::TeamOwner
            | ApiGrant::NamespaceCreate
            | ApiGrant::NamespaceOwner
            | ApiGrant::Push
            | ApiGrant::Delete => (viewer.auth(), 403),
        };
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let (status, v) = api.call(&caller, method.clone(), &path, body.clone()).await;
        assert_eq!(status, want, "{} {path} by {caller:?}: {v}", route.method);
        assert!(
            v["message"].is_string(),
            "{} {path}: Portus error shape: {v}",
            route.method
        );
        if !matches!(route.grant, ApiGrant::Bootstrap | ApiGrant::LoggedIn) {
            let (status, v) = api.call(&Auth::Anonymous, method, &path, body).await;
            assert_eq!(status, 401, "{} {path} anonymous: {v}", route.method);
        }
        checked += 1;
    }
    assert!(checked >= 30, "walked {checked} routes");
}

#[tokio::test]
async fn forbidden_side_of_users_tokens_and_teams() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let bob = api.create_user(&admin, "bob", false).await;

    // The last admin can be neither demoted nor deleted (bootstrap would reopen).
    let admin_id = api
        .call(&admin, Method::GET, "/api/v1/users/admin@example.org", None)
        .await
        .1["id"]
        .as_i64()
        .unwrap();
    let (s, v) = api
        .call(
            &admin,
            Method::PUT,
            &format!("/api/v1/users/{admin_id}"),
            Some(json!({"user": {"admin": false}})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(
        api.call(
            &admin,
            Method::DELETE,
            &format!("/api/v1/users/{admin_id}"),
            None
        )
        .await
        .0,
        422
    );

    // A second bootstrap is refused once an admin exists.
    let (s, v) = api
        .call(&Auth::Anonymous, Method::POST, "/api/v1/users/bootstrap", Some(json!({"user": {"username": "eve", "email": "e@example.org", "password": "eve-password"}})))
        .await;
    assert_eq!(s, 400, "{v}");

    // A non-admin cannot create users.
    let (s, v) = api
        .call(&alice.auth(), Method::POST, "/api/v1/users", Some(json!({"user": {"username": "mallory", "email": "m@example.org", "password": "mallory-password"}})))
        .await;
    assert_eq!(
        (s, v["message"].clone()),
        (403, json!("Authorization fails"))
    );

    // A user cannot list or create another user's application tokens.
    let bob_tokens = format!("/api/v1/users/{}/application_tokens", bob.id);
    assert_eq!(
        api.call(&alice.auth(), Method::GET, &bob_tokens, None)
            .await
            .0,
        403
    );
    assert_eq!(
        api.call(
            &alice.auth(),
            Method::POST,
            &bob_tokens,
            Some(json!({"application": "x"}))
        )
        .await
        .0,
        403
    );
    // Not even an admin acts on a human's tokens.
    assert_eq!(
        api.call(&admin, Method::GET, &bob_tokens, None).await.0,
        403
    );
    // Bob may, up to five, and the plain token is shown once.
    for i in 0..5 {
        let (s, v) = api
            .call(
                &bob.auth(),
                Method::POST,
                &bob_tokens,
                Some(json!({"application": format!("app{i}")})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert!(v["plain_token"].is_string());
    }
    let (s, v) = api
        .call(
            &bob.auth(),
            Method::POST,
            &bob_tokens,
            Some(json!({"application": "app5"})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, list) = api.call(&bob.auth(), Method::GET, &bob_tokens, None).await;
    assert_eq!(s, 200);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("plain_token").is_none()),
        "{list}"
    );
    let token_id = list[0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/users/application_tokens/{token_id}");
    assert_eq!(
        api.call(&alice.auth(), Method::DELETE, &path, None).await.0,
        403
    );
    assert_eq!(
        api.call(&bob.auth(), Method::DELETE, &path, None).await.0,
        204
    );

    // A non-owner cannot manage a team; the last owner cannot leave.
    let team = api.create_team(&alice.auth(), "core").await;
    api.add_member(&alice.auth(), team, "bob", "contributor")
        .await;
    let members = format!("/api/v1/teams/{team}/members");
    let (s, _) = api
        .call(
            &bob.auth(),
            Method::POST,
            &members,
            Some(json!({"user": "admin", "role": "owner"})),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = api
        .call(
            &bob.auth(),
            Method::PUT,
            &format!("/api/v1/teams/{team}"),
            Some(json!({"team": {"name": "mine"}})),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(
        api.call(
            &bob.auth(),
            Method::DELETE,
            &format!("/api/v1/teams/{team}"),
            None
        )
        .await
        .0,
        403
    );
    let list = api.call(&alice.auth(), Method::GET, &members, None).await.1;
    let alice_member = list
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == alice.id)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (s, v) = api
        .call(
            &alice.auth(),
            Method::DELETE,
            &format!("{members}/{alice_member}"),
            None,
        )
        .await;
    assert_eq!(s, 422, "{v}");

    // A contributor may create a namespace in the team; it is private.
    let (s, v) = api
        .call(
            &bob.auth(),
            Method::POST,
            "/api/v1/namespaces",
            Some(json!({"name": "core", "team": "core"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["visibility"], "private");
    assert_eq!(
        v["permissions"],
        json!({"pull": true, "push": true, "delete": false, "change_visibility": false})
    );

    // Bots have no password session on the API; their application tokens work.
    let bot = api.create_user(&admin, "robot", true).await;
    assert_eq!(
        api.call(&bot.auth(), Method::GET, "/api/v1/teams", None)
            .await
            .0,
        401
    );
    let (s, v) = api
        .call(
            &admin,
            Method::POST,
            &format!("/api/v1/users/{}/application_tokens", bot.id),
            Some(json!({"application": "ci"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let bot_token = Auth::Token {
        user: "robot".into(),
        token: v["plain_token"].as_str().unwrap().to_owned(),
    };
    assert_eq!(
        api.call(&bot_token, Method::GET, "/api/v1/teams", None)
            .await
            .0,
        200
    );

    // Wrong credentials are 401 with Portus's shape.
    let bad = Auth::Token {
        user: "alice".into(),
        token: "guess".into(),
    };
    let (s, v) = api.call(&bad, Method::GET, "/api/v1/teams", None).await;
    assert_eq!((s, v), (401, json!({"message": "Authentication fails"})));
}

#[tokio::test]
async fn pagination_headers_version_and_openapi_document() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    for i in 0..3 {
        api.create_user(&admin, &format!("user{i}"), false).await;
    }
    let Auth::Token { user, token } = &admin else {
        unreachable!()
    };
    let r = reqwest::Client::new()
        .get(b.url("/api/v1/users?per_page=2&page=2"))
        .header("Portus-Auth", format!("{user}:{token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = |k: &str| r.headers().get(k).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(h("x-total").as_deref(), Some("4"));
    assert_eq!(h("x-total-pages").as_deref(), Some("2"));
    assert_eq!(h("x-page").as_deref(), Some("2"));
    assert_eq!(h("x-prev-page").as_deref(), Some("1"));
    let page: Value = r.json().await.unwrap();
    assert_eq!(page.as_array().unwrap().len(), 2);

    let (s, v) = api
        .call(
            &admin,
            Method::GET,
            "/api/v1/registries/validate?name=berth&hostname=x:5000",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["valid"], false,
        "the managed registry is called berth: {v}"
    );
    assert_eq!(
        api.call(&admin, Method::GET, "/api/v1/registries", None)
            .await
            .1[0]["name"],
        "berth"
    );
    let (s, v) = api
        .call(&Auth::Anonymous, Method::GET, "/api/version", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["api-versions"], json!(["v1"]));
    let (s, doc) = api
        .call(&Auth::Anonymous, Method::GET, "/api/openapi.json", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    for route in portus_routes() {
        assert!(
            doc["paths"][route.path][route.method.to_lowercase()].is_object(),
            "{} {}",
            route.method,
            route.path
        );
    }
}

#[tokio::test]
async fn deleting_a_tag_removes_it_from_the_registry_for_owners_only() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let bob = api.create_user(&admin, "bob", false).await;
    let team = api.create_team(&alice.auth(), "shop").await;
    api.add_member(&alice.auth(), team, "bob", "contributor")
        .await;
    let ns = api.create_namespace(&alice.auth(), "shop", "shop").await;
    let a = crate::docker_cli::DockerClient::new(&b);
    crate::docker_cli::assert_ok(&a.login("alice", &alice.password));
    crate::docker_cli::assert_ok(&a.push("shop/app:1"));
    let reference = format!("{}/shop/app:1", a.registry());
    let inspect = std::process::Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{range .RepoDigests}}{{println .}}{{end}}",
            &reference,
        ])
        .output()
        .unwrap();
    let digests = String::from_utf8_lossy(&inspect.stdout).into_owned();
    let prefix = format!("{}/shop/app@", a.registry());
    let digest = digests
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no digest for {prefix} in {digests}"))
        .to_owned();
    // The sync (issue 5) records pushes; here the test records this one.
    let store = store_of(&b).await;
    let repo = store.upsert_repository(ns, "app").await.unwrap();
    let tag = store.upsert_tag(repo, "1", &digest).await.unwrap();

    let (s, grouped) = api
        .call(
            &bob.auth(),
            Method::GET,
            &format!("/api/v1/repositories/{repo}/tags/grouped"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{grouped}");
    assert_eq!(grouped[0][0]["name"], "1");
    assert_eq!(grouped[0][0]["digest"], digest.as_str());

    // A contributor may not delete; the owner may.
    let path = format!("/api/v1/tags/{tag}");
    assert_eq!(
        api.call(&bob.auth(), Method::DELETE, &path, None).await.0,
        403
    );
    crate::docker_cli::assert_ok(&a.pull("shop/app:1"));
    assert_eq!(
        api.call(&alice.auth(), Method::DELETE, &path, None).await.0,
        204
    );
    // Gone: a missing resource has no facts, and missing facts deny (403),
    // so ids of other people's resources cannot be probed.
    assert_eq!(
        api.call(&alice.auth(), Method::GET, &path, None).await.0,
        403
    );
    let gone = a.pull("shop/app:1");
    assert!(!gone.status.success(), "{}", crate::docker_cli::text(&gone));
    // The repository record goes too.
    let repo_path = format!("/api/v1/repositories/{repo}");
    assert_eq!(
        api.call(&bob.auth(), Method::DELETE, &repo_path, None)
            .await
            .0,
        403
    );
    assert_eq!(
        api.call(&alice.auth(), Method::DELETE, &repo_path, None)
            .await
            .0,
        204
    );
    assert_eq!(
        api.call(&alice.auth(), Method::GET, &repo_path, None)
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn the_one_registry_is_renamed_by_admins_only_and_never_duplicated() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let (s, list) = api
        .call(&admin, Method::GET, "/api/v1/registries", None)
        .await;
    assert_eq!(s, 200, "{list}");
    let reg = list[0].clone();
    let path = format!("/api/v1/registries/{}", reg["id"]);

    let rename =
        json!({"registry": {"name": "home", "external_hostname": "registry.example.org:5000"}});
    let (s, v) = api
        .call(&alice.auth(), Method::PUT, &path, Some(rename.clone()))
        .await;
    assert_eq!(s, 403, "a non-admin may not change the registry: {v}");
    let (s, v) = api.call(&admin, Method::PUT, &path, Some(rename)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["name"], "home");
    assert_eq!(v["external_hostname"], "registry.example.org:5000");
    assert_eq!(v["hostname"], reg["hostname"]);

    let moved = json!({"registry": {"hostname": "elsewhere:5000"}});
    let (s, v) = api.call(&admin, Method::PUT, &path, Some(moved)).await;
    assert_eq!(s, 422, "{v}");
    assert!(v["message"]["hostname"].is_array(), "{v}");

    let another =
        json!({"registry": {"name": "second", "hostname": "127.0.0.1:5999", "use_ssl": false}});
    let (s, v) = api
        .call(
            &admin,
            Method::POST,
            "/api/v1/registries",
            Some(another.clone()),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = api
        .call(
            &alice.auth(),
            Method::POST,
            "/api/v1/registries",
            Some(another),
        )
        .await;
    assert_eq!(s, 403);
    let (_, list) = api
        .call(&admin, Method::GET, "/api/v1/registries", None)
        .await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}
