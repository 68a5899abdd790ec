//! `/api/v1/users`: accounts, the bootstrap admin, and application tokens.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use berth_authz::names::NamespaceName;
use berth_authz::portus_api::ApiTarget;
use berth_store::{NewUser, UserUpdate};
use serde::Deserialize;

use super::entities::{TokenEntity, UserEntity};
use super::{body, id, json, paginate, ApiError, ApiResult, Ctx, PageQuery};

/// Shortest password accepted (Portus's Devise default).
const MIN_PASSWORD_LEN: usize = 8;

#[derive(Deserialize)]
pub(super) struct UserBody {
    user: UserFields,
}

#[derive(Deserialize, Default)]
struct UserFields {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    display_name: Option<String>,
    bot: Option<bool>,
    admin: Option<bool>,
    enabled: Option<bool>,
}

#[derive(Deserialize)]
struct TokenBody {
    application: String,
}

fn new_user(fields: UserFields) -> Result<NewUser, ApiError> {
    let username = fields
        .username
        .ok_or(ApiError::Unprocessable("username", "can't be blank".into()))?;
    // Usernames become namespace names, so they follow the same grammar.
    NamespaceName::parse(&username)
        .map_err(|e| ApiError::Unprocessable("username", e.to_string()))?;
    let password = fields
        .password
        .ok_or(ApiError::Unprocessable("password", "can't be blank".into()))?;
    check_password(&password)?;
    let bot = fields.bot.unwrap_or(false);
    if !bot && fields.email.as_deref().is_none_or(|e| !e.contains('@')) {
        return Err(ApiError::Unprocessable("email", "is invalid".into()));
    }
    Ok(NewUser {
        username,
        email: fields.email,
        password,
        display_name: fields.display_name,
        admin: fields.admin.unwrap_or(false),
        bot,
    })
}

fn check_password(password: &str) -> Result<(), ApiError> {
    if password.len() < MIN_PASSWORD_LEN {
        return Err(ApiError::Unprocessable(
            "password",
            format!("is too short (minimum is {MIN_PASSWORD_LEN} characters)"),
        ));
    }
    Ok(())
}

/// `POST /api/v1/users/bootstrap`: the first admin and an application token
/// for it, only while no admin exists.
pub(super) async fn bootstrap(ctx: Ctx, bytes: Bytes) -> ApiResult {
    let fields = body::<UserBody>(&bytes)?.user;
    let new = new_user(fields)?;
    let Some(user) = ctx.store().bootstrap_admin(&new).await? else {
        return Err(ApiError::BadRequest(
            "you can only use this when there are no admins on the system".into(),
        ));
    };
    let (token, plain) = ctx
        .store()
        .create_application_token(user.id, "bootstrap")
        .await?;
    json(StatusCode::CREATED, TokenEntity::new(&token, Some(plain)))
}

pub(super) async fn list(ctx: Ctx, page: PageQuery) -> ApiResult {
    let users = ctx.store().users().await?;
    let entities: Vec<UserEntity> = users.iter().map(UserEntity::from).collect();
    Ok(paginate(entities, &page))
}

pub(super) async fn create(ctx: Ctx, bytes: Bytes) -> ApiResult {
    let new = new_user(body::<UserBody>(&bytes)?.user)?;
    let user = ctx.store().create_user(&new).await?;
    json(StatusCode::CREATED, UserEntity::from(&user))
}

pub(super) async fn show(ctx: Ctx, Path(key): Path<String>) -> ApiResult {
    let user = ctx
        .store()
        .user_by_id_or_email(&key)
        .await?
        .filter(|u| !u.service)
        .ok_or(ApiError::NotFound)?;
    json(StatusCode::OK, UserEntity::from(&user))
}

pub(super) async fn update(ctx: Ctx, Path(raw): Path<String>, bytes: Bytes) -> ApiResult {
    let fields = body::<UserBody>(&bytes)?.user;
    if fields.username.is_some() {
        return Err(ApiError::Unprocessable(
            "username",
            "cannot be changed: it names the personal namespace".into(),
        ));
    }
    if let Some(p) = &fields.password {
        check_password(p)?;
    }
    let update = UserUpdate {
        email: fields.email,
        password: fields.password,
        display_name: fields.display_name,
        admin: fields.admin,
        enabled: fields.enabled,
    };
    let user = ctx
        .store()
        .update_user(id(&raw)?, &update)
        .await?
        .ok_or(ApiError::NotFound)?;
    json(StatusCode::OK, UserEntity::from(&user))
}

pub(super) async fn destroy(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    if ctx.store().delete_user(id(&raw)?).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Looks the user in the path up and checks the route's grant (the user
/// themself, or an admin for a bot).
async fn target_user(ctx: &Ctx, raw: &str) -> Result<i64, ApiError> {
    let user = ctx.store().user(id(raw)?).await?.filter(|u| !u.service);
    // A missing user is a 403 for non-admins, so ids cannot be probed.
    let target = match &user {
        Some(u) => ApiTarget::User {
            id: u.id,
            bot: u.bot,
        },
        None => ApiTarget::None,
    };
    ctx.require(target)?;
    user.map(|u| u.id).ok_or(ApiError::NotFound)
}

pub(super) async fn tokens(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let user = target_user(&ctx, &raw).await?;
    let tokens = ctx.store().application_tokens(user).await?;
    let entities: Vec<TokenEntity> = tokens.iter().map(|t| TokenEntity::new(t, None)).collect();
    json(StatusCode::OK, entities)
}

pub(super) async fn create_token(ctx: Ctx, Path(raw): Path<String>, bytes: Bytes) -> ApiResult {
    let user = target_user(&ctx, &raw).await?;
    let application = body::<TokenBody>(&bytes)?.application;
    if application.is_empty() || application.len() > 100 {
        return Err(ApiError::Unprocessable("application", "is invalid".into()));
    }
    let (token, plain) = ctx
        .store()
        .create_application_token(user, &application)
        .await?;
    json(StatusCode::CREATED, TokenEntity::new(&token, Some(plain)))
}

pub(super) async fn destroy_token(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let token = ctx.store().application_token(id(&raw)?).await?;
    let target = match &token {
        Some(t) => ApiTarget::Token { owner: t.user_id },
        None => ApiTarget::None,
    };
    ctx.require(target)?;
    let token = token.ok_or(ApiError::NotFound)?;
    ctx.store().delete_application_token(token.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/users/{id}/refresh_tokens` (berth): the identity tokens docker
/// clients hold for this user; the secrets themselves are never shown.
pub(super) async fn refresh_tokens(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let user = target_user(&ctx, &raw).await?;
    let list = ctx.store().refresh_tokens(user).await?;
    let out: Vec<serde_json::Value> = list
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id,
                "client_id": t.client_id,
                "created_at": t.created_at,
                "revoked_at": t.revoked_at,
            })
        })
        .collect();
    json(StatusCode::OK, out)
}

pub(super) async fn revoke_refresh_token(
    ctx: Ctx,
    Path((raw, token)): Path<(String, String)>,
) -> ApiResult {
    let user = target_user(&ctx, &raw).await?;
    if ctx.store().revoke_refresh_token(user, id(&token)?).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound)
    }
}
