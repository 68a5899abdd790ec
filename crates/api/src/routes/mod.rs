//! Route table of the main listener. One module per resource.

mod body;
mod health;
mod identities;
mod identity_api;
mod meta;
mod peers;
pub(crate) mod portus;
mod registry_events;
mod terminals;
mod token;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        .route("/v2/webhooks/events", post(registry_events::receive))
        .route("/v2/token", get(token::get).post(token::post))
        .merge(portus::router())
        .merge(identity_api::routes(&state))
        .with_state(state)
}
