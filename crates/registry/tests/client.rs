//! The registry client against a real distribution registry.

use berth_registry::client::RegistryClient;
use berth_registry::manifest::{self, ManifestKind};
use berth_test_support::{busybox_image, PlainRegistry};

fn setup() -> (PlainRegistry, RegistryClient) {
    let reg = PlainRegistry::start().unwrap();
    let client = RegistryClient::new(&reg.url(), None).unwrap();
    (reg, client)
}

#[tokio::test]
async fn catalog_and_tags_paginate() {
    let (reg, client) = setup();
    let image = busybox_image().unwrap();
    for dest in ["a/one:1", "a/one:2", "a/one:3", "b/two:x", "c:latest"] {
        reg.push_local_image(&image, dest, None).unwrap();
    }
    let mut repos = client.catalog(2).await.unwrap();
    repos.sort();
    assert_eq!(repos, ["a/one", "b/two", "c"]);
    let mut tags = client.tags("a/one", 2).await.unwrap().unwrap();
    tags.sort();
    assert_eq!(tags, ["1", "2", "3"]);
    assert_eq!(client.tags("nope/none", 10).await.unwrap(), None);
}

#[tokio::test]
async fn manifest_head_get_and_delete() {
    let (reg, client) = setup();
    reg.push_local_image(&busybox_image().unwrap(), "x/y:1", None)
        .unwrap();
    let head = client.head_manifest("x/y", "1").await.unwrap().unwrap();
    let got = client.manifest("x/y", "1").await.unwrap().unwrap();
    assert_eq!(head.digest, got.summary.digest);
    assert_eq!(got.summary.kind, ManifestKind::DockerImage);
    assert!(
        got.summary.size > 500_000,
        "busybox layer counted: {}",
        got.summary.size
    );
    assert_eq!(client.head_manifest("x/y", "missing").await.unwrap(), None);

    assert!(client.delete_manifest("x/y", &head.digest).await.unwrap());
    assert_eq!(client.head_manifest("x/y", "1").await.unwrap(), None);
    assert!(!client.delete_manifest("x/y", &head.digest).await.unwrap());
}

#[tokio::test]
async fn oci_image_and_multi_arch_index_are_first_class() {
    let (reg, client) = setup();
    reg.push_local_image(&busybox_image().unwrap(), "m/img:oci", Some("oci"))
        .unwrap();
    let oci = client.manifest("m/img", "oci").await.unwrap().unwrap();
    assert_eq!(oci.summary.kind, ManifestKind::OciImage);

    // An index naming the same image for two platforms, put by our client.
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": manifest::OCI_INDEX,
        "manifests": [
            {"mediaType": manifest::OCI_IMAGE, "digest": oci.summary.digest, "size": oci.bytes.len(),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": manifest::OCI_IMAGE, "digest": oci.summary.digest, "size": oci.bytes.len(),
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
        ]
    });
    let bytes = serde_json::to_vec(&index).unwrap();
    let digest = client
        .put_manifest("m/img", "multi", manifest::OCI_INDEX, bytes.clone())
        .await
        .unwrap();
    assert_eq!(digest, manifest::digest_of(&bytes));
    let got = client.manifest("m/img", "multi").await.unwrap().unwrap();
    assert_eq!(got.summary.kind, ManifestKind::OciIndex);
    let platforms: Vec<String> = got
        .summary
        .platforms
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
}

#[tokio::test]
async fn a_dead_registry_is_an_error_not_an_empty_catalog() {
    let (reg, client) = setup();
    drop(reg);
    assert!(client.catalog(100).await.is_err());
    assert!(client.tags("a/b", 100).await.is_err());
}
