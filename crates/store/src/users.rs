//! Accounts: creation (with the personal team and namespace), lookup,
//! updates, the bootstrap admin, the service user, and password logins with
//! lockout.

use chrono::{DateTime, Utc};

use crate::activities::{insert_activity, ActivityAction, NewActivity};
use crate::secret::{hash_password, verify_password};
use crate::{Store, StoreError};

/// After this many failed password logins in a row the account is locked.
pub const MAX_FAILED_LOGINS: i32 = 10;

/// A lock lasts this many minutes; a successful login afterwards resets it.
pub const LOCK_MINUTES: i64 = 15;

/// An account as the API shows it (never its password hash).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub admin: bool,
    pub enabled: bool,
    pub bot: bool,
    pub service: bool,
    pub locked_at: Option<DateTime<Utc>>,
    pub current_sign_in_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The personal namespace; `None` for bots and the service user.
    pub namespace_id: Option<i64>,
}

/// What creating an account needs. `username` must already be a valid
/// namespace name for humans (the API checks it through `authz::names`).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub password: String,
    pub display_name: Option<String>,
    pub admin: bool,
    pub bot: bool,
}

/// Changes to an account; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub email: Option<String>,
    pub password: Option<String>,
    pub display_name: Option<String>,
    pub admin: Option<bool>,
    pub enabled: Option<bool>,
}

/// The outcome of a password check.
#[derive(Debug, Clone)]
pub enum PasswordLogin {
    Ok(User),
    /// Unknown user, wrong password, disabled or locked: callers answer the
    /// same 401 for all of them, so nothing leaks which it was.
    Refused,
}

pub(crate) const USER_COLUMNS: &str = "u.id, u.username, u.email, u.display_name, u.admin, \
    u.enabled, u.bot, u.service, u.locked_at, u.current_sign_in_at, u.last_sign_in_at, \
    u.created_at, u.updated_at, \
    (SELECT n.id FROM namespaces n JOIN teams t ON t.id = n.team_id \
      WHERE n.kind = 'personal' AND t.hidden AND t.name = u.username) AS namespace_id";

