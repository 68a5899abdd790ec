//! Deleting one tag from a repository's page: a confirmation page that
//! names exactly what goes (the tag) and what stays (the tags sharing its
//! digest), then the delete itself.
//!
//! Who may delete is the Portus API's answer for `DELETE /api/v1/tags/{id}`
//! (namespace owners and admins, and only while the registry allows
//! deletes); the delete runs through the same
//! [`berth_sync::service::CatalogSync::delete_tag_for`] the API calls, so
//! the registry, the record, the audit log and the webhooks agree whichever
//! edge asked.

use askama::Template;
use axum::extract::{Path, State};
use axum::Extension;
use berth_authz::portus_api::ApiGrant;
use berth_store::{Repository, Tag};

use super::registry::{full_name, readable_repository};
use super::{id, page, redirect, Layout, PageResult};
use crate::csrf::Posted;
use crate::error::WebError;
use crate::format::query_value;
use crate::visitor::Visitor;
use crate::Web;

#[derive(Template)]
#[template(path = "tag_delete.html")]
struct Confirm {
    l: Layout,
    id: i64,
    repository: String,
    tag: String,
    short_digest: String,
    /// Tags on the same image: they stay.
    siblings: Vec<String>,
}

/// Tag `raw` and its repository, if the visitor may delete it: a 404 when
/// they may not even pull from the repository (it does not exist for
/// them), a 403 when they may pull but not delete.
async fn deletable(web: &Web, v: &Visitor, raw: &str) -> Result<(Tag, Repository), WebError> {
    let tag = web.store().tag(id(raw)?).await?.ok_or(WebError::NotFound)?;
    let repo = web
        .store()
        .repository(tag.repository_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let (repo, _, target) = readable_repository(web, v, &full_name(&repo)).await?;
    v.require(web, ApiGrant::Delete, target)?;
    Ok((tag, repo))
}

pub(super) async fn confirm(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Path(raw): Path<String>,
) -> PageResult {
    let (tag, repo) = deletable(&web, &v, &raw).await?;
    let siblings = web
        .store()
        .tags(Some(repo.id))
        .await?
        .into_iter()
        .filter(|t| t.digest == tag.digest && t.id != tag.id)
        .map(|t| t.name)
        .collect();
    let repository = full_name(&repo);
    page(&Confirm {
        l: Layout::new(&v, format!("Delete {repository}:{}", tag.name), "explore"),
        id: tag.id,
        short_digest: tag
            .digest
            .strip_prefix("sha256:")
            .unwrap_or(&tag.digest)
            .chars()
            .take(12)
            .collect(),
        repository,
        tag: tag.name,
        siblings,
    })
}

pub(super) async fn delete(
    State(web): State<Web>,
    Path(raw): Path<String>,
    form: Posted,
) -> PageResult {
    let v = &form.visitor;
    let (tag, repo) = deletable(&web, v, &raw).await?;
    let sync = web.catalog_sync().ok_or(WebError::NotFound)?;
    let repository = full_name(&repo);
    sync.delete_tag_for(&v.store, &repository, &tag.name, &tag.digest)
        .await
        .map_err(|e| WebError::internal(&e))?;
    redirect(&format!(
        "/r/{repository}?deleted={}",
        query_value(&tag.name)
    ))
}
