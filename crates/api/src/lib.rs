//! berth's HTTP edge.
//!
//! Architecture invariant: only this crate (and later the gateway) knows
//! axum. Handlers translate HTTP into calls on lower crates and map their
//! errors through [`problem::Problem`]; internal detail never reaches a
//! response body.

pub mod metrics;
pub mod problem;
mod routes;

use std::sync::Arc;

use axum::Router;
use berth_store::Store;

pub use metrics::Metrics;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    registry_url: String,
    notification_secret: String,
    http: reqwest::Client,
    metrics: Metrics,
    /// Set once at start when berth runs apps (issue 3).
    apps: std::sync::OnceLock<AppsContext>,
}

/// The apps service and the owner's credential, for `/protected/apps`.
pub(crate) struct AppsContext {
    pub(crate) apps: berth_apps::Apps,
    pub(crate) owner_token: String,
}

/// What the router needs from the process that hosts it.
pub struct ApiConfig {
    pub store: Store,
    /// Base URL of the registry berth fronts, e.g. `http://127.0.0.1:5000`.
    pub registry_url: String,
    /// Bearer secret the registry presents on notifications.
    pub notification_secret: String,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(cfg: ApiConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: cfg.store,
                registry_url: cfg.registry_url,
                notification_secret: cfg.notification_secret,
                http: reqwest::Client::new(),
                metrics: cfg.metrics,
                apps: std::sync::OnceLock::new(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Enables the apps routes: `owner_token` is what the owner presents as
    /// `Authorization: Bearer`. Only the first call has an effect.
    pub fn set_apps(&self, apps: berth_apps::Apps, owner_token: String) {
        let _ = self.inner.apps.set(AppsContext { apps, owner_token });
    }

    pub(crate) fn apps(&self) -> Option<&AppsContext> {
        self.inner.apps.get()
    }
}

/// The router for berth's main listener.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Serves the core API for apps (`http://portal_core/`) on `listener`, which
/// sits on the berth Docker network's gateway: callers are identified by
/// their container address, or by the owner token.
pub async fn serve_core(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = routes::core_router(state);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops taking
/// new connections and lets open requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
