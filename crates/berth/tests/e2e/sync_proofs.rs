//! The catalog sync's promises against a real berth: a registry changed
//! while berth was down converges at the next start, moved tags included; a registry that stops
//! answering during a reconcile removes nothing and the failure shows in
//! health and metrics; OCI images and multi-arch indexes, built with berth's
//! own client, show their media type and platforms through the API; health
//! shows a reconcile's detail to admins only; events stored just before a
//! kill are applied once after the restart.

use std::time::Duration;

use berth_registry::client::{Credentials, RegistryClient};
use berth_registry::manifest::{OCI_IMAGE, OCI_INDEX};
use berth_registry::upload::oci_index;
use berth_test_support::{Berth, PlainRegistry};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use reqwest::Method;
use serde_json::Value;

use crate::common::{bin, read_pid};
use crate::portus::{Api, Auth};
use crate::sync::{tag_names, wait_for_tags};

/// A client of `b`'s registry as the service user, through berth's token endpoint.
fn service_client(b: &Berth) -> RegistryClient {
    let password =
        std::fs::read_to_string(b.data_dir().join("secrets/service-user-password")).unwrap();
    RegistryClient::new(
        &format!("http://{}", b.registry_addr()),
        Some(Credentials {
            username: "berth".into(),
            password: password.trim().to_owned(),
        }),
    )
    .unwrap()
}

/// Generates and tags a one-layer OCI image.
async fn push_image(c: &RegistryClient, repo: &str, tag: &str, seed: &str) -> String {
    let img = c
        .generate_image(repo, seed, "linux", "amd64")
        .await
        .unwrap();
    c.put_manifest(repo, tag, OCI_IMAGE, img.bytes)
        .await
        .unwrap()
}

async fn tags_of(api: &Api, auth: &Auth, full_name: &str) -> Option<Vec<Value>> {
    let (_, repos) = api
        .call(auth, Method::GET, "/api/v1/repositories", None)
        .await;
    let repo = repos
        .as_array()?
        .iter()
        .find(|r| r["full_name"] == full_name)?
        .clone();
    let (_, tags) = api
        .call(
            auth,
            Method::GET,
            &format!("/api/v1/repositories/{}/tags", repo["id"]),
            None,
        )
        .await;
    tags.as_array().cloned()
}

