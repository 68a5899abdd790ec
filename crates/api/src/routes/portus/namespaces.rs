//! `/api/v1/namespaces`: team namespaces, visibility changes, validation.
//!
//! Every answer about what the caller may do comes from `authz` (the
//! registry policy through `decide_api`), so the `permissions` field and the
//! token endpoint agree.

use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use berth_authz::names::NamespaceName;
use berth_authz::policy::Visibility;
use berth_authz::portus_api::{ApiGrant, ApiTarget};
use berth_store::{Namespace, NamespaceUpdate};
use serde::Deserialize;

use super::entities::{NamespaceEntity, Permissions, RepositoryEntity};
use super::{body, id, json, paginate, ApiError, ApiResult, Ctx, PageQuery};

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    team: String,
    description: Option<String>,
    visibility: Option<String>,
}

#[derive(Deserialize)]
struct UpdateBody {
    namespace: UpdateFields,
}

#[derive(Deserialize)]
struct UpdateFields {
    name: Option<String>,
    description: Option<String>,
    team: Option<String>,
    visibility: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ValidateQuery {
    name: Option<String>,
}

fn parse_visibility(v: &str) -> Result<Visibility, ApiError> {
    match v {
        "private" => Ok(Visibility::Private),
        "protected" => Ok(Visibility::Protected),
        "public" => Ok(Visibility::Public),
        _ => Err(ApiError::Unprocessable(
            "visibility",
            "is not included in the list".into(),
        )),
    }
}

fn parse_name(name: &str) -> Result<(), ApiError> {
    NamespaceName::parse(name)
        .map(|_| ())
        .map_err(|e| ApiError::Unprocessable("name", e.to_string()))
}

/// The policy target of `n` for the caller.
pub(super) async fn target(ctx: &Ctx, n: &Namespace) -> Result<ApiTarget, ApiError> {
    let role = match &ctx.caller {
        Some(u) => ctx.store().team_role(n.team_id, u.id).await?,
        None => None,
    };
    Ok(n.facts(role).map_or(ApiTarget::None, ApiTarget::Namespace))
}

pub(super) async fn namespace_entity(
    ctx: &Ctx,
    n: &Namespace,
) -> Result<NamespaceEntity, ApiError> {
    let t = target(ctx, n).await?;
    let permissions = Permissions {
        pull: ctx.allows(ApiGrant::Pull, t),
        push: ctx.allows(ApiGrant::Push, t),
        delete: ctx.allows(ApiGrant::Delete, t),
        change_visibility: ctx.allows(ApiGrant::NamespaceOwner, t),
    };
    Ok(NamespaceEntity::new(n, permissions))
}

/// The namespace `raw` after checking the route's grant on it.
pub(super) async fn load(ctx: &Ctx, raw: &str) -> Result<Namespace, ApiError> {
    let n = ctx.store().namespace(id(raw)?).await?;
    let t = match &n {
        Some(n) => target(ctx, n).await?,
        None => ApiTarget::None,
    };
    ctx.require(t)?;
    n.ok_or(ApiError::NotFound)
}

/// The visible team named `name` with the caller's role in it.
async fn team_target(ctx: &Ctx, name: &str) -> Result<(i64, ApiTarget), ApiError> {
    let team = ctx.store().team_by_name(name).await?.filter(|t| !t.hidden);
    let Some(team) = team else {
        // Checked before saying the team is missing, so names cannot be probed.
        ctx.require(ApiTarget::None)?;
        return Err(ApiError::Unprocessable("team", "does not exist".into()));
    };
    let role = ctx.store().team_role(team.id, ctx.user()?.id).await?;
    Ok((team.id, ApiTarget::Team { caller_role: role }))
}

pub(super) async fn list(ctx: Ctx, page: PageQuery) -> ApiResult {
    let mut out = Vec::new();
    for n in ctx.store().namespaces().await? {
        let e = namespace_entity(&ctx, &n).await?;
        if ctx.allows(ApiGrant::Pull, target(&ctx, &n).await?) {
            out.push(e);
        }
    }
    Ok(paginate(out, &page))
}

pub(super) async fn validate(ctx: Ctx, Query(q): Query<ValidateQuery>) -> ApiResult {
    let name = q.name.unwrap_or_default();
    let mut messages = Vec::new();
    if let Err(e) = NamespaceName::parse(&name) {
        messages.push(e.to_string());
    } else if ctx.store().namespace_by_name(&name).await?.is_some() {
        messages.push("has already been taken".to_owned());
    }
    json(
        StatusCode::OK,
        serde_json::json!({"valid": messages.is_empty(), "messages": {"name": messages}}),
    )
}

pub(super) async fn create(ctx: Ctx, bytes: Bytes) -> ApiResult {
    let b: CreateBody = body(&bytes)?;
    let (team, t) = team_target(&ctx, &b.team).await?;
    ctx.require(t)?;
    parse_name(&b.name)?;
    let visibility = match &b.visibility {
        Some(v) => parse_visibility(v)?,
        None => Visibility::Private,
    };
    let n = ctx
        .store()
        .create_namespace(&b.name, team, b.description.as_deref(), visibility)
        .await?;
    json(StatusCode::CREATED, namespace_entity(&ctx, &n).await?)
}

pub(super) async fn show(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let n = load(&ctx, &raw).await?;
    json(StatusCode::OK, namespace_entity(&ctx, &n).await?)
}

pub(super) async fn update(ctx: Ctx, Path(raw): Path<String>, bytes: Bytes) -> ApiResult {
    let n = load(&ctx, &raw).await?;
    let f = body::<UpdateBody>(&bytes)?.namespace;
    if let Some(name) = &f.name {
        parse_name(name)?;
    }
    let team_id = match &f.team {
        Some(team) => {
            // Moving a namespace into a team needs the right to create there.
            let (team, t) = team_target(&ctx, team).await?;
            ctx.require_grant(ApiGrant::NamespaceCreate, t)?;
            Some(team)
        }
        None => None,
    };
    let update = NamespaceUpdate {
        name: f.name,
        description: f.description,
        team_id,
        visibility: f.visibility.as_deref().map(parse_visibility).transpose()?,
    };
    let n = ctx
        .store()
        .update_namespace(n.id, &update)
        .await?
        .ok_or(ApiError::NotFound)?;
    json(StatusCode::OK, namespace_entity(&ctx, &n).await?)
}

pub(super) async fn destroy(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let n = load(&ctx, &raw).await?;
    if n.kind != "team" {
        return Err(ApiError::Unprocessable(
            "base",
            "personal and global namespaces cannot be deleted".into(),
        ));
    }
    ctx.store().delete_namespace(n.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn repositories(ctx: Ctx, Path(raw): Path<String>, page: PageQuery) -> ApiResult {
    let n = load(&ctx, &raw).await?;
    let host = super::repositories::registry_hostname(&ctx).await?;
    let destroyable = ctx.allows(ApiGrant::Delete, target(&ctx, &n).await?);
    let repos = ctx.store().repositories(Some(n.id)).await?;
    let out: Vec<RepositoryEntity> = repos
        .iter()
        .map(|r| RepositoryEntity::new(r, &host, None, destroyable))
        .collect();
    Ok(paginate(out, &page))
}
