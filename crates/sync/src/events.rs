//! Registry notifications, read into what the catalog needs.
//!
//! The registry sends blob and manifest events alike; only manifest events
//! change the catalog (a push names a tag and a digest, a delete a digest).
//! Pure: JSON in, typed event out. Processing order does not matter: the
//! executor applies an event only when it is newer than what it recorded.

use serde::Deserialize;

use berth_registry::manifest::ManifestKind;

/// What a notification means for the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogEvent {
    /// A manifest was pushed, under `tag` when pushed by tag.
    ManifestPushed {
        repository: String,
        tag: Option<String>,
        digest: String,
        media_type: String,
        size: u64,
        actor: Option<String>,
    },
    /// A manifest was pulled (counted, aggregated).
    ManifestPulled {
        repository: String,
        tag: Option<String>,
        digest: String,
        actor: Option<String>,
    },
    /// A manifest was deleted: every tag pointing at `digest` is gone.
    ManifestDeleted {
        repository: String,
        digest: String,
        actor: Option<String>,
    },
    /// Blob traffic and mounts: no catalog change.
    Ignored { reason: &'static str },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("event is not a registry notification: {0}")]
    Malformed(String),
}

#[derive(Deserialize)]
struct RawEvent {
    action: String,
    #[serde(default)]
    target: RawTarget,
    #[serde(default)]
    actor: RawActor,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawTarget {
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    repository: String,
    #[serde(default)]
    tag: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawActor {
    #[serde(default)]
    name: Option<String>,
}

/// Reads one event of the registry's envelope.
pub fn read_event(value: &serde_json::Value) -> Result<CatalogEvent, EventError> {
    let raw: RawEvent =
        serde_json::from_value(value.clone()).map_err(|e| EventError::Malformed(e.to_string()))?;
    let t = raw.target;
    if t.repository.is_empty() {
        return Err(EventError::Malformed("no target.repository".into()));
    }
    let actor = raw.actor.name.filter(|n| !n.is_empty());
    let tag = t.tag.filter(|t| !t.is_empty());
    let is_manifest = ManifestKind::from_media_type(&t.media_type).is_some();
    Ok(match raw.action.as_str() {
        // A delete carries no media type: distribution only knows the digest.
        "delete" if !t.digest.is_empty() => CatalogEvent::ManifestDeleted {
            repository: t.repository,
            digest: t.digest,
            actor,
        },
        "push" if is_manifest => CatalogEvent::ManifestPushed {
            repository: t.repository,
            tag,
            digest: t.digest,
            media_type: t.media_type,
            size: t.size,
            actor,
        },
        "pull" if is_manifest => CatalogEvent::ManifestPulled {
            repository: t.repository,
            tag,
            digest: t.digest,
            actor,
        },
        "push" | "pull" => CatalogEvent::Ignored { reason: "blob" },
        "mount" => CatalogEvent::Ignored { reason: "mount" },
        _ => CatalogEvent::Ignored {
            reason: "unknown action",
        },
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn manifest_push_by_tag() {
        let e = read_event(&json!({
            "id": "1", "action": "push",
            "target": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "digest": "sha256:abc", "size": 527, "repository": "alice/bb", "tag": "1"},
            "actor": {"name": "alice"}
        }))
        .unwrap();
        assert_eq!(
            e,
            CatalogEvent::ManifestPushed {
                repository: "alice/bb".into(),
                tag: Some("1".into()),
                digest: "sha256:abc".into(),
                media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
                size: 527,
                actor: Some("alice".into())
            }
        );
    }

    #[test]
    fn blobs_and_mounts_are_ignored() {
        let blob = json!({"action": "push", "target": {"mediaType": "application/octet-stream", "digest": "sha256:x", "repository": "a/b"}});
        assert_eq!(
            read_event(&blob).unwrap(),
            CatalogEvent::Ignored { reason: "blob" }
        );
        let mount =
            json!({"action": "mount", "target": {"repository": "a/b", "digest": "sha256:x"}});
        assert_eq!(
            read_event(&mount).unwrap(),
            CatalogEvent::Ignored { reason: "mount" }
        );
    }

    #[test]
    fn delete_and_pull_of_an_oci_index() {
        let del =
            json!({"action": "delete", "target": {"digest": "sha256:d", "repository": "a/b"}});
        assert!(matches!(
            read_event(&del).unwrap(),
            CatalogEvent::ManifestDeleted { .. }
        ));
        let pull = json!({"action": "pull", "target": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:i", "repository": "a/b", "tag": "multi"}});
        assert!(matches!(
            read_event(&pull).unwrap(),
            CatalogEvent::ManifestPulled { .. }
        ));
    }

    #[test]
    fn malformed_events_are_errors() {
        assert!(read_event(&json!({"action": "push"})).is_err());
        assert!(read_event(&json!("nope")).is_err());
    }
}
