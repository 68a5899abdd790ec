//! Processing of stored registry notifications.
//!
//! Events were written to the inbox by the HTTP handler before anything
//! else; this worker applies them in arrival order and marks each with its
//! outcome. A database error leaves the event pending for the next pass, so
//! a crash or restart between receipt and processing loses nothing.
//!
//! Each write also records the activity (pusher, puller, deleter and their
//! address from `actor.name` and `request.addr`), enqueues the namespace's
//! webhook deliveries and marks the event processed, in one transaction, so
//! a crash between applying and marking cannot apply an event twice; nothing
//! is sent from here.

use berth_registry::client::RegistryClient;
use berth_registry::manifest::ManifestKind;
use berth_store::{EventApplied, EventOrigin, Store, StoredEvent, TagRecord};

use crate::events::{read_event, CatalogEvent, EventError};
use crate::reconcile::SyncError;

/// Counts of one pass.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub applied: usize,
    pub ignored: usize,
    pub orphans: usize,
    pub failed: usize,
}

/// What applying one stored event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Applied,
    /// Its namespace does not exist; kept for admins.
    Orphan,
    /// Nothing for the catalog (a blob, a push by digest).
    Ignored,
    /// Another pass applied it first: nothing done.
    AlreadyProcessed,
    /// Unreadable; marked failed with the reason.
    Failed,
}

/// Applies up to `limit` pending events. `client` fetches the platforms of
/// pushed indexes (the event names only the digest).
///
/// Most of a push's notifications are blob traffic that changes nothing;
/// those are marked together in one statement first, instead of one commit
/// each, which was what held the worker below a busy registry's rate.
pub async fn process_pending(
    store: &Store,
    client: Option<&RegistryClient>,
    limit: i64,
) -> Result<PassReport, SyncError> {
    let mut report = PassReport::default();
    let mut unchanged = Vec::new();
    let mut changing = Vec::new();
    for stored in store.pending_registry_events(limit).await? {
        match read_event(&stored.payload) {
            Ok(event) if changes_nothing(&event) => unchanged.push(stored.id),
            read => changing.push((stored, read)),
        }
    }
    report.ignored += store.finish_unchanged_registry_events(&unchanged).await?;
    for (stored, read) in changing {
        match apply_read(store, client, &stored, read).await? {
            Handled::Applied => report.applied += 1,
            Handled::Orphan => report.orphans += 1,
            Handled::Ignored | Handled::AlreadyProcessed => report.ignored += 1,
            Handled::Failed => report.failed += 1,
        }
    }
    Ok(report)
}

/// Events that leave the catalog as it is: blobs, mounts, pushes and pulls
/// by digest (the children of an index name no tag).
fn changes_nothing(event: &CatalogEvent) -> bool {
    matches!(
        event,
        CatalogEvent::Ignored { .. }
            | CatalogEvent::ManifestPushed { tag: None, .. }
            | CatalogEvent::ManifestPulled { tag: None, .. }
    )
}

/// Applies one stored event and marks it processed, both in one
/// transaction; an event already processed (read as pending by a pass that
/// another overtook) changes nothing.
pub async fn apply_event(
    store: &Store,
    client: Option<&RegistryClient>,
    stored: &StoredEvent,
) -> Result<Handled, SyncError> {
    apply_read(store, client, stored, read_event(&stored.payload)).await
}

async fn apply_read(
    store: &Store,
    client: Option<&RegistryClient>,
    stored: &StoredEvent,
    read: Result<CatalogEvent, EventError>,
) -> Result<Handled, SyncError> {
    let at = stored
        .payload
        .get("timestamp")
        .and_then(|t| t.as_str())
        .map(str::to_owned);
    let text = |pointer: &str| {
        stored
            .payload
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let origin = EventOrigin {
        event_id: stored.id.clone(),
        actor: text("/actor/name"),
        addr: text("/request/addr"),
        at: at.clone(),
    };
    let event = match read {
        Ok(e) => e,
        Err(e) => {
            store
                .finish_registry_event(&stored.id, "failed", Some(&e.to_string()))
                .await?;
            return Ok(Handled::Failed);
        }
    };
    let outcome = match event {
        CatalogEvent::ManifestPushed {
            repository,
            tag: Some(tag),
            digest,
            media_type,
            size,
            actor,
        } => {
            let mut platforms = Vec::new();
            if ManifestKind::from_media_type(&media_type).is_some_and(ManifestKind::is_index) {
                if let Some(c) = client {
                    if let Ok(Some(m)) = c.manifest(&repository, &digest).await {
                        platforms = m
                            .summary
                            .platforms
                            .iter()
                            .map(ToString::to_string)
                            .collect();
                    }
                }
            }
            let rec = TagRecord {
                digest,
                media_type: Some(media_type),
                size: i64::try_from(size).ok(),
                platforms,
                pusher: actor,
                at: at.clone(),
            };
            Some(
                store
                    .apply_pushed_tag(&repository, &tag, &rec, &origin)
                    .await?,
            )
        }
        // A push by digest (the children of an index) names no tag.
        CatalogEvent::ManifestPushed { tag: None, .. } => None,
        CatalogEvent::ManifestPulled {
            repository,
            tag: Some(tag),
            ..
        } => Some(store.record_pull_event(&repository, &tag, &origin).await?),
        CatalogEvent::ManifestPulled { tag: None, .. } => None,
        CatalogEvent::ManifestDeleted {
            repository, digest, ..
        } => {
            let keep = still_served(store, client, &repository, &digest).await?;
            Some(
                store
                    .remove_deleted_digest(&repository, &digest, &origin, &keep)
                    .await?,
            )
        }
        CatalogEvent::Ignored { .. } => None,
    };
    // The writes marked their event themselves; an ignored one changes
    // nothing, so marking it on its own cannot duplicate anything.
    Ok(match outcome {
        Some(EventApplied::Applied) => Handled::Applied,
        Some(EventApplied::Orphan) => Handled::Orphan,
        Some(EventApplied::AlreadyProcessed) => Handled::AlreadyProcessed,
        None => {
            store
                .finish_registry_event(&stored.id, "ignored", None)
                .await?;
            Handled::Ignored
        }
    })
}

/// Tags recorded at `digest` that the registry still serves at `digest`:
/// the siblings berth put back after deleting one tag (the delete event
/// names only the digest). A tag is dropped only once the registry has
/// answered that it no longer points there; a failed HEAD drops it too,
/// since the event itself is the registry's answer.
async fn still_served(
    store: &Store,
    client: Option<&RegistryClient>,
    repository: &str,
    digest: &str,
) -> Result<Vec<String>, SyncError> {
    let Some(client) = client else {
        return Ok(Vec::new());
    };
    let mut keep = Vec::new();
    for tag in store.tags_at_digest(repository, digest).await? {
        if let Ok(Some(head)) = client.head_manifest(repository, &tag).await {
            if head.digest == digest {
                keep.push(tag);
            }
        }
    }
    Ok(keep)
}
