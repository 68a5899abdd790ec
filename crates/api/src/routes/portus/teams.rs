//! `/api/v1/teams`: teams and their members. Hidden (personal) teams are
//! neither listed nor managed here.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use berth_authz::policy::TeamRole;
use berth_authz::portus_api::{ApiGrant, ApiTarget};
use berth_store::Team;
use serde::Deserialize;

use super::entities::{MemberEntity, TeamEntity};
use super::namespaces::namespace_entity;
use super::{body, id, json, paginate, ApiError, ApiResult, Ctx, PageQuery};

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    description: Option<String>,
    owner_id: Option<i64>,
}

#[derive(Deserialize)]
struct UpdateBody {
    team: UpdateFields,
}

#[derive(Deserialize)]
struct UpdateFields {
    name: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
struct MemberBody {
    role: String,
    user: Option<String>,
}

#[derive(Deserialize, Default)]
struct DestroyBody {
    new_team: Option<String>,
}

fn role_name(role: TeamRole) -> &'static str {
    match role {
        TeamRole::Owner => "owner",
        TeamRole::Contributor => "contributor",
        TeamRole::Viewer => "viewer",
    }
}

fn parse_role(role: &str) -> Result<TeamRole, ApiError> {
    match role {
        "owner" => Ok(TeamRole::Owner),
        "contributor" => Ok(TeamRole::Contributor),
        "viewer" => Ok(TeamRole::Viewer),
        _ => Err(ApiError::Unprocessable(
            "role",
            "is not included in the list".into(),
        )),
    }
}

/// Team names are free text in Portus, but `:` is reserved for berth's own
/// hidden teams.
fn check_team_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > 100 || name.contains(':') || name.trim() != name {
        return Err(ApiError::Unprocessable("name", "is invalid".into()));
    }
    Ok(())
}

/// The visible team `raw` with the caller's role, after checking the route's grant.
async fn load(ctx: &Ctx, raw: &str) -> Result<(Team, Option<TeamRole>), ApiError> {
    let team = ctx.store().team(id(raw)?).await?.filter(|t| !t.hidden);
    let role = match (&team, &ctx.caller) {
        (Some(t), Some(u)) => ctx.store().team_role(t.id, u.id).await?,
        _ => None,
    };
    let target = match &team {
        Some(_) => ApiTarget::Team { caller_role: role },
        None => ApiTarget::None,
    };
    ctx.require(target)?;
    Ok((team.ok_or(ApiError::NotFound)?, role))
}

fn entity(ctx: &Ctx, team: &Team, role: Option<TeamRole>) -> TeamEntity {
    let manage = ctx.allows(ApiGrant::TeamOwner, ApiTarget::Team { caller_role: role });
    TeamEntity::new(team, role.map(role_name), manage)
}

pub(super) async fn list(ctx: Ctx, page: PageQuery) -> ApiResult {
    let user = ctx.user()?;
    let teams = ctx
        .store()
        .teams(if user.admin { None } else { Some(user.id) })
        .await?;
    let mut out = Vec::with_capacity(teams.len());
    for t in &teams {
        let role = ctx.store().team_role(t.id, user.id).await?;
        out.push(entity(&ctx, t, role));
    }
    Ok(paginate(out, &page))
}

pub(super) async fn create(ctx: Ctx, bytes: Bytes) -> ApiResult {
    let b: CreateBody = body(&bytes)?;
    check_team_name(&b.name)?;
    let user = ctx.user()?;
    let owner = match b.owner_id {
        Some(other) if other != user.id => {
            ctx.require_grant(ApiGrant::Admin, ApiTarget::None)?;
            ctx.store()
                .user(other)
                .await?
                .filter(|u| !u.service)
                .ok_or(ApiError::Unprocessable("owner_id", "does not exist".into()))?
                .id
        }
        _ => user.id,
    };
    let team = ctx
        .store()
        .create_team(&b.name, b.description.as_deref(), owner)
        .await?;
    let role = ctx.store().team_role(team.id, user.id).await?;
    json(StatusCode::CREATED, entity(&ctx, &team, role))
}

