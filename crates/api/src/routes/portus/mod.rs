//! Portus API v1 (`/api`): the paths, parameter nesting, entities, status
//! codes and `{"message": ...}` errors of Portus 2.4, so its clients keep
//! working. One module per resource; the route table with each route's
//! grant is [`grants`].

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod activities;
mod entities;
pub mod grants;
pub use misc::openapi_document;
pub(crate) mod misc;
mod namespaces;
mod pagination;
mod registries;
mod repositories;
mod sync;
mod teams;
mod users;
mod webhooks;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::{Extension, Json, Router};
use berth_authz::portus_api::{decide_api, ApiCaller, ApiGrant, ApiTarget, ApiVerdict};
use berth_store::{Actor, Store, StoreError, User};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::auth::portus_caller;
use crate::AppState;
pub(crate) use pagination::{paged, paginate, PageQuery};

/// The Portus routes, each wrapped with its grant from [`grants::portus_routes`].
pub(crate) fn router() -> Router<AppState> {
    let mut router = Router::new();
    for spec in grants::portus_routes() {
        match handler(spec.method, spec.path) {
            Some(h) => router = router.route(spec.path, h.layer(Extension(spec.grant))),
            None => tracing::error!(path = spec.path, "route without a handler"),
        }
    }
    router
}

/// The handler of one table entry; `None` for an entry with none (a test
/// proves there is no such entry).
fn handler(method: &str, path: &str) -> Option<MethodRouter<AppState>> {
    let p = path.strip_prefix("/api").unwrap_or(path);
    Some(match (method, p) {
        ("GET", "/v1/_ping") => get(misc::ping),
        ("GET", "/v1/health") => get(misc::health),
        ("GET", "/version") => get(misc::version),
        ("GET", "/openapi.json") => get(misc::openapi),
        ("POST", "/v1/users/bootstrap") => post(users::bootstrap),
        ("GET", "/v1/users") => get(users::list),
        ("POST", "/v1/users") => post(users::create),
        ("GET", "/v1/users/{id}") => get(users::show),
        ("PUT", "/v1/users/{id}") => put(users::update),
        ("DELETE", "/v1/users/{id}") => delete(users::destroy),
        ("GET", "/v1/users/{id}/application_tokens") => get(users::tokens),
        ("POST", "/v1/users/{id}/application_tokens") => post(users::create_token),
        ("DELETE", "/v1/users/application_tokens/{id}") => delete(users::destroy_token),
        ("GET", "/v1/users/{id}/refresh_tokens") => get(users::refresh_tokens),
        ("DELETE", "/v1/users/{id}/refresh_tokens/{token_id}") => {
            delete(users::revoke_refresh_token)
        }
        ("GET", "/v1/teams") => get(teams::list),
        ("POST", "/v1/teams") => post(teams::create),
        ("GET", "/v1/teams/{id}") => get(teams::show),
        ("PUT", "/v1/teams/{id}") => put(teams::update),
        ("DELETE", "/v1/teams/{id}") => delete(teams::destroy),
        ("GET", "/v1/teams/{id}/namespaces") => get(teams::namespaces),
        ("GET", "/v1/teams/{id}/members") => get(teams::members),
        ("POST", "/v1/teams/{id}/members") => post(teams::add_member),
        ("PUT", "/v1/teams/{id}/members/{member_id}") => put(teams::update_member),
        ("DELETE", "/v1/teams/{id}/members/{member_id}") => delete(teams::remove_member),
        ("GET", "/v1/namespaces") => get(namespaces::list),
        ("GET", "/v1/namespaces/validate") => get(namespaces::validate),
        ("POST", "/v1/namespaces") => post(namespaces::create),
        ("GET", "/v1/namespaces/{id}") => get(namespaces::show),
        ("PUT", "/v1/namespaces/{id}") => put(namespaces::update),
        ("DELETE", "/v1/namespaces/{id}") => delete(namespaces::destroy),
        ("GET", "/v1/namespaces/{id}/repositories") => get(namespaces::repositories),
        ("GET", "/v1/repositories") => get(repositories::list),
        ("GET", "/v1/repositories/{id}") => get(repositories::show),
        ("PUT", "/v1/repositories/{id}") => put(repositories::update),
        ("DELETE", "/v1/repositories/{id}") => delete(repositories::destroy),
        ("GET", "/v1/repositories/{id}/tags") => get(repositories::tags),
        ("GET", "/v1/tags") => get(repositories::all_tags),
        ("GET", "/v1/tags/{id}") => get(repositories::tag),
        ("DELETE", "/v1/tags/{id}") => delete(repositories::destroy_tag),
        ("GET", "/v1/registries") => get(misc::registries),
        ("POST", "/v1/registries") => post(registries::create),
        ("PUT", "/v1/registries/{id}") => put(registries::update),
        ("GET", "/v1/registries/validate") => get(misc::validate_registry),
        ("GET", "/v1/repositories/{id}/tags/grouped") => get(repositories::grouped_tags),
        ("GET", "/v1/activities") => get(activities::list),
        ("GET", "/v1/activities.csv") => get(activities::csv),
        ("GET", "/v1/namespaces/{id}/webhooks") => get(webhooks::list),
        ("POST", "/v1/namespaces/{id}/webhooks") => post(webhooks::create),
        ("GET", "/v1/namespaces/{id}/webhooks/{wid}") => get(webhooks::show),
        ("PUT", "/v1/namespaces/{id}/webhooks/{wid}") => put(webhooks::update),
        ("DELETE", "/v1/namespaces/{id}/webhooks/{wid}") => delete(webhooks::destroy),
        ("GET", "/v1/namespaces/{id}/webhooks/{wid}/deliveries") => get(webhooks::deliveries),
        ("POST", "/v1/namespaces/{id}/webhooks/{wid}/deliveries/{did}/resend") => {
            post(webhooks::resend)
        }
        ("POST", "/v1/registries/{id}/sync") => post(sync::reconcile_now),
        _ => return None,
    })
}

