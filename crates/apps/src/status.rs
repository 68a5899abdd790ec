//! Live status of apps and convergence.
//!
//! Status comes from Docker: one inspect per container event (from the
//! engine's event stream, filtered to this instance's label) updates an
//! in-memory map that `list` and `get` read, so a request never polls
//! Docker. When the stream breaks (dockerd restarted), the watcher waits for
//! the engine and reconciles before listening again.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_docker::ContainerState;
use berth_store::AppPhase;
use futures_util::StreamExt;

use crate::{Apps, AppsError, LABEL_APP};

/// What Docker last said about an app's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub status: String,
    pub exit_code: Option<i64>,
    /// The container's address on the berth network.
    pub address: Option<String>,
}

impl Apps {
    /// Inspects the app's container once and records what Docker says.
    pub(crate) async fn refresh(&self, name: &str) {
        let observed = match self.engine().inspect_container(name).await {
            Ok(Some(c))
                if c.labels.get(crate::LABEL_INSTANCE) == Some(&self.config().instance_id) =>
            {
                let (status, exit_code) = match &c.state {
                    ContainerState::Running => ("running".to_owned(), None),
                    ContainerState::Created => ("created".to_owned(), None),
                    ContainerState::Restarting => ("restarting".to_owned(), None),
                    ContainerState::Paused => ("paused".to_owned(), None),
                    ContainerState::Dead => ("dead".to_owned(), None),
                    // `AppView` calls it stopped when the owner asked for it.
                    ContainerState::Exited { code } => ("exited".to_owned(), Some(*code)),
                    ContainerState::Other(s) => (s.clone(), None),
                };
                let address = c.addresses.get(&self.config().network.name).cloned();
                Observed {
                    status,
                    exit_code,
                    address,
                }
            }
            Ok(_) => Observed {
                status: "missing".to_owned(),
                exit_code: None,
                address: None,
            },
            Err(e) => {
                tracing::warn!(app = %name, error = %e, "cannot inspect the app's container");
                Observed {
                    status: "unknown".to_owned(),
                    exit_code: None,
                    address: None,
                }
            }
        };
        let before = self
            .inner
            .observed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(name.to_owned(), observed.clone());
        if before.as_ref() != Some(&observed) {
            self.changed(name);
        }
    }

    pub(crate) fn forget(&self, name: &str) {
        self.inner
            .observed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(name);
        self.changed(name);
    }

    /// Brings Docker, Postgres and the disk in line with the `apps` table:
    /// finishes interrupted installs and uninstalls, starts what should run,
    /// and removes containers, sockets and roles that no row accounts for.
    pub async fn reconcile(&self) -> Result<(), AppsError> {
        let rows = self.store().list_apps().await?;
        for row in &rows {
            let lock = self.lock_for(&row.name);
            let _guard = lock.lock().await;
            let result = match row.phase {
                AppPhase::Uninstalling => {
                    self.converge_uninstall(&row.name, crate::install::Discard::purge(row.purge))
                        .await
                }
                AppPhase::Installing | AppPhase::Installed => {
                    match berth_manifest::parse_value(row.manifest.clone()) {
                        Ok(parsed) => {
                            self.converge_or_record(&parsed.manifest, row.want_running)
                                .await
                        }
                        Err(e) => Err(AppsError::StoredManifest(row.name.clone(), e.to_string())),
                    }
                }
            };
            if let Err(e) = result {
                tracing::warn!(app = %row.name, error = %e, "app did not converge");
            }
        }
        let known: HashSet<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        for name in self
            .engine()
            .list_container_names(&self.config().instance_label())
            .await?
        {
            if !known.contains(name.as_str()) {
                tracing::info!(container = %name, "removing a container no app accounts for");
                self.engine().remove_container(&name).await?;
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.config().data_dir.join("run/docker-proxy")) {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let app = file.strip_suffix(".sock").unwrap_or(&file);
                if !known.contains(app) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        for role in self.store().list_app_roles().await? {
            let app = role.trim_start_matches("app_").replace('_', "-");
            // Kept data (uninstalled without purge) keeps its password file.
            if !known.contains(app.as_str()) && !self.config().password_file(&app).exists() {
                tracing::info!(%role, "dropping a database no app accounts for");
                self.store().drop_app_database(&role).await?;
            }
        }
        Ok(())
    }

    /// Keeps statuses current from the engine's event stream, forever.
    pub fn spawn_watcher(&self) -> tokio::task::JoinHandle<()> {
        let apps = self.clone();
        tokio::spawn(async move {
            let label = apps.config().instance_label();
            loop {
                let since = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64 - 1)
                    .ok();
                let mut events = Box::pin(apps.engine().container_events(&label, since));
                apps.refresh_all().await;
                while let Some(event) = events.next().await {
                    match event {
                        Ok(event) => {
                            if let Some(app) = event.labels.get(LABEL_APP) {
                                apps.refresh(app).await;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "docker event stream broke");
                            break;
                        }
                    }
                }
                // The engine went away: wait for it, then converge again.
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if apps.engine().version().await.is_ok() {
                        break;
                    }
                }
                tracing::info!("docker engine is back; reconciling apps");
                if let Err(e) = apps.reconcile().await {
                    tracing::warn!(error = %e, "reconciliation failed");
                }
            }
        })
    }

    async fn refresh_all(&self) {
        if let Ok(rows) = self.store().list_apps().await {
            for row in rows {
                self.refresh(&row.name).await;
            }
        }
    }
}
