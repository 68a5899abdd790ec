//! Who may call berth's own API: the middlewares in front of `/protected`
//! and `/peer`, and the request head the identity crate authenticates.
//!
//! `/protected/*` admits the owner: the bearer token from
//! `<data-dir>/owner.token` (`Authorization: Bearer <token>`), or a paired
//! terminal's cookie. A wrong bearer token is refused outright, never
//! retried as a cookie. `/peer/*` admits a known peer's signed request
//! whose body matches its `Content-Digest`. Everything else is refused:
//! no credentials 401, a peer on `/protected` 403.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_authz::gateway::Caller;
use berth_identity::auth::{AuthError, AuthOutcome};

use crate::problem::Problem;
use crate::AppState;

/// The largest body a signed peer request may carry to berth's own API:
/// it is buffered to check its digest.
const MAX_PEER_BODY: usize = 1024 * 1024;

/// Runs `authenticate` on a request's head. Takes the head's parts, not
/// the request: a body is not `Sync`.
pub(crate) async fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Result<AuthOutcome, AuthError>, Problem> {
    state
        .identities()
        .authenticator()
        .authenticate_http(method, uri, headers)
        .await
        .map_err(|e| Problem::bad_request(e.to_string()).with_field(e.header()))
}

/// Authenticates a request's terminal cookie alone, for routes that only
/// ask "is this a paired browser?": a cookie does not depend on the method
/// or path, which only a peer's signature covers.
pub(crate) async fn authenticate_cookie(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Result<AuthOutcome, AuthError>, Problem> {
    authenticate(state, &Method::GET, &Uri::from_static("/"), headers).await
}

/// 401 for refused credentials, removing a refused cookie.
pub(crate) fn refused(state: &AppState, e: &AuthError) -> Response {
    if let AuthError::Store(cause) = e {
        return Problem::internal(cause).into_response();
    }
    let mut r = Problem::unauthorized(e.to_string()).into_response();
    if let Some(clear) = e.clear_cookie(state.cookie_domain()) {
        if let Ok(v) = HeaderValue::from_str(&clear) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

fn with_cookie(mut r: Response, set_cookie: Option<String>) -> Response {
    if let Some(v) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// In front of `/protected`: the owner token or a terminal.
pub(crate) async fn owner_only(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let mut auth_headers = req.headers().get_all(header::AUTHORIZATION).iter();
    match (auth_headers.next(), auth_headers.next()) {
        (Some(_), Some(_)) => {
            return Problem::bad_request("header `authorization` is sent more than once")
                .with_field("authorization")
                .into_response()
        }
        (Some(auth), None) => {
            let auth = auth.to_str().unwrap_or("");
            let token = auth.strip_prefix("Bearer ").unwrap_or("");
            return if !token.is_empty()
                && constant_time_eq::constant_time_eq(
                    token.as_bytes(),
                    state.owner_token().as_bytes(),
                ) {
                next.run(req).await
            } else {
                Problem::unauthorized("the bearer token is not the owner token").into_response()
            };
        }
        (None, _) => {}
    }
    let outcome = match authenticate(&state, req.method(), req.uri(), req.headers()).await {
        Err(p) => return p.into_response(),
        Ok(Err(e)) => return refused(&state, &e),
        Ok(Ok(o)) => o,
    };
    match outcome.caller {
        Caller::Terminal { .. } => with_cookie(next.run(req).await, outcome.set_cookie),
        Caller::Anonymous => {
            Problem::unauthorized("this route needs a paired terminal's cookie or the owner token")
                .into_response()
        }
        Caller::Peer { .. } => Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "peers may not use the owner's routes",
        )
        .into_response(),
    }
}

/// In front of `/peer`: a known peer's signed request with a matching body.
/// The caller is passed on to the handler as a request extension.
pub(crate) async fn peer_only(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let outcome = match authenticate(&state, req.method(), req.uri(), req.headers()).await {
        Err(p) => return p.into_response(),
        Ok(Err(e)) => return refused(&state, &e),
        Ok(Ok(o)) => o,
    };
    let (Caller::Peer { id }, Some(digest)) = (outcome.caller, outcome.body_digest) else {
        return Problem::unauthorized("this route needs a request signed by a known peer")
            .into_response();
    };
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PEER_BODY).await else {
        return Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload too large",
            "a signed request body may be at most 1 MiB",
        )
        .into_response();
    };
    if let Err(e) = digest.check(&bytes) {
        return Problem::unauthorized(e.to_string())
            .with_field("content-digest")
            .into_response();
    }
    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(PeerCaller(id.to_string()));
    next.run(req).await
}

/// The peer that signed the request, set by [`peer_only`].
#[derive(Debug, Clone)]
pub(crate) struct PeerCaller(pub String);

/// The client's address, when the server was started with connect info.
pub(crate) fn client_ip(
    req_ext: Option<axum::extract::ConnectInfo<SocketAddr>>,
) -> std::net::IpAddr {
    req_ext
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}
