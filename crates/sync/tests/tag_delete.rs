//! Per-tag delete against a real registry.

use berth_registry::client::RegistryClient;
use berth_sync::tag_delete::{delete_tag, TagDeleteError};
use berth_test_support::{busybox_image, PlainRegistry};

#[tokio::test]
async fn deleting_one_tag_keeps_its_siblings() {
    let reg = PlainRegistry::start().unwrap();
    let image = busybox_image().unwrap();
    for t in ["1", "stable", "latest"] {
        reg.push_local_image(&image, &format!("ns/app:{t}"), None)
            .unwrap();
    }
    let client = RegistryClient::new(&reg.url(), None).unwrap();
    let before = client.head_manifest("ns/app", "1").await.unwrap().unwrap();

    let done = delete_tag(&client, "ns/app", "stable").await.unwrap();

    assert_eq!(done.digest, before.digest);
    let mut survivors = done.survivors.clone();
    survivors.sort();
    assert_eq!(survivors, ["1", "latest"]);
    assert_eq!(
        client.head_manifest("ns/app", "stable").await.unwrap(),
        None
    );
    for t in ["1", "latest"] {
        let head = client.head_manifest("ns/app", t).await.unwrap().unwrap();
        assert_eq!(head.digest, before.digest, "sibling {t} changed");
    }
    let mut tags = client.tags("ns/app", 100).await.unwrap().unwrap();
    tags.sort();
    assert_eq!(tags, ["1", "latest"]);
}

#[tokio::test]
async fn deleting_a_missing_tag_is_an_error_and_changes_nothing() {
    let reg = PlainRegistry::start().unwrap();
    reg.push_local_image(&busybox_image().unwrap(), "ns/app:1", None)
        .unwrap();
    let client = RegistryClient::new(&reg.url(), None).unwrap();
    let err = delete_tag(&client, "ns/app", "nope").await.unwrap_err();
    assert!(matches!(err, TagDeleteError::NoSuchTag { .. }), "{err}");
    assert!(client.head_manifest("ns/app", "1").await.unwrap().is_some());
}
