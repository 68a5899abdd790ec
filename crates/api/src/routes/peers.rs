//! `/protected/peers` (owner only), the owner's signed probe of another
//! berth, and `/peer/whoami`, the smallest route that a signed request from
//! a known peer may reach.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use berth_store::identity::PeerRow;
use serde::{Deserialize, Serialize};

use super::identities::fail;
use berth_identity::httpsig::Target;

use crate::owner_auth::PeerCaller;
use crate::problem::Problem;
use crate::AppState;

#[derive(Serialize)]
struct PeerDto {
    id: String,
    short_id: String,
    name: String,
    public_bytes_b64: String,
    /// The base URL of its domain; `null` when its apps cannot be called.
    url: Option<String>,
}

impl From<PeerRow> for PeerDto {
    fn from(r: PeerRow) -> Self {
        let key: [u8; 32] = r.public_key.as_slice().try_into().unwrap_or([0; 32]);
        Self {
            short_id: berth_identity::key::short_id(&r.id).to_owned(),
            id: r.id,
            name: r.name,
            public_bytes_b64: berth_identity::key::public_key_to_b64(&key),
            url: r.url,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerBody {
    id: String,
    name: String,
    public_bytes_b64: String,
    #[serde(default)]
    url: Option<String>,
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
        .put_peer(&b.id, &b.name, &b.public_bytes_b64, b.url.as_deref())
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeBody {
    url: String,
}

/// Makes a signed `GET <url>/peer/whoami` to another berth as this one, and
/// answers with what it said: the owner's check that a peering works both
/// ways, and the outgoing half of peer calls.
pub(super) async fn probe(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let b: ProbeBody = match super::body::json(&body) {
        Ok(b) => b,
        Err(p) => return p.into_response(),
    };
    let Some(authority) = b
        .url
        .strip_prefix("http://")
        .or_else(|| b.url.strip_prefix("https://"))
        .filter(|a| !a.is_empty() && !a.contains(['/', '?', '#', '@']))
    else {
        return Problem::bad_request("`url` must be `http://host[:port]` or `https://host[:port]`")
            .with_field("/url")
            .into_response();
    };
    let target = Target {
        method: "GET",
        authority,
        path: "/peer/whoami",
        query: None,
    };
    let Some(h) = state.identities().sign_for_peer(&target, b"") else {
        return Problem::internal(&"no default identity").into_response();
    };
    let sent = state
        .inner
        .http
        .get(format!("{}/peer/whoami", b.url))
        .header("signature-input", h.signature_input)
        .header("signature", h.signature)
        .header("content-digest", h.content_digest)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await;
    let r = match sent {
        Ok(r) => r,
        Err(e) => {
            return Problem::new(
                StatusCode::BAD_GATEWAY,
                "bad gateway",
                format!("the peer did not answer: {e}"),
            )
            .with_field("/url")
            .into_response()
        }
    };
    let status = r.status().as_u16();
    let answer: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
    Json(serde_json::json!({"status": status, "body": answer})).into_response()
}
