//! The catalog sync as one shared service: the registry client berth uses
//! as its service user, the reconcile that runs at most once at a time, the
//! last reconcile's outcome (for status and metrics), and the deletes of the
//! Portus API, which update the database as soon as the registry answered.
//!
//! Architecture invariant: a reconcile never overlaps a delete. A delete
//! removes a digest and puts its sibling tags back; a tag list read in
//! between would lack the siblings and the reconcile would drop them.

use std::sync::Mutex;
use std::time::SystemTime;

use berth_registry::client::{ClientError, RegistryClient};
use berth_store::{Store, StoreError};
use tokio::sync::RwLock;

use crate::notifications::{process_pending, PassReport};
use crate::reconcile::{reconcile, Depth, ReconcileReport, SyncError};
use crate::tag_delete::{delete_tag, TagDeleteError, TagDeleted};

/// One periodic reconcile in this many is [`Depth::Deep`] (hourly at the
/// default five-minute interval): often enough that a tag moved without a
/// notification is repaired the same hour, rare enough that the steady
/// state stays at about one request per repository.
pub const DEEP_EVERY: u64 = 12;

/// The depth of the periodic worker's `run`-th reconcile, counted from 0:
/// the one at start is deep (berth may have missed anything while it was
/// down), then every [`DEEP_EVERY`]th.
pub fn periodic_depth(run: u64) -> Depth {
    match run % DEEP_EVERY {
        0 => Depth::Deep,
        _ => Depth::Listed,
    }
}

