//! Pushing small generated images straight through the distribution API:
//! blobs, OCI image manifests and indexes. The benchmark's generator and the
//! tests of OCI and multi-arch support use it; docker push would be far
//! slower and could not build an index.

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::client::{expect_status, header, push_scope, ClientError, RegistryClient};
use crate::manifest::{digest_of, OCI_IMAGE, OCI_INDEX};

/// An image manifest ready to be put, with what an index needs to name it.
#[derive(Debug, Clone)]
pub struct GeneratedImage {
    pub bytes: Vec<u8>,
    pub digest: String,
    pub os: String,
    pub architecture: String,
}

impl RegistryClient {
    /// Uploads a blob in one request where the registry allows it (a
    /// monolithic `POST ?digest=`), else as `POST` then `PUT`; returns its
    /// digest.
    pub async fn push_blob(&self, repo: &str, bytes: Vec<u8>) -> Result<String, ClientError> {
        let digest = digest_of(&bytes);
        let path = format!("/v2/{repo}/blobs/uploads/?digest={digest}");
        let resp = self
            .send(
                Method::POST,
                &path,
                &push_scope(repo),
                octet_stream(),
                Some(bytes.clone()),
            )
            .await?;
        if resp.status() == StatusCode::CREATED {
            return Ok(digest);
        }
        let resp = expect_status(resp, &path, StatusCode::ACCEPTED).await?;
        let location = header(resp.headers(), "location")
            .and_then(|l| l.find("/v2/").and_then(|i| l.get(i..)).map(str::to_owned))
            .ok_or_else(|| ClientError::Invalid {
                what: path.clone(),
                detail: "no upload Location".into(),
            })?;
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{sep}digest={digest}");
        let resp = self
            .send(
                Method::PUT,
                &put,
                &push_scope(repo),
                octet_stream(),
                Some(bytes),
            )
            .await?;
        expect_status(resp, &put, StatusCode::CREATED).await?;
        Ok(digest)
    }

    /// Uploads a one-layer image for `os/architecture` whose layer is
    /// `seed` (so distinct seeds give distinct digests) and returns its
    /// manifest, not yet put.
    pub async fn generate_image(
        &self,
        repo: &str,
        seed: &str,
        os: &str,
        architecture: &str,
    ) -> Result<GeneratedImage, ClientError> {
        let layer = seed.as_bytes().to_vec();
        let layer_len = layer.len();
        let layer_digest = self.push_blob(repo, layer).await?;
        let config = json!({
            "architecture": architecture,
            "os": os,
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "config": {},
        })
        .to_string()
        .into_bytes();
        let config_len = config.len();
        let config_digest = self.push_blob(repo, config).await?;
        let bytes = json!({
            "schemaVersion": 2,
            "mediaType": OCI_IMAGE,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_len},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_len}],
        })
        .to_string()
        .into_bytes();
        Ok(GeneratedImage {
            digest: digest_of(&bytes),
            bytes,
            os: os.to_owned(),
            architecture: architecture.to_owned(),
        })
    }
}

/// An OCI index over `images` (each already put, by digest or tag).
pub fn oci_index(images: &[GeneratedImage]) -> Vec<u8> {
    let manifests: Vec<_> = images
        .iter()
        .map(|i| {
            json!({
                "mediaType": OCI_IMAGE,
                "digest": i.digest,
                "size": i.bytes.len(),
                "platform": {"os": i.os, "architecture": i.architecture},
            })
        })
        .collect();
    json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
        .to_string()
        .into_bytes()
}

fn octet_stream() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h
}
