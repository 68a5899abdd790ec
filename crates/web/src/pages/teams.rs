//! Teams: create, members, roles. A team's page offers member management
//! only to those the API lets manage it (team owners and admins), and the
//! handlers check the same grant again, so a forged form is refused.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Extension;
use berth_authz::policy::TeamRole;
use berth_authz::portus_api::{ApiGrant, ApiTarget};
use berth_store::{parse_role, StoreError, Team};

use super::{id, page_with, redirect, Layout, ListQuery, PageResult, Pages};
use crate::csrf::Posted;
use crate::error::WebError;
use crate::format::{Pager, When};
use crate::visitor::Visitor;
use crate::Web;

struct TeamRow {
    id: i64,
    name: String,
    description: String,
    members: i64,
    namespaces: i64,
    role: String,
}

#[derive(Template)]
#[template(path = "teams.html")]
struct List {
    l: Layout,
    teams: Vec<TeamRow>,
    pager: Pager,
    error: Option<String>,
    name: String,
}

async fn render_list(
    web: &Web,
    v: &Visitor,
    page_no: Option<i64>,
    error: Option<String>,
    name: &str,
    status: StatusCode,
) -> PageResult {
    let user = v.user()?;
    let teams = web
        .store()
        .teams(if v.is_admin() { None } else { Some(user.id) })
        .await?;
    let pager = Pager::new(page_no, teams.len() as i64, "/teams?".into());
    let mut rows = Vec::new();
    for t in pager.slice(&teams) {
        let role = web.store().team_role(t.id, user.id).await?;
        rows.push(TeamRow {
            id: t.id,
            name: t.name.clone(),
            description: t.description.clone().unwrap_or_default(),
            members: t.users_count,
            namespaces: t.namespaces_count,
            role: role.map_or("-", berth_store::role_str).to_owned(),
        });
    }
    page_with(
        status,
        &List {
            l: Layout::new(v, "Teams", "teams"),
            teams: rows,
            pager,
            error,
            name: name.to_owned(),
        },
    )
}

pub(super) async fn list(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    render_list(&web, &v, q.page, None, "", StatusCode::OK).await
}

/// Team names are free text, but `:` is reserved for berth's hidden teams
/// (the API's rule).
fn check_team_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 100 || name.contains(':') {
        return Err("Name: must be 1 to 100 characters without `:`".to_owned());
    }
    Ok(())
}

