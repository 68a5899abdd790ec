//! `http://portal_core/internal/…`: an app's calls to the same app on its
//! peers, signed by this berth, for apps granted `peers:call`.
//!
//! - `GET /internal/peers`: the peers (id, short id, name, whether their
//!   apps can be called);
//! - `ANY /internal/call_peer/{peer id}/{path}`: the request, with its
//!   method, query, end-to-end headers and body, goes to
//!   `<app>.<peer domain>/{path}` signed as this berth's default identity
//!   (`httpsig`), and the peer's answer comes back as it is, streamed.
//!
//! The app is the one at the request's source address (`apps::caller`);
//! it can only ever reach its own namesake on a peer, and the peer's
//! gateway decides from there, by the path's access, like for any caller.
//! The body is read whole first (its digest is signed), up to
//! [`MAX_BODY`]. Redirects are handed back, not followed: the app decides
//! where it goes next.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use berth_authz::core_api::CoreCaller;
use berth_identity::httpsig::Target;
use berth_identity::peer_url::{is_localhost_name, PeerUrl};
use berth_identity::IdentityError;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::apps::{authorize, Listener, Peer, Route};
use crate::problem::Problem;
use crate::AppState;

/// The largest request body an app may send a peer: it is held whole to
/// be signed.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;
const PREFIX: &str = "/internal/call_peer/";

/// The app calling, or the problem to answer.
async fn calling_app(
    state: &AppState,
    listener: Listener,
    peer: &Peer,
    headers: &HeaderMap,
) -> Result<String, Problem> {
    let (_, caller) = authorize(state, listener, peer, headers, &Route::PeersCall).await?;
    match caller {
        CoreCaller::App { name, .. } => Ok(name),
        CoreCaller::Owner => Err(Problem::forbidden(
            "only an app calls its peers: the call goes to the same app there",
        )),
    }
}

pub(super) async fn peers(
    State(state): State<AppState>,
    Extension(listener): Extension<Listener>,
    peer: Peer,
    headers: HeaderMap,
) -> Response {
    if let Err(p) = calling_app(&state, listener, &peer, &headers).await {
        return p.into_response();
    }
    match state.identities().peers().await {
        Ok(rows) => Json(
            rows.into_iter()
                .map(|r| {
                    serde_json::json!({
                        "short_id": berth_identity::key::short_id(&r.id),
                        "id": r.id,
                        "name": r.name,
                        "callable": r.url.is_some(),
                    })
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => Problem::internal(&e).into_response(),
    }
}

pub(super) async fn call(
    State(state): State<AppState>,
    Extension(listener): Extension<Listener>,
    peer: Peer,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match call_inner(&state, listener, &peer, method, &uri, &headers, body).await {
        Ok(r) | Err(r) => r,
    }
}

async fn call_inner(
    state: &AppState,
    listener: Listener,
    peer: &Peer,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Response> {
    let app = calling_app(state, listener, peer, headers)
        .await
        .map_err(IntoResponse::into_response)?;
    // The raw path, not a decoded one: what is signed is what is sent.
    let rest = uri.path().strip_prefix(PREFIX).unwrap_or_default();
    let (peer_id, path) = match rest.split_once('/') {
        Some((id, path)) => (id, format!("/{path}")),
        None => (rest, "/".to_owned()),
    };
    let row = state
        .identities()
        .peer(peer_id)
        .await
        .map_err(|e| match e {
            IdentityError::NotFound { .. } => {
                Problem::not_found(format!("`{peer_id}` is not a known peer"))
                    .with_field("peer")
                    .into_response()
            }
            other => Problem::internal(&other).into_response(),
        })?;
    let url = row
        .url
        .as_deref()
        .and_then(|u| PeerUrl::parse(u).ok())
        .ok_or_else(|| {
            Problem::conflict(format!(
                "peer `{}` has no URL: the owner sets one with PUT /protected/peers",
                row.name
            ))
            .with_field("peer")
            .into_response()
        })?;
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload too large",
            format!("a call to a peer carries at most {MAX_BODY} bytes"),
        )
        .into_response()
    };
    // Refused before a byte of it is read, when its length says so.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                too_large()
            } else {
                Problem::bad_request("the request body broke off").into_response()
            }
        })?
        .to_bytes();
    let authority = url.app_authority(&app);
    let target = Target {
        method: method.as_str(),
        authority: &authority,
        path: &path,
        query: uri.query(),
    };
    let signed = state
        .identities()
        .sign_for_peer(&target, &body)
        .ok_or_else(|| Problem::internal(&"no default identity").into_response())?;
    let mut to = format!("{}{path}", url.app_origin(&app));
    if let Some(q) = uri.query() {
        to.push('?');
        to.push_str(q);
    }
    let mut out = forwarded_headers(headers);
    // Set, not appended: whatever the app sent under these names is gone.
    for (name, value) in [
        ("signature-input", signed.signature_input),
        ("signature", signed.signature),
        ("content-digest", signed.content_digest),
    ] {
        if let Ok(value) = value.parse() {
            out.insert(HeaderName::from_static(name), value);
        }
    }
    tracing::info!(%app, peer = %row.name, %method, %path, "app calls its peer");
    let answer = peer_client()
        .map_err(IntoResponse::into_response)?
        .request(method, &to)
        .headers(out)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            Problem::new(
                StatusCode::BAD_GATEWAY,
                "bad gateway",
                format!("peer `{}` did not answer: {e}", row.name),
            )
            .with_field("peer")
            .into_response()
        })?;
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !is_hop_by_hop(name) {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .map_err(|e| Problem::internal(&e).into_response())
}

