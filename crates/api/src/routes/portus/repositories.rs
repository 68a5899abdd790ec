//! `/api/v1/repositories` and `/api/v1/tags`: what the registry holds, as
//! recorded by the sync; visible to whoever the policy lets pull.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use berth_authz::portus_api::{ApiGrant, ApiTarget};
use berth_store::Repository;
use serde::Deserialize;

use super::entities::{RepositoryEntity, TagEntity};
use super::namespaces::target;
use super::{body, id, json, paginate, ApiError, ApiResult, Ctx, PageQuery};

#[derive(Deserialize)]
struct UpdateBody {
    repository: UpdateFields,
}

#[derive(Deserialize)]
struct UpdateFields {
    description: Option<String>,
}

/// The registry's hostname as clients pull from it.
pub(super) async fn registry_hostname(ctx: &Ctx) -> Result<String, ApiError> {
    Ok(ctx
        .store()
        .registries()
        .await?
        .into_iter()
        .next()
        .map(|r| r.external_hostname.unwrap_or(r.hostname))
        .unwrap_or_default())
}

/// The policy target of the namespace holding repository `r`.
async fn repo_target(ctx: &Ctx, r: &Repository) -> Result<ApiTarget, ApiError> {
    match ctx.store().namespace(r.namespace_id).await? {
        Some(n) => target(ctx, &n).await,
        None => Ok(ApiTarget::None),
    }
}

/// Repository `raw` after checking the route's grant on its namespace.
async fn load(ctx: &Ctx, raw: &str) -> Result<(Repository, ApiTarget), ApiError> {
    let r = ctx.store().repository(id(raw)?).await?;
    let t = match &r {
        Some(r) => repo_target(ctx, r).await?,
        None => ApiTarget::None,
    };
    ctx.require(t)?;
    Ok((r.ok_or(ApiError::NotFound)?, t))
}

pub(super) async fn list(ctx: Ctx, page: PageQuery) -> ApiResult {
    let host = registry_hostname(&ctx).await?;
    let mut out = Vec::new();
    for r in ctx.store().repositories(None).await? {
        let t = repo_target(&ctx, &r).await?;
        if ctx.allows(ApiGrant::Pull, t) {
            out.push(RepositoryEntity::new(
                &r,
                &host,
                None,
                ctx.allows(ApiGrant::Delete, t),
            ));
        }
    }
    Ok(paginate(out, &page))
}

pub(super) async fn show(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let (r, t) = load(&ctx, &raw).await?;
    let host = registry_hostname(&ctx).await?;
    let tags: Vec<TagEntity> = ctx
        .store()
        .tags(Some(r.id))
        .await?
        .iter()
        .map(TagEntity::from)
        .collect();
    json(
        StatusCode::OK,
        RepositoryEntity::new(&r, &host, Some(tags), ctx.allows(ApiGrant::Delete, t)),
    )
}

pub(super) async fn update(ctx: Ctx, Path(raw): Path<String>, bytes: Bytes) -> ApiResult {
    let (r, t) = load(&ctx, &raw).await?;
    let f = body::<UpdateBody>(&bytes)?.repository;
    if let Some(d) = &f.description {
        ctx.store().update_repository_description(r.id, d).await?;
    }
    let r = ctx
        .store()
        .repository(r.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let host = registry_hostname(&ctx).await?;
    json(
        StatusCode::OK,
        RepositoryEntity::new(&r, &host, None, ctx.allows(ApiGrant::Delete, t)),
    )
}

pub(super) async fn tags(ctx: Ctx, Path(raw): Path<String>, page: PageQuery) -> ApiResult {
    let (r, _) = load(&ctx, &raw).await?;
    let tags: Vec<TagEntity> = ctx
        .store()
        .tags(Some(r.id))
        .await?
        .iter()
        .map(TagEntity::from)
        .collect();
    Ok(paginate(tags, &page))
}

pub(super) async fn all_tags(ctx: Ctx, page: PageQuery) -> ApiResult {
    let mut out = Vec::new();
    for r in ctx.store().repositories(None).await? {
        if ctx.allows(ApiGrant::Pull, repo_target(&ctx, &r).await?) {
            out.extend(
                ctx.store()
                    .tags(Some(r.id))
                    .await?
                    .iter()
                    .map(TagEntity::from),
            );
        }
    }
    Ok(paginate(out, &page))
}

pub(super) async fn tag(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let tag = ctx.store().tag(id(&raw)?).await?;
    let repo = match &tag {
        Some(t) => ctx.store().repository(t.repository_id).await?,
        None => None,
    };
    let t = match &repo {
        Some(r) => repo_target(&ctx, r).await?,
        None => ApiTarget::None,
    };
    ctx.require(t)?;
    let tag = tag.ok_or(ApiError::NotFound)?;
    json(StatusCode::OK, TagEntity::from(&tag))
}
