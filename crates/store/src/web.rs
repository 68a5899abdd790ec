//! What the web UI needs beyond the API's queries: server-side sessions
//! (only the SHA-256 of the session id is stored), the owner's admin
//! account, and the pages' listings, one page at a time in SQL so that a
//! namespace of thousands of repositories costs one page of rows.

use chrono::{DateTime, Utc};

use crate::catalog::Repository;
use crate::namespaces::Namespace;
use crate::secret::token_hash;
use crate::users::{User, USER_COLUMNS};
use crate::{Store, StoreError};

/// A signed-in browser, as the UI sees it.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub user: User,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The tags of one repository that point at one digest.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TagGroup {
    pub digest: String,
    pub tags: Vec<String>,
    /// The ids of `tags`, in the same order, so that a page links each tag
    /// without reading all the repository's tags.
    pub tag_ids: Vec<i64>,
    pub size: Option<i64>,
    pub media_type: Option<String>,
    pub platforms: Vec<String>,
    pub pushed_at: Option<DateTime<Utc>>,
    pub pushed_by: Option<String>,
}

const REPO_COLUMNS: &str = "r.id, r.name, r.namespace_id, n.name AS namespace_name, r.description, \
    r.created_at, r.updated_at, (SELECT count(*) FROM tags g WHERE g.repository_id = r.id) AS tags_count";

const NS_COLUMNS: &str = "n.id, n.name, n.team_id, t.name AS team_name, n.kind, n.visibility, \
    n.description, n.created_at, n.updated_at, \
    (SELECT count(*) FROM repositories r WHERE r.namespace_id = n.id) AS repositories_count";