/// Called after every reconcile (metrics).
pub type ReconcileObserver = Box<dyn Fn(&ReconcileReport) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileNowError {
    #[error("a reconcile is already running")]
    Busy,
    #[error(transparent)]
    Sync(#[from] SyncError),
}

#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error(transparent)]
    Tag(#[from] TagDeleteError),
    #[error(transparent)]
    Registry(#[from] ClientError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outcome of the last reconcile.
#[derive(Debug, Clone)]
pub struct ReconcileStatus {
    pub finished_at: SystemTime,
    pub report: ReconcileReport,
}

impl ReconcileStatus {
    /// Every repository got an answer from the registry.
    pub fn complete(&self) -> bool {
        self.report.catalog_error.is_none() && self.report.skipped.is_empty()
    }
}

/// What deleting a whole repository did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryDeleted {
    pub repository: String,
    /// Every digest deleted from the registry.
    pub digests: Vec<String>,
}

pub struct CatalogSync {
    client: RegistryClient,
    store: Store,
    /// Held for the whole of a reconcile: a second one is refused, not queued.
    reconciling: tokio::sync::Mutex<()>,
    /// Reconciles write, deletes read: deletes run side by side, never
    /// during a reconcile.
    registry_writes: RwLock<()>,
    /// Deletes write, notification passes read: a delete event applied
    /// between a digest delete and the re-put of its siblings would see
    /// the siblings gone from the registry and drop them for a moment.
    deleting: RwLock<()>,
    last: Mutex<Option<ReconcileStatus>>,
    observer: Option<ReconcileObserver>,
}

impl CatalogSync {
    pub fn new(client: RegistryClient, store: Store, observer: Option<ReconcileObserver>) -> Self {
        Self {
            client,
            store,
            reconciling: tokio::sync::Mutex::new(()),
            registry_writes: RwLock::new(()),
            deleting: RwLock::new(()),
            last: Mutex::new(None),
            observer,
        }
    }

    pub fn client(&self) -> &RegistryClient {
        &self.client
    }

    /// Applies pending notifications.
    pub async fn process_events(&self, limit: i64) -> Result<PassReport, SyncError> {
        let _no_delete_midway = self.deleting.read().await;
        process_pending(&self.store, Some(&self.client), limit).await
    }

    /// Reconciles at `depth`, waiting for a running reconcile to finish
    /// first (the periodic worker, see [`periodic_depth`]).
    pub async fn reconcile(&self, depth: Depth) -> Result<ReconcileReport, SyncError> {
        let _one = self.reconciling.lock().await;
        self.run(depth).await
    }

    /// Reconciles now unless one is running (the admin API and the CLI).
    /// Always deep: whoever asks suspects berth is out of step, and a cheap
    /// run cannot see a moved tag.
    pub async fn reconcile_now(&self) -> Result<ReconcileReport, ReconcileNowError> {
        let _one = self
            .reconciling
            .try_lock()
            .map_err(|_| ReconcileNowError::Busy)?;
        Ok(self.run(Depth::Deep).await?)
    }

    async fn run(&self, depth: Depth) -> Result<ReconcileReport, SyncError> {
        let _exclusive = self.registry_writes.write().await;
        let report = reconcile(&self.client, &self.store, depth).await?;
        if let Some(observe) = &self.observer {
            observe(&report);
        }
        if let Ok(mut last) = self.last.lock() {
            *last = Some(ReconcileStatus {
                finished_at: SystemTime::now(),
                report: report.clone(),
            });
        }
        Ok(report)
    }

    pub fn last_reconcile(&self) -> Option<ReconcileStatus> {
        self.last.lock().ok().and_then(|l| l.clone())
    }

    /// Deletes `repository:tag` from the registry, keeping its siblings,
    /// then records it: the tag row goes, the siblings stay.
    pub async fn delete_tag(&self, repository: &str, tag: &str) -> Result<TagDeleted, DeleteError> {
        let _shared = self.registry_writes.read().await;
        let _deleting = self.deleting.write().await;
        let done = delete_tag(&self.client, repository, tag).await?;
        self.store
            .record_tag_deletion(repository, tag, &done.survivors)
            .await?;
        Ok(done)
    }

    /// A tag delete someone asked for (the Portus API's `DELETE
    /// /api/v1/tags/{id}`, the web UI's confirmation form), the one sequence
    /// both edges run: the registry delete keeping the siblings, the record,
    /// then the audit log and the namespace's webhooks under the name of
    /// `acting` (a [`Store::acting_as`] store). A tag berth recorded with
    /// `recorded_digest` but the registry no longer has is a stale record:
    /// it goes, and that counts as done. The registry has already deleted
    /// when the audit is written, so a failure to audit is logged, not
    /// answered as a failed delete.
    pub async fn delete_tag_for(
        &self,
        acting: &Store,
        repository: &str,
        tag: &str,
        recorded_digest: &str,
    ) -> Result<TagDeleted, DeleteError> {
        let done = match self.delete_tag(repository, tag).await {
            Ok(done) => done,
            Err(DeleteError::Tag(TagDeleteError::NoSuchTag { .. })) => {
                self.store.remove_tag(repository, tag).await?;
                TagDeleted {
                    digest: recorded_digest.to_owned(),
                    survivors: Vec::new(),
                }
            }
            Err(e) => return Err(e),
        };
        tracing::info!(
            actor = acting.actor().and_then(|a| a.name.as_deref()),
            repository,
            tag,
            digest = done.digest,
            survivors = ?done.survivors,
            "tag deleted"
        );
        if let Err(e) = acting
            .record_api_deletion(repository, Some(tag), &done.digest, &[tag.to_owned()])
            .await
        {
            tracing::error!(error = %e, "recording a deletion in the audit log failed");
        }
        Ok(done)
    }

    /// Deletes every manifest of `repository` (every digest its tags name,
    /// as the registry lists them now, plus those berth recorded), then the
    /// repository's record.
    pub async fn delete_repository(
        &self,
        repository: &str,
        recorded_digests: &[String],
    ) -> Result<RepositoryDeleted, DeleteError> {
        let _shared = self.registry_writes.read().await;
        let _deleting = self.deleting.write().await;
        let mut digests: Vec<String> = recorded_digests.to_vec();
        for tag in self
            .client
            .tags(repository, 1000)
            .await?
            .unwrap_or_default()
        {
            if let Some(head) = self.client.head_manifest(repository, &tag).await? {
                digests.push(head.digest);
            }
        }
        digests.sort();
        digests.dedup();
        for digest in &digests {
            self.client.delete_manifest(repository, digest).await?;
        }
        self.store.remove_repository(repository).await?;
        Ok(RepositoryDeleted {
            repository: repository.to_owned(),
            digests,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_periodic_reconcile_and_every_twelfth_are_deep() {
        let deep: Vec<u64> = (0..30)
            .filter(|&n| periodic_depth(n) == Depth::Deep)
            .collect();
        assert_eq!(deep, [0, 12, 24]);
    }
}
