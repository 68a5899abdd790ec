//! Application tokens and refresh tokens: random secrets stored as SHA-256.
//!
//! Application tokens stand in for a password (docker login, `Portus-Auth`);
//! refresh tokens are the identity tokens docker keeps after an
//! `offline_token=true` login. Both are refused once their user is disabled.

use chrono::{DateTime, Utc};

use crate::activities::{insert_activity, ActivityAction, NewActivity};
use crate::cache::CredentialKey;
use crate::secret::{random_token, token_hash};
use crate::users::{User, USER_COLUMNS};
use crate::{Store, StoreError};

/// At most this many application tokens per user (Portus's limit).
pub const MAX_APPLICATION_TOKENS: i64 = 5;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApplicationToken {
    pub id: i64,
    pub user_id: i64,
    pub application: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshToken {
    pub id: i64,
    pub user_id: i64,
    pub client_id: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Creates an application token and returns it with its plain secret,
    /// which is never stored and shown only this once.
    pub async fn create_application_token(
        &self,
        user_id: i64,
        application: &str,
    ) -> Result<(ApplicationToken, String), StoreError> {
        let plain = random_token();
        let mut tx = self.pool().begin().await?;
        // Lock the user row so that concurrent creations cannot pass the limit together.
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM application_tokens WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
        if count >= MAX_APPLICATION_TOKENS {
            return Err(StoreError::Rule(
                "users cannot have more than 5 application tokens",
            ));
        }
        let token: ApplicationToken = sqlx::query_as(
            "INSERT INTO application_tokens (user_id, application, token_hash) VALUES ($1, $2, $3) \
             RETURNING id, user_id, application, created_at",
        )
        .bind(user_id)
        .bind(application)
        .bind(token_hash(&plain))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, "application"))?;
        let mut a = NewActivity::new(ActivityAction::ApplicationTokenCreate);
        a.target = Some(application.to_owned());
        a.detail = serde_json::json!({"token_id": token.id, "user_id": user_id});
        insert_activity(&mut tx, self.actor(), &a).await?;
        tx.commit().await?;
        self.changed();
        Ok((token, plain))
    }

    pub async fn application_tokens(
        &self,
        user_id: i64,
    ) -> Result<Vec<ApplicationToken>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, application, created_at FROM application_tokens \
             WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn application_token(&self, id: i64) -> Result<Option<ApplicationToken>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, application, created_at FROM application_tokens WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn delete_application_token(&self, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let gone: Option<(String, i64)> = sqlx::query_as(
            "DELETE FROM application_tokens WHERE id = $1 RETURNING application, user_id",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((application, user_id)) = &gone {
            let mut a = NewActivity::new(ActivityAction::ApplicationTokenRevoke);
            a.target = Some(application.clone());
            a.detail = serde_json::json!({"token_id": id, "user_id": user_id});
            insert_activity(&mut tx, self.actor(), &a).await?;
        }
        tx.commit().await?;
        self.changed();
        Ok(gone.is_some())
    }

    /// The enabled user `username` if `token` is one of their application
    /// tokens. One index probe; no argon2.
    pub async fn login_application_token(
        &self,
        username: &str,
        token: &str,
    ) -> Result<Option<User>, StoreError> {
        let hash = token_hash(token);
        let key = CredentialKey::Application(hash.clone(), username.to_owned());
        if let Some(user) = self.cache().user(&key) {
            return Ok(Some(user));
        }
        let generation = self.cache().generation();
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN application_tokens t ON t.user_id = u.id \
             WHERE t.token_hash = $1 AND u.username = $2 AND u.enabled"
        );
        let user: Option<User> = sqlx::query_as(&sql)
            .bind(hash)
            .bind(username)
            .fetch_optional(self.pool())
            .await?;
        // Only hits are cached: a token created later must work at once.
        if let Some(u) = &user {
            self.cache().put_user(generation, key, u.clone());
        }
        Ok(user)
    }

    /// Issues a refresh token bound to `user_id` and `client_id`.
    pub async fn issue_refresh_token(
        &self,
        user_id: i64,
        client_id: &str,
    ) -> Result<String, StoreError> {
        let plain = random_token();
        sqlx::query(
            "INSERT INTO refresh_tokens (user_id, client_id, token_hash) VALUES ($1, $2, $3)",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(token_hash(&plain))
        .execute(self.pool())
        .await?;
        Ok(plain)
    }

    /// The user behind a refresh token presented by `client_id`: refused when
    /// revoked, bound to another client, or the user is disabled.
    pub async fn redeem_refresh_token(
        &self,
        token: &str,
        client_id: &str,
    ) -> Result<Option<User>, StoreError> {
        let hash = token_hash(token);
        let key = CredentialKey::Refresh(hash.clone(), client_id.to_owned());
        if let Some(user) = self.cache().user(&key) {
            return Ok(Some(user));
        }
        let generation = self.cache().generation();
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u JOIN refresh_tokens r ON r.user_id = u.id \
             WHERE r.token_hash = $1 AND r.client_id = $2 AND r.revoked_at IS NULL AND u.enabled"
        );
        let user: Option<User> = sqlx::query_as(&sql)
            .bind(hash)
            .bind(client_id)
            .fetch_optional(self.pool())
            .await?;
        if let Some(u) = &user {
            self.cache().put_user(generation, key, u.clone());
        }
        Ok(user)
    }

    pub async fn refresh_tokens(&self, user_id: i64) -> Result<Vec<RefreshToken>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, client_id, created_at, last_used_at, revoked_at \
             FROM refresh_tokens WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Revokes the refresh token `id` of `user_id`; false if there is none.
    pub async fn revoke_refresh_token(&self, user_id: i64, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = now() \
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            let mut a = NewActivity::new(ActivityAction::RefreshTokenRevoke);
            a.detail = serde_json::json!({"token_id": id, "user_id": user_id});
            insert_activity(&mut tx, self.actor(), &a).await?;
        }
        tx.commit().await?;
        self.changed();
        Ok(done.rows_affected() > 0)
    }
}
