//! berth's apps: app.json apps run as Docker containers with the services
//! they ask for (their own Postgres database, data dirs, shared dirs, a
//! read-only Docker API), installed and removed by a persisted, resumable
//! state machine.
//!
//! Architecture invariant: every step of an install or an uninstall is
//! idempotent and keyed by the app's row in the `apps` table, written before
//! the first step and deleted after the last. Resuming is running the steps
//! again, so a berth killed at any moment converges on its next start
//! ([`Apps::reconcile`]).
//!
//! API Boundary: [`Apps`] and its views; everything else is internal.

mod container;
mod data_dirs;
mod events;
mod install;
mod postgres;
mod status;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use berth_docker::proxy::ProxyHandle;
use berth_docker::{DockerError, Engine, NetworkInfo};
use berth_manifest::manifest::AppManifest;
use berth_store::{AppPhase, Store, StoreError};
use serde::Serialize;

pub use berth_docker::PullProgress;
pub use status::Observed;

/// Label on every container berth creates: the app's name.
pub const LABEL_APP: &str = "berth.app";
/// Label on everything berth creates: the instance (data dir) it belongs to.
pub const LABEL_INSTANCE: &str = "berth.instance";
/// Label on containers: hash of the stored manifest they were created from,
/// so that an upgrade (new image or env) recreates the container.
pub const LABEL_MANIFEST: &str = "berth.manifest";

/// Host names every app container resolves to the berth network's gateway.
pub const POSTGRES_HOST: &str = "postgres";
pub const CORE_HOST: &str = "portal_core";