impl Store {
    /// Records a new session for `user_id`; `id` is the cookie's secret.
    pub async fn create_web_session(
        &self,
        id: &str,
        user_id: i64,
        idle: chrono::Duration,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO web_sessions (id_hash, user_id, expires_at) VALUES ($1, $2, now() + $3)",
        )
        .bind(token_hash(id))
        .bind(user_id)
        .bind(idle)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The session behind cookie value `id`, extending its idle expiry. A
    /// session of a disabled user, or one past its expiry, is none (and an
    /// expired row is deleted on the way).
    pub async fn touch_web_session(
        &self,
        id: &str,
        idle: chrono::Duration,
    ) -> Result<Option<WebSession>, StoreError> {
        let hash = token_hash(id);
        let sql = format!(
            "SELECT s.created_at AS session_created, s.expires_at, s.last_seen, {USER_COLUMNS} \
             FROM web_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_at > now()"
        );
        let row: Option<SessionRow> = sqlx::query_as(&sql)
            .bind(&hash)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1 OR expires_at <= now()")
                .bind(&hash)
                .execute(self.pool())
                .await?;
            return Ok(None);
        };
        // The idle expiry moves at most once a minute: a page view is then
        // a read, not a write.
        let mut expires_at = row.expires_at;
        if Utc::now() - row.last_seen > chrono::Duration::minutes(1) {
            expires_at = sqlx::query_scalar(
                "UPDATE web_sessions SET last_seen = now(), expires_at = now() + $2 \
                 WHERE id_hash = $1 RETURNING expires_at",
            )
            .bind(&hash)
            .bind(idle)
            .fetch_optional(self.pool())
            .await?
            .unwrap_or(expires_at);
        }
        let user = row.user;
        Ok(
            (user.enabled && !user.bot && !user.service).then_some(WebSession {
                user,
                created_at: row.session_created,
                expires_at,
            }),
        )
    }

    /// Logs a session out; true if it existed.
    pub async fn delete_web_session(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
            .bind(token_hash(id))
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every session of a user (disabled by an admin).
    pub async fn delete_web_sessions_of(&self, user_id: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// The registry account the owner acts as: the oldest enabled human admin.
    pub async fn oldest_enabled_admin(&self) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u \
             WHERE u.admin AND u.enabled AND NOT u.bot AND NOT u.service ORDER BY u.id LIMIT 1"
        );
        Ok(sqlx::query_as(&sql).fetch_optional(self.pool()).await?)
    }

    /// Every namespace with the caller's role in its team (`None` caller:
    /// anonymous), for the pages to decide visibility through the policy.
    pub async fn namespaces_with_role(
        &self,
        caller: Option<i64>,
    ) -> Result<Vec<(Namespace, Option<String>)>, StoreError> {
        let sql = format!(
            "SELECT {NS_COLUMNS}, m.role FROM namespaces n JOIN teams t ON t.id = n.team_id \
             LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = $1 \
             ORDER BY n.name NULLS FIRST"
        );
        let rows: Vec<NamespaceWithRole> = sqlx::query_as(&sql)
            .bind(caller)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(|r| (r.namespace, r.role)).collect())
    }

    /// One page of the repositories in `namespaces` whose name contains
    /// `query` (case-insensitively), newest first, and how many there are.
    pub async fn repositories_page(
        &self,
        namespaces: &[i64],
        query: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Repository>, i64), StoreError> {
        let pattern = format!("%{}%", like_escape(query));
        let filter = "r.namespace_id = ANY($1) AND \
             (COALESCE(n.name || '/', '') || r.name) ILIKE $2";
        let sql = format!(
            "SELECT {REPO_COLUMNS} FROM repositories r JOIN namespaces n ON n.id = r.namespace_id \
             WHERE {filter} ORDER BY r.updated_at DESC, r.id DESC OFFSET $3 LIMIT $4"
        );
        let repos = sqlx::query_as(&sql)
            .bind(namespaces)
            .bind(&pattern)
            .bind(offset)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        let total: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM repositories r JOIN namespaces n ON n.id = r.namespace_id WHERE {filter}"
        ))
        .bind(namespaces)
        .bind(&pattern)
        .fetch_one(self.pool())
        .await?;
        Ok((repos, total))
    }

    /// The repository `name` in namespace `namespace` (`None`: global).
    pub async fn repository_by_name(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Repository>, StoreError> {
        let sql = format!(
            "SELECT {REPO_COLUMNS} FROM repositories r JOIN namespaces n ON n.id = r.namespace_id \
             WHERE r.name = $2 AND n.name IS NOT DISTINCT FROM $1"
        );
        Ok(sqlx::query_as(&sql)
            .bind(namespace)
            .bind(name)
            .fetch_optional(self.pool())
            .await?)
    }

    /// One page of a repository's tags grouped by digest, most recently
    /// pushed first, and the number of groups.
    pub async fn tag_groups_page(
        &self,
        repository_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<TagGroup>, i64), StoreError> {
        // The page of digests first, then the details of those alone. Both
        // it and the count read every tag of the repository, so they run
        // side by side on two connections rather than one after the other.
        let groups = sqlx::query_as(
            "WITH page AS ( \
               SELECT digest, max(COALESCE(pushed_at, updated_at)) AS pushed_at FROM tags \
               WHERE repository_id = $1 GROUP BY digest \
               ORDER BY pushed_at DESC, digest OFFSET $2 LIMIT $3) \
             SELECT p.digest, array_agg(g.name ORDER BY g.name) AS tags, \
               array_agg(g.id ORDER BY g.name) AS tag_ids, max(g.size) AS size, \
               max(g.media_type) AS media_type, \
               COALESCE((SELECT x.platforms FROM tags x WHERE x.repository_id = $1 \
                  AND x.digest = p.digest LIMIT 1), '{}') AS platforms, \
               p.pushed_at, \
               (array_agg(u.username ORDER BY COALESCE(g.pushed_at, g.updated_at) DESC) \
                  FILTER (WHERE u.username IS NOT NULL))[1] AS pushed_by \
             FROM page p JOIN tags g ON g.repository_id = $1 AND g.digest = p.digest \
             LEFT JOIN users u ON u.id = g.author_id \
             GROUP BY p.digest, p.pushed_at ORDER BY p.pushed_at DESC, p.digest",
        )
        .bind(repository_id)
        .bind(offset)
        .bind(limit)
        .fetch_all(self.pool());
        let total =
            sqlx::query_scalar("SELECT count(DISTINCT digest) FROM tags WHERE repository_id = $1")
                .bind(repository_id)
                .fetch_one(self.pool());
        let (groups, total): (Vec<TagGroup>, i64) = tokio::try_join!(groups, total)?;
        Ok((groups, total))
    }

    /// Whether `repository_id` has a tag called `name`.
    pub async fn tag_exists(&self, repository_id: i64, name: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM tags WHERE repository_id = $1 AND name = $2)",
        )
        .bind(repository_id)
        .bind(name)
        .fetch_one(self.pool())
        .await?)
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    session_created: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    #[sqlx(flatten)]
    user: User,
}

#[derive(sqlx::FromRow)]
struct NamespaceWithRole {
    #[sqlx(flatten)]
    namespace: Namespace,
    role: Option<String>,
}

/// Escapes `%`, `_` and `\` so that a search is a plain substring match.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
