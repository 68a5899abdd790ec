//! `/protected/peers` (owner only) and `/peer/whoami`, the smallest route
//! that a signed request from a known peer may reach.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use berth_store::identity::PeerRow;
use serde::{Deserialize, Serialize};

use super::identities::fail;
use crate::auth::PeerCaller;
use crate::AppState;

#[derive(Serialize)]
struct PeerDto {
    id: String,
    short_id: String,
    name: String,
    public_bytes_b64: String,
}

impl From<PeerRow> for PeerDto {
    fn from(r: PeerRow) -> Self {
        let key: [u8; 32] = r.public_key.as_slice().try_into().unwrap_or([0; 32]);
        Self {
            short_id: berth_identity::key::short_id(&r.id).to_owned(),
            id: r.id,
            name: r.name,
            public_bytes_b64: berth_identity::key::public_key_to_b64(&key),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerBody {
    id: String,
    name: String,
    public_bytes_b64: String,
}

pub(super) async fn list(State(state): State<AppState>) -> Response {
    match state.identities().peers().await {
        Ok(rows) => Json(rows.into_iter().map(PeerDto::from).collect::<Vec<_>>()).into_response(),
        Err(e) => fail(e),
    }
}

pub(super) async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.identities().peer(&id).await {
        Ok(row) => Json(PeerDto::from(row)).into_response(),
        Err(e) => fail(e),
    }
}

pub(super) async fn put(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let b: PeerBody = match super::body::json(&body) {
        Ok(b) => b,
        Err(p) => return p.into_response(),
    };
    match state
        .identities()
        .put_peer(&b.id, &b.name, &b.public_bytes_b64)
        .await
    {
        Ok(row) => Json(PeerDto::from(row)).into_response(),
        Err(e) => fail(e),
    }
}

pub(super) async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.identities().delete_peer(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(e),
    }
}

/// Echoes the verified peer and the body it signed.
pub(super) async fn whoami(
    State(state): State<AppState>,
    Extension(PeerCaller(id)): Extension<PeerCaller>,
    body: axum::body::Bytes,
) -> Response {
    let name = state.identities().peer(&id).await.map(|p| p.name).ok();
    Json(serde_json::json!({
        "type": "peer",
        "id": id,
        "name": name,
        "body_bytes": body.len(),
    }))
    .into_response()
}
