//! Deleting one tag without losing its siblings.
//!
//! distribution 2.x deletes manifests by digest, which removes every tag
//! pointing at that digest (Portus deleted them all). berth fetches the
//! manifest first, deletes the digest, then puts the same manifest bytes
//! back under each surviving tag. The blobs stay in storage (no garbage
//! collection runs in between), so the re-put is accepted and yields the
//! same digest.

use berth_registry::client::{ClientError, RegistryClient};

#[derive(Debug, thiserror::Error)]
pub enum TagDeleteError {
    #[error("tag `{repository}:{tag}` does not exist")]
    NoSuchTag { repository: String, tag: String },
    #[error(transparent)]
    Registry(#[from] ClientError),
    #[error("re-tagging `{repository}:{tag}` gave digest {got}, expected {want}")]
    DigestChanged {
        repository: String,
        tag: String,
        want: String,
        got: String,
    },
}

/// What a tag deletion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagDeleted {
    pub digest: String,
    /// Tags that shared the digest and were put back.
    pub survivors: Vec<String>,
}

/// Deletes `repository:tag`, keeping every other tag of the same digest.
pub async fn delete_tag(
    client: &RegistryClient,
    repository: &str,
    tag: &str,
) -> Result<TagDeleted, TagDeleteError> {
    let no_such = || TagDeleteError::NoSuchTag {
        repository: repository.to_owned(),
        tag: tag.to_owned(),
    };
    let manifest = client
        .manifest(repository, tag)
        .await?
        .ok_or_else(no_such)?;
    let digest = manifest.summary.digest.clone();
    let mut survivors = Vec::new();
    for other in client.tags(repository, 1000).await?.unwrap_or_default() {
        if other == tag {
            continue;
        }
        if let Some(head) = client.head_manifest(repository, &other).await? {
            if head.digest == digest {
                survivors.push(other);
            }
        }
    }
    client.delete_manifest(repository, &digest).await?;
    for survivor in &survivors {
        let got = client
            .put_manifest(
                repository,
                survivor,
                &manifest.media_type,
                manifest.bytes.clone(),
            )
            .await?;
        if got != digest {
            return Err(TagDeleteError::DigestChanged {
                repository: repository.to_owned(),
                tag: survivor.clone(),
                want: digest,
                got,
            });
        }
        tracing::info!(repository, tag = %survivor, "re-tagged a sibling of a deleted tag");
    }
    Ok(TagDeleted { digest, survivors })
}
