//! `/protected/identities`: the Portal's identities (owner only), and the
//! mapping of identity errors to problem+json shared by the identity routes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use berth_identity::key::{public_key_pem, public_key_to_b64, short_id};
use berth_identity::{IdentityError, IdentityInput};
use berth_store::identity::IdentityRow;
use serde::{Deserialize, Serialize};

use crate::problem::Problem;
use crate::AppState;

/// The problem a failed identity operation answers with.
pub(super) fn problem(e: IdentityError) -> Problem {
    match &e {
        IdentityError::NotFound { .. } => {
            Problem::new(StatusCode::NOT_FOUND, "not found", e.to_string())
        }
        IdentityError::Invalid { field, .. } => {
            Problem::bad_request(e.to_string()).with_field(*field)
        }
        IdentityError::Conflict { field, .. } => {
            Problem::new(StatusCode::CONFLICT, "conflict", e.to_string()).with_field(*field)
        }
        IdentityError::InvalidCode => {
            Problem::new(StatusCode::FORBIDDEN, "forbidden", e.to_string()).with_field("code")
        }
        IdentityError::RateLimited => Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests",
            e.to_string(),
        ),
        IdentityError::Keys(cause) => Problem::internal(cause),
        IdentityError::Store(cause) => Problem::internal(cause),
    }
}

pub(super) fn fail(e: IdentityError) -> Response {
    let rate_limited = matches!(e, IdentityError::RateLimited);
    let mut r = problem(e).into_response();
    if rate_limited {
        r.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("60"));
    }
    r
}

/// An identity as the API shows it; the private key never appears.
#[derive(Serialize)]
pub(super) struct IdentityDto {
    id: String,
    short_id: String,
    name: String,
    email: String,
    description: String,
    is_default: bool,
    public_bytes_b64: String,
    public_key_pem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
}

impl IdentityDto {
    pub(super) fn new(row: IdentityRow, domain: Option<String>) -> Self {
        let key: [u8; 32] = row.public_key.as_slice().try_into().unwrap_or([0; 32]);
        Self {
            short_id: short_id(&row.id).to_owned(),
            id: row.id,
            name: row.name,
            email: row.email,
            description: row.description,
            is_default: row.is_default,
            public_bytes_b64: public_key_to_b64(&key),
            public_key_pem: public_key_pem(&key),
            domain,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IdentityBody {
    id: Option<String>,
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    description: String,
}

pub(super) async fn list(State(state): State<AppState>) -> Response {
    match state.identities().list().await {
        Ok(rows) => Json(
            rows.into_iter()
                .map(|r| IdentityDto::new(r, None))
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => fail(e),
    }
}

pub(super) async fn default(State(state): State<AppState>) -> Response {
    match state.identities().default_identity().await {
        Ok(row) => Json(IdentityDto::new(row, None)).into_response(),
        Err(e) => fail(e),
    }
}

pub(super) async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.identities().get(&id).await {
        Ok(row) => Json(IdentityDto::new(row, None)).into_response(),
        Err(e) => fail(e),
    }
}

pub(super) async fn put(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let b: IdentityBody = match super::body::json(&body) {
        Ok(b) => b,
        Err(p) => return p.into_response(),
    };
    let created = b.id.is_none();
    let input = IdentityInput {
        id: b.id,
        name: b.name,
        email: b.email,
        description: b.description,
    };
    match state.identities().put(input).await {
        Ok(row) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (status, Json(IdentityDto::new(row, None))).into_response()
        }
        Err(e) => fail(e),
    }
}

pub(super) async fn make_default(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    match state.identities().make_default(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(e),
    }
}
