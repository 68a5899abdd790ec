//! berth's HTTP edge.
//!
//! Architecture invariant: only this crate (and later the gateway) knows
//! axum. Handlers translate HTTP into calls on lower crates and map their
//! errors through [`problem::Problem`]; internal detail never reaches a
//! response body.

mod auth;
pub mod metrics;
mod owner_auth;
pub mod problem;
mod routes;

use std::sync::Arc;

use axum::Router;
use berth_authz::policy::PolicySettings;
use berth_identity::Identities;
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
    identities: Identities,
    owner_token: String,
    /// Set once at start when berth runs apps (issue 3).
    apps: std::sync::OnceLock<AppsContext>,
    webhook_sealer: Option<berth_store::sealed::SecretBox>,
    /// Set once at start: the catalog sync (deletes, reconcile on demand).
    catalog_sync: std::sync::OnceLock<Arc<berth_sync::service::CatalogSync>>,
}

/// The apps service, for `/protected/apps`.
pub(crate) struct AppsContext {
    pub(crate) apps: berth_apps::Apps,
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
    /// Identities, terminals, peers, and request authentication.
    pub identities: Identities,
    /// The owner's bearer token for `/protected` (`<data-dir>/owner.token`).
    pub owner_token: String,
    /// Seals webhook secrets (key in `<data-dir>/secrets/webhook-key`);
    /// `None` refuses to create webhooks.
    pub webhook_sealer: Option<berth_store::sealed::SecretBox>,
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
                identities: cfg.identities,
                owner_token: cfg.owner_token,
                apps: std::sync::OnceLock::new(),
                webhook_sealer: cfg.webhook_sealer,
                catalog_sync: std::sync::OnceLock::new(),
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

    pub fn identities(&self) -> &Identities {
        &self.inner.identities
    }

    pub(crate) fn webhook_sealer(&self) -> Option<&berth_store::sealed::SecretBox> {
        self.inner.webhook_sealer.as_ref()
    }

    pub(crate) fn owner_token(&self) -> &str {
        &self.inner.owner_token
    }

    pub(crate) fn cookie_domain(&self) -> Option<&str> {
        self.inner.identities.authenticator().cookie_domain()
    }

    /// Enables the apps routes; the owner authenticates there with the same
    /// owner token as on every `/protected` route. Only the first call has an
    /// effect.
    pub fn set_apps(&self, apps: berth_apps::Apps) {
        let _ = self.inner.apps.set(AppsContext { apps });
    }

    /// Enables the registry deletes and the reconcile-now route; only the
    /// first call has an effect.
    pub fn set_catalog_sync(&self, sync: Arc<berth_sync::service::CatalogSync>) {
        let _ = self.inner.catalog_sync.set(sync);
    }

    pub(crate) fn catalog_sync(&self) -> Option<&berth_sync::service::CatalogSync> {
        self.inner.catalog_sync.get().map(Arc::as_ref)
    }

    pub(crate) fn apps(&self) -> Option<&AppsContext> {
        self.inner.apps.get()
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

    /// Serves `ui` (the web UI's router, built by the binary) beside the
    /// API's routes; the two share no path, and a clash panics at start.
    pub fn with_ui(self, ui: Router) -> Self {
        Self {
            router: self.router.merge(ui),
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
