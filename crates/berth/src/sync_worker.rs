//! The sync worker: applies stored registry notifications as they arrive
//! (polled every half second) and reconciles the catalog with the registry
//! at start and every `--sync-interval`.
//!
//! It talks to the registry as berth's internal service user, through
//! berth's own token endpoint like any client.

use std::time::{Duration, Instant};

use berth_registry::client::{Credentials, RegistryClient};
use berth_store::Store;
use tokio::task::JoinHandle;

const POLL: Duration = Duration::from_millis(500);
const BATCH: i64 = 500;

pub fn spawn(
    store: Store,
    registry_url: &str,
    password: String,
    interval: Duration,
) -> anyhow::Result<JoinHandle<()>> {
    let client = RegistryClient::new(
        registry_url,
        Some(Credentials {
            username: crate::registry_auth::SERVICE_USER.to_owned(),
            password,
        }),
    )?;
    Ok(tokio::spawn(async move {
        let mut last_reconcile: Option<Instant> = None;
        loop {
            match berth_sync::notifications::process_pending(&store, Some(&client), BATCH).await {
                Ok(r) if r.applied + r.orphans + r.failed > 0 => {
                    tracing::info!(
                        applied = r.applied,
                        orphans = r.orphans,
                        failed = r.failed,
                        "registry events applied"
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "registry events could not be applied; retrying")
                }
            }
            if last_reconcile.is_none_or(|t| t.elapsed() >= interval) {
                last_reconcile = Some(Instant::now());
                match berth_sync::reconcile::reconcile(&client, &store, false).await {
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
            tokio::time::sleep(POLL).await;
        }
    }))
}