#[tokio::test]
async fn a_registry_changed_while_berth_was_down_converges_at_the_next_start() {
    let mut b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let c = service_client(&b);
    push_image(&c, "alice/web", "1", "web-1").await;
    push_image(&c, "alice/web", "2", "web-2").await;
    push_image(&c, "alice/gone", "1", "gone-1").await;
    wait_for_tags(&api, &alice.auth(), "alice/web", &["1", "2"]).await;
    wait_for_tags(&api, &alice.auth(), "alice/gone", &["1"]).await;

    // berth stops; another registry serves the same storage and changes it
    // without telling berth (no notifications).
    b.stop_with(Signal::SIGTERM, Duration::from_secs(15))
        .unwrap();
    let plain = PlainRegistry::start_on(Some(&b.data_dir().join("registry/storage"))).unwrap();
    let p = RegistryClient::new(&plain.url(), None).unwrap();
    berth_sync::tag_delete::delete_tag(&p, "alice/web", "2")
        .await
        .unwrap();
    push_image(&p, "alice/web", "3", "web-3").await;
    push_image(&p, "alice/new", "1", "new-1").await;
    let gone = p.head_manifest("alice/gone", "1").await.unwrap().unwrap();
    assert!(p.delete_manifest("alice/gone", &gone.digest).await.unwrap());
    drop(plain);

    // The reconcile at start converges.
    b.restart().await.unwrap();
    wait_for_tags(&api, &alice.auth(), "alice/web", &["1", "3"]).await;
    wait_for_tags(&api, &alice.auth(), "alice/new", &["1"]).await;
    let start = std::time::Instant::now();
    while tags_of(&api, &alice.auth(), "alice/gone")
        .await
        .is_some_and(|t| !t.is_empty())
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "alice/gone:1 was never removed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A tag re-pushed to another image while berth was down keeps its name,
/// so a reconcile that only lists tags would never notice: the one at start
/// HEADs every known tag.
#[tokio::test]
async fn a_tag_moved_while_berth_was_down_shows_its_new_digest_after_start() {
    let mut b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let c = service_client(&b);
    let old = push_image(&c, "alice/web", "1", "web-1").await;
    push_image(&c, "alice/web", "2", "web-2").await;
    wait_for_tags(&api, &alice.auth(), "alice/web", &["1", "2"]).await;

    b.stop_with(Signal::SIGTERM, Duration::from_secs(15))
        .unwrap();
    let plain = PlainRegistry::start_on(Some(&b.data_dir().join("registry/storage"))).unwrap();
    let p = RegistryClient::new(&plain.url(), None).unwrap();
    let moved = push_image(&p, "alice/web", "1", "web-1-moved").await;
    assert_ne!(old, moved);
    drop(plain);

    b.restart().await.unwrap();
    let digest_of = |tags: &[Value], name: &str| {
        tags.iter()
            .find(|t| t["name"] == name)
            .and_then(|t| t["digest"].as_str().map(str::to_owned))
    };
    let start = std::time::Instant::now();
    loop {
        let tags = tags_of(&api, &alice.auth(), "alice/web")
            .await
            .unwrap_or_default();
        if digest_of(&tags, "1").as_deref() == Some(moved.as_str()) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "alice/web:1 kept a stale digest; tags: {tags:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Events berth accepted (202: stored) just before it was killed are
/// applied after the restart, each exactly once. The kill follows the
/// answer at once, well inside the worker's half-second poll, so the events
/// are usually still pending; either way none may be lost or doubled.
#[tokio::test]
async fn events_received_just_before_a_kill_are_applied_once_after_restart() {
    let mut b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let c = service_client(&b);
    let digest = push_image(&c, "alice/web", "1", "web-1").await;
    wait_for_tags(&api, &alice.auth(), "alice/web", &["1"]).await;

    let pull = |id: &str| {
        serde_json::json!({"id": id, "action": "pull", "timestamp": chrono::Utc::now().to_rfc3339(),
            "target": {"mediaType": OCI_IMAGE, "digest": digest, "size": 1, "repository": "alice/web", "tag": "1"},
            "actor": {"name": "alice"}})
    };
    let events = serde_json::json!({"events": [pull("kill-1"), pull("kill-2"), pull("kill-3"), pull("kill-1")]});
    let secret =
        std::fs::read_to_string(b.data_dir().join("secrets/registry-notification-secret")).unwrap();
    let accepted = reqwest::Client::new()
        .post(b.url("/v2/webhooks/events"))
        .bearer_auth(secret.trim())
        .json(&events)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    b.stop_with(Signal::SIGKILL, Duration::from_secs(5))
        .unwrap();

    b.restart().await.unwrap();
    let path = "/api/v1/activities?repository=alice/web&action=repository.pull&user=alice";
    let start = std::time::Instant::now();
    let pulls = loop {
        let (_, list) = api.call(&admin, Method::GET, path, None).await;
        let counted: i64 = list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["count"].as_i64())
            .sum();
        if counted >= 3 {
            break counted;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the stored pulls were never applied: {list}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        pulls, 3,
        "three distinct events, one of them delivered twice"
    );
}

#[tokio::test]
async fn a_registry_that_stops_answering_during_a_reconcile_removes_nothing() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let c = service_client(&b);
    push_image(&c, "alice/web", "1", "web-1").await;
    push_image(&c, "alice/web", "2", "web-2").await;
    wait_for_tags(&api, &alice.auth(), "alice/web", &["1", "2"]).await;

    // The registry hangs (SIGSTOP): its socket accepts, nothing answers,
    // and the reconcile's requests time out.
    let registry = Pid::from_raw(read_pid(&b.data_dir().join("run/registry.pid")));
    kill(registry, Signal::SIGSTOP).unwrap();
    let (s, report) = api
        .call(&admin, Method::POST, "/api/v1/registries/1/sync", None)
        .await;
    kill(registry, Signal::SIGCONT).unwrap();
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["complete"], false, "{report}");
    assert!(report["catalog_error"].is_string(), "{report}");
    assert_eq!(report["removals"], 0, "{report}");

    let repo = api
        .call(&alice.auth(), Method::GET, "/api/v1/repositories", None)
        .await
        .1
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["full_name"] == "alice/web")
        .cloned()
        .unwrap();
    assert_eq!(
        tag_names(&api, &alice.auth(), &repo["id"]).await,
        ["1", "2"]
    );
    let metrics = reqwest::get(b.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("berth_sync_reconciles_total{outcome=\"failed\"}")),
        "{metrics}"
    );
    // Health answers anyone, but only admins see which repositories were
    // skipped: the failed catalog put every known one, private ones
    // included, in the report.
    let bob = api.create_user(&admin, "bob", false).await;
    for (who, auth) in [("anonymous", Auth::Anonymous), ("bob", bob.auth())] {
        let (_, health) = api.call(&auth, Method::GET, "/api/v1/health", None).await;
        assert_eq!(health["sync"]["success"], false, "{who}: {health}");
        assert_eq!(health["sync"]["skipped"], 1, "{who}: {health}");
        assert!(health["sync"]["finished_at"].is_u64(), "{who}: {health}");
        assert!(health["sync"].get("report").is_none(), "{who}: {health}");
        assert!(
            !health.to_string().contains("alice/web"),
            "{who} learns a repository name from health: {health}"
        );
    }
    let (_, health) = api.call(&admin, Method::GET, "/api/v1/health", None).await;
    assert_eq!(health["sync"]["success"], false, "{health}");
    assert_eq!(
        health["sync"]["report"]["skipped"][0]["repository"], "alice/web",
        "{health}"
    );
    assert!(
        health["sync"]["report"]["catalog_error"].is_string(),
        "{health}"
    );

    // With the registry back, the next reconcile is complete and still
    // removes nothing.
    let (s, report) = api
        .call(&admin, Method::POST, "/api/v1/registries/1/sync", None)
        .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["complete"], true, "{report}");
    assert_eq!(report["removals"], 0, "{report}");
}

