//! Namespaces: the list of those the visitor may read, creation in a team
//! where the visitor may create, one namespace's repositories, and its
//! visibility and description for those the API lets change them.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Extension;
use berth_authz::names::NamespaceName;
use berth_authz::policy::Visibility;
use berth_authz::portus_api::{ApiGrant, ApiTarget};
use berth_store::{Namespace, NamespaceUpdate, StoreError};

use super::registry::RepoRow;
use super::{id, page, page_with, redirect, Layout, ListQuery, PageResult};
use crate::csrf::Posted;
use crate::error::WebError;
use crate::format::{Pager, When, PER_PAGE};
use crate::visitor::Visitor;
use crate::Web;

/// A namespace in a list.
#[derive(Clone)]
pub(crate) struct NamespaceRow {
    pub id: i64,
    pub name: String,
    pub team: String,
    pub visibility: String,
    pub repositories: i64,
    pub description: String,
    /// The visitor is in the owning team.
    pub member: bool,
}

fn display_name(n: &Namespace) -> String {
    n.name.clone().unwrap_or_else(|| "(global)".to_owned())
}

fn team_label(n: &Namespace) -> String {
    match n.kind.as_str() {
        "personal" => format!("{} (personal)", n.team_name),
        "global" => "everyone (global)".to_owned(),
        _ => n.team_name.clone(),
    }
}

impl NamespaceRow {
    fn new(n: &Namespace, member: bool) -> Self {
        Self {
            id: n.id,
            name: display_name(n),
            team: team_label(n),
            visibility: n.visibility.clone(),
            repositories: n.repositories_count,
            description: n.description.clone().unwrap_or_default(),
            member,
        }
    }
}

/// The policy target of `n` for the visitor.
pub(crate) async fn target(web: &Web, v: &Visitor, n: &Namespace) -> Result<ApiTarget, WebError> {
    let role = match &v.user {
        Some(u) => web.store().team_role(n.team_id, u.id).await?,
        None => None,
    };
    Ok(n.facts(role).map_or(ApiTarget::None, ApiTarget::Namespace))
}

/// Every namespace the visitor may pull from, decided by the policy.
pub(crate) async fn readable_namespaces(
    web: &Web,
    v: &Visitor,
) -> Result<Vec<NamespaceRow>, WebError> {
    let caller = v.user.as_ref().map(|u| u.id);
    let mut out = Vec::new();
    for (n, role) in web.store().namespaces_with_role(caller).await? {
        let role = role.as_deref().and_then(berth_store::parse_role);
        let t = n.facts(role).map_or(ApiTarget::None, ApiTarget::Namespace);
        if v.allows(web, ApiGrant::Pull, t) {
            out.push(NamespaceRow::new(&n, role.is_some()));
        }
    }
    Ok(out)
}

/// A team the visitor may create namespaces in.
pub(crate) struct TeamChoice {
    pub name: String,
}

async fn creatable_teams(web: &Web, v: &Visitor) -> Result<Vec<TeamChoice>, WebError> {
    let Some(user) = &v.user else {
        return Ok(Vec::new());
    };
    let teams = web
        .store()
        .teams(if v.is_admin() { None } else { Some(user.id) })
        .await?;
    let mut out = Vec::new();
    for t in teams {
        let role = web.store().team_role(t.id, user.id).await?;
        if v.allows(
            web,
            ApiGrant::NamespaceCreate,
            ApiTarget::Team { caller_role: role },
        ) {
            out.push(TeamChoice { name: t.name });
        }
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "namespaces.html")]
struct List {
    l: Layout,
    namespaces: Vec<NamespaceRow>,
    pager: Pager,
    teams: Vec<TeamChoice>,
    error: Option<String>,
    name: String,
    description: String,
}

pub(super) async fn list(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    v.user()?;
    let all = readable_namespaces(&web, &v).await?;
    let teams = creatable_teams(&web, &v).await?;
    render_list(&web, &v, all, q.page, teams, None, "", "", StatusCode::OK)
}

#[allow(clippy::too_many_arguments)]
fn render_list(
    _web: &Web,
    v: &Visitor,
    all: Vec<NamespaceRow>,
    page_no: Option<i64>,
    teams: Vec<TeamChoice>,
    error: Option<String>,
    name: &str,
    description: &str,
    status: StatusCode,
) -> PageResult {
    let pager = Pager::new(page_no, all.len() as i64, "/namespaces?".into());
    let start = usize::try_from(pager.offset()).unwrap_or(0);
    let namespaces: Vec<NamespaceRow> = all
        .into_iter()
        .skip(start)
        .take(PER_PAGE as usize)
        .collect();
    page_with(
        status,
        &List {
            l: Layout::new(v, "Namespaces", "namespaces"),
            namespaces,
            pager,
            teams,
            error,
            name: name.to_owned(),
            description: description.to_owned(),
        },
    )
}

