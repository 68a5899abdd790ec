//! `/protected/terminals` (owner only) and `/public/pair/terminal`: pairing
//! a device with a one-time code, and listing, renaming and removing the
//! owner's terminals.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use berth_store::identity::TerminalRow;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::identities::fail;
use crate::problem::Problem;
use crate::AppState;

#[derive(Serialize)]
struct TerminalDto {
    id: String,
    name: String,
    icon: String,
    created: DateTime<Utc>,
    last_connection: Option<DateTime<Utc>>,
}

impl From<TerminalRow> for TerminalDto {
    fn from(r: TerminalRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            icon: r.icon,
            created: r.created_at,
            last_connection: r.last_connection,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct DeadlineQuery {
    deadline: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct CodeQuery {
    code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TerminalBody {
    name: String,
    icon: Option<String>,
}

pub(super) async fn pairing_code(
    State(state): State<AppState>,
    Query(q): Query<DeadlineQuery>,
) -> Response {
    let deadline = match q.deadline.as_deref().map(str::parse::<u32>).transpose() {
        Ok(d) => d,
        Err(_) => {
            return Problem::bad_request("deadline must be a number of seconds")
                .with_field("deadline")
                .into_response()
        }
    };
    match state.identities().pairing_code(deadline).await {
        Ok(row) => (
            StatusCode::CREATED,
            Json(serde_json::json!({
                "code": row.code,
                "created": row.created_at,
                "valid_until": row.valid_until,
            })),
        )
            .into_response(),
        Err(e) => fail(e),
    }
}

pub(super) async fn pair(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    Query(q): Query<CodeQuery>,
    body: axum::body::Bytes,
) -> Response {
    let client = crate::owner_auth::client_ip(connect.map(|Extension(c)| c));
    let Some(code) = q.code else {
        return Problem::bad_request("the pairing code is missing")
            .with_field("code")
            .into_response();
    };
    let b: TerminalBody = match super::body::json(&body) {
        Ok(b) => b,
        Err(p) => return p.into_response(),
    };
    match state
        .identities()
        .pair(client, &code, &b.name, b.icon.as_deref())
        .await
    {
        Ok((row, cookie)) => {
            let mut r = (StatusCode::CREATED, Json(TerminalDto::from(row))).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => fail(e),
    }
}

pub(super) async fn list(State(state): State<AppState>) -> Response {
    match state.identities().terminals().await {
        Ok(rows) => {
            Json(rows.into_iter().map(TerminalDto::from).collect::<Vec<_>>()).into_response()
        }
        Err(e) => fail(e),
    }
}

pub(super) async fn by_id(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.identities().terminal(&id).await {
        Ok(row) => Json(TerminalDto::from(row)).into_response(),
        Err(e) => fail(e),
    }
}

pub(super) async fn by_name(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.identities().terminal_by_name(&name).await {
        Ok(row) => Json(TerminalDto::from(row)).into_response(),
        Err(e) => fail(e),
    }
}

pub(super) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let b: TerminalBody = match super::body::json(&body) {
        Ok(b) => b,
        Err(p) => return p.into_response(),
    };
    match state
        .identities()
        .update_terminal(&id, &b.name, b.icon.as_deref())
        .await
    {
        Ok(row) => Json(TerminalDto::from(row)).into_response(),
        Err(e) => fail(e),
    }
}

pub(super) async fn delete(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.identities().delete_terminal(&id).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fail(e),
    }
}
