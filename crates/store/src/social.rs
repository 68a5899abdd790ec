//! Stars and comments on repositories (the web UI's, as Portus had them).
//! Who may star, comment or delete a comment is the caller's to decide.

use chrono::{DateTime, Utc};

use crate::{Store, StoreError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Comment {
    pub id: i64,
    pub repository_id: i64,
    pub user_id: i64,
    pub username: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Stars or unstars a repository for a user; returns the stars it has.
    pub async fn set_star(
        &self,
        repository_id: i64,
        user_id: i64,
        starred: bool,
    ) -> Result<i64, StoreError> {
        if starred {
            sqlx::query(
                "INSERT INTO repository_stars (repository_id, user_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(repository_id)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        } else {
            sqlx::query("DELETE FROM repository_stars WHERE repository_id = $1 AND user_id = $2")
                .bind(repository_id)
                .bind(user_id)
                .execute(self.pool())
                .await?;
        }
        Ok(self.stars(repository_id, None).await?.0)
    }

    /// How many stars a repository has, and whether `user_id` gave one.
    pub async fn stars(
        &self,
        repository_id: i64,
        user_id: Option<i64>,
    ) -> Result<(i64, bool), StoreError> {
        Ok(sqlx::query_as(
            "SELECT count(*), COALESCE(bool_or(user_id = $2), FALSE) \
             FROM repository_stars WHERE repository_id = $1",
        )
        .bind(repository_id)
        .bind(user_id)
        .fetch_one(self.pool())
        .await?)
    }

    pub async fn add_comment(
        &self,
        repository_id: i64,
        user_id: i64,
        body: &str,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO repository_comments (repository_id, user_id, body) \
             VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(repository_id)
        .bind(user_id)
        .bind(body)
        .fetch_one(self.pool())
        .await?)
    }

    /// One page of a repository's comments counted from the latest (page
    /// one is the latest `limit`), oldest first within the page, and how
    /// many comments there are.
    pub async fn comments_page(
        &self,
        repository_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Comment>, i64), StoreError> {
        let comments = sqlx::query_as(
            "SELECT * FROM (SELECT c.id, c.repository_id, c.user_id, u.username, c.body, c.created_at \
             FROM repository_comments c JOIN users u ON u.id = c.user_id \
             WHERE c.repository_id = $1 ORDER BY c.id DESC OFFSET $2 LIMIT $3) x ORDER BY id",
        )
        .bind(repository_id)
        .bind(offset)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let total =
            sqlx::query_scalar("SELECT count(*) FROM repository_comments WHERE repository_id = $1")
                .bind(repository_id)
                .fetch_one(self.pool())
                .await?;
        Ok((comments, total))
    }

    pub async fn comment(&self, id: i64) -> Result<Option<Comment>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT c.id, c.repository_id, c.user_id, u.username, c.body, c.created_at \
             FROM repository_comments c JOIN users u ON u.id = c.user_id WHERE c.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn delete_comment(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM repository_comments WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