pub(super) async fn create(State(web): State<Web>, form: Posted) -> PageResult {
    let v = form.visitor.clone();
    v.require(&web, ApiGrant::LoggedIn, ApiTarget::None)?;
    let user = v.user()?;
    let name = form.get("name");
    let description = form.get("description");
    let error = match check_team_name(name) {
        Err(e) => e,
        Ok(()) => {
            let desc = (!description.is_empty()).then_some(description);
            match v.store.create_team(name, desc, user.id).await {
                Ok(t) => return redirect(&format!("/teams/{}", t.id)),
                Err(StoreError::Conflict(_)) => "Name: has already been taken".to_owned(),
                Err(e) => return Err(e.into()),
            }
        }
    };
    render_list(
        &web,
        &v,
        None,
        Some(error),
        name,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

struct MemberRow {
    id: i64,
    username: String,
    role: String,
    since: When,
}

#[derive(Template)]
#[template(path = "team.html")]
struct Show {
    l: Layout,
    id: i64,
    description: String,
    members: Vec<MemberRow>,
    members_pager: Pager,
    namespaces: Vec<(i64, String, String)>,
    namespaces_pager: Pager,
    manage: bool,
    error: Option<String>,
}

/// The visible team `raw` with the visitor's role, if the visitor may
/// read it (members and admins); 404 for anyone else.
async fn load(web: &Web, v: &Visitor, raw: &str) -> Result<(Team, ApiTarget), WebError> {
    let user = v.user()?;
    let team = web
        .store()
        .team(id(raw)?)
        .await?
        .filter(|t| !t.hidden)
        .ok_or(WebError::NotFound)?;
    let role = web.store().team_role(team.id, user.id).await?;
    let t = ApiTarget::Team { caller_role: role };
    if !v.allows(web, ApiGrant::TeamMember, t) {
        return Err(WebError::NotFound);
    }
    Ok((team, t))
}

async fn render_team(
    web: &Web,
    v: &Visitor,
    raw: &str,
    pages: &Pages,
    error: Option<String>,
    status: StatusCode,
) -> PageResult {
    let (team, t) = load(web, v, raw).await?;
    let base = format!("/teams/{}?", team.id);
    let all = web.store().team_members(team.id).await?;
    let members_pager = Pager::named(
        "members",
        pages.of("members"),
        all.len() as i64,
        pages.keeping(base.clone(), &["namespaces"]),
    );
    let members = members_pager
        .slice(&all)
        .iter()
        .map(|m| MemberRow {
            id: m.id,
            username: m.username.clone(),
            role: m.role.clone(),
            since: When::new(m.created_at),
        })
        .collect();
    let all = web.store().team_namespaces(team.id).await?;
    let namespaces_pager = Pager::named(
        "namespaces",
        pages.of("namespaces"),
        all.len() as i64,
        pages.keeping(base, &["members"]),
    );
    let namespaces = namespaces_pager
        .slice(&all)
        .iter()
        .map(|n| {
            (
                n.id,
                n.name.clone().unwrap_or_default(),
                n.visibility.clone(),
            )
        })
        .collect();
    page_with(
        status,
        &Show {
            l: Layout::new(v, team.name.clone(), "teams"),
            id: team.id,
            description: team.description.unwrap_or_default(),
            members,
            members_pager,
            namespaces,
            namespaces_pager,
            manage: v.allows(web, ApiGrant::TeamOwner, t),
            error,
        },
    )
}

pub(super) async fn show(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Path(raw): Path<String>,
    Query(pages): Query<Pages>,
) -> PageResult {
    render_team(&web, &v, &raw, &pages, None, StatusCode::OK).await
}

fn role(raw: &str) -> Result<TeamRole, WebError> {
    parse_role(raw).ok_or(WebError::BadForm)
}

/// Loads the team and checks that the visitor may manage it.
async fn manage(web: &Web, v: &Visitor, raw: &str) -> Result<Team, WebError> {
    let (team, t) = load(web, v, raw).await?;
    v.require(web, ApiGrant::TeamOwner, t)?;
    Ok(team)
}

/// A rule of the model (the last owner stays) shown on the team's page.
async fn rule_or(web: &Web, v: &Visitor, raw: &str, e: StoreError) -> PageResult {
    match e {
        StoreError::Rule(rule) => {
            render_team(
                web,
                v,
                raw,
                &Pages::default(),
                Some(rule.to_owned()),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        StoreError::Conflict(_) => {
            let msg = "That user is already a member.".to_owned();
            render_team(
                web,
                v,
                raw,
                &Pages::default(),
                Some(msg),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        other => Err(other.into()),
    }
}

pub(super) async fn add_member(
    State(web): State<Web>,
    Path(raw): Path<String>,
    form: Posted,
) -> PageResult {
    let v = &form.visitor;
    let team = manage(&web, v, &raw).await?;
    let r = role(form.get("role"))?;
    let Some(user) = web
        .store()
        .user_by_name(form.get("user"))
        .await?
        .filter(|u| !u.service)
    else {
        let msg = format!("User: `{}` does not exist", form.get("user"));
        return render_team(
            &web,
            v,
            &raw,
            &Pages::default(),
            Some(msg),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match v.store.add_team_member(team.id, user.id, r).await {
        Ok(_) => redirect(&format!("/teams/{}", team.id)),
        Err(e) => rule_or(&web, v, &raw, e).await,
    }
}

pub(super) async fn set_role(
    State(web): State<Web>,
    Path((raw, member)): Path<(String, String)>,
    form: Posted,
) -> PageResult {
    let v = &form.visitor;
    let team = manage(&web, v, &raw).await?;
    let r = role(form.get("role"))?;
    match v.store.set_team_member_role(team.id, id(&member)?, r).await {
        Ok(Some(_)) => redirect(&format!("/teams/{}", team.id)),
        Ok(None) => Err(WebError::NotFound),
        Err(e) => rule_or(&web, v, &raw, e).await,
    }
}

pub(super) async fn remove_member(
    State(web): State<Web>,
    Path((raw, member)): Path<(String, String)>,
    form: Posted,
) -> PageResult {
    let v = &form.visitor;
    let team = manage(&web, v, &raw).await?;
    match v.store.remove_team_member(team.id, id(&member)?).await {
        Ok(true) => redirect(&format!("/teams/{}", team.id)),
        Ok(false) => Err(WebError::NotFound),
        Err(e) => rule_or(&web, v, &raw, e).await,
    }
}
