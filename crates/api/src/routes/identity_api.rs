//! The route table of identities, terminals, pairing and peers, with the
//! guard each group sits behind: `/protected` owner only, `/peer` signed
//! peers only, `/public` anyone.

use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;

use super::{identities, meta, peers, terminals};
use crate::owner_auth::{owner_only, peer_only};
use crate::AppState;

pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let protected = Router::new()
        .route(
            "/protected/identities",
            get(identities::list).put(identities::put),
        )
        .route("/protected/identities/default", get(identities::default))
        .route("/protected/identities/{id}", get(identities::get))
        .route(
            "/protected/identities/{id}/make-default",
            post(identities::make_default),
        )
        .route("/protected/terminals", get(terminals::list))
        .route(
            "/protected/terminals/pairing-code",
            get(terminals::pairing_code),
        )
        .route(
            "/protected/terminals/id/{id}",
            get(terminals::by_id)
                .put(terminals::update)
                .delete(terminals::delete),
        )
        .route("/protected/terminals/name/{name}", get(terminals::by_name))
        .route("/protected/peers", get(peers::list).put(peers::put))
        .route("/protected/peers/probe", post(peers::probe))
        .route(
            "/protected/peers/{id}",
            get(peers::get).delete(peers::delete),
        )
        .route_layer(from_fn_with_state(state.clone(), owner_only));
    let peer = Router::new()
        .route("/peer/whoami", get(peers::whoami).post(peers::whoami))
        .route_layer(from_fn_with_state(state.clone(), peer_only));
    let public = Router::new()
        .route("/public/meta/whoareyou", get(meta::whoareyou))
        .route("/public/meta/whoami", get(meta::whoami))
        .route("/public/health", get(meta::health))
        .route("/public/pair/terminal", post(terminals::pair));
    protected.merge(peer).merge(public)
}
