//! berth's web UI at the bare domain: the registry's pages (explore,
//! repositories, namespaces, teams, tokens, users, search) for registry
//! users with a server-side session, and the owner's home (apps, install,
//! terminals, identity, peers) for a paired terminal.
//!
//! Architecture invariant: the pages decide nothing themselves. Who may see
//! or change what comes from `authz` (`portus_api::decide_api`, the same
//! calls the Portus API makes), so a page never shows what the API would
//! refuse; every state-changing request passes the CSRF check in
//! [`csrf`] before its handler runs. Templates are askama's, checked at
//! compile time and escaped by default; every asset is embedded.

mod assets;
mod csrf;
mod error;
mod format;
mod limiter;
mod markdown;
mod pages;
mod visitor;

use std::sync::{Arc, Mutex};

use axum::Router;
use berth_apps::Apps;
use berth_authz::policy::PolicySettings;
use berth_identity::Identities;
use berth_store::Store;
use berth_sync::service::CatalogSync;

/// How long a session lives without a request.
pub const SESSION_IDLE_HOURS: i64 = 12;

/// What the UI needs from the process that serves it.
pub struct WebConfig {
    pub store: Store,
    pub identities: Identities,
    /// The registry policy's switches (deletion enabled or not).
    pub policy: PolicySettings,
    /// The apps service; `None` when berth runs no apps.
    pub apps: Option<Apps>,
    /// The registry deletes, the same service the Portus API deletes
    /// through; `None` leaves tags undeletable from the UI.
    pub catalog_sync: Option<Arc<CatalogSync>>,
    /// Served over TLS: cookies get `Secure`.
    pub secure_cookies: bool,
}

/// Shared state of the UI's handlers; cheap to clone.
#[derive(Clone)]
pub struct Web {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: WebConfig,
    sign_in: Mutex<limiter::SignInLimiter>,
    /// Installs that failed after the page returned, shown on the home.
    install_failures: Mutex<Vec<(String, String)>>,
}

impl Web {
    pub fn new(cfg: WebConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                cfg,
                sign_in: Mutex::new(limiter::SignInLimiter::default()),
                install_failures: Mutex::new(Vec::new()),
            }),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.cfg.store
    }

    pub(crate) fn identities(&self) -> &Identities {
        &self.inner.cfg.identities
    }

    pub(crate) fn policy(&self) -> PolicySettings {
        self.inner.cfg.policy
    }

    pub(crate) fn apps(&self) -> Option<&Apps> {
        self.inner.cfg.apps.as_ref()
    }

    pub(crate) fn catalog_sync(&self) -> Option<&CatalogSync> {
        self.inner.cfg.catalog_sync.as_deref()
    }

    pub(crate) fn secure_cookies(&self) -> bool {
        self.inner.cfg.secure_cookies
    }
}

/// The UI's routes, for the core service to merge beside the API's.
pub fn router(web: Web) -> Router {
    pages::routes()
        .layer(axum::middleware::from_fn_with_state(
            web.clone(),
            visitor::middleware,
        ))
        .merge(assets::routes())
        .with_state(web)
}