#[tokio::test]
async fn an_oci_image_and_a_multi_arch_index_show_their_platforms() {
    let b = Berth::start(&bin()).await.unwrap();
    let api = Api::new(&b);
    let admin = api.bootstrap().await;
    let alice = api.create_user(&admin, "alice", false).await;
    let c = service_client(&b);
    push_image(&c, "alice/oci", "1", "oci-1").await;
    let mut images = Vec::new();
    for arch in ["amd64", "arm64"] {
        let img = c
            .generate_image("alice/multi", &format!("multi-{arch}"), "linux", arch)
            .await
            .unwrap();
        c.put_manifest("alice/multi", &img.digest, OCI_IMAGE, img.bytes.clone())
            .await
            .unwrap();
        images.push(img);
    }
    c.put_manifest("alice/multi", "1", OCI_INDEX, oci_index(&images))
        .await
        .unwrap();

    wait_for_tags(&api, &alice.auth(), "alice/oci", &["1"]).await;
    wait_for_tags(&api, &alice.auth(), "alice/multi", &["1"]).await;
    let oci = tags_of(&api, &alice.auth(), "alice/oci").await.unwrap();
    assert_eq!(oci[0]["media_type"], OCI_IMAGE, "{oci:?}");
    let multi = tags_of(&api, &alice.auth(), "alice/multi").await.unwrap();
    assert_eq!(multi[0]["media_type"], OCI_INDEX, "{multi:?}");
    assert_eq!(
        multi[0]["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64"]),
        "{multi:?}"
    );
}
