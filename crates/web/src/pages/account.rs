//! The visitor's credentials (application tokens, and the refresh tokens
//! `docker login` created) and, for admins, the users.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Extension;
use berth_authz::names::NamespaceName;
use berth_authz::portus_api::{ApiGrant, ApiTarget};
use berth_store::{NewUser, StoreError, UserUpdate, LOCK_MINUTES};

use super::{id, page_with, redirect, Layout, ListQuery, PageResult, Pages};
use crate::csrf::Posted;
use crate::error::WebError;
use crate::format::{Pager, When};
use crate::visitor::Visitor;
use crate::Web;

const MIN_PASSWORD_LEN: usize = 8;

struct TokenRow {
    id: i64,
    application: String,
    created: When,
}

struct RefreshRow {
    id: i64,
    client: String,
    created: When,
    last_used: Option<When>,
    revoked: Option<When>,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct Tokens {
    l: Layout,
    tokens: Vec<TokenRow>,
    tokens_pager: Pager,
    refresh: Vec<RefreshRow>,
    refresh_pager: Pager,
    /// A token just created: its secret, shown this once.
    created: Option<(String, String)>,
    error: Option<String>,
    username: String,
}

async fn render_tokens(
    web: &Web,
    v: &Visitor,
    pages: &Pages,
    created: Option<(String, String)>,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let user = v.user()?;
    let all = web.store().application_tokens(user.id).await?;
    let tokens_pager = Pager::named(
        "tokens",
        pages.of("tokens"),
        all.len() as i64,
        pages.keeping("/tokens?".into(), &["logins"]),
    );
    let tokens = tokens_pager
        .slice(&all)
        .iter()
        .map(|t| TokenRow {
            id: t.id,
            application: t.application.clone(),
            created: When::new(t.created_at),
        })
        .collect();
    let all = web.store().refresh_tokens(user.id).await?;
    let refresh_pager = Pager::named(
        "logins",
        pages.of("logins"),
        all.len() as i64,
        pages.keeping("/tokens?".into(), &["tokens"]),
    );
    let refresh = refresh_pager
        .slice(&all)
        .iter()
        .map(|t| RefreshRow {
            id: t.id,
            client: t.client_id.clone(),
            created: When::new(t.created_at),
            last_used: When::opt(t.last_used_at),
            revoked: When::opt(t.revoked_at),
        })
        .collect();
    page_with(
        status,
        &Tokens {
            l: Layout::new(v, "Tokens", "tokens"),
            tokens,
            tokens_pager,
            refresh,
            refresh_pager,
            created,
            error,
            username: user.username.clone(),
        },
    )
}

pub(super) async fn tokens(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Query(pages): Query<Pages>,
) -> PageResult {
    render_tokens(&web, &v, &pages, None, None, StatusCode::OK).await
}

pub(super) async fn create_token(State(web): State<Web>, form: Posted) -> PageResult {
    let v = &form.visitor;
    let user = v.user()?;
    let application = form.get("application");
    if application.is_empty() || application.len() > 100 {
        let e = "Application: must be 1 to 100 characters".to_owned();
        return render_tokens(
            &web,
            v,
            &Pages::default(),
            None,
            Some(e),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match v.store.create_application_token(user.id, application).await {
        Ok((t, plain)) => {
            render_tokens(
                &web,
                v,
                &Pages::default(),
                Some((t.application, plain)),
                None,
                StatusCode::CREATED,
            )
            .await
        }
        Err(StoreError::Rule(rule)) | Err(StoreError::Conflict(rule)) => {
            let e = format!("Application: {rule}");
            render_tokens(
                &web,
                v,
                &Pages::default(),
                None,
                Some(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn revoke_token(
    State(web): State<Web>,
    Path(raw): Path<String>,
    form: Posted,
) -> PageResult {
    let v = &form.visitor;
    v.user()?;
    let token = web.store().application_token(id(&raw)?).await?;
    let target = token
        .as_ref()
        .map_or(ApiTarget::None, |t| ApiTarget::Token { owner: t.user_id });
    // Someone else's token does not exist for this visitor.
    if token.is_none() || !v.allows(&web, ApiGrant::TokenOwner, target) {
        return Err(WebError::NotFound);
    }
    v.store.delete_application_token(id(&raw)?).await?;
    redirect("/tokens")
}

pub(super) async fn revoke_refresh(
    State(_web): State<Web>,
    Path(raw): Path<String>,
    form: Posted,
) -> PageResult {
    let v = &form.visitor;
    let user = v.user()?;
    // Scoped to the visitor's own tokens by the query itself.
    if !v.store.revoke_refresh_token(user.id, id(&raw)?).await? {
        return Err(WebError::NotFound);
    }
    redirect("/tokens")
}

struct UserRow {
    id: i64,
    username: String,
    email: String,
    admin: bool,
    enabled: bool,
    bot: bool,
    locked: bool,
    last_sign_in: Option<When>,
}

#[derive(Template)]
#[template(path = "users.html")]
struct Users {
    l: Layout,
    users: Vec<UserRow>,
    pager: Pager,
    error: Option<String>,
    me: i64,
}

async fn render_users(
    web: &Web,
    v: &Visitor,
    page_no: Option<i64>,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    v.require(web, ApiGrant::Admin, ApiTarget::None)?;
    let all: Vec<_> = web
        .store()
        .users()
        .await?
        .into_iter()
        .filter(|u| !u.service)
        .collect();
    let pager = Pager::new(page_no, all.len() as i64, "/users?".into());
    let now = chrono::Utc::now();
    let users = pager
        .slice(&all)
        .iter()
        .map(|u| UserRow {
            id: u.id,
            username: u.username.clone(),
            email: u.email.clone().unwrap_or_default(),
            admin: u.admin,
            enabled: u.enabled,
            bot: u.bot,
            locked: u
                .locked_at
                .is_some_and(|t| now - t < chrono::Duration::minutes(LOCK_MINUTES)),
            last_sign_in: When::opt(u.current_sign_in_at),
        })
        .collect();
    page_with(
        status,
        &Users {
            l: Layout::new(v, "Users", "users"),
            users,
            pager,
            error,
            me: v.user()?.id,
        },
    )
}

pub(super) async fn users(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    render_users(&web, &v, q.page, None, StatusCode::OK).await
}

/// Checks a new account's fields as the API does.
pub(crate) fn new_user(form: &Posted, admin: bool) -> Result<NewUser, String> {
    let username = form.get("username");
    NamespaceName::parse(username).map_err(|e| format!("Username: {e}"))?;
    let email = form.get("email");
    if !email.contains('@') {
        return Err("Email: is invalid".to_owned());
    }
    let password = form.raw("password");
    if password.len() < MIN_PASSWORD_LEN {
        return Err(format!(
            "Password: is too short (minimum is {MIN_PASSWORD_LEN} characters)"
        ));
    }
    Ok(NewUser {
        username: username.to_owned(),
        email: Some(email.to_owned()),
        password: password.to_owned(),
        display_name: None,
        admin,
        bot: false,
    })
}

pub(super) async fn create_user(State(web): State<Web>, form: Posted) -> PageResult {
    let v = &form.visitor;
    v.require(&web, ApiGrant::Admin, ApiTarget::None)?;
    let error = match new_user(&form, form.checked("admin")) {
        Err(e) => e,
        Ok(new) => match v.store.create_user(&new).await {
            Ok(_) => return redirect("/users"),
            Err(StoreError::Conflict(field)) => format!("{field}: has already been taken"),
            Err(e) => return Err(e.into()),
        },
    };
    render_users(&web, v, None, Some(error), StatusCode::UNPROCESSABLE_ENTITY).await
}

async fn update_user(web: &Web, v: &Visitor, raw: &str, update: UserUpdate) -> PageResult {
    v.require(web, ApiGrant::Admin, ApiTarget::None)?;
    let uid = id(raw)?;
    let target = web
        .store()
        .user(uid)
        .await?
        .filter(|u| !u.service)
        .ok_or(WebError::NotFound)?;
    let disabling = update.enabled == Some(false);
    match v.store.update_user(target.id, &update).await {
        Ok(_) => {
            if disabling {
                v.store.delete_web_sessions_of(target.id).await?;
            }
            redirect("/users")
        }
        Err(StoreError::Rule(rule)) => {
            render_users(
                web,
                v,
                None,
                Some(rule.to_owned()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn set_enabled(
    State(web): State<Web>,
    Path(raw): Path<String>,
    form: Posted,
) -> PageResult {
    let update = UserUpdate {
        enabled: Some(form.get("enabled") == "true"),
        ..UserUpdate::default()
    };
    update_user(&web, &form.visitor, &raw, update).await
}

pub(super) async fn make_admin(
    State(web): State<Web>,
    Path(raw): Path<String>,
    form: Posted,
) -> PageResult {
    let update = UserUpdate {
        admin: Some(form.get("admin") == "true"),
        ..UserUpdate::default()
    };
    update_user(&web, &form.visitor, &raw, update).await
}
