//! What the registry holds: explore (public repositories, anonymous),
//! search and the dashboard (what the visitor may read), and a
//! repository's page (tags grouped by digest, with the pull command).
//!
//! A repository in a namespace the visitor may not pull from is a 404,
//! exactly as if it did not exist.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::Extension;
use berth_authz::portus_api::{ApiGrant, ApiTarget};
use berth_store::{Namespace, Repository, TagGroup};

use super::namespaces::{readable_namespaces, NamespaceRow};
use super::{page, Layout, ListQuery, PageResult, Pages};
use crate::error::WebError;
use crate::format::{offset, query_value, size, Pager, When, PER_PAGE};
use crate::visitor::Visitor;
use crate::Web;

/// A repository in a list.
pub(crate) struct RepoRow {
    pub full: String,
    pub tags: i64,
    pub updated: When,
    pub description: String,
}

impl RepoRow {
    pub fn new(r: &Repository) -> Self {
        Self {
            full: full_name(r),
            tags: r.tags_count,
            updated: When::new(r.updated_at),
            description: r.description.clone().unwrap_or_default(),
        }
    }
}

pub(crate) fn full_name(r: &Repository) -> String {
    match &r.namespace_name {
        Some(ns) => format!("{ns}/{}", r.name),
        None => r.name.clone(),
    }
}

/// The registry's host as `docker pull` needs it.
pub(crate) async fn registry_host(web: &Web) -> Result<String, WebError> {
    Ok(web
        .store()
        .registries()
        .await?
        .into_iter()
        .next()
        .map(|r| r.external_hostname.unwrap_or(r.hostname))
        .unwrap_or_default())
}

#[derive(Template)]
#[template(path = "explore.html")]
struct Explore {
    l: Layout,
    q: String,
    repos: Vec<RepoRow>,
    pager: Pager,
    host: String,
}

pub(super) async fn index(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    query: Query<ListQuery>,
) -> PageResult {
    if v.user.is_some() {
        return dashboard(web, v).await;
    }
    explore(State(web), Extension(v), query).await
}

pub(super) async fn explore(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let anonymous = Visitor {
        user: None,
        signed_in: false,
        owner: false,
        csrf: String::new(),
        session: None,
        store: web.store().clone(),
    };
    // Explore shows what anyone may pull, whoever looks.
    let ids: Vec<i64> = readable_namespaces(&web, &anonymous)
        .await?
        .iter()
        .map(|n| n.id)
        .collect();
    let text = q.q.clone().unwrap_or_default();
    let (repos, total) = web
        .store()
        .repositories_page(&ids, &text, offset(q.page), PER_PAGE)
        .await?;
    let pager = Pager::new(q.page, total, format!("/explore?q={}&", query_value(&text)));
    page(&Explore {
        l: Layout::new(&v, "Explore", "explore"),
        q: text,
        repos: repos.iter().map(RepoRow::new).collect(),
        pager,
        host: registry_host(&web).await?,
    })
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    l: Layout,
    namespaces: Vec<NamespaceRow>,
    repos: Vec<RepoRow>,
    rows: Vec<super::activities::ActivityRow>,
}

async fn dashboard(web: Web, v: Visitor) -> PageResult {
    let readable = readable_namespaces(&web, &v).await?;
    let ids: Vec<i64> = readable.iter().map(|n| n.id).collect();
    let (repos, _) = web.store().repositories_page(&ids, "", 0, 10).await?;
    let mine: Vec<NamespaceRow> = readable.into_iter().filter(|n| n.member).collect();
    page(&Dashboard {
        l: Layout::new(&v, "Dashboard", "dashboard"),
        namespaces: mine,
        repos: repos.iter().map(RepoRow::new).collect(),
        rows: super::activities::recent(&web, &v, 10).await?,
    })
}

#[derive(Template)]
#[template(path = "search.html")]
struct Search {
    l: Layout,
    q: String,
    namespaces: Vec<NamespaceRow>,
    namespaces_pager: Pager,
    repos: Vec<RepoRow>,
    pager: Pager,
}

pub(super) async fn search(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Query(q): Query<ListQuery>,
    Query(pages): Query<Pages>,
) -> PageResult {
    let text = q.q.clone().unwrap_or_default();
    let readable = readable_namespaces(&web, &v).await?;
    let ids: Vec<i64> = readable.iter().map(|n| n.id).collect();
    let needle = text.to_lowercase();
    let matching: Vec<NamespaceRow> = readable
        .into_iter()
        .filter(|n| !needle.is_empty() && n.name.to_lowercase().contains(&needle))
        .collect();
    let namespaces_pager = Pager::named(
        "namespaces",
        pages.of("namespaces"),
        matching.len() as i64,
        pages.keeping(format!("/search?q={}&", query_value(&text)), &["page"]),
    );
    let namespaces = namespaces_pager.slice(&matching).to_vec();
    let (repos, total) = web
        .store()
        .repositories_page(&ids, &text, offset(q.page), PER_PAGE)
        .await?;
    let pager = Pager::new(
        q.page,
        total,
        pages.keeping(
            format!("/search?q={}&", query_value(&text)),
            &["namespaces"],
        ),
    );
    page(&Search {
        l: Layout::new(&v, "Search", "search"),
        q: text,
        namespaces,
        namespaces_pager,
        repos: repos.iter().map(RepoRow::new).collect(),
        pager,
    })
}

