//! Phase: session. `/.berth/session?ticket=…&next=…` on an app's host turns
//! a one-time ticket from the core into a host-only terminal cookie, then
//! sends the browser on to `next`. The path is reserved on every app host:
//! it never reaches an app.

use http::{header, StatusCode};

use crate::body::BoxBody;
use crate::directory::Authenticator;
use crate::pages;
use berth_authz::gateway::local_redirect_path;

pub const SESSION_PATH: &str = "/.berth/session";

pub fn redeem(
    authenticator: &dyn Authenticator,
    parts: &http::request::Parts,
) -> http::Response<BoxBody> {
    let expired = || {
        pages::html(
            StatusCode::BAD_REQUEST,
            "sign-in link expired",
            "This sign-in link was already used or has expired. Open the app again.",
            None,
        )
    };
    let mut ticket = None;
    let mut next = None;
    for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()) {
        match &*k {
            "ticket" => ticket = Some(v.into_owned()),
            "next" => next = Some(v.into_owned()),
            _ => {}
        }
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let Some(cookie) = ticket.and_then(|t| authenticator.redeem_handoff(&t, host)) else {
        return expired();
    };
    let mut response = pages::redirect(local_redirect_path(next.as_deref()));
    *response.status_mut() = StatusCode::SEE_OTHER;
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}
