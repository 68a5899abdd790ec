//! Deleting through the Portus API: one tag goes and its siblings on the
//! same digest stay, in the registry and in the API at once; a repository
//! goes with all its manifests; callers who may not delete change nothing.

use berth_test_support::Berth;
use reqwest::Method;
use serde_json::Value;

use crate::common::bin;
use crate::docker_cli::{assert_ok, skopeo_inspect, text, DockerClient};
use crate::portus::{Api, Auth};
use crate::sync::{tag_names, wait_for_tags};

/// The repository `full_name` as the caller sees it.
async fn repository(api: &Api, auth: &Auth, full_name: &str) -> Option<Value> {
    let (_, repos) = api
        .call(auth, Method::GET, "/api/v1/repositories", None)
        .await;
    repos
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["full_name"] == full_name)
        .cloned()
}

async fn tag_id(api: &Api, auth: &Auth, repo_id: &Value, tag: &str) -> Value {
    let (_, tags) = api
        .call(
            auth,
            Method::GET,
            &format!("/api/v1/repositories/{repo_id}/tags"),
            None,
        )
        .await;
    tags.as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == tag)
        .map(|t| t["id"].clone())
        .unwrap_or_else(|| panic!("no tag {tag} in {tags}"))
}

#[tokio::test]
async fn deleting_a_tag_through_the_api_keeps_its_siblings_and_refuses_non_owners() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let bob = api.create_user(&admin, "bob", false).await;
    let docker = DockerClient::new(&b);
    assert_ok(&docker.login("alice", &alice.password));
    assert_ok(&docker.push("alice/web:1"));
    assert_ok(&docker.push("alice/web:stable"));
    wait_for_tags(&api, &alice.auth(), "alice/web", &["1", "stable"]).await;
    let repo = repository(&api, &alice.auth(), "alice/web").await.unwrap();
    let stable = tag_id(&api, &alice.auth(), &repo["id"], "stable").await;
    let creds = format!("alice:{}", alice.password);
    let registry = docker.registry().to_owned();

    // Bob is no member of alice's namespace: refused, nothing deleted.
    let path = format!("/api/v1/tags/{stable}");
    let (s, v) = api.call(&bob.auth(), Method::DELETE, &path, None).await;
    assert_eq!(s, 403, "{v}");
    for t in ["alice/web:1", "alice/web:stable"] {
        let o = skopeo_inspect(&registry, t, Some(&creds));
        assert!(
            o.status.success(),
            "{t} after a refused delete: {}",
            text(&o)
        );
    }

    let (s, v) = api.call(&alice.auth(), Method::DELETE, &path, None).await;
    assert_eq!(s, 204, "{v}");
    // The API agrees at once, without waiting for the notification.
    assert_eq!(
        tag_names(&api, &alice.auth(), &repo["id"]).await,
        ["1"],
        "right after the delete"
    );
    let gone = skopeo_inspect(&registry, "alice/web:stable", Some(&creds));
    assert!(!gone.status.success(), "stable survived: {}", text(&gone));
    assert_ok(&skopeo_inspect(&registry, "alice/web:1", Some(&creds)));
    assert_ok(&docker.pull("alice/web:1"));

    // Once the registry's delete and re-put events are processed and a
    // reconcile ran, the sibling is still there.
    let (s, report) = api
        .call(&admin, Method::POST, "/api/v1/registries/1/sync", None)
        .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["complete"], true, "{report}");
    wait_for_tags(&api, &alice.auth(), "alice/web", &["1"]).await;

    // The audit log names alice, not berth's service user, and berth's
    // re-tag of the sibling is no push of anyone's.
    let (s, deletes) = api
        .call(
            &admin,
            Method::GET,
            "/api/v1/activities?repository=alice/web&action=tag.delete",
            None,
        )
        .await;
    assert_eq!(s, 200, "{deletes}");
    let deletes = deletes.as_array().cloned().unwrap_or_default();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0]["actor"]["name"], "alice", "{deletes:?}");
    assert_eq!(deletes[0]["tag"], "stable", "{deletes:?}");
    let (_, pushes) = api
        .call(
            &admin,
            Method::GET,
            "/api/v1/activities?repository=alice/web&action=repository.push",
            None,
        )
        .await;
    let by_berth = pushes
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["actor"]["name"] != "alice")
        .count();
    assert_eq!(by_berth, 0, "{pushes}");

    // A whole repository: bob refused, alice deletes every manifest.
    assert_ok(&docker.push("alice/web:2"));
    wait_for_tags(&api, &alice.auth(), "alice/web", &["1", "2"]).await;
    let repo_path = format!("/api/v1/repositories/{}", repo["id"]);
    let (s, _) = api
        .call(&bob.auth(), Method::DELETE, &repo_path, None)
        .await;
    assert_eq!(s, 403);
    assert_ok(&skopeo_inspect(&registry, "alice/web:2", Some(&creds)));
    let (s, v) = api
        .call(&alice.auth(), Method::DELETE, &repo_path, None)
        .await;
    assert_eq!(s, 204, "{v}");
    for t in ["alice/web:1", "alice/web:2"] {
        let o = skopeo_inspect(&registry, t, Some(&creds));
        assert!(!o.status.success(), "{t} survived: {}", text(&o));
    }
    assert!(repository(&api, &alice.auth(), "alice/web").await.is_none());
}
