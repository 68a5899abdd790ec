//! `/v2/token`: the distribution token endpoint the registry sends clients to.
//!
//! GET authenticates with Basic credentials (password or application token)
//! or not at all; POST is the OAuth2 form docker uses once it holds an
//! identity token (`grant_type=refresh_token`), or `grant_type=password`.
//! A login with `offline_token=true` (GET) or `access_type=offline` (POST)
//! also returns a `refresh_token`, which docker stores instead of the
//! password.
//!
//! The order is fixed: parse everything (400 on malformed input, unknown
//! service or too many scopes), authenticate (401), then decide every
//! requested action through `authz::grant`; denied actions are simply absent
//! from `access`. The token's `sub` is the authenticated user, never the
//! `account` parameter.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::collections::HashMap;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_authz::grant::grant;
use berth_authz::policy::RepositoryFacts;
use berth_authz::scope::{parse_scopes, Resource, Scope};
use berth_store::User;
use serde::Serialize;

use crate::auth::{basic_credentials, login_secret, subject};
use crate::AppState;

/// Longest request (query or form body) the endpoint reads; far above any
/// legitimate one, since scopes are capped at 8 KiB.
const MAX_REQUEST_LEN: usize = 16 * 1024;

/// The client id refresh tokens are bound to when a client names none.
const DEFAULT_CLIENT_ID: &str = "docker";

#[derive(Serialize)]
struct TokenBody {
    token: String,
    access_token: String,
    expires_in: u64,
    issued_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// Parameters of one request, GET query or POST form alike.
#[derive(Default)]
struct Params {
    service: Option<String>,
    scopes: Vec<String>,
    client_id: Option<String>,
    offline: bool,
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

pub(super) async fn get(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    if query.len() > MAX_REQUEST_LEN {
        return error(StatusCode::BAD_REQUEST, "DENIED", "request is too large");
    }
    let params = Params::parse(query.as_bytes());
    let response = match basic_credentials(&headers) {
        Err(_) => unauthorized(),
        Ok(user) => issue(&state, params, Login::Basic(user)).await,
    };
    count(&state, response)
}

/// Counts the answer in the token metrics.
fn count(state: &AppState, response: Response) -> Response {
    match response.status() {
        StatusCode::OK => {
            state.metrics().registry_tokens_issued.inc();
        }
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED => {
            state.metrics().registry_token_requests_refused.inc();
        }
        _ => {}
    }
    response
}

pub(super) async fn post(State(state): State<AppState>, body: Bytes) -> Response {
    if body.len() > MAX_REQUEST_LEN {
        return error(StatusCode::BAD_REQUEST, "DENIED", "request is too large");
    }
    let mut params = Params::parse(&body);
    let login = match params.grant_type.as_deref() {
        Some("password") => match (params.username.take(), params.password.take()) {
            (Some(u), Some(p)) => Ok(Login::Basic(Some((u, p)))),
            _ => Err("invalid_request"),
        },
        Some("refresh_token") => match params.refresh_token.take() {
            Some(t) => Ok(Login::Refresh(t)),
            None => Err("invalid_request"),
        },
        _ => Err("unsupported_grant_type"),
    };
    let response = match login {
        Ok(login) => issue(&state, params, login).await,
        Err(code) => oauth_error(StatusCode::BAD_REQUEST, code),
    };
    count(&state, response)
}

enum Login {
    /// Basic credentials or the password grant; `None` is anonymous.
    Basic(Option<(String, String)>),
    Refresh(String),
}

async fn issue(state: &AppState, params: Params, login: Login) -> Response {
    let Some(auth) = state.registry_auth() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "token signing is not configured",
        );
    };
    if params.service.as_deref() != Some(auth.signer.service()) {
        return error(StatusCode::BAD_REQUEST, "DENIED", "unknown service");
    }
    let scopes = match parse_scopes(params.scopes.iter().map(String::as_str)) {
        Ok(parsed) => {
            for dropped in parsed.dropped() {
                tracing::debug!(scope = dropped.scope(), reason = %dropped.reason(), "scope dropped");
            }
            parsed.into_scopes()
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, "DENIED", &e.to_string()),
    };
    let client_id = params.client_id.as_deref().unwrap_or(DEFAULT_CLIENT_ID);
    let user = match authenticate(state, login, client_id).await {
        Ok(Authenticated::Anonymous) => None,
        Ok(Authenticated::User(u)) => Some(u),
        Ok(Authenticated::Refused) => return unauthorized(),
        Err(e) => return internal(&e),
    };
    let refresh_token = match &user {
        Some(u) if params.offline => match state.store().issue_refresh_token(u.id, client_id).await
        {
            Ok(t) => Some(t),
            Err(e) => return internal(&e),
        },
        _ => None,
    };
    let facts = match repository_facts(state, user.as_ref(), &scopes).await {
        Ok(f) => f,
        Err(e) => return internal(&e),
    };
    let who = subject(user.as_ref());
    let access = grant(
        &who,
        &scopes,
        |name| {
            Some(RepositoryFacts {
                namespace: facts
                    .get(&name.namespace_part().name().map(str::to_owned))
                    .copied(),
            })
        },
        &auth.policy,
    );
    let sub = user.as_ref().map(|u| u.username.as_str()).unwrap_or("");
    match auth.signer.sign(sub, &access, SystemTime::now()) {
        Ok(t) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(TokenBody {
                access_token: t.token.clone(),
                token: t.token,
                expires_in: t.expires_in,
                issued_at: t.issued_at,
                refresh_token,
            }),
        )
            .into_response(),
        Err(e) => internal(&e),
    }
}

