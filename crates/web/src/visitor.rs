//! Who is at the browser: a registry user by session cookie, the owner by
//! paired-terminal cookie (acting on the registry pages as the oldest
//! enabled admin unless signed in as someone), or an anonymous visitor.
//!
//! The middleware here runs before every page: it resolves the visitor,
//! refuses cross-site state-changing requests (Origin and Sec-Fetch-Site),
//! and adds the security headers and any cookie the visit sets.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_authz::gateway::Caller;
use berth_authz::portus_api::{decide_api, ApiCaller, ApiGrant, ApiTarget, ApiVerdict};
use berth_store::User;

use crate::csrf;
use crate::error::WebError;
use crate::Web;

pub(crate) const SESSION_COOKIE: &str = "berth_session";
pub(crate) const CSRF_COOKIE: &str = "berth_csrf";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The visitor of one request, put into its extensions by [`middleware`].
#[derive(Clone, Debug)]
pub(crate) struct Visitor {
    /// The registry account the visitor acts as.
    pub user: Option<User>,
    /// The account comes from a sign-in (not from the owner's terminal).
    pub signed_in: bool,
    /// A paired terminal: the owner.
    pub owner: bool,
    /// This visitor's CSRF token for forms.
    pub csrf: String,
    /// The session cookie's secret, to log out.
    pub session: Option<String>,
    /// The store acting as this visitor: changes made through it are
    /// recorded in the audit log with the visitor's name and address.
    pub store: berth_store::Store,
}

impl Visitor {
    pub fn api_caller(&self) -> ApiCaller {
        match &self.user {
            None => ApiCaller::Anonymous,
            Some(u) => ApiCaller::User {
                id: u.id,
                admin: u.admin,
                bot: u.bot,
            },
        }
    }

    /// Whether the Portus API would allow `grant` on `target` for this visitor.
    pub fn allows(&self, web: &Web, grant: ApiGrant, target: ApiTarget) -> bool {
        decide_api(grant, self.api_caller(), target, &web.policy()) == ApiVerdict::Allowed
    }

    /// Like [`Visitor::allows`], as the error a page answers: anonymous
    /// visitors are sent to sign in, others get 403.
    pub fn require(&self, web: &Web, grant: ApiGrant, target: ApiTarget) -> Result<(), WebError> {
        match decide_api(grant, self.api_caller(), target, &web.policy()) {
            ApiVerdict::Allowed => Ok(()),
            ApiVerdict::Unauthenticated => Err(WebError::SignIn),
            ApiVerdict::Forbidden => Err(WebError::Forbidden),
        }
    }

    /// The acting user, or a redirect to sign in.
    pub fn user(&self) -> Result<&User, WebError> {
        self.user.as_ref().ok_or(WebError::SignIn)
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.admin && !u.bot)
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for one of the UI's cookies.
pub(crate) fn set_cookie(web: &Web, name: &str, value: &str, max_age: Option<i64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if web.secure_cookies() {
        c.push_str("; Secure");
    }
    c
}

/// A state-changing request must come from a page of this origin: a
/// browser says so in `Sec-Fetch-Site`, and `Origin` must name this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if let Some(site) = site {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

pub(crate) async fn middleware(State(web): State<Web>, mut req: Request, next: Next) -> Response {
    let mut set_cookies: Vec<String> = Vec::new();
    let state_changing = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if state_changing && !same_origin(req.headers()) {
        return secure(WebError::CrossSite.into_response(), set_cookies);
    }
    let head = (
        req.method().clone(),
        req.uri().clone(),
        req.headers().clone(),
    );
    let addr = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let visitor = match resolve(&web, &head, addr, &mut set_cookies).await {
        Ok(v) => v,
        Err(e) => return secure(e.into_response(), set_cookies),
    };
    req.extensions_mut().insert(visitor);
    let response = next.run(req).await;
    secure(response, set_cookies)
}

async fn resolve(
    web: &Web,
    (method, uri, headers): &(Method, axum::http::Uri, HeaderMap),
    addr: Option<String>,
    set_cookies: &mut Vec<String>,
) -> Result<Visitor, WebError> {
    let idle = chrono::Duration::hours(crate::SESSION_IDLE_HOURS);
    let mut session = None;
    let mut session_user = None;
    if let Some(id) = cookie(headers, SESSION_COOKIE).filter(|v| csrf::well_formed(v)) {
        match web.store().touch_web_session(id, idle).await? {
            Some(s) => {
                session = Some(id.to_owned());
                session_user = Some(s.user);
            }
            None => set_cookies.push(set_cookie(web, SESSION_COOKIE, "", Some(0))),
        }
    }
    let owner = match web
        .identities()
        .authenticator()
        .authenticate_http(method, uri, headers)
        .await
    {
        Ok(Ok(outcome)) => {
            if let Some(c) = outcome.set_cookie {
                set_cookies.push(c);
            }
            matches!(outcome.caller, Caller::Terminal { .. })
        }
        Ok(Err(e)) => {
            if let Some(c) = e.clear_cookie(web.identities().authenticator().cookie_domain()) {
                set_cookies.push(c);
            }
            false
        }
        Err(_) => false,
    };
    let signed_in = session_user.is_some();
    let user = match session_user {
        Some(u) => Some(u),
        None if owner => web.store().oldest_enabled_admin().await?,
        None => None,
    };
    let csrf = match &session {
        Some(id) => csrf::token_for("session", id),
        None => {
            let seed = match cookie(headers, CSRF_COOKIE).filter(|v| csrf::well_formed(v)) {
                Some(seed) => seed.to_owned(),
                None => {
                    let seed = csrf::random_secret();
                    set_cookies.push(set_cookie(web, CSRF_COOKIE, &seed, None));
                    seed
                }
            };
            csrf::token_for("visitor", &seed)
        }
    };
    let store = web.store().acting_as(berth_store::Actor {
        user_id: user.as_ref().map(|u| u.id),
        name: user.as_ref().map(|u| u.username.clone()),
        addr,
    });
    Ok(Visitor {
        user,
        signed_in,
        owner,
        csrf,
        session,
        store,
    })
}

/// Adds the security headers and the visit's cookies to a page's response.
fn secure(mut response: Response, set_cookies: Vec<String>) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    for c in set_cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn cross_site_posts_are_refused_and_same_origin_ones_pass() {
        assert!(same_origin(&headers(&[("host", "localhost:8080")])));
        assert!(same_origin(&headers(&[
            ("host", "localhost:8080"),
            ("origin", "http://localhost:8080"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "localhost:8080"),
            ("origin", "http://evil.example"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "localhost:8080"),
            ("sec-fetch-site", "cross-site"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "localhost:8080"),
            ("sec-fetch-site", "same-site"),
        ])));
        // An app at app.localhost is another origin, even on the same site.
        assert!(!same_origin(&headers(&[
            ("host", "localhost:8080"),
            ("origin", "http://app.localhost:8080"),
        ])));
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let h = headers(&[("cookie", "berth_session_x=1; berth_session=abc; other=2")]);
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}
