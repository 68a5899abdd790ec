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
use berth_authz::policy::PolicySettings;
use berth_registry::token::TokenSigner;
use berth_store::Store;

pub use metrics::Metrics;
pub use routes::portus::grants::{portus_routes, RouteGrant};
pub use routes::portus::openapi_document;

/// What the token endpoint needs: the signer and the policy switches.
pub struct RegistryAuth {
    pub signer: TokenSigner,
    pub policy: PolicySettings,
    /// The internal service user's name: the `sub` of berth's own tokens.
    pub service_user: String,
}

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
    registry_auth: Option<RegistryAuth>,
}

/// What the router needs from the process that hosts it.
pub struct ApiConfig {
    pub store: Store,
    /// Base URL of the registry berth fronts, e.g. `http://127.0.0.1:5000`.
    pub registry_url: String,
    /// Bearer secret the registry presents on notifications.
    pub notification_secret: String,
    pub metrics: Metrics,
    /// Token signing for `/v2/token`; `None` answers 503 there.
    pub registry_auth: Option<RegistryAuth>,
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
                registry_auth: cfg.registry_auth,
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn registry_auth(&self) -> Option<&RegistryAuth> {
        self.inner.registry_auth.as_ref()
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
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
