//! Route table of the main listener and of the core listener for apps. One
//! module per resource.

mod app_events;
mod apps;
mod body;
mod call_peer;
mod health;
mod identities;
mod identity_api;
mod meta;
mod pairing_page;
mod peers;
pub(crate) mod portus;
mod registry_events;
mod terminals;
mod token;

use axum::routing::{any, get, post};
use axum::{Extension, Router};

use crate::AppState;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/v2/webhooks/events", post(registry_events::receive))
        .route("/v2/token", get(token::get).post(token::post))
        .route("/pair", get(pairing_page::form).post(pairing_page::submit))
        .route("/.berth/handoff", get(pairing_page::handoff))
        .merge(portus::router())
        .merge(identity_api::routes(&state))
        .merge(apps_routes().layer(Extension(apps::Listener::Main)))
        .with_state(state)
}

/// `http://portal_core/`: what apps may call, identified by their address.
pub(crate) fn core_router(state: AppState) -> Router {
    apps_routes()
        .route("/internal/peers", get(call_peer::peers))
        .route("/internal/call_peer/{*rest}", any(call_peer::call))
        .layer(Extension(apps::Listener::Core))
        .with_state(state)
}

fn apps_routes() -> Router<AppState> {
    Router::new()
        .route("/protected/apps", get(apps::list).post(apps::install))
        .route("/protected/events", get(app_events::events))
        .route(
            "/protected/apps/{name}",
            get(apps::get).put(apps::upgrade).delete(apps::uninstall),
        )
        .route("/protected/apps/{name}/logs", get(apps::logs))
        .route("/protected/apps/{name}/{action}", post(apps::control))
}