#[derive(Debug, thiserror::Error)]
pub enum AppsError {
    #[error("no app named `{0}` is installed")]
    NotFound(String),
    #[error("an app named `{0}` is already installed; uninstall it first")]
    AlreadyInstalled(String),
    #[error("a container named `{0}` already exists and does not belong to this berth")]
    ForeignContainer(String),
    #[error("image `{image}` is not available: {detail}")]
    ImageUnavailable { image: String, detail: String },
    #[error("data dir `{path}` cannot be used: {detail}")]
    DataDir { path: String, detail: String },
    #[error("app `{name}` is {phase}; try again when it is done")]
    Busy { name: String, phase: &'static str },
    #[error("the stored manifest of `{0}` is not valid any more: {1}")]
    StoredManifest(String, String),
    #[error("the app's service is not available: {0}")]
    Service(String),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> AppsError {
    let context = context.into();
    move |source| AppsError::Io { context, source }
}

/// What berth gives apps, fixed at start.
#[derive(Debug, Clone)]
pub struct AppsConfig {
    /// berth's data dir (absolute).
    pub data_dir: PathBuf,
    /// Identifies this berth's Docker objects; the same for the data dir's life.
    pub instance_id: String,
    /// The berth network; containers reach berth at its gateway.
    pub network: NetworkInfo,
    /// The port of the managed Postgres on the gateway address.
    pub postgres_port: u16,
    /// `portal.domain` of templates.
    pub domain: String,
}

impl AppsConfig {
    /// `berth-<first 12 characters of the instance id>`.
    pub fn network_name(instance_id: &str) -> String {
        let short: String = instance_id.chars().take(12).collect();
        format!("berth-{short}")
    }

    pub fn app_dir(&self, app: &str) -> PathBuf {
        self.data_dir.join("apps").join(app)
    }

    pub fn shared_dir(&self, name: &str) -> PathBuf {
        self.data_dir.join("shared").join(name)
    }

    pub fn proxy_socket(&self, app: &str) -> PathBuf {
        self.data_dir
            .join("run")
            .join("docker-proxy")
            .join(format!("{app}.sock"))
    }

    pub fn password_file(&self, app: &str) -> PathBuf {
        self.data_dir
            .join("secrets")
            .join("apps")
            .join(format!("{app}.postgres-password"))
    }

    fn instance_label(&self) -> String {
        format!("{LABEL_INSTANCE}={}", self.instance_id)
    }
}

/// The apps service. Cheap to clone.
#[derive(Clone)]
pub struct Apps {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    engine: Engine,
    config: AppsConfig,
    /// Container state per app, kept current from the events stream.
    observed: Mutex<HashMap<String, Observed>>,
    /// Read-only Docker proxies, by app.
    proxies: Mutex<HashMap<String, ProxyHandle>>,
    /// One operation at a time per app.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Apps being woken whose port does not answer yet.
    starting: Mutex<std::collections::HashSet<String>>,
    /// Names of apps whose status may have changed (see `events`).
    changes: tokio::sync::broadcast::Sender<String>,
}

/// An app as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AppView {
    pub name: String,
    pub image: String,
    /// installing | installed | uninstalling
    pub phase: &'static str,
    /// starting (being woken) | running | stopped (by the owner) |
    /// idle-stopped (by berth, woken by the next request) | exited (with
    /// `exit_code`) | restarting | created | paused | dead | missing (no
    /// container) | unknown
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    pub want_running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub services: Vec<&'static str>,
    pub installed_at: String,
    /// The stored app.json (current format).
    pub manifest: serde_json::Value,
}

impl Apps {
    pub fn new(store: Store, engine: Engine, config: AppsConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                engine,
                config,
                observed: Mutex::new(HashMap::new()),
                proxies: Mutex::new(HashMap::new()),
                locks: Mutex::new(HashMap::new()),
                starting: Mutex::new(std::collections::HashSet::new()),
                changes: tokio::sync::broadcast::channel(events::EVENTS_BUFFER).0,
            }),
        }
    }

    pub fn config(&self) -> &AppsConfig {
        &self.inner.config
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    fn lock_for(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(name.to_owned()).or_default().clone()
    }

    /// Every installed app, by name.
    pub async fn list(&self) -> Result<Vec<AppView>, AppsError> {
        let rows = self.store().list_apps().await?;
        Ok(rows.into_iter().map(|r| self.view(r)).collect())
    }

    pub async fn get(&self, name: &str) -> Result<AppView, AppsError> {
        let row = self
            .store()
            .get_app(name)
            .await?
            .ok_or_else(|| AppsError::NotFound(name.to_owned()))?;
        Ok(self.view(row))
    }

    /// The app container's address on the berth network, as last observed.
    pub fn address(&self, name: &str) -> Option<IpAddr> {
        self.inner
            .observed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(name)
            .and_then(|o| o.address.as_deref()?.parse().ok())
    }

    /// The app whose container has `ip` on the berth network, with the
    /// permissions its app.json grants; `None` for any other address.
    pub async fn app_by_address(&self, ip: IpAddr) -> Option<AppManifest> {
        let ip = ip.to_string();
        let name = {
            let observed = self
                .inner
                .observed
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            observed
                .iter()
                .find(|(_, o)| o.address.as_deref() == Some(ip.as_str()))
                .map(|(name, _)| name.clone())?
        };
        let row = self.store().get_app(&name).await.ok()??;
        berth_manifest::parse_value(row.manifest)
            .ok()
            .map(|p| p.manifest)
    }

    fn view(&self, row: berth_store::AppRow) -> AppView {
        let observed = self
            .inner
            .observed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&row.name)
            .cloned();
        let (status, exit_code) = match &observed {
            _ if self.is_starting(&row.name) => ("starting".to_owned(), None),
            // Stopped for idleness or on the owner's request: not a failure
            // to report a code for.
            Some(o) if o.status == "exited" && row.idle_stopped => {
                ("idle-stopped".to_owned(), None)
            }
            Some(o) if o.status == "exited" && !row.want_running => ("stopped".to_owned(), None),
            Some(o) => (o.status.clone(), o.exit_code),
            None => ("unknown".to_owned(), None),
        };
        let services = row
            .manifest
            .get("services")
            .and_then(|s| s.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| match s.as_str() {
                        Some("postgres") => Some("postgres"),
                        Some("docker_sock_ro") => Some("docker_sock_ro"),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        AppView {
            image: row
                .manifest
                .get("image")
                .and_then(|i| i.as_str())
                .unwrap_or_default()
                .to_owned(),
            name: row.name,
            phase: row.phase.as_str(),
            status,
            exit_code,
            want_running: row.want_running,
            last_error: row.last_error,
            services,
            installed_at: row.installed_at.to_rfc3339(),
            manifest: row.manifest,
        }
    }
}

/// Removes `path` and everything under it; a missing path is fine.
pub(crate) fn remove_tree(path: &Path) -> Result<(), AppsError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(format!("cannot remove `{}`", path.display()))(e)),
    }
}

pub(crate) fn phase_busy(name: &str, phase: AppPhase) -> AppsError {
    AppsError::Busy {
        name: name.to_owned(),
        phase: phase.as_str(),
    }
}

impl Apps {
    /// The app's output; with `follow`, new output as it comes until the
    /// container stops or the client goes away.
    pub async fn logs(
        &self,
        name: &str,
        follow: bool,
        tail: Option<u32>,
    ) -> Result<
        impl futures_util::Stream<Item = Result<bytes::Bytes, AppsError>> + Send + 'static,
        AppsError,
    > {
        use futures_util::StreamExt;
        if self.store().get_app(name).await?.is_none() {
            return Err(AppsError::NotFound(name.to_owned()));
        }
        Ok(self
            .engine()
            .logs(name, follow, tail)
            .map(|r| r.map_err(AppsError::from)))
    }
}
