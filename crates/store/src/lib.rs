//! berth's metadata store: the one place that speaks SQL.
//!
//! Architecture invariant: only this crate depends on sqlx; every other crate
//! sees typed functions and the [`Store`] handle.

mod activities;
pub mod activities_csv;
mod apps;
mod cache;
mod catalog;
mod catalog_events;
mod catalog_sync;
mod credentials;
mod events;
pub mod identity;
mod meta;
mod namespaces;
pub mod sealed;
pub mod secret;
mod social;
mod teams;
mod users;
mod web;
mod webhooks;

pub use activities::{
    Activity, ActivityAction, ActivityFilter, ActivityPage, ActivityVisibility, Actor, NewActivity,
};
pub use apps::{AppPhase, AppRow};
pub use catalog::{Registry, Repository, Tag};
pub use catalog_events::{EventApplied, EventOrigin};
pub use catalog_sync::{split_repository, ApplyOutcome, TagRecord};
pub use credentials::{ApplicationToken, RefreshToken, MAX_APPLICATION_TOKENS};
pub use events::StoredEvent;
pub use namespaces::{Namespace, NamespaceUpdate};
pub use social::Comment;
pub use teams::{parse_role, role_str, Team, TeamMember};
pub use users::{NewUser, PasswordLogin, User, UserUpdate, LOCK_MINUTES, MAX_FAILED_LOGINS};
pub use web::{TagGroup, WebSession};
pub use webhooks::{
    AttemptOutcome, DeliveryAttempt, DueDelivery, NewWebhook, Webhook, WebhookDelivery,
    WebhookUpdate,
};

/// How to reach a Postgres server. An alias, so that callers above the store
/// name no sqlx type and need no sqlx dependency.
pub type ConnectOptions = sqlx::postgres::PgConnectOptions;

/// Parses a `postgres://` URL into [`ConnectOptions`].
pub fn parse_url(url: &str) -> Result<ConnectOptions, StoreError> {
    url.parse::<ConnectOptions>().map_err(StoreError::Connect)
}

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// Errors of the store. Callers at the HTTP edge map these to an opaque 500.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to postgres: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// A unique value is taken; the payload names the field for the client.
    #[error("{0} has already been taken")]
    Conflict(&'static str),
    /// A rule of the model would break (limit reached, last owner).
    #[error("{0}")]
    Rule(&'static str),
    #[error("no such record")]
    NotFound,
    #[error("cannot hash a credential: {0}")]
    Credential(String),
    #[error("refused: {0}")]
    Invalid(String),
    #[error("{0}")]
    Seal(#[from] sealed::SealError),
}

impl StoreError {
    /// Maps a unique violation to [`StoreError::Conflict`] on `field`.
    pub(crate) fn conflict_or(e: sqlx::Error, field: &'static str) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
                Self::Conflict(field)
            }
            _ => Self::Query(e),
        }
    }
}

/// Handle to berth's metadata database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    cache: std::sync::Arc<cache::AuthCache>,
    /// Who the changes made through this handle are recorded as (see
    /// [`Store::acting_as`]); `None` records no actor.
    actor: Option<std::sync::Arc<Actor>>,
}

impl Store {
    /// Connects lazily-validated: the pool is created and one connection is
    /// checked, so a wrong URL fails at start and not on the first request.
    pub async fn connect(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(StoreError::Connect)?;
        Ok(Self {
            pool,
            cache: Default::default(),
            actor: None,
        })
    }

    /// Applies every pending migration; safe to call on every start.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations").run(&self.pool).await?;
        Ok(())
    }

    /// True when the server answers and every known migration has been
    /// applied successfully.
    pub async fn migrations_applied(&self) -> Result<bool, StoreError> {
        let migrator = sqlx::migrate!("./migrations");
        let latest = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_optional(&self.pool)
                .await?
                .flatten();
        Ok(applied.unwrap_or(0) >= latest)
    }

    /// Round-trips one trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The server's version string, e.g. `15.14`.
    pub async fn server_version(&self) -> Result<String, StoreError> {
        let v: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&self.pool)
            .await?;
        Ok(v)
    }

    /// Clears the token endpoint's cache after a committed write that can
    /// change who may do what (see `cache.rs`).
    pub(crate) fn changed(&self) {
        self.cache.changed();
    }

    pub(crate) fn cache(&self) -> &cache::AuthCache {
        &self.cache
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

/// Administrative helpers that run on a superuser (or CREATEDB) connection,
/// outside any berth database.
pub mod admin {
    use sqlx::postgres::PgConnectOptions;
    use sqlx::{ConnectOptions, Connection};

    use crate::StoreError;

    /// Creates `name` if it does not exist. `name` must already be a safe
    /// identifier; it is quoted anyway.
    pub async fn ensure_database(options: &PgConnectOptions, name: &str) -> Result<(), StoreError> {
        let mut conn = options.connect().await.map_err(StoreError::Connect)?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(name)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            sqlx::query(&format!("CREATE DATABASE {}", quote_ident(name)))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await?;
        Ok(())
    }

    /// Proves the connection may create databases by creating and dropping a
    /// throwaway one. Used by `berth doctor`.
    pub async fn probe_create_database(
        options: &PgConnectOptions,
        probe: &str,
    ) -> Result<(), StoreError> {
        let mut conn = options.connect().await.map_err(StoreError::Connect)?;
        let name = quote_ident(probe);
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&mut conn)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        sqlx::query(&format!("DROP DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(())
    }

    /// Drops `name` if it exists (scratch databases of benchmarks).
    pub async fn drop_database(options: &PgConnectOptions, name: &str) -> Result<(), StoreError> {
        let mut conn = options.connect().await.map_err(StoreError::Connect)?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(name)
        ))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(())
    }

    /// The server version, from any database.
    pub async fn server_version(options: &PgConnectOptions) -> Result<String, StoreError> {
        let mut conn = options.connect().await.map_err(StoreError::Connect)?;
        let v: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut conn)
            .await?;
        conn.close().await?;
        Ok(v)
    }

    /// Quotes a Postgres identifier: doubles embedded quotes and wraps in
    /// double quotes, so no input can end the identifier early.
    pub fn quote_ident(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    #[cfg(test)]
    mod tests {
        use super::quote_ident;

        #[test]
        fn quote_ident_doubles_quotes() {
            assert_eq!(quote_ident("berth"), "\"berth\"");
            assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        }
    }
}
