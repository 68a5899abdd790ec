//! docker and skopeo against the managed registry, authorized by berth's
//! token endpoint: roles, identity tokens, visibility, disabled users.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use berth_test_support::Berth;
use reqwest::Method;
use serde_json::json;

use crate::common::bin;
use crate::docker_cli::{assert_denied, assert_ok, skopeo_inspect, DockerClient};
use crate::portus::Api;

#[tokio::test]
async fn roles_decide_push_and_pull_and_login_stores_an_identity_token() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let bob = api.create_user(&admin, "bob", false).await;
    let carol = api.create_user(&admin, "carol", false).await;
    let dave = api.create_user(&admin, "dave", false).await;
    let team = api.create_team(&alice.auth(), "dev").await;
    api.add_member(&alice.auth(), team, "bob", "contributor")
        .await;
    api.add_member(&alice.auth(), team, "carol", "viewer").await;
    api.create_namespace(&alice.auth(), "dev", "dev").await;

    let a = DockerClient::new(&b);
    assert_ok(&a.login("alice", &alice.password));
    // The login answer carried a refresh token: docker keeps it, not the password.
    let config = a.config_json();
    let entry = &serde_json::from_str::<serde_json::Value>(&config).unwrap()["auths"][a.registry()];
    assert!(
        entry["identitytoken"]
            .as_str()
            .is_some_and(|t| t.len() >= 40),
        "{config}"
    );
    assert!(!config.contains(&alice.password), "{config}");
    if let Some(auth) = entry["auth"].as_str() {
        let decoded = String::from_utf8(STANDARD.decode(auth).unwrap()).unwrap();
        assert!(!decoded.contains(&alice.password), "{decoded}");
    }
    // Owner pushes to the team namespace and to her personal one.
    assert_ok(&a.push("dev/app:1"));
    assert_ok(&a.push("alice/own/nested:1"));

    let bc = DockerClient::new(&b);
    assert_ok(&bc.login("bob", &bob.password));
    assert_ok(&bc.push("dev/app:2"));
    assert_ok(&bc.pull("dev/app:1"));
    // A contributor of `dev` has no business in alice's personal namespace.
    assert_denied(&bc.pull("alice/own/nested:1"));

    let c = DockerClient::new(&b);
    assert_ok(&c.login("carol", &carol.password));
    assert_ok(&c.pull("dev/app:1"));
    assert_denied(&c.push("dev/app:3"));

    let d = DockerClient::new(&b);
    assert_ok(&d.login("dave", &dave.password));
    assert_denied(&d.pull("dev/app:1"));
    // Only admins push to the global namespace.
    assert_denied(&d.push("toplevel:1"));

    // Disabling bob: his stored identity token and his password both stop working.
    let (s, v) = api
        .call(
            &admin,
            Method::PUT,
            &format!("/api/v1/users/{}", bob.id),
            Some(json!({"user": {"enabled": false}})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_denied(&bc.push("dev/app:4"));
    assert!(!bc.login("bob", &bob.password).status.success());
}

#[tokio::test]
async fn visibility_changes_take_effect_for_anonymous_and_other_users() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let erin = api.create_user(&admin, "erin", false).await;
    let frank = api.create_user(&admin, "frank", false).await;
    let ns = {
        let (s, v) = api
            .call(&erin.auth(), Method::GET, "/api/v1/namespaces", None)
            .await;
        assert_eq!(s, 200, "{v}");
        v.as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == "erin")
            .expect("personal namespace listed")["id"]
            .as_i64()
            .unwrap()
    };

    let e = DockerClient::new(&b);
    assert_ok(&e.login("erin", &erin.password));
    assert_ok(&e.push("erin/web:1"));

    let anon = DockerClient::new(&b);
    let registry = anon.registry().to_owned();
    let frank_creds = format!("frank:{}", frank.password);
    // Private (the default): nobody else pulls.
    assert_denied(&anon.pull("erin/web:1"));
    assert_denied(&skopeo_inspect(&registry, "erin/web:1", Some(&frank_creds)));

    // Protected: logged-in users pull, anonymous still not.
    assert_eq!(api.set_visibility(&erin.auth(), ns, "protected").await, 200);
    assert_ok(&skopeo_inspect(&registry, "erin/web:1", Some(&frank_creds)));
    assert_denied(&skopeo_inspect(&registry, "erin/web:1", None));

    // Public: anonymous pulls, with docker and with skopeo; pushes stay refused.
    assert_eq!(api.set_visibility(&erin.auth(), ns, "public").await, 200);
    assert_ok(&anon.pull("erin/web:1"));
    assert_ok(&skopeo_inspect(&registry, "erin/web:1", None));
    assert_denied(&anon.push("erin/web:2"));

    // Frank may not change erin's namespace back.
    assert_eq!(api.set_visibility(&frank.auth(), ns, "private").await, 403);

    // A bot with an application token pushes where its team allows.
    let bot = api.create_user(&admin, "ci-bot", true).await;
    let (s, v) = api
        .call(
            &admin,
            Method::POST,
            &format!("/api/v1/users/{}/application_tokens", bot.id),
            Some(json!({"application": "ci"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let token = v["plain_token"].as_str().unwrap().to_owned();
    let team = api.create_team(&erin.auth(), "builds").await;
    api.add_member(&erin.auth(), team, "ci-bot", "contributor")
        .await;
    api.create_namespace(&erin.auth(), "builds", "builds").await;
    let ci = DockerClient::new(&b);
    assert_ok(&ci.login("ci-bot", &token));
    assert_ok(&ci.push("builds/app:1"));
    assert_denied(&ci.push("erin/web:3"));
}

#[tokio::test]
async fn key_rotation_signs_with_the_new_key_and_old_tokens_stay_valid() {
    let mut b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    drop(admin);
    let a = DockerClient::new(&b);
    assert_ok(&a.login("alice", &alice.password));
    assert_ok(&a.push("alice/app:1"));

    let http = reqwest::Client::new();
    let token = |b: &Berth| {
        let req = http
            .get(b.url("/v2/token"))
            .query(&[
                ("service", "berth-registry"),
                ("scope", "repository:alice/app:pull"),
            ])
            .basic_auth("alice", Some(alice.password.clone()));
        async move {
            req.send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let old = token(&b).await;
    let manifest = format!("http://{}/v2/alice/app/manifests/1", b.registry_addr());
    let fetch = |t: String| {
        http.get(&manifest)
            .bearer_auth(t)
            .header(
                "accept",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
            .send()
    };
    assert_eq!(fetch(old.clone()).await.unwrap().status(), 200);

    let data_dir = b.data_dir().display().to_string();
    let refused = crate::common::berth(&["registry", "rotate-key", "--data-dir", &data_dir]);
    crate::common::assert_one_clear_error(&refused, "stop `berth serve`");
    b.stop_with(
        nix::sys::signal::Signal::SIGTERM,
        std::time::Duration::from_secs(15),
    )
    .unwrap();
    let rotated = crate::common::berth(&["registry", "rotate-key", "--data-dir", &data_dir]);
    assert!(
        rotated.status.success(),
        "{}",
        crate::common::stderr(&rotated)
    );
    b.restart().await.unwrap();

    let new = token(&b).await;
    let kid = |t: &str| {
        let h = t.split('.').next().unwrap();
        serde_json::from_slice::<serde_json::Value>(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .unwrap(),
        )
        .unwrap()["kid"]
            .clone()
    };
    assert_ne!(kid(&old), kid(&new));
    assert_eq!(fetch(new).await.unwrap().status(), 200);
    // A token signed before the rotation is still trusted until it expires.
    assert_eq!(fetch(old).await.unwrap().status(), 200);
    // docker's stored identity token keeps working across the rotation.
    assert_ok(&a.push("alice/app:2"));
}

#[tokio::test]
async fn rs256_tokens_are_accepted_by_the_registry() {
    // Inherited by the berth this test starts (nextest runs each test in its own process).
    std::env::set_var("BERTH_TOKEN_ALGORITHM", "RS256");
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let r = reqwest::Client::new()
        .get(b.url("/v2/token"))
        .query(&[("service", "berth-registry")])
        .basic_auth("alice", Some(&alice.password))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    let header = body["token"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    let a = DockerClient::new(&b);
    assert_ok(&a.login("alice", &alice.password));
    assert_ok(&a.push("alice/rsa:1"));
    assert_ok(&a.pull("alice/rsa:1"));
}
