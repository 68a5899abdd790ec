//! `/public/meta/whoareyou`, `/public/meta/whoami` and `/public/health`:
//! what anyone may ask about this berth and about themselves.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_authz::gateway::Caller;
use berth_identity::auth::AuthError;
use serde_json::json;

use super::identities::{fail, IdentityDto};
use crate::problem::Problem;
use crate::AppState;

pub(super) async fn whoareyou(State(state): State<AppState>) -> Response {
    let identities = state.identities();
    match identities.default_identity().await {
        Ok(row) => {
            Json(IdentityDto::new(row, Some(identities.domain().to_owned()))).into_response()
        }
        Err(e) => fail(e),
    }
}

/// Who the cookie says the caller is. A refused cookie makes the caller
/// anonymous here (and is cleared), since this route is public.
pub(super) async fn whoami(State(state): State<AppState>, req: Request) -> Response {
    let outcome =
        match crate::owner_auth::authenticate(&state, req.method(), req.uri(), req.headers()).await
        {
            Err(p) => return p.into_response(),
            Ok(o) => o,
        };
    let (body, set_cookie) = match outcome {
        Ok(o) => {
            let body = match o.caller {
                Caller::Terminal { id, name } => {
                    json!({"type": "terminal", "id": id, "name": name})
                }
                Caller::Peer { id } => json!({"type": "peer", "id": id, "name": null}),
                Caller::Anonymous => json!({"type": "anonymous", "id": null, "name": null}),
            };
            (body, o.set_cookie)
        }
        Err(AuthError::Store(cause)) => return Problem::internal(&cause).into_response(),
        Err(e) => (
            json!({"type": "anonymous", "id": null, "name": null}),
            e.clear_cookie(state.cookie_domain()),
        ),
    };
    let mut r = Json(body).into_response();
    if let Some(v) = set_cookie.and_then(|c| axum::http::HeaderValue::from_str(&c).ok()) {
        r.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
    r
}

pub(super) async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}
