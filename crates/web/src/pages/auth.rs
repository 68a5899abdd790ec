//! Sign in and sign out of the registry's pages.
//!
//! Sign-in checks the password through the store, so the lockout of the
//! token endpoint applies here too (ten failures lock the account), and a
//! per-address and per-username limiter bounds the attempts before that.
//! Every refusal reads the same, so nothing tells which usernames exist.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::PoisonError;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Extension;
use berth_store::PasswordLogin;

use super::{page, page_with, redirect, Layout, PageResult};
use crate::csrf::{random_secret, Posted};
use crate::visitor::{set_cookie, Visitor, SESSION_COOKIE};
use crate::{Web, SESSION_IDLE_HOURS};

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignIn {
    l: Layout,
    username: String,
    error: Option<&'static str>,
}

pub(super) async fn form(Extension(v): Extension<Visitor>) -> PageResult {
    if v.signed_in {
        return redirect("/");
    }
    page(&SignIn {
        l: Layout::new(&v, "Sign in", "sign-in"),
        username: String::new(),
        error: None,
    })
}

pub(super) async fn sign_in(
    State(web): State<Web>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    form: Posted,
) -> PageResult {
    let username = form.get("username").to_owned();
    let password = form.raw("password");
    let address = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0 .0.ip());
    let allowed = web
        .inner
        .sign_in
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .attempt(address, &username, std::time::Instant::now());
    let refuse = |status: StatusCode, error: &'static str| {
        page_with(
            status,
            &SignIn {
                l: Layout::new(&form.visitor, "Sign in", "sign-in"),
                username: username.clone(),
                error: Some(error),
            },
        )
    };
    if !allowed {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts. Wait a minute and try again.",
        );
    }
    let user = match web.store().login_password(&username, password).await? {
        PasswordLogin::Ok(u) if !u.bot && !u.service => u,
        PasswordLogin::Ok(_) | PasswordLogin::Refused => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "Wrong username or password, or the account is disabled or locked.",
            )
        }
    };
    let id = random_secret();
    web.store()
        .create_web_session(&id, user.id, chrono::Duration::hours(SESSION_IDLE_HOURS))
        .await?;
    tracing::info!(user = %user.username, "web sign-in");
    let mut r = redirect("/")?;
    if let Ok(c) = HeaderValue::from_str(&set_cookie(&web, SESSION_COOKIE, &id, None)) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(r)
}

pub(super) async fn sign_out(State(web): State<Web>, form: Posted) -> PageResult {
    if let Some(id) = &form.visitor.session {
        web.store().delete_web_session(id).await?;
    }
    let mut r = redirect("/")?.into_response();
    if let Ok(c) = HeaderValue::from_str(&set_cookie(&web, SESSION_COOKIE, "", Some(0))) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(r)
}
