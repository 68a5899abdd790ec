//! Registry → notifications → catalog, end to end: docker pushes appear in
//! the Portus API, deletes and re-pushes are followed.

use std::time::{Duration, Instant};

use berth_test_support::Berth;
use reqwest::Method;
use serde_json::Value;

use crate::common::bin;
use crate::docker_cli::{assert_ok, DockerClient};
use crate::portus::{Api, Auth};

/// The names of repository `repo_id`'s tags, sorted.
pub async fn tag_names(api: &Api, auth: &Auth, repo_id: &Value) -> Vec<String> {
    let (_, list) = api
        .call(
            auth,
            Method::GET,
            &format!("/api/v1/repositories/{repo_id}/tags"),
            None,
        )
        .await;
    let mut names: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Polls the caller's repository list until `full_name` shows `tags`.
pub async fn wait_for_tags(api: &Api, auth: &Auth, full_name: &str, tags: &[&str]) -> Duration {
    let start = Instant::now();
    loop {
        let (_, repos) = api
            .call(auth, Method::GET, "/api/v1/repositories", None)
            .await;
        let found = repos
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["full_name"] == full_name);
        if let Some(repo) = found {
            if tag_names(api, auth, &repo["id"]).await == tags {
                return start.elapsed();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "`{full_name}` never showed tags {tags:?}; last list: {repos}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn pushes_appear_through_notifications_with_pusher_and_digest() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let docker = DockerClient::new(&b);
    assert_ok(&docker.login("alice", &alice.password));

    assert_ok(&docker.push("alice/web:1"));
    let latency = wait_for_tags(&api, &alice.auth(), "alice/web", &["1"]).await;
    eprintln!("push to visible in the API: {latency:?}");
    assert_ok(&docker.push("alice/web:stable"));
    wait_for_tags(&api, &alice.auth(), "alice/web", &["1", "stable"]).await;

    let (_, repos) = api
        .call(&alice.auth(), Method::GET, "/api/v1/repositories", None)
        .await;
    let repo = repos
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["full_name"] == "alice/web")
        .cloned()
        .unwrap_or(Value::Null);
    let (_, tags) = api
        .call(
            &alice.auth(),
            Method::GET,
            &format!("/api/v1/repositories/{}/tags", repo["id"]),
            None,
        )
        .await;
    let tags = tags.as_array().unwrap();
    assert!(
        tags.iter().all(|t| t["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))),
        "{tags:?}"
    );
    assert_eq!(
        tags[0]["digest"], tags[1]["digest"],
        "same image, same digest"
    );
    assert!(
        tags.iter().all(|t| t["author"]["name"] == "alice"),
        "{tags:?}"
    );
}
