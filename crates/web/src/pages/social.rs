//! Stars and comments on a repository's page, as Portus had them: any
//! signed-in user who may pull the repository may star it and comment;
//! a comment is deleted by its author or an admin.

use axum::extract::{Path, State};
use berth_store::Repository;

use super::registry::readable_repository;
use super::{id, redirect, PageResult};
use crate::csrf::Posted;
use crate::error::WebError;
use crate::format::{offset, query_value, Pager, When, PER_PAGE};
use crate::visitor::Visitor;
use crate::Web;

const MAX_COMMENT: usize = 4000;

pub(crate) struct CommentRow {
    pub id: i64,
    pub author: String,
    pub body: String,
    pub when: When,
    pub can_delete: bool,
}

/// The stars and comments part of a repository's page.
pub(crate) struct Social {
    pub stars: i64,
    pub starred: bool,
    pub can_act: bool,
    pub comments: Vec<CommentRow>,
    /// Pages of comments (`?comments=N`), the latest first.
    pub pager: Pager,
    /// `ns/repo`, percent-encoded where needed, for the forms' actions.
    pub path: String,
}

impl Social {
    pub async fn of(
        web: &Web,
        v: &Visitor,
        r: &Repository,
        full: &str,
        page: Option<i64>,
    ) -> Result<Self, WebError> {
        let me = v.user.as_ref().map(|u| u.id);
        let (stars, starred) = web.store().stars(r.id, me).await?;
        let (comments, total) = web
            .store()
            .comments_page(r.id, offset(page), PER_PAGE)
            .await?;
        let pager = Pager::named("comments", page, total, format!("/r/{full}?"));
        let comments = comments
            .into_iter()
            .map(|c| CommentRow {
                can_delete: me == Some(c.user_id) || v.is_admin(),
                id: c.id,
                author: c.username,
                body: c.body,
                when: When::new(c.created_at),
            })
            .collect();
        Ok(Self {
            stars,
            starred,
            can_act: me.is_some(),
            comments,
            pager,
            path: full
                .split('/')
                .map(query_value)
                .collect::<Vec<_>>()
                .join("/"),
        })
    }
}

pub(super) async fn star(
    State(web): State<Web>,
    Path(name): Path<String>,
    form: Posted,
) -> PageResult {
    let v = &form.visitor;
    let user = v.user()?.clone();
    let (r, _, _) = readable_repository(&web, v, &name).await?;
    web.store()
        .set_star(r.id, user.id, form.get("starred") == "true")
        .await?;
    redirect(&format!("/r/{name}"))
}

pub(super) async fn comment(
    State(web): State<Web>,
    Path(name): Path<String>,
    form: Posted,
) -> PageResult {
    let v = &form.visitor;
    let user = v.user()?.clone();
    let (r, _, _) = readable_repository(&web, v, &name).await?;
    let body = form.get("body");
    if body.is_empty() || body.len() > MAX_COMMENT {
        return Err(WebError::BadForm);
    }
    web.store().add_comment(r.id, user.id, body).await?;
    redirect(&format!("/r/{name}#comments"))
}

pub(super) async fn delete_comment(
    State(web): State<Web>,
    Path(raw): Path<String>,
    form: Posted,
) -> PageResult {
    let v = &form.visitor;
    let user = v.user()?.clone();
    let c = web
        .store()
        .comment(id(&raw)?)
        .await?
        .ok_or(WebError::NotFound)?;
    let r = web
        .store()
        .repository(c.repository_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let full = super::registry::full_name(&r);
    // Not readable: not there. Readable but someone else's: forbidden.
    readable_repository(&web, v, &full).await?;
    if c.user_id != user.id && !v.is_admin() {
        return Err(WebError::Forbidden);
    }
    web.store().delete_comment(c.id).await?;
    redirect(&format!("/r/{full}#comments"))
}
