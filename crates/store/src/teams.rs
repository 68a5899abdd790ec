//! Teams and their members. A team always keeps at least one owner; hidden
//! (personal) teams are managed only through their user.

use berth_authz::policy::TeamRole;
use chrono::{DateTime, Utc};

use crate::activities::{insert_activity, ActivityAction, NewActivity};
use crate::{Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub hidden: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub users_count: i64,
    pub namespaces_count: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TeamMember {
    pub id: i64,
    pub team_id: i64,
    pub user_id: i64,
    pub username: String,
    pub display_name: Option<String>,
    pub admin: bool,
    /// `owner`, `contributor` or `viewer` (checked by the schema).
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const TEAM_COLUMNS: &str = "t.id, t.name, t.description, t.hidden, t.created_at, t.updated_at, \
    (SELECT count(*) FROM team_members m WHERE m.team_id = t.id) AS users_count, \
    (SELECT count(*) FROM namespaces n WHERE n.team_id = t.id) AS namespaces_count";

const MEMBER_COLUMNS: &str = "m.id, m.team_id, m.user_id, u.username, u.display_name, u.admin, \
    m.role, m.created_at, m.updated_at";

/// The stored spelling of a role.
pub fn role_str(role: TeamRole) -> &'static str {
    match role {
        TeamRole::Owner => "owner",
        TeamRole::Contributor => "contributor",
        TeamRole::Viewer => "viewer",
    }
}

/// The role behind a stored spelling; unknown spellings are no role at all.
pub fn parse_role(role: &str) -> Option<TeamRole> {
    match role {
        "owner" => Some(TeamRole::Owner),
        "contributor" => Some(TeamRole::Contributor),
        "viewer" => Some(TeamRole::Viewer),
        _ => None,
    }
}

impl Store {
    /// Creates a visible team with `owner_id` as its first owner.
    pub async fn create_team(
        &self,
        name: &str,
        description: Option<&str>,
        owner_id: i64,
    ) -> Result<Team, StoreError> {
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO teams (name, description) VALUES ($1, $2) RETURNING id",
        )
        .bind(name)
        .bind(description)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, "name"))?;
        sqlx::query("INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, 'owner')")
            .bind(id)
            .bind(owner_id)
            .execute(&mut *tx)
            .await?;
        let mut a = NewActivity::new(ActivityAction::TeamCreate);
        a.team_id = Some(id);
        a.detail = serde_json::json!({"owner_id": owner_id});
        insert_activity(&mut tx, self.actor(), &a).await?;
        tx.commit().await?;
        self.changed();
        self.team(id).await?.ok_or(StoreError::NotFound)
    }

    pub async fn team(&self, id: i64) -> Result<Option<Team>, StoreError> {
        let sql = format!("SELECT {TEAM_COLUMNS} FROM teams t WHERE t.id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn team_by_name(&self, name: &str) -> Result<Option<Team>, StoreError> {
        let sql = format!("SELECT {TEAM_COLUMNS} FROM teams t WHERE t.name = $1");
        Ok(sqlx::query_as(&sql)
            .bind(name)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Visible teams: all of them for `None` (admins), else those the user is in.
    pub async fn teams(&self, member: Option<i64>) -> Result<Vec<Team>, StoreError> {
        let sql = format!(
            "SELECT {TEAM_COLUMNS} FROM teams t WHERE NOT t.hidden AND ($1::BIGINT IS NULL OR \
             EXISTS (SELECT 1 FROM team_members m WHERE m.team_id = t.id AND m.user_id = $1)) \
             ORDER BY t.id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(member)
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn update_team(
        &self,
        id: i64,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<Option<Team>, StoreError> {
        let mut tx = self.pool().begin().await?;
        let old: Option<String> =
            sqlx::query_scalar("SELECT name FROM teams WHERE id = $1 AND NOT hidden FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        sqlx::query(
            "UPDATE teams SET name = COALESCE($2, name), description = COALESCE($3, description), \
             updated_at = now() WHERE id = $1 AND NOT hidden",
        )
        .bind(id)
        .bind(name)
        .bind(description)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, "name"))?;
        if let Some(old) = old.filter(|_| name.is_some() || description.is_some()) {
            let mut a = NewActivity::new(ActivityAction::TeamUpdate);
            a.team_id = Some(id);
            a.detail = serde_json::json!({"name": {"from": old, "to": name}, "description": description.is_some()});
            insert_activity(&mut tx, self.actor(), &a).await?;
        }
        tx.commit().await?;
        self.changed();
        self.team(id).await
    }

    /// Deletes a visible team; its namespaces move to `heir` or, without one,
    /// are deleted with their repositories.
    pub async fn delete_team(&self, id: i64, heir: Option<i64>) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let name: Option<String> =
            sqlx::query_scalar("SELECT name FROM teams WHERE id = $1 AND NOT hidden")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(name) = name {
            // Recorded first, while the team's name still resolves.
            let mut a = NewActivity::new(ActivityAction::TeamDelete);
            a.team_id = Some(id);
            a.target = Some(name);
            a.detail = serde_json::json!({"heir_team_id": heir});
            insert_activity(&mut tx, self.actor(), &a).await?;
        }
        match heir {
            Some(h) => {
                sqlx::query("UPDATE namespaces SET team_id = $2 WHERE team_id = $1")
                    .bind(id)
                    .bind(h)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM namespaces WHERE team_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let done = sqlx::query("DELETE FROM teams WHERE id = $1 AND NOT hidden")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.changed();
        Ok(done.rows_affected() > 0)
    }

    /// The role of `user_id` in `team_id`, if a member.
    pub async fn team_role(
        &self,
        team_id: i64,
        user_id: i64,
    ) -> Result<Option<TeamRole>, StoreError> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2")
                .bind(team_id)
                .bind(user_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(role.as_deref().and_then(parse_role))
    }

    pub async fn team_members(&self, team_id: i64) -> Result<Vec<TeamMember>, StoreError> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM team_members m JOIN users u ON u.id = m.user_id \
             WHERE m.team_id = $1 ORDER BY m.id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(team_id)
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn team_member(
        &self,
        team_id: i64,
        member_id: i64,
    ) -> Result<Option<TeamMember>, StoreError> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM team_members m JOIN users u ON u.id = m.user_id \
             WHERE m.team_id = $1 AND m.id = $2"
        );
        Ok(sqlx::query_as(&sql)
            .bind(team_id)
            .bind(member_id)
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn add_team_member(
        &self,
        team_id: i64,
        user_id: i64,
        role: TeamRole,
    ) -> Result<TeamMember, StoreError> {
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(team_id)
        .bind(user_id)
        .bind(role_str(role))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, "user"))?;
        member_activity(
            &mut tx,
            self,
            ActivityAction::TeamAddMember,
            team_id,
            id,
            role,
        )
        .await?;
        tx.commit().await?;
        self.changed();
        self.team_member(team_id, id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Changes a member's role; demoting the last owner is refused.
    pub async fn set_team_member_role(
        &self,
        team_id: i64,
        member_id: i64,
        role: TeamRole,
    ) -> Result<Option<TeamMember>, StoreError> {
        let mut tx = self.pool().begin().await?;
        lock_team(&mut tx, team_id).await?;
        sqlx::query(
            "UPDATE team_members SET role = $3, updated_at = now() WHERE team_id = $1 AND id = $2",
        )
        .bind(team_id)
        .bind(member_id)
        .bind(role_str(role))
        .execute(&mut *tx)
        .await?;
        ensure_owner_left(&mut tx, team_id).await?;
        member_activity(
            &mut tx,
            self,
            ActivityAction::TeamChangeMemberRole,
            team_id,
            member_id,
            role,
        )
        .await?;
        tx.commit().await?;
        self.changed();
        self.team_member(team_id, member_id).await
    }

    /// Removes a member; removing the last owner is refused.
    pub async fn remove_team_member(
        &self,
        team_id: i64,
        member_id: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        lock_team(&mut tx, team_id).await?;
        let gone: Option<String> = sqlx::query_scalar(
            "DELETE FROM team_members m USING users u WHERE m.team_id = $1 AND m.id = $2 \
             AND u.id = m.user_id RETURNING u.username",
        )
        .bind(team_id)
        .bind(member_id)
        .fetch_optional(&mut *tx)
        .await?;
        ensure_owner_left(&mut tx, team_id).await?;
        if let Some(username) = &gone {
            let mut a = NewActivity::new(ActivityAction::TeamRemoveMember);
            a.team_id = Some(team_id);
            a.target = Some(username.clone());
            insert_activity(&mut tx, self.actor(), &a).await?;
        }
        tx.commit().await?;
        self.changed();
        Ok(gone.is_some())
    }
}

/// Records a membership change of `member_id` (named by its user) on `tx`.
async fn member_activity(
    tx: &mut sqlx::PgConnection,
    store: &Store,
    action: ActivityAction,
    team_id: i64,
    member_id: i64,
    role: TeamRole,
) -> Result<(), StoreError> {
    let username: Option<String> = sqlx::query_scalar(
        "SELECT u.username FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.id = $1",
    )
    .bind(member_id)
    .fetch_optional(&mut *tx)
    .await?;
    let mut a = NewActivity::new(action);
    a.team_id = Some(team_id);
    a.target = username;
    a.detail = serde_json::json!({"role": role_str(role)});
    insert_activity(tx, store.actor(), &a).await
}

/// Serializes membership changes of one team, so two concurrent demotions
/// cannot each see the other owner and leave none.
async fn lock_team(tx: &mut sqlx::PgConnection, team_id: i64) -> Result<(), StoreError> {
    sqlx::query("SELECT 1 FROM teams WHERE id = $1 FOR UPDATE")
        .bind(team_id)
        .execute(tx)
        .await?;
    Ok(())
}

async fn ensure_owner_left(tx: &mut sqlx::PgConnection, team_id: i64) -> Result<(), StoreError> {
    let owners: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM team_members WHERE team_id = $1 AND role = 'owner'",
    )
    .bind(team_id)
    .fetch_one(tx)
    .await?;
    if owners == 0 {
        return Err(StoreError::Rule("a team must keep at least one owner"));
    }
    Ok(())
}
