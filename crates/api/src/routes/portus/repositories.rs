//! `/api/v1/repositories` and `/api/v1/tags`: what the registry holds, as
//! recorded by the sync; visible to whoever the policy lets pull.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use berth_authz::portus_api::{ApiGrant, ApiTarget};
use berth_store::Repository;
use berth_sync::service::RepositoryDeleted;
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

/// Tags grouped by digest (Portus's `tags/grouped`): one array per image.
pub(super) async fn grouped_tags(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let (r, _) = load(&ctx, &raw).await?;
    let mut groups: Vec<(String, Vec<TagEntity>)> = Vec::new();
    for t in ctx.store().tags(Some(r.id)).await? {
        match groups.iter_mut().find(|(d, _)| *d == t.digest) {
            Some((_, g)) => g.push(TagEntity::from(&t)),
            None => groups.push((t.digest.clone(), vec![TagEntity::from(&t)])),
        }
    }
    let out: Vec<Vec<TagEntity>> = groups.into_iter().map(|(_, g)| g).collect();
    json(StatusCode::OK, out)
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

/// Tag `raw` and its repository after checking the route's grant.
async fn load_tag(ctx: &Ctx, raw: &str) -> Result<(berth_store::Tag, Repository), ApiError> {
    let tag = ctx.store().tag(id(raw)?).await?;
    let repo = match &tag {
        Some(t) => ctx.store().repository(t.repository_id).await?,
        None => None,
    };
    let t = match &repo {
        Some(r) => repo_target(ctx, r).await?,
        None => ApiTarget::None,
    };
    ctx.require(t)?;
    match (tag, repo) {
        (Some(tag), Some(repo)) => Ok((tag, repo)),
        _ => Err(ApiError::NotFound),
    }
}

pub(super) async fn tag(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let (tag, _) = load_tag(&ctx, &raw).await?;
    json(StatusCode::OK, TagEntity::from(&tag))
}

/// `DELETE /api/v1/tags/{id}`: the tag goes, and every sibling tag sharing
/// its digest stays (distribution deletes by digest; berth puts the siblings
/// back). The database is updated at once, so it agrees with the registry
/// before the notification arrives.
pub(super) async fn destroy_tag(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let (tag, repo) = load_tag(&ctx, &raw).await?;
    let sync = ctx.state.catalog_sync().ok_or(ApiError::Internal)?;
    let repository = full_name(&repo);
    sync.delete_tag_for(ctx.store(), &repository, &tag.name, &tag.digest)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /api/v1/repositories/{id}`: every manifest (all digests), then
/// the record.
pub(super) async fn destroy(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let (repo, _) = load(&ctx, &raw).await?;
    let sync = ctx.state.catalog_sync().ok_or(ApiError::Internal)?;
    let recorded: Vec<String> = ctx
        .store()
        .tags(Some(repo.id))
        .await?
        .into_iter()
        .map(|t| t.digest)
        .collect();
    let done = sync
        .delete_repository(&full_name(&repo), &recorded)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    // The record goes even when no tag named it in the registry any more.
    ctx.store().delete_repository(repo.id).await?;
    deletion_completed(&ctx, &done).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The one place where a completed repository deletion through the API is
/// reported, with who asked for it: the audit log and the namespace's
/// webhooks (a tag's goes through [`berth_sync::service::CatalogSync::delete_tag_for`]).
/// The registry has already deleted; a failure to record is logged, not
/// answered as a failed delete.
async fn deletion_completed(ctx: &Ctx, done: &RepositoryDeleted) {
    let actor = ctx.caller.as_ref().map(|u| u.username.as_str());
    tracing::info!(
        actor,
        repository = done.repository,
        digests = done.digests.len(),
        "repository deleted"
    );
    let mut recorded = Ok(());
    for digest in &done.digests {
        recorded = recorded.and(
            ctx.store()
                .record_api_deletion(&done.repository, None, digest, &[])
                .await,
        );
    }
    if let Err(e) = recorded {
        tracing::error!(error = %e, "recording a deletion in the audit log failed");
    }
}

fn full_name(r: &Repository) -> String {
    match &r.namespace_name {
        Some(ns) => format!("{ns}/{}", r.name),
        None => r.name.clone(),
    }
}