pub(super) async fn create(State(web): State<Web>, form: Posted) -> PageResult {
    let v = form.visitor.clone();
    let user = v.user()?.clone();
    let name = form.get("name");
    let description = form.get("description");
    let team = web
        .store()
        .team_by_name(form.get("team"))
        .await?
        .filter(|t| !t.hidden);
    let role = match &team {
        Some(t) => web.store().team_role(t.id, user.id).await?,
        None => None,
    };
    // Refused before anything else is said about the team, as the API does.
    v.require(
        &web,
        ApiGrant::NamespaceCreate,
        ApiTarget::Team { caller_role: role },
    )?;
    let team = team.ok_or(WebError::Forbidden)?;
    let visibility = parse_visibility(form.get("visibility")).unwrap_or(Visibility::Private);
    let error = match NamespaceName::parse(name) {
        Err(e) => Some(format!("Name: {e}")),
        Ok(_) => {
            let desc = (!description.is_empty()).then_some(description);
            match v
                .store
                .create_namespace(name, team.id, desc, visibility)
                .await
            {
                Ok(n) => return redirect(&format!("/namespaces/{}", n.id)),
                Err(StoreError::Conflict(_)) => Some("Name: has already been taken".to_owned()),
                Err(e) => return Err(e.into()),
            }
        }
    };
    let all = readable_namespaces(&web, &v).await?;
    let teams = creatable_teams(&web, &v).await?;
    render_list(
        &web,
        &v,
        all,
        None,
        teams,
        error,
        name,
        description,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

fn parse_visibility(v: &str) -> Option<Visibility> {
    match v {
        "private" => Some(Visibility::Private),
        "protected" => Some(Visibility::Protected),
        "public" => Some(Visibility::Public),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "namespace.html")]
struct Show {
    l: Layout,
    ns: NamespaceRow,
    kind: String,
    created: When,
    repos: Vec<RepoRow>,
    pager: Pager,
    can_change: bool,
    can_push: bool,
    host: String,
}

/// The namespace `raw` if the visitor may read it; 404 otherwise.
async fn load(web: &Web, v: &Visitor, raw: &str) -> Result<(Namespace, ApiTarget), WebError> {
    let n = web
        .store()
        .namespace(id(raw)?)
        .await?
        .ok_or(WebError::NotFound)?;
    let t = target(web, v, &n).await?;
    if !v.allows(web, ApiGrant::Pull, t) {
        return Err(WebError::NotFound);
    }
    Ok((n, t))
}

pub(super) async fn show(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Path(raw): Path<String>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let (n, t) = load(&web, &v, &raw).await?;
    let (repos, total) = web
        .store()
        .repositories_page(&[n.id], "", crate::format::offset(q.page), PER_PAGE)
        .await?;
    let pager = Pager::new(q.page, total, format!("/namespaces/{}?", n.id));
    let member = match &v.user {
        Some(u) => web.store().team_role(n.team_id, u.id).await?.is_some(),
        None => false,
    };
    page(&Show {
        l: Layout::new(&v, display_name(&n), "namespaces"),
        kind: n.kind.clone(),
        created: When::new(n.created_at),
        ns: NamespaceRow::new(&n, member),
        repos: repos.iter().map(RepoRow::new).collect(),
        pager,
        can_change: v.allows(&web, ApiGrant::NamespaceOwner, t),
        can_push: v.allows(&web, ApiGrant::Push, t),
        host: super::registry::registry_host(&web).await?,
    })
}

pub(super) async fn update(
    State(web): State<Web>,
    Path(raw): Path<String>,
    form: Posted,
) -> PageResult {
    let v = form.visitor.clone();
    let (n, t) = load(&web, &v, &raw).await?;
    v.require(&web, ApiGrant::NamespaceOwner, t)?;
    let visibility = match form.get("visibility") {
        "" => None,
        other => Some(parse_visibility(other).ok_or(WebError::BadForm)?),
    };
    let update = NamespaceUpdate {
        description: Some(form.get("description").to_owned()),
        visibility,
        ..NamespaceUpdate::default()
    };
    v.store.update_namespace(n.id, &update).await?;
    redirect(&format!("/namespaces/{}", n.id))
}