/// A tag on the repository page, with what its delete link needs.
struct TagChip {
    name: String,
    id: i64,
}

/// One image (a digest) and the tags on it.
struct GroupRow {
    digest: String,
    short_digest: String,
    tags: Vec<TagChip>,
    size: String,
    platforms: String,
    pushed: Option<When>,
    pushed_by: String,
    pull: String,
}

#[derive(Template)]
#[template(path = "repository.html")]
struct RepositoryPage {
    l: Layout,
    namespace_id: i64,
    namespace: String,
    description: String,
    /// The description as sanitized HTML.
    description_html: String,
    can_edit: bool,
    /// Tags get a delete link (the API's grant for `DELETE /api/v1/tags/{id}`).
    can_delete: bool,
    /// The notice after a delete: the tag that went.
    deleted: Option<String>,
    csrf_path: String,
    social: super::social::Social,
    groups: Vec<GroupRow>,
    pager: Pager,
    pull: String,
}

/// `?deleted=TAG`, set by the redirect after a tag delete.
#[derive(serde::Deserialize)]
pub(super) struct DeletedNotice {
    deleted: Option<String>,
}

pub(super) async fn repository(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Path(name): Path<String>,
    Query(q): Query<ListQuery>,
    Query(notice): Query<DeletedNotice>,
    Query(pages): Query<Pages>,
) -> PageResult {
    let (r, n, target) = readable_repository(&web, &v, &name).await?;
    let full = full_name(&r);
    let host = registry_host(&web).await?;
    let (groups, total) = web
        .store()
        .tag_groups_page(r.id, offset(q.page), PER_PAGE)
        .await?;
    let pager = Pager::new(q.page, total, format!("/r/{full}?"));
    let groups = groups
        .into_iter()
        .map(|g| group_row(g, &host, &full))
        .collect();
    // Only a tag that is really gone: the query alone proves nothing.
    let deleted = match notice.deleted {
        Some(t) if !web.store().tag_exists(r.id, &t).await? => Some(format!("{full}:{t}")),
        _ => None,
    };
    page(&RepositoryPage {
        l: Layout::new(&v, full.clone(), "explore"),
        pull: format!("docker pull {host}/{full}"),
        namespace_id: n.id,
        namespace: n.name.clone().unwrap_or_else(|| "(global)".to_owned()),
        description_html: crate::markdown::render(r.description.as_deref().unwrap_or("")),
        description: r.description.clone().unwrap_or_default(),
        can_edit: v.allows(&web, ApiGrant::Push, target),
        can_delete: web.catalog_sync().is_some() && v.allows(&web, ApiGrant::Delete, target),
        deleted,
        csrf_path: format!("/r/{full}"),
        social: super::social::Social::of(&web, &v, &r, &full, pages.of("comments")).await?,
        groups,
        pager,
    })
}

/// The repository `name` (`ns/repo`, or `repo` in the global namespace)
/// with its namespace and the visitor's policy target, if the visitor may
/// pull from it; a 404 otherwise, as if it did not exist.
pub(crate) async fn readable_repository(
    web: &Web,
    v: &Visitor,
    name: &str,
) -> Result<(Repository, Namespace, ApiTarget), WebError> {
    let (ns, repo) = match name.split_once('/') {
        Some((ns, repo)) => (Some(ns), repo),
        None => (None, name),
    };
    let r = web
        .store()
        .repository_by_name(ns, repo)
        .await?
        .ok_or(WebError::NotFound)?;
    let n = web
        .store()
        .namespace(r.namespace_id)
        .await?
        .ok_or(WebError::NotFound)?;
    let target = super::namespaces::target(web, v, &n).await?;
    if !v.allows(web, ApiGrant::Pull, target) {
        return Err(WebError::NotFound);
    }
    Ok((r, n, target))
}

/// Changes a repository's description; whoever may push to it may (the
/// API's grant for `PUT /api/v1/repositories/{id}`).
pub(super) async fn update_description(
    State(web): State<Web>,
    Path(name): Path<String>,
    form: crate::csrf::Posted,
) -> PageResult {
    let v = &form.visitor;
    let (r, _, target) = readable_repository(&web, v, &name).await?;
    v.require(&web, ApiGrant::Push, target)?;
    let description = form.raw("description");
    if description.len() > 20_000 {
        return Err(WebError::BadForm);
    }
    v.store
        .update_repository_description(r.id, description)
        .await?;
    super::redirect(&format!("/r/{}", full_name(&r)))
}

fn group_row(g: TagGroup, host: &str, full: &str) -> GroupRow {
    let first = g.tags.first().cloned().unwrap_or_default();
    GroupRow {
        short_digest: g
            .digest
            .strip_prefix("sha256:")
            .unwrap_or(&g.digest)
            .chars()
            .take(12)
            .collect(),
        pull: format!("docker pull {host}/{full}:{first}"),
        digest: g.digest,
        tags: g
            .tags
            .into_iter()
            .zip(g.tag_ids)
            .map(|(name, id)| TagChip { name, id })
            .collect(),
        size: size(g.size),
        platforms: if g.platforms.is_empty() {
            "single platform".to_owned()
        } else {
            g.platforms.join(", ")
        },
        pushed: When::opt(g.pushed_at),
        pushed_by: g.pushed_by.unwrap_or_else(|| "unknown".to_owned()),
    }
}