impl Store {
    /// Creates an account; a human also gets a hidden personal team named
    /// after them (they own it) and a private personal namespace.
    pub async fn create_user(&self, new: &NewUser) -> Result<User, StoreError> {
        let hash = hash_password(&new.password).await?;
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, email, display_name, password_hash, admin, bot) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&new.username)
        .bind(&new.email)
        .bind(&new.display_name)
        .bind(&hash)
        .bind(new.admin && !new.bot)
        .bind(new.bot)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, "username or email"))?;
        if !new.bot {
            let team: i64 = sqlx::query_scalar(
                "INSERT INTO teams (name, hidden, description) VALUES ($1, TRUE, 'personal team') \
                 RETURNING id",
            )
            .bind(&new.username)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::conflict_or(e, "username"))?;
            sqlx::query(
                "INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, 'owner')",
            )
            .bind(team)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO namespaces (name, team_id, kind, description) \
                 VALUES ($1, $2, 'personal', 'personal namespace')",
            )
            .bind(&new.username)
            .bind(team)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::conflict_or(e, "username"))?;
        }
        let mut a = NewActivity::new(ActivityAction::UserCreate);
        a.target = Some(new.username.clone());
        a.detail =
            serde_json::json!({"user_id": id, "admin": new.admin && !new.bot, "bot": new.bot});
        insert_activity(&mut tx, self.actor(), &a).await?;
        tx.commit().await?;
        self.changed();
        self.user(id).await?.ok_or(StoreError::NotFound)
    }

    /// Creates the first admin, only while no admin exists. `None` when one
    /// already does. Serialized by an advisory lock so two racing bootstraps
    /// cannot both win.
    pub async fn bootstrap_admin(&self, new: &NewUser) -> Result<Option<User>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(4004)")
            .execute(&mut *conn)
            .await?;
        let result = async {
            if self.admin_exists().await? {
                return Ok(None);
            }
            let mut admin = new.clone();
            admin.admin = true;
            admin.bot = false;
            self.create_user(&admin).await.map(Some)
        }
        .await;
        sqlx::query("SELECT pg_advisory_unlock(4004)")
            .execute(&mut *conn)
            .await?;
        result
    }

    /// Whether any enabled human admin exists (the service user does not count).
    pub async fn admin_exists(&self) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users WHERE admin AND NOT service AND NOT bot)",
        )
        .fetch_one(self.pool())
        .await?)
    }

    /// Creates the internal service user, or resets its password to
    /// `password` (the data dir holds the only copy, so it wins).
    pub async fn ensure_service_user(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(), StoreError> {
        let hash = hash_password(password).await?;
        sqlx::query(
            "INSERT INTO users (username, password_hash, service) VALUES ($1, $2, TRUE) \
             ON CONFLICT (service) WHERE service DO UPDATE SET password_hash = $2, username = $1",
        )
        .bind(username)
        .bind(&hash)
        .execute(self.pool())
        .await
        .map_err(|e| StoreError::conflict_or(e, "service username"))?;
        self.changed();
        Ok(())
    }

    pub async fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        Ok(sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Looks a user up by id (all digits) or else by email, as Portus does.
    pub async fn user_by_id_or_email(&self, key: &str) -> Result<Option<User>, StoreError> {
        match key.parse::<i64>() {
            Ok(id) => self.user(id).await,
            Err(_) => {
                let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = $1");
                Ok(sqlx::query_as(&sql)
                    .bind(key)
                    .fetch_optional(self.pool())
                    .await?)
            }
        }
    }

    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1");
        Ok(sqlx::query_as(&sql)
            .bind(username)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Every account but the service user, by id.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE NOT u.service ORDER BY u.id");
        Ok(sqlx::query_as(&sql).fetch_all(self.pool()).await?)
    }

    /// Applies `update`; re-enabling also clears a lock. Refresh tokens of a
    /// disabled user stay in place but are refused while it is disabled.
    pub async fn update_user(
        &self,
        id: i64,
        update: &UserUpdate,
    ) -> Result<Option<User>, StoreError> {
        let hash = match &update.password {
            Some(p) => Some(hash_password(p).await?),
            None => None,
        };
        if update.admin == Some(false) {
            self.ensure_other_admin(id).await?;
        }
        let mut tx = self.pool().begin().await?;
        let before: Option<(String, bool, bool)> = sqlx::query_as(
            "SELECT username, admin, enabled FROM users WHERE id = $1 AND NOT service FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let done = sqlx::query(
            "UPDATE users SET email = COALESCE($2, email), password_hash = COALESCE($3, password_hash), \
             display_name = COALESCE($4, display_name), admin = COALESCE($5, admin) AND NOT bot, \
             enabled = COALESCE($6, enabled), \
             locked_at = CASE WHEN $6 THEN NULL ELSE locked_at END, \
             failed_attempts = CASE WHEN $6 THEN 0 ELSE failed_attempts END, \
             updated_at = now() WHERE id = $1 AND NOT service",
        )
        .bind(id)
        .bind(&update.email)
        .bind(&hash)
        .bind(&update.display_name)
        .bind(update.admin)
        .bind(update.enabled)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::conflict_or(e, "email"))?;
        let Some((username, was_admin, was_enabled)) = before.filter(|_| done.rows_affected() > 0)
        else {
            return Ok(None);
        };
        let after: (bool, bool) = sqlx::query_as("SELECT admin, enabled FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let mut actions = Vec::new();
        match (was_admin, after.0) {
            (false, true) => actions.push(ActivityAction::UserGrantAdmin),
            (true, false) => actions.push(ActivityAction::UserRevokeAdmin),
            _ => {}
        }
        match (was_enabled, after.1) {
            (false, true) => actions.push(ActivityAction::UserEnable),
            (true, false) => actions.push(ActivityAction::UserDisable),
            _ => {}
        }
        // Which fields changed, never their values (a password least of all).
        let fields: Vec<&str> = [
            ("email", update.email.is_some()),
            ("password", update.password.is_some()),
            ("display_name", update.display_name.is_some()),
        ]
        .into_iter()
        .filter_map(|(f, set)| set.then_some(f))
        .collect();
        if !fields.is_empty() {
            actions.push(ActivityAction::UserUpdate);
        }
        for action in actions {
            let mut a = NewActivity::new(action);
            a.target = Some(username.clone());
            a.detail = match action {
                ActivityAction::UserUpdate => serde_json::json!({"user_id": id, "fields": fields}),
                _ => serde_json::json!({"user_id": id}),
            };
            insert_activity(&mut tx, self.actor(), &a).await?;
        }
        tx.commit().await?;
        self.changed();
        self.user(id).await
    }

    /// Deletes an account with its personal team and namespace.
    pub async fn delete_user(&self, id: i64) -> Result<bool, StoreError> {
        self.ensure_other_admin(id).await?;
        let mut tx = self.pool().begin().await?;
        let name: Option<String> = sqlx::query_scalar(
            "DELETE FROM users WHERE id = $1 AND NOT service RETURNING username",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(name) = name else {
            return Ok(false);
        };
        sqlx::query(
            "DELETE FROM namespaces WHERE kind = 'personal' AND team_id IN \
             (SELECT id FROM teams WHERE hidden AND name = $1)",
        )
        .bind(&name)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM teams WHERE hidden AND name = $1")
            .bind(&name)
            .execute(&mut *tx)
            .await?;
        let mut a = NewActivity::new(ActivityAction::UserDelete);
        a.target = Some(name);
        a.detail = serde_json::json!({"user_id": id});
        insert_activity(&mut tx, self.actor(), &a).await?;
        tx.commit().await?;
        self.changed();
        Ok(true)
    }

    /// Refuses to demote or delete the last admin: with none left, the
    /// bootstrap endpoint would let anyone become admin.
    async fn ensure_other_admin(&self, id: i64) -> Result<(), StoreError> {
        let is_admin: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1 AND admin AND NOT service AND NOT bot)",
        )
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        let others: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users WHERE id <> $1 AND admin AND NOT service AND NOT bot)",
        )
        .bind(id)
        .fetch_one(self.pool())
        .await?;
        if is_admin && !others {
            return Err(StoreError::Rule(
                "the last admin cannot be demoted or deleted",
            ));
        }
        Ok(())
    }

    /// Checks a password, counting failures and locking the account after
    /// [`MAX_FAILED_LOGINS`]. A disabled or locked account is refused even
    /// with the right password.
    pub async fn login_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<PasswordLogin, StoreError> {
        let row: Option<(i64, String, bool, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT id, password_hash, enabled, locked_at FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        let Some((id, hash, enabled, locked_at)) = row else {
            // Spend the same time as a real check, so timing does not tell
            // which usernames exist.
            let _ = verify_password(password, &dummy_hash().await).await;
            return Ok(PasswordLogin::Refused);
        };
        let locked =
            locked_at.is_some_and(|t| Utc::now() - t < chrono::Duration::minutes(LOCK_MINUTES));
        if !verify_password(password, &hash).await {
            sqlx::query(
                "UPDATE users SET failed_attempts = failed_attempts + 1, \
                 locked_at = CASE WHEN failed_attempts + 1 >= $2 THEN now() ELSE locked_at END \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(MAX_FAILED_LOGINS)
            .execute(self.pool())
            .await?;
            return Ok(PasswordLogin::Refused);
        }
        if !enabled || locked {
            return Ok(PasswordLogin::Refused);
        }
        sqlx::query(
            "UPDATE users SET failed_attempts = 0, locked_at = NULL, \
             last_sign_in_at = current_sign_in_at, current_sign_in_at = now() WHERE id = $1",
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(match self.user(id).await? {
            Some(u) => PasswordLogin::Ok(u),
            None => PasswordLogin::Refused,
        })
    }
}

/// A real argon2id hash of a random password, verified against for unknown
/// usernames so that they cost as much as known ones.
async fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return h.clone();
    }
    let h = hash_password(&crate::secret::random_token())
        .await
        .unwrap_or_default();
    DUMMY.get_or_init(|| h).clone()
}