/// The app's end-to-end headers, without what the hop to the peer sets
/// itself (`Host`, length, signature) or must not carry there: cookies
/// and forwarding or identity headers are this berth's business.
fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        let dropped = is_hop_by_hop(name)
            || name == header::HOST
            || name == header::CONTENT_LENGTH
            || name == header::COOKIE
            || name == header::AUTHORIZATION
            || matches!(n, "signature" | "signature-input" | "content-digest")
            || n.starts_with("x-forwarded-")
            || n.starts_with("x-ptl-");
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// One client for every call: no redirects, bounded waits, and
/// `*.localhost` on loopback (two berths on one machine peer that way).
/// Never a default client in its place: that one follows redirects.
fn peer_client() -> Result<&'static reqwest::Client, Problem> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(5))
                .read_timeout(Duration::from_secs(60))
                .dns_resolver(Arc::new(LocalhostOnLoopback))
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Problem::internal(&format!("the HTTP client for peers: {e}")))
}

/// Names under `localhost` resolve to loopback, as in browsers and curl
/// (RFC 6761); anything else goes to the system's resolver.
struct LocalhostOnLoopback;

impl reqwest::dns::Resolve for LocalhostOnLoopback {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = if is_localhost_name(&host) {
                vec![
                    SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                    SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
                ]
            } else {
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            };
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_end_to_end_headers_of_the_app_travel() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("content-type", "application/json"),
            ("accept", "*/*"),
            ("x-app-thing", "1"),
            ("host", "portal_core"),
            ("content-length", "5"),
            ("cookie", "a=b"),
            ("authorization", "Bearer owner"),
            ("connection", "close"),
            ("signature", "forged"),
            ("signature-input", "forged"),
            ("content-digest", "forged"),
            ("x-forwarded-for", "1.2.3.4"),
            ("x-ptl-client-id", "someone"),
        ] {
            h.append(HeaderName::from_static(n), v.parse().unwrap());
        }
        let out = forwarded_headers(&h);
        let mut kept: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        kept.sort_unstable();
        assert_eq!(kept, ["accept", "content-type", "x-app-thing"]);
    }
}
