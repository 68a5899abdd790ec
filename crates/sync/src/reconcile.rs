//! The catalog reconcile: ask the registry, plan, apply.
//!
//! Requests: one catalog page per 1,000 repositories, one tag list per
//! repository, a HEAD for tags berth does not know (and for every tag in a
//! [`Depth::Deep`] run), and a manifest GET only for digests berth has never
//! seen. A [`Depth::Listed`] run in steady state makes about one request per
//! repository, but cannot see a known tag re-pushed to another digest while
//! its notification was lost; a deep run can, so one runs at start, on
//! demand, and every so often between the cheap ones. Tag lists are fetched
//! with bounded concurrency over the client's kept-alive connections.

use std::collections::{BTreeMap, BTreeSet};

use berth_registry::client::RegistryClient;
use berth_store::{ApplyOutcome, Store, StoreError, TagRecord};
use futures_util::stream::{self, StreamExt};

use crate::plan::{plan, Change, RepoObservation, TagObservation};

/// How many repositories are asked about at once.
const CONCURRENCY: usize = 8;
const PAGE: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How closely a reconcile looks at the tags berth already knows.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Known tags are trusted when listed: no HEAD for them. Cheap, but a
    /// tag moved without a notification keeps its stale digest.
    #[default]
    Listed,
    /// Every listed tag gets a HEAD, so a moved tag is repaired; a manifest
    /// is fetched only for a digest berth has never seen.
    Deep,
}

/// What one reconcile did; shown in status and metrics.
#[derive(Debug, Default, Clone)]
pub struct ReconcileReport {
    pub depth: Depth,
    pub repositories: usize,
    pub upserts: usize,
    pub removals: usize,
    pub manifests_fetched: usize,
    /// Registry requests this run made (token requests excluded).
    pub requests: u64,
    /// Repositories left alone because the registry gave no usable answer.
    pub skipped: Vec<(String, String)>,
    /// Tags whose namespace does not exist in berth.
    pub orphans: Vec<String>,
    /// Set when the catalog itself could not be read: nothing was removed.
    pub catalog_error: Option<String>,
}

/// Runs one reconcile at `depth`.
pub async fn reconcile(
    client: &RegistryClient,
    store: &Store,
    depth: Depth,
) -> Result<ReconcileReport, SyncError> {
    let before = client.registry_requests();
    let mut report = ReconcileReport {
        depth,
        ..ReconcileReport::default()
    };
    let known = store.catalog_digests().await?;
    let catalog = match client.catalog(PAGE).await {
        Ok(c) => c,
        Err(e) => {
            report.catalog_error = Some(e.to_string());
            report.skipped = known
                .keys()
                .map(|r| (r.clone(), "catalog unavailable".into()))
                .collect();
            report.requests = client.registry_requests() - before;
            return Ok(report);
        }
    };
    let names: BTreeSet<String> = catalog.into_iter().chain(known.keys().cloned()).collect();
    report.repositories = names.len();
    let empty = BTreeMap::new();
    let observed: BTreeMap<String, RepoObservation> = stream::iter(names)
        .map(|repo| {
            let known_tags = known.get(&repo).unwrap_or(&empty);
            async move {
                let obs = observe(client, &repo, known_tags, depth).await;
                (repo, obs)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let planned = plan(&known, &observed);
    report.skipped = planned.skipped;
    let known_digests: BTreeSet<&String> = known.values().flat_map(|t| t.values()).collect();
    // Digests described in this run, so that tags sharing one cost one fetch.
    let mut described: BTreeMap<String, TagRecord> = BTreeMap::new();
    for change in planned.changes {
        match change {
            Change::UpsertTag {
                repository,
                tag,
                digest,
            } => {
                let rec = match described.get(&digest) {
                    Some(r) => r.clone(),
                    None => {
                        let r = describe(
                            client,
                            store,
                            &repository,
                            &digest,
                            known_digests.contains(&digest),
                            &mut report,
                        )
                        .await?;
                        described.insert(digest.clone(), r.clone());
                        r
                    }
                };
                match store.apply_tag(&repository, &tag, &rec).await? {
                    ApplyOutcome::Applied => report.upserts += 1,
                    ApplyOutcome::NoNamespace => report.orphans.push(format!("{repository}:{tag}")),
                }
            }
            Change::RemoveTag { repository, tag } => {
                if store.remove_tag(&repository, &tag).await? {
                    report.removals += 1;
                }
            }
            Change::RemoveRepository { repository } => {
                if store.remove_repository(&repository).await? {
                    report.removals += 1;
                }
            }
        }
    }
    report.requests = client.registry_requests() - before;
    tracing::info!(
        depth = ?report.depth,
        repositories = report.repositories,
        upserts = report.upserts,
        removals = report.removals,
        requests = report.requests,
        skipped = report.skipped.len(),
        "catalog reconciled"
    );
    Ok(report)
}

async fn observe(
    client: &RegistryClient,
    repo: &str,
    known: &BTreeMap<String, String>,
    depth: Depth,
) -> RepoObservation {
    let tags = match client.tags(repo, PAGE).await {
        Ok(Some(tags)) => tags,
        Ok(None) => return RepoObservation::Gone,
        Err(e) => return RepoObservation::Failed(e.to_string()),
    };
    let mut out = BTreeMap::new();
    for tag in tags {
        let seen = if depth == Depth::Deep || !known.contains_key(&tag) {
            match client.head_manifest(repo, &tag).await {
                Ok(Some(head)) => TagObservation::Digest(head.digest),
                // Listed but gone by now: the next run sees the new list.
                Ok(None) => TagObservation::Failed("vanished between list and HEAD".into()),
                Err(e) => TagObservation::Failed(e.to_string()),
            }
        } else {
            TagObservation::Listed
        };
        out.insert(tag, seen);
    }
    RepoObservation::Tags(out)
}

/// Media type, size and platforms of `digest`: from berth's records when
/// the digest is known, else from one manifest fetch.
async fn describe(
    client: &RegistryClient,
    store: &Store,
    repo: &str,
    digest: &str,
    known: bool,
    report: &mut ReconcileReport,
) -> Result<TagRecord, SyncError> {
    let mut rec = TagRecord {
        digest: digest.to_owned(),
        media_type: None,
        size: None,
        platforms: Vec::new(),
        pusher: None,
        at: None,
    };
    if known {
        if let Some((media_type, size, platforms)) = store.digest_info(digest).await? {
            rec.media_type = media_type;
            rec.size = size;
            rec.platforms = platforms;
            return Ok(rec);
        }
    }
    report.manifests_fetched += 1;
    if let Ok(Some(m)) = client.manifest(repo, digest).await {
        rec.media_type = Some(m.media_type);
        rec.size = i64::try_from(m.summary.size).ok();
        rec.platforms = m
            .summary
            .platforms
            .iter()
            .map(ToString::to_string)
            .collect();
    }
    Ok(rec)
}
