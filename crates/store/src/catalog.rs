//! Repositories, tags and the registry row: what the registry holds, as the
//! API reads it. The sync (issue 5) writes repositories and tags.

use chrono::{DateTime, Utc};

use crate::{Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Registry {
    pub id: i64,
    pub name: String,
    pub hostname: String,
    pub external_hostname: Option<String>,
    pub use_ssl: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Repository {
    pub id: i64,
    pub name: String,
    pub namespace_id: i64,
    /// `None` for the global namespace.
    pub namespace_name: Option<String>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub tags_count: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Tag {
    pub id: i64,
    pub repository_id: i64,
    pub name: String,
    pub digest: String,
    pub image_id: Option<String>,
    pub size: Option<i64>,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The manifest's media type, as the registry served it.
    pub media_type: Option<String>,
    /// `os/arch[/variant]` of each image an index or list names.
    pub platforms: Vec<String>,
}

const REPO_COLUMNS: &str = "r.id, r.name, r.namespace_id, n.name AS namespace_name, r.description, \
    r.created_at, r.updated_at, (SELECT count(*) FROM tags g WHERE g.repository_id = r.id) AS tags_count";

const TAG_COLUMNS: &str =
    "g.id, g.repository_id, g.name, g.digest, g.image_id, g.size, g.author_id, \
    u.username AS author_name, g.created_at, g.updated_at, g.media_type, g.platforms";

impl Store {
    /// Records the registry berth fronts, replacing the row of the same name.
    pub async fn upsert_registry(
        &self,
        name: &str,
        hostname: &str,
        use_ssl: bool,
    ) -> Result<Registry, StoreError> {
        Ok(sqlx::query_as(
            "INSERT INTO registries (name, hostname, use_ssl) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET hostname = $2, use_ssl = $3, updated_at = now() \
             RETURNING id, name, hostname, external_hostname, use_ssl, created_at, updated_at",
        )
        .bind(name)
        .bind(hostname)
        .bind(use_ssl)
        .fetch_one(self.pool())
        .await?)
    }

    /// Renames the registry and sets the hostname clients see; `None` keeps
    /// a field. Returns `None` for an unknown id.
    pub async fn update_registry(
        &self,
        id: i64,
        name: Option<&str>,
        external_hostname: Option<&str>,
    ) -> Result<Option<Registry>, StoreError> {
        sqlx::query_as(
            "UPDATE registries SET name = COALESCE($2, name), \
             external_hostname = COALESCE($3, external_hostname), updated_at = now() WHERE id = $1 \
             RETURNING id, name, hostname, external_hostname, use_ssl, created_at, updated_at",
        )
        .bind(id)
        .bind(name)
        .bind(external_hostname)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| StoreError::conflict_or(e, "name"))
    }

    pub async fn registries(&self) -> Result<Vec<Registry>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, name, hostname, external_hostname, use_ssl, created_at, updated_at \
             FROM registries ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Repositories, all or those of one namespace.
    pub async fn repositories(
        &self,
        namespace_id: Option<i64>,
    ) -> Result<Vec<Repository>, StoreError> {
        let sql = format!(
            "SELECT {REPO_COLUMNS} FROM repositories r JOIN namespaces n ON n.id = r.namespace_id \
             WHERE $1::BIGINT IS NULL OR r.namespace_id = $1 ORDER BY r.id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(namespace_id)
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn repository(&self, id: i64) -> Result<Option<Repository>, StoreError> {
        let sql = format!(
            "SELECT {REPO_COLUMNS} FROM repositories r JOIN namespaces n ON n.id = r.namespace_id WHERE r.id = $1"
        );
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Records a repository (used by the sync and by tests).
    pub async fn upsert_repository(
        &self,
        namespace_id: i64,
        name: &str,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO repositories (namespace_id, name) VALUES ($1, $2) \
             ON CONFLICT (namespace_id, name) DO UPDATE SET updated_at = now() RETURNING id",
        )
        .bind(namespace_id)
        .bind(name)
        .fetch_one(self.pool())
        .await?)
    }

    pub async fn update_repository_description(
        &self,
        id: i64,
        description: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE repositories SET description = $2, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(description)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records a tag (used by the sync and by tests).
    pub async fn upsert_tag(
        &self,
        repository_id: i64,
        name: &str,
        digest: &str,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO tags (repository_id, name, digest) VALUES ($1, $2, $3) \
             ON CONFLICT (repository_id, name) DO UPDATE SET digest = $3, updated_at = now() RETURNING id",
        )
        .bind(repository_id)
        .bind(name)
        .bind(digest)
        .fetch_one(self.pool())
        .await?)
    }

    /// Forgets every tag of `repository_id` pointing at `digest` (the
    /// registry deleted them all with the manifest).
    pub async fn delete_tags_by_digest(
        &self,
        repository_id: i64,
        digest: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM tags WHERE repository_id = $1 AND digest = $2")
            .bind(repository_id)
            .bind(digest)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn delete_repository(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM repositories WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Tags, all or those of one repository.
    pub async fn tags(&self, repository_id: Option<i64>) -> Result<Vec<Tag>, StoreError> {
        let sql = format!(
            "SELECT {TAG_COLUMNS} FROM tags g LEFT JOIN users u ON u.id = g.author_id \
             WHERE $1::BIGINT IS NULL OR g.repository_id = $1 ORDER BY g.id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(repository_id)
            .fetch_all(self.pool())
            .await?)
    }

    pub async fn tag(&self, id: i64) -> Result<Option<Tag>, StoreError> {
        let sql = format!("SELECT {TAG_COLUMNS} FROM tags g LEFT JOIN users u ON u.id = g.author_id WHERE g.id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }
}