pub(super) async fn show(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let (team, role) = load(&ctx, &raw).await?;
    json(StatusCode::OK, entity(&ctx, &team, role))
}

pub(super) async fn update(ctx: Ctx, Path(raw): Path<String>, bytes: Bytes) -> ApiResult {
    let (team, role) = load(&ctx, &raw).await?;
    let f = body::<UpdateBody>(&bytes)?.team;
    if let Some(n) = &f.name {
        check_team_name(n)?;
    }
    let team = ctx
        .store()
        .update_team(team.id, f.name.as_deref(), f.description.as_deref())
        .await?
        .ok_or(ApiError::NotFound)?;
    json(StatusCode::OK, entity(&ctx, &team, role))
}

pub(super) async fn destroy(ctx: Ctx, Path(raw): Path<String>, bytes: Bytes) -> ApiResult {
    let (team, _) = load(&ctx, &raw).await?;
    let b: DestroyBody = if bytes.is_empty() {
        DestroyBody::default()
    } else {
        body(&bytes)?
    };
    let heir = match b.new_team {
        Some(name) => {
            let heir = ctx
                .store()
                .team_by_name(&name)
                .await?
                .filter(|t| !t.hidden && t.id != team.id)
                .ok_or(ApiError::Unprocessable("new_team", "does not exist".into()))?;
            // Receiving namespaces is managing that team too.
            let role = ctx.store().team_role(heir.id, ctx.user()?.id).await?;
            ctx.require_grant(ApiGrant::TeamOwner, ApiTarget::Team { caller_role: role })?;
            Some(heir.id)
        }
        None => None,
    };
    ctx.store().delete_team(team.id, heir).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) async fn namespaces(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let (team, _) = load(&ctx, &raw).await?;
    let list = ctx.store().team_namespaces(team.id).await?;
    let mut out = Vec::with_capacity(list.len());
    for n in &list {
        out.push(namespace_entity(&ctx, n).await?);
    }
    json(StatusCode::OK, out)
}

pub(super) async fn members(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let (team, _) = load(&ctx, &raw).await?;
    let caller = ctx.caller.as_ref().map(|u| u.id);
    let members = ctx.store().team_members(team.id).await?;
    let out: Vec<MemberEntity> = members
        .iter()
        .map(|m| MemberEntity::new(m, caller))
        .collect();
    json(StatusCode::OK, out)
}

pub(super) async fn add_member(ctx: Ctx, Path(raw): Path<String>, bytes: Bytes) -> ApiResult {
    let (team, _) = load(&ctx, &raw).await?;
    let b: MemberBody = body(&bytes)?;
    let role = parse_role(&b.role)?;
    let username = b
        .user
        .ok_or(ApiError::Unprocessable("user", "can't be blank".into()))?;
    let user = ctx
        .store()
        .user_by_name(&username)
        .await?
        .filter(|u| !u.service)
        .ok_or(ApiError::Unprocessable("user", "does not exist".into()))?;
    let member = ctx.store().add_team_member(team.id, user.id, role).await?;
    json(
        StatusCode::CREATED,
        MemberEntity::new(&member, ctx.caller.as_ref().map(|u| u.id)),
    )
}

pub(super) async fn update_member(
    ctx: Ctx,
    Path((raw, member)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let (team, _) = load(&ctx, &raw).await?;
    let role = parse_role(&body::<MemberBody>(&bytes)?.role)?;
    let member = ctx
        .store()
        .set_team_member_role(team.id, id(&member)?, role)
        .await?
        .ok_or(ApiError::NotFound)?;
    json(
        StatusCode::OK,
        MemberEntity::new(&member, ctx.caller.as_ref().map(|u| u.id)),
    )
}

pub(super) async fn remove_member(
    ctx: Ctx,
    Path((raw, member)): Path<(String, String)>,
) -> ApiResult {
    let (team, _) = load(&ctx, &raw).await?;
    if ctx
        .store()
        .remove_team_member(team.id, id(&member)?)
        .await?
    {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound)
    }
}