/// An API error in Portus's shape: `{"message": "..."}`, or for 422 an
/// object of field to messages.
#[derive(Debug)]
pub(crate) enum ApiError {
    Unauthorized,
    Forbidden,
    NotFound,
    BadRequest(String),
    Conflict(String),
    Unprocessable(&'static str, String),
    Internal,
}

impl ApiError {
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "api request failed");
        Self::Internal
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(field) => {
                Self::Unprocessable(field, "has already been taken".into())
            }
            StoreError::Rule(rule) => Self::Unprocessable("base", rule.to_owned()),
            StoreError::NotFound => Self::NotFound,
            other => Self::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                serde_json::json!("Authentication fails"),
            ),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                serde_json::json!("Authorization fails"),
            ),
            Self::NotFound => (StatusCode::NOT_FOUND, serde_json::json!("Not found")),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, serde_json::json!(m)),
            Self::Conflict(m) => (StatusCode::CONFLICT, serde_json::json!(m)),
            Self::Unprocessable(field, m) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                serde_json::json!({ field: [m] }),
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!("Internal server error"),
            ),
        };
        (status, Json(serde_json::json!({ "message": message }))).into_response()
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

/// The authenticated caller of one request and the grant of its route.
///
/// Extracting it checks the grant for routes that need no target; for the
/// others, the handler looks the target up and calls [`Ctx::require`].
pub(crate) struct Ctx {
    pub state: AppState,
    pub caller: Option<User>,
    grant: ApiGrant,
    /// The store acting as the caller, so every change it makes records
    /// who made it and from where (the audit log).
    store: Store,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // A route without a grant is a programming error: deny.
        let grant = parts
            .extensions
            .get::<ApiGrant>()
            .copied()
            .ok_or(ApiError::Forbidden)?;
        let caller = match portus_caller(state.store(), &parts.headers).await? {
            Ok(c) => c,
            Err(_) => return Err(ApiError::Unauthorized),
        };
        let addr = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let store = state.store().acting_as(Actor {
            user_id: caller.as_ref().map(|u| u.id),
            name: caller.as_ref().map(|u| u.username.clone()),
            addr,
        });
        let ctx = Self {
            state: state.clone(),
            caller,
            grant,
            store,
        };
        match grant {
            ApiGrant::Anyone | ApiGrant::Bootstrap | ApiGrant::LoggedIn | ApiGrant::Admin => {
                ctx.require(ApiTarget::None)?
            }
            // Anonymous callers can pass only a public pull; everything else
            // waits for the target.
            ApiGrant::Pull => {}
            ApiGrant::UserSelf
            | ApiGrant::TokenOwner
            | ApiGrant::TeamMember
            | ApiGrant::TeamOwner
            | ApiGrant::NamespaceCreate
            | ApiGrant::NamespaceOwner
            | ApiGrant::Push
            | ApiGrant::Delete => {
                if ctx.caller.is_none() {
                    return Err(ApiError::Unauthorized);
                }
            }
        }
        Ok(ctx)
    }
}

