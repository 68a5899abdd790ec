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
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}

/// The router for berth's main listener.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// Body of the core's responses, boxed so that the gateway can mix them
/// with app responses without knowing axum.
pub type CoreBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BoxError>;
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The core's routes as a plain function of an HTTP request, for the gateway
/// to call for every request that is not addressed to an app.
#[derive(Clone)]
pub struct CoreService {
    router: Router,
}

impl CoreService {
    pub fn new(state: AppState) -> Self {
        Self {
            router: router(state),
        }
    }

    /// Handles one request. A `SocketAddr` in the request's extensions (put
    /// there by the listener) becomes axum's `ConnectInfo`.
    pub async fn call<B>(&self, mut req: http::Request<B>) -> http::Response<CoreBody>
    where
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        if let Some(addr) = req.extensions().get::<std::net::SocketAddr>().copied() {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(addr));
        }
        let response = match self.router.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        response.map(|b| b.map_err(BoxError::from).boxed_unsync())
    }
}
