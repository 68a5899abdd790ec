//! Manifests as the registry serves them: the four media types berth treats
//! as first-class (Docker schema 2 image and list, OCI image and index), with
//! what the catalog needs from each: kind, digest, size and platforms.
//!
//! Pure: bytes in, summary out.

use serde::Deserialize;
use sha2::{Digest, Sha256};

pub const DOCKER_IMAGE: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_IMAGE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Every media type berth asks for, in one `Accept` header. Without it the
/// registry may down-convert to schema 1 or refuse an index.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    DockerImage,
    DockerList,
    OciImage,
    OciIndex,
}

impl ManifestKind {
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        // Parameters such as `; charset=utf-8` do not change the type.
        match media_type.split(';').next().unwrap_or_default().trim() {
            DOCKER_IMAGE => Some(Self::DockerImage),
            DOCKER_LIST => Some(Self::DockerList),
            OCI_IMAGE => Some(Self::OciImage),
            OCI_INDEX => Some(Self::OciIndex),
            _ => None,
        }
    }

    pub fn is_index(self) -> bool {
        matches!(self, Self::DockerList | Self::OciIndex)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// What berth records about one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestSummary {
    pub kind: ManifestKind,
    pub digest: String,
    /// Image: config plus layers. Index: the sum over its manifests' own
    /// sizes (their layers are not known without fetching them).
    pub size: u64,
    /// For indexes: one entry per referenced manifest that names a platform.
    pub platforms: Vec<Platform>,
    /// For indexes: the digests of the referenced manifests.
    pub children: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("unsupported manifest media type `{0}`")]
    UnsupportedMediaType(String),
    #[error("manifest is not valid JSON for `{media_type}`: {detail}")]
    Malformed { media_type: String, detail: String },
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(default)]
    size: u64,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    platform: Option<RawPlatform>,
}

#[derive(Deserialize)]
struct RawPlatform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize)]
struct RawImage {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct RawIndex {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// `sha256:<hex>` of `bytes`: the content address the registry uses.
pub fn digest_of(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Summarises a manifest served with `media_type`.
pub fn summarize(media_type: &str, bytes: &[u8]) -> Result<ManifestSummary, ManifestError> {
    let kind = ManifestKind::from_media_type(media_type)
        .ok_or_else(|| ManifestError::UnsupportedMediaType(media_type.to_owned()))?;
    let malformed = |e: serde_json::Error| ManifestError::Malformed {
        media_type: media_type.to_owned(),
        detail: e.to_string(),
    };
    let digest = digest_of(bytes);
    if kind.is_index() {
        let raw: RawIndex = serde_json::from_slice(bytes).map_err(malformed)?;
        let platforms = raw
            .manifests
            .iter()
            .filter_map(|m| m.platform.as_ref())
            .filter(|p| !p.os.is_empty() || !p.architecture.is_empty())
            .map(|p| Platform {
                os: p.os.clone(),
                architecture: p.architecture.clone(),
                variant: p.variant.clone().filter(|v| !v.is_empty()),
            })
            .collect();
        Ok(ManifestSummary {
            kind,
            digest,
            size: raw.manifests.iter().map(|m| m.size).sum(),
            platforms,
            children: raw.manifests.into_iter().map(|m| m.digest).collect(),
        })
    } else {
        let raw: RawImage = serde_json::from_slice(bytes).map_err(malformed)?;
        Ok(ManifestSummary {
            kind,
            digest,
            size: raw.config.size + raw.layers.iter().map(|l| l.size).sum::<u64>(),
            platforms: Vec::new(),
            children: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_size_is_config_plus_layers() {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"x","size":100,"digest":"sha256:a"},
            "layers":[{"mediaType":"y","size":1000,"digest":"sha256:b"},{"mediaType":"y","size":24,"digest":"sha256:c"}]}"#;
        let s = summarize(DOCKER_IMAGE, m).unwrap();
        assert_eq!(s.kind, ManifestKind::DockerImage);
        assert_eq!(s.size, 1124);
        assert_eq!(s.digest, digest_of(m));
        assert!(s.platforms.is_empty());
    }

    #[test]
    fn index_lists_platforms() {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":500,"digest":"sha256:a","platform":{"os":"linux","architecture":"amd64"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":501,"digest":"sha256:b","platform":{"os":"linux","architecture":"arm","variant":"v7"}}]}"#;
        let s = summarize("application/vnd.oci.image.index.v1+json; charset=utf-8", m).unwrap();
        assert_eq!(s.kind, ManifestKind::OciIndex);
        let p: Vec<String> = s.platforms.iter().map(ToString::to_string).collect();
        assert_eq!(p, ["linux/amd64", "linux/arm/v7"]);
        assert_eq!(s.children, ["sha256:a", "sha256:b"]);
        assert_eq!(s.size, 1001);
    }

    #[test]
    fn schema1_and_garbage_are_refused() {
        assert!(matches!(
            summarize(
                "application/vnd.docker.distribution.manifest.v1+prettyjws",
                b"{}"
            ),
            Err(ManifestError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            summarize(OCI_IMAGE, b"not json"),
            Err(ManifestError::Malformed { .. })
        ));
    }
}