impl Ctx {
    /// Checks the route's grant against `target`.
    pub fn require(&self, target: ApiTarget) -> Result<(), ApiError> {
        self.require_grant(self.grant, target)
    }

    /// Checks another grant (a visibility change inside an update, say).
    pub fn require_grant(&self, grant: ApiGrant, target: ApiTarget) -> Result<(), ApiError> {
        match decide_api(grant, self.api_caller(), target, &self.policy()) {
            ApiVerdict::Allowed => Ok(()),
            ApiVerdict::Unauthenticated => Err(ApiError::Unauthorized),
            ApiVerdict::Forbidden => Err(ApiError::Forbidden),
        }
    }

    /// Whether `grant` on `target` would be allowed (for `permissions` fields and list filters).
    pub fn allows(&self, grant: ApiGrant, target: ApiTarget) -> bool {
        decide_api(grant, self.api_caller(), target, &self.policy()) == ApiVerdict::Allowed
    }

    pub fn api_caller(&self) -> ApiCaller {
        match &self.caller {
            None => ApiCaller::Anonymous,
            Some(u) => ApiCaller::User {
                id: u.id,
                admin: u.admin,
                bot: u.bot,
            },
        }
    }

    /// The logged-in caller; only called after a grant that needs one passed.
    pub fn user(&self) -> Result<&User, ApiError> {
        self.caller.as_ref().ok_or(ApiError::Unauthorized)
    }

    pub fn policy(&self) -> berth_authz::policy::PolicySettings {
        self.state.registry_auth().map(|a| a.policy).unwrap_or(
            berth_authz::policy::PolicySettings {
                delete_enabled: false,
            },
        )
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Parses a JSON body; a malformed one is 400 with the parser's message.
pub(crate) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))
}

/// An id from the path; Portus answers 404 for ids that are not numbers.
pub(crate) fn id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// A JSON response with `status`.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: T) -> ApiResult {
    Ok((status, Json(value)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reverse direction, read from this file's source: a handler arm
    /// whose route is missing from the table would never be served (this
    /// happened once).
    #[test]
    fn every_handler_arm_is_in_the_table() {
        let source = include_str!("mod.rs");
        let body = source
            .split("fn handler(")
            .nth(1)
            .and_then(|s| s.split("_ => return None").next())
            .unwrap();
        let mut arms = 0;
        for line in body.lines() {
            let line = line.trim();
            let Some(rest) = line.strip_prefix("(\"") else {
                continue;
            };
            let mut parts = rest.split('"');
            let method = parts.next().unwrap();
            let path = parts.nth(1).unwrap();
            let full = format!("/api{path}");
            assert!(
                grants::portus_routes()
                    .iter()
                    .any(|r| r.method == method && r.path == full),
                "{method} {full} has a handler but no grant in the table"
            );
            arms += 1;
        }
        assert_eq!(arms, grants::portus_routes().len());
    }

    #[test]
    fn every_table_entry_has_a_handler() {
        for spec in grants::portus_routes() {
            assert!(
                handler(spec.method, spec.path).is_some(),
                "{} {}",
                spec.method,
                spec.path
            );
        }
    }
}
