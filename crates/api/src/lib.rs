//! berth's HTTP edge.
//!
//! Architecture invariant: only this crate (and later the gateway) knows
//! axum. Handlers translate HTTP into calls on lower crates and map their
//! errors through [`problem::Problem`]; internal detail never reaches a
//! response body.

mod auth;
pub mod metrics;
pub mod problem;
mod routes;

use std::sync::Arc;

use axum::Router;
use berth_identity::Identities;
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
    identities: Identities,
    owner_token: String,
}

/// What the router needs from the process that hosts it.
pub struct ApiConfig {
    pub store: Store,
    /// Base URL of the registry berth fronts, e.g. `http://127.0.0.1:5000`.
    pub registry_url: String,
    /// Bearer secret the registry presents on notifications.
    pub notification_secret: String,
    pub metrics: Metrics,
    /// Identities, terminals, peers, and request authentication.
    pub identities: Identities,
    /// The owner's bearer token for `/protected` (`<data-dir>/owner.token`).
    pub owner_token: String,
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
                identities: cfg.identities,
                owner_token: cfg.owner_token,
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn identities(&self) -> &Identities {
        &self.inner.identities
    }

    pub(crate) fn owner_token(&self) -> &str {
        &self.inner.owner_token
    }

    pub(crate) fn cookie_domain(&self) -> Option<&str> {
        self.inner.identities.authenticator().cookie_domain()
    }
}

/// The router for berth's main listener.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops taking
/// new connections and lets open requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Connect info gives pairing its per-client rate limit.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
