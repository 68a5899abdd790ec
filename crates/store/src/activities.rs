//! The audit log: who did what, when, and from which address.
//!
//! Changes made through a [`Store`] that is [`Store::acting_as`] a caller
//! record their activity in the same transaction as the change, so the log
//! and the data cannot disagree. Registry events record theirs in the
//! transaction that applies them (`catalog_events.rs`). Pulls are
//! aggregated per (actor, repository, UTC day).

use chrono::{DateTime, Utc};

use crate::{Store, StoreError};

/// Who makes the changes of an acting store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The user's id; `None` for anonymous callers (bootstrap) or events
    /// from unknown names.
    pub user_id: Option<i64>,
    pub name: Option<String>,
    /// The client's address, without port.
    pub addr: Option<String>,
}

/// What happened. The stored spelling is [`ActivityAction::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityAction {
    RepositoryPush,
    RepositoryPull,
    RepositoryDelete,
    TagDelete,
    NamespaceCreate,
    NamespaceRename,
    NamespaceChangeVisibility,
    NamespaceChangeDescription,
    NamespaceChangeTeam,
    NamespaceDelete,
    TeamCreate,
    TeamUpdate,
    TeamDelete,
    TeamAddMember,
    TeamChangeMemberRole,
    TeamRemoveMember,
    ApplicationTokenCreate,
    ApplicationTokenRevoke,
    RefreshTokenRevoke,
    UserCreate,
    UserUpdate,
    UserEnable,
    UserDisable,
    UserGrantAdmin,
    UserRevokeAdmin,
    UserDelete,
    WebhookCreate,
    WebhookUpdate,
    WebhookDelete,
}

impl ActivityAction {
    pub const ALL: &'static [ActivityAction] = &[
        Self::RepositoryPush,
        Self::RepositoryPull,
        Self::RepositoryDelete,
        Self::TagDelete,
        Self::NamespaceCreate,
        Self::NamespaceRename,
        Self::NamespaceChangeVisibility,
        Self::NamespaceChangeDescription,
        Self::NamespaceChangeTeam,
        Self::NamespaceDelete,
        Self::TeamCreate,
        Self::TeamUpdate,
        Self::TeamDelete,
        Self::TeamAddMember,
        Self::TeamChangeMemberRole,
        Self::TeamRemoveMember,
        Self::ApplicationTokenCreate,
        Self::ApplicationTokenRevoke,
        Self::RefreshTokenRevoke,
        Self::UserCreate,
        Self::UserUpdate,
        Self::UserEnable,
        Self::UserDisable,
        Self::UserGrantAdmin,
        Self::UserRevokeAdmin,
        Self::UserDelete,
        Self::WebhookCreate,
        Self::WebhookUpdate,
        Self::WebhookDelete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RepositoryPush => "repository.push",
            Self::RepositoryPull => "repository.pull",
            Self::RepositoryDelete => "repository.delete",
            Self::TagDelete => "tag.delete",
            Self::NamespaceCreate => "namespace.create",
            Self::NamespaceRename => "namespace.rename",
            Self::NamespaceChangeVisibility => "namespace.change_visibility",
            Self::NamespaceChangeDescription => "namespace.change_description",
            Self::NamespaceChangeTeam => "namespace.change_team",
            Self::NamespaceDelete => "namespace.delete",
            Self::TeamCreate => "team.create",
            Self::TeamUpdate => "team.update",
            Self::TeamDelete => "team.delete",
            Self::TeamAddMember => "team.add_member",
            Self::TeamChangeMemberRole => "team.change_member_role",
            Self::TeamRemoveMember => "team.remove_member",
            Self::ApplicationTokenCreate => "application_token.create",
            Self::ApplicationTokenRevoke => "application_token.revoke",
            Self::RefreshTokenRevoke => "refresh_token.revoke",
            Self::UserCreate => "user.create",
            Self::UserUpdate => "user.update",
            Self::UserEnable => "user.enable",
            Self::UserDisable => "user.disable",
            Self::UserGrantAdmin => "user.grant_admin",
            Self::UserRevokeAdmin => "user.revoke_admin",
            Self::UserDelete => "user.delete",
            Self::WebhookCreate => "webhook.create",
            Self::WebhookUpdate => "webhook.update",
            Self::WebhookDelete => "webhook.delete",
        }
    }

    /// The action spelled `s`; unknown spellings are `None`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

