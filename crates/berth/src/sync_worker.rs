//! The sync worker: applies stored registry notifications as they arrive
//! (polled every half second, at once while a backlog lasts) and reconciles the catalog with the registry
//! at start and every `--sync-interval`, deep at start and every
//! [`DEEP_EVERY`](berth_sync::service::DEEP_EVERY)th time.
//!
//! It talks to the registry as berth's internal service user, through
//! berth's own token endpoint like any client; the same [`CatalogSync`]
//! serves the API's deletes and reconcile-now, so reconciles never overlap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_api::Metrics;
use berth_registry::client::{Credentials, RegistryClient};
use berth_store::Store;
use berth_sync::service::{periodic_depth, CatalogSync};
use tokio::task::JoinHandle;

const POLL: Duration = Duration::from_millis(500);
const BATCH: i64 = 500;

/// The shared sync service, its reconciles counted in `metrics`.
pub fn catalog_sync(
    store: Store,
    registry_url: &str,
    password: String,
    metrics: Metrics,
) -> anyhow::Result<Arc<CatalogSync>> {
    let client = RegistryClient::new(
        registry_url,
        Some(Credentials {
            username: crate::registry_auth::SERVICE_USER.to_owned(),
            password,
        }),
    )?;
    Ok(Arc::new(CatalogSync::new(
        client,
        store,
        Some(Box::new(move |r| metrics.record_reconcile(r))),
    )))
}

pub fn spawn(sync: Arc<CatalogSync>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_reconcile: Option<Instant> = None;
        let mut runs: u64 = 0;
        loop {
            // A full batch means more are waiting: go on without the pause.
            let mut backlog = false;
            match sync.process_events(BATCH).await {
                Ok(r) => {
                    let handled = r.applied + r.ignored + r.orphans + r.failed;
                    backlog = i64::try_from(handled).is_ok_and(|n| n >= BATCH);
                    if r.applied + r.orphans + r.failed > 0 {
                        tracing::info!(
                            applied = r.applied,
                            orphans = r.orphans,
                            failed = r.failed,
                            "registry events applied"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "registry events could not be applied; retrying")
                }
            }
            if last_reconcile.is_none_or(|t| t.elapsed() >= interval) {
                last_reconcile = Some(Instant::now());
                let depth = periodic_depth(runs);
                runs = runs.wrapping_add(1);
                match sync.reconcile(depth).await {
                    Ok(r) if r.catalog_error.is_some() => {
                        tracing::warn!(
                            error = r.catalog_error.as_deref().unwrap_or(""),
                            "catalog reconcile skipped: registry unavailable"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "catalog reconcile failed"),
                }
            }
            if !backlog {
                tokio::time::sleep(POLL).await;
            }
        }
    })
}
