//! The browser's way in: `/pair` (a form around the pairing API) and
//! `/.berth/handoff`, which carries a paired terminal's cookie to an app's
//! host with a one-time ticket (see `berth_identity::handoff`).
//!
//! Plain server-rendered forms with no script, so they work under the
//! strictest Content-Security-Policy and without JavaScript.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use berth_authz::gateway::{local_redirect_path, Caller};
use berth_identity::IdentityError;
use serde::Deserialize;

use crate::AppState;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Deserialize)]
pub(super) struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct PairForm {
    code: String,
    name: String,
    next: Option<String>,
}

/// `GET /pair`: the form, or a note that this browser is paired already.
pub(super) async fn form(
    State(state): State<AppState>,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Response {
    let next = local_redirect_path(q.next.as_deref());
    if is_terminal(&state, &headers).await {
        // A meta refresh, not a redirect from the form: Chromium applies
        // the form's `form-action` CSP to every redirect of its submission,
        // and the way on may lead to an app's host.
        let refresh = if next == "/" {
            String::new()
        } else {
            format!(
                "<meta http-equiv=\"refresh\" content=\"0;url={}\">",
                escape(next)
            )
        };
        return page(
            StatusCode::OK,
            "Paired",
            &format!(
                "{refresh}<p>This browser is paired with this berth.</p><p><a href=\"{}\">Continue</a></p>",
                escape(next)
            ),
        );
    }
    pair_form(StatusCode::OK, next, "", None)
}

/// `POST /pair`: pairs this browser with a code from the owner.
pub(super) async fn submit(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(f): Form<PairForm>,
) -> Response {
    let client = crate::owner_auth::client_ip(connect.map(|Extension(c)| c));
    let next = local_redirect_path(f.next.as_deref());
    match state
        .identities()
        .pair(client, &f.code, &f.name, None)
        .await
    {
        Ok((_row, cookie)) => {
            let back: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish();
            let mut r = see_other(&format!("/pair?{back}"));
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let (status, message) = match &e {
                IdentityError::InvalidCode => (
                    StatusCode::BAD_REQUEST,
                    "That code is not valid: it may be mistyped, used or expired.".to_owned(),
                ),
                IdentityError::RateLimited => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts. Wait a minute and try again.".to_owned(),
                ),
                IdentityError::Invalid { .. } => (StatusCode::BAD_REQUEST, e.to_string()),
                other => {
                    tracing::error!(error = %other, "pairing failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "berth could not pair this browser; see its log.".to_owned(),
                    )
                }
            };
            pair_form(status, next, &f.name, Some(&message))
        }
    }
}

/// `GET /.berth/handoff?next=<app URL>`: a paired browser is sent to the
/// app's host with a one-time ticket; any other browser is sent to pair,
/// and comes back here afterwards.
pub(super) async fn handoff(
    State(state): State<AppState>,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Response {
    let request_host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let Some(target) = q
        .next
        .as_deref()
        .and_then(|n| AppTarget::parse(n, state.identities().domain(), request_host))
    else {
        return page(
            StatusCode::BAD_REQUEST,
            "Not an app of this berth",
            "<p>The address to continue to is not an app of this berth.</p>",
        );
    };
    let token = headers
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| berth_identity::cookie::find_token(c).ok().flatten());
    match token {
        Some(token) if is_terminal(&state, &headers).await => {
            let ticket = state
                .identities()
                .authenticator()
                .issue_handoff(token, &target.authority);
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("ticket", &ticket)
                .append_pair("next", &target.path)
                .finish();
            see_other(&format!(
                "{}://{}/.berth/session?{query}",
                target.scheme, target.authority
            ))
        }
        _ => {
            let back: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &target.url)
                .finish();
            let pair: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("next", &format!("/.berth/handoff?{back}"))
                .finish();
            see_other(&format!("/pair?{pair}"))
        }
    }
}

/// An app URL on this berth: `http(s)://<label>.<domain>[:port]/path`,
/// with the port the request came in on.
struct AppTarget {
    url: String,
    scheme: String,
    authority: String,
    path: String,
}

impl AppTarget {
    fn parse(next: &str, domain: &str, request_host: &str) -> Option<Self> {
        let uri: axum::http::Uri = next.parse().ok()?;
        let scheme = uri.scheme_str().filter(|s| *s == "http" || *s == "https")?;
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let host = authority.host().to_ascii_lowercase();
        let label = host.strip_suffix(&format!(".{}", domain.to_ascii_lowercase()))?;
        let label_ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        let request_port = request_host.rsplit_once(':').map(|(_, p)| p);
        let port = authority.port_u16().map(|p| p.to_string());
        if !label_ok || port.as_deref() != request_port {
            return None;
        }
        Some(Self {
            url: next.to_owned(),
            scheme: scheme.to_owned(),
            authority: authority.as_str().to_ascii_lowercase(),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
        })
    }
}

async fn is_terminal(state: &AppState, headers: &HeaderMap) -> bool {
    let outcome = crate::owner_auth::authenticate_cookie(state, headers).await;
    matches!(outcome, Ok(Ok(o)) if matches!(o.caller, Caller::Terminal { .. }))
}

fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn pair_form(status: StatusCode, next: &str, name: &str, error: Option<&str>) -> Response {
    let error = error
        .map(|e| format!("<p role=\"alert\" class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let name = if name.is_empty() { "browser" } else { name };
    page(
        status,
        "Pair this browser",
        &format!(
            "<p>Ask the owner for a pairing code (<code>GET /protected/terminals/pairing-code</code>, or the home page on a paired device).</p>\
             {error}\
             <form method=\"post\" action=\"/pair\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\">\
             <label for=\"code\">Pairing code</label>\
             <input id=\"code\" name=\"code\" required autocomplete=\"one-time-code\" autofocus>\
             <label for=\"name\">Name of this device</label>\
             <input id=\"name\" name=\"name\" required maxlength=\"64\" value=\"{name}\">\
             <button type=\"submit\">Pair</button>\
             </form>",
            next = escape(next),
            name = escape(name),
        ),
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · berth</title><style>\
         body{{font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1d2733}}\
         label{{display:block;margin-top:1rem;font-weight:600}}\
         input{{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}}\
         button{{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}}\
         .error{{color:#a4161a}}</style></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>",
        title = escape(title),
    );
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_apps_of_this_domain_on_the_same_port_are_targets() {
        let t = AppTarget::parse(
            "http://web.localhost:8080/a?b=1",
            "localhost",
            "localhost:8080",
        )
        .expect("an app URL");
        assert_eq!(t.authority, "web.localhost:8080");
        assert_eq!(t.path, "/a?b=1");
        for bad in [
            "http://web.localhost:9999/",
            "http://web.evil.example:8080/",
            "http://localhost:8080/",
            "http://a.b.localhost:8080/",
            "javascript:alert(1)",
            "http://x@web.localhost:8080/",
            "ftp://web.localhost:8080/",
            "/relative",
        ] {
            assert!(
                AppTarget::parse(bad, "localhost", "localhost:8080").is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn escaping_covers_markup_and_attributes() {
        assert_eq!(
            escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
    }
}