/// One activity to record. Names of the namespace and team are looked up
/// from their ids in the same statement.
#[derive(Debug, Clone)]
pub struct NewActivity {
    pub action: ActivityAction,
    pub namespace_id: Option<i64>,
    /// Full repository name (`ns/app`).
    pub repository: Option<String>,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub team_id: Option<i64>,
    /// What else was acted on: a username, a token's application, a URL.
    pub target: Option<String>,
    /// Details of the change (e.g. `{"from": "private", "to": "public"}`).
    pub detail: serde_json::Value,
    /// RFC 3339 time of the event; `None` is now.
    pub at: Option<String>,
}

impl NewActivity {
    pub fn new(action: ActivityAction) -> Self {
        Self {
            action,
            namespace_id: None,
            repository: None,
            tag: None,
            digest: None,
            team_id: None,
            target: None,
            detail: serde_json::json!({}),
            at: None,
        }
    }
}

/// One row of the log.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Activity {
    pub id: i64,
    pub action: String,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub addr: Option<String>,
    pub namespace_id: Option<i64>,
    pub namespace_name: Option<String>,
    pub repository: Option<String>,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub team_id: Option<i64>,
    pub team_name: Option<String>,
    pub target: Option<String>,
    pub detail: serde_json::Value,
    /// 1 except for aggregated pulls.
    pub count: i64,
    /// When it happened (first pull of the day for pulls).
    pub created_at: DateTime<Utc>,
    /// Last time (the last pull of the day for pulls; else `created_at`).
    pub last_at: DateTime<Utc>,
}

/// Which activities a caller may see; the decision is `authz::activities`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivityVisibility {
    All,
    /// Activities on these namespaces, plus those by this user.
    Only {
        namespace_ids: Vec<i64>,
        actor_id: i64,
    },
}

/// Filters of a listing; `None` filters nothing.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// Actor's username.
    pub user: Option<String>,
    /// Namespace name.
    pub namespace: Option<String>,
    /// Full repository name.
    pub repository: Option<String>,
    pub action: Option<ActivityAction>,
    /// Activities whose last time is at or after this.
    pub since: Option<DateTime<Utc>>,
    /// Activities that started before this.
    pub until: Option<DateTime<Utc>>,
}

/// A page of a listing: newest first unless `ascending`.
#[derive(Debug, Clone, Copy)]
pub struct ActivityPage {
    pub offset: i64,
    pub limit: i64,
    pub ascending: bool,
}

const COLUMNS: &str = "id, action, actor_id, actor_name, addr, namespace_id, namespace_name, \
    repository, tag, digest, team_id, team_name, target, detail, count, created_at, last_at";