enum Authenticated {
    Anonymous,
    User(User),
    Refused,
}

async fn authenticate(
    state: &AppState,
    login: Login,
    client_id: &str,
) -> Result<Authenticated, berth_store::StoreError> {
    let found = match login {
        Login::Basic(None) => return Ok(Authenticated::Anonymous),
        Login::Basic(Some((username, secret))) => {
            login_secret(state.store(), &username, &secret).await?
        }
        Login::Refresh(token) => {
            state
                .store()
                .redeem_refresh_token(&token, client_id)
                .await?
        }
    };
    Ok(found.map_or(Authenticated::Refused, Authenticated::User))
}

/// The policy facts of every namespace the scopes touch, in one query.
/// Keyed by namespace name, `None` for the global namespace; a namespace
/// missing from the map does not exist.
async fn repository_facts(
    state: &AppState,
    user: Option<&User>,
    scopes: &[Scope],
) -> Result<HashMap<Option<String>, berth_authz::policy::NamespaceFacts>, berth_store::StoreError> {
    let names: Vec<Option<String>> = scopes
        .iter()
        .filter_map(|s| match s.resource() {
            Resource::Repository(name) => Some(name.namespace_part().name().map(str::to_owned)),
            Resource::Catalog => None,
        })
        .collect();
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let refs: Vec<Option<&str>> = names.iter().map(Option::as_deref).collect();
    let caller = user.filter(|u| !u.service).map(|u| u.id);
    state.store().namespace_facts(caller, &refs).await
}

impl Params {
    fn parse(input: &[u8]) -> Self {
        let mut p = Self::default();
        for (key, value) in form_urlencoded::parse(input) {
            let value = value.into_owned();
            match key.as_ref() {
                "service" => p.service = Some(value),
                "scope" => p.scopes.push(value),
                "client_id" => p.client_id = Some(value),
                "offline_token" => p.offline |= value == "true",
                "access_type" => p.offline |= value == "offline",
                "grant_type" => p.grant_type = Some(value),
                "username" => p.username = Some(value),
                "password" => p.password = Some(value),
                "refresh_token" => p.refresh_token = Some(value),
                // `account` is only a hint; the subject comes from the credentials.
                _ => {}
            }
        }
        p
    }
}

/// The distribution error shape docker prints: `{"errors": [{code, message}]}`.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
    (status, axum::Json(body)).into_response()
}

fn unauthorized() -> Response {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "invalid credentials",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"berth\""),
    );
    r
}

/// RFC 6749 section 5.2 errors for the POST form.
fn oauth_error(status: StatusCode, code: &str) -> Response {
    (status, axum::Json(serde_json::json!({"error": code}))).into_response()
}

fn internal(cause: &dyn std::fmt::Display) -> Response {
    tracing::error!(%cause, "token endpoint failed");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "UNKNOWN",
        "the server failed; see its log",
    )
}