/// Inserts `new` on `conn` for `actor` (the transaction of the change).
pub(crate) async fn insert_activity(
    conn: &mut sqlx::PgConnection,
    actor: Option<&Actor>,
    new: &NewActivity,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO activities (action, actor_id, actor_name, addr, namespace_id, namespace_name, \
           repository, tag, digest, team_id, team_name, target, detail, created_at, last_at) \
         VALUES ($1, COALESCE($2, (SELECT id FROM users WHERE username = $3)), $3, $4, $5, \
           (SELECT name FROM namespaces WHERE id = $5), $6, $7, $8, $9, \
           (SELECT name FROM teams WHERE id = $9), $10, $11, \
           COALESCE($12::timestamptz, now()), COALESCE($12::timestamptz, now()))",
    )
    .bind(new.action.as_str())
    .bind(actor.and_then(|a| a.user_id))
    .bind(actor.and_then(|a| a.name.as_deref()))
    .bind(actor.and_then(|a| a.addr.as_deref()))
    .bind(new.namespace_id)
    .bind(&new.repository)
    .bind(&new.tag)
    .bind(&new.digest)
    .bind(new.team_id)
    .bind(&new.target)
    .bind(&new.detail)
    .bind(&new.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts one pull of `repository` by `actor` into that day's row.
pub(crate) async fn count_pull(
    conn: &mut sqlx::PgConnection,
    actor: &Actor,
    namespace_id: Option<i64>,
    repository: &str,
    tag: Option<&str>,
    at: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO activities (action, actor_id, actor_name, addr, namespace_id, namespace_name, \
           repository, tag, created_at, last_at, pull_day) \
         VALUES ('repository.pull', (SELECT id FROM users WHERE username = $1), $1, $2, $3, \
           (SELECT name FROM namespaces WHERE id = $3), $4, $5, \
           COALESCE($6::timestamptz, now()), COALESCE($6::timestamptz, now()), \
           (COALESCE($6::timestamptz, now()) AT TIME ZONE 'UTC')::date) \
         ON CONFLICT (COALESCE(actor_name, ''), repository, pull_day) WHERE action = 'repository.pull' \
         DO UPDATE SET count = activities.count + 1, \
           last_at = GREATEST(activities.last_at, EXCLUDED.last_at), \
           created_at = LEAST(activities.created_at, EXCLUDED.created_at), \
           addr = CASE WHEN EXCLUDED.last_at >= activities.last_at THEN EXCLUDED.addr ELSE activities.addr END, \
           tag = CASE WHEN EXCLUDED.last_at >= activities.last_at THEN EXCLUDED.tag ELSE activities.tag END",
    )
    .bind(actor.name.as_deref())
    .bind(actor.addr.as_deref())
    .bind(namespace_id)
    .bind(repository)
    .bind(tag)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// This store, recording `actor` as the author of every change it makes.
    pub fn acting_as(&self, actor: Actor) -> Store {
        let mut s = self.clone();
        s.actor = Some(std::sync::Arc::new(actor));
        s
    }

    /// The actor of an acting store.
    pub fn actor(&self) -> Option<&Actor> {
        self.actor.as_deref()
    }

    /// Records one activity on its own (for changes made outside the store,
    /// such as a registry delete on a caller's behalf).
    pub async fn record_activity(&self, new: &NewActivity) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        insert_activity(&mut conn, self.actor(), new).await
    }

    /// One page of the activities `visible` allows that match `filter`, and
    /// how many match in all.
    pub async fn activities(
        &self,
        filter: &ActivityFilter,
        visible: &ActivityVisibility,
        page: ActivityPage,
    ) -> Result<(Vec<Activity>, i64), StoreError> {
        let (all, namespace_ids, actor_id) = match visible {
            ActivityVisibility::All => (true, Vec::new(), None),
            ActivityVisibility::Only {
                namespace_ids,
                actor_id,
            } => (false, namespace_ids.clone(), Some(*actor_id)),
        };
        let condition = "($1 OR namespace_id = ANY($2) OR actor_id = $3) \
            AND ($4::TEXT IS NULL OR actor_name = $4) \
            AND ($5::TEXT IS NULL OR namespace_name = $5) \
            AND ($6::TEXT IS NULL OR repository = $6) \
            AND ($7::TEXT IS NULL OR action = $7) \
            AND ($8::timestamptz IS NULL OR last_at >= $8) \
            AND ($9::timestamptz IS NULL OR created_at < $9)";
        let order = if page.ascending { "ASC" } else { "DESC" };
        let list_sql = format!(
            "SELECT {COLUMNS} FROM activities WHERE {condition} \
             ORDER BY last_at {order}, id {order} OFFSET $10 LIMIT $11"
        );
        let count_sql = format!("SELECT count(*) FROM activities WHERE {condition}");
        let rows: Vec<Activity> = sqlx::query_as(&list_sql)
            .bind(all)
            .bind(&namespace_ids)
            .bind(actor_id)
            .bind(&filter.user)
            .bind(&filter.namespace)
            .bind(&filter.repository)
            .bind(filter.action.map(ActivityAction::as_str))
            .bind(filter.since)
            .bind(filter.until)
            .bind(page.offset.max(0))
            .bind(page.limit.max(0))
            .fetch_all(self.pool())
            .await?;
        let total: i64 = sqlx::query_scalar(&count_sql)
            .bind(all)
            .bind(&namespace_ids)
            .bind(actor_id)
            .bind(&filter.user)
            .bind(&filter.namespace)
            .bind(&filter.repository)
            .bind(filter.action.map(ActivityAction::as_str))
            .bind(filter.since)
            .bind(filter.until)
            .fetch_one(self.pool())
            .await?;
        Ok((rows, total))
    }
}

#[cfg(test)]
mod tests {
    use super::ActivityAction;

    #[test]
    fn every_action_round_trips_its_spelling() {
        for a in ActivityAction::ALL {
            assert_eq!(ActivityAction::parse(a.as_str()), Some(*a));
        }
        assert_eq!(ActivityAction::parse("push"), None);
    }
}
