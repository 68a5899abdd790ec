//! Installed apps: their rows in `apps`, and the per-app Postgres role and
//! database on the server berth's own database lives on.
//!
//! Role and database names come from `AppName::postgres_identifier`
//! (`app_<name>`); they are checked again here before they reach SQL, since
//! utility statements (`CREATE ROLE`, `CREATE DATABASE`) take no parameters.

use sqlx::{ConnectOptions, Connection};

use crate::{Store, StoreError};

/// Where an app is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppPhase {
    Installing,
    Installed,
    Uninstalling,
}

impl AppPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Installing => "installing",
            Self::Installed => "installed",
            Self::Uninstalling => "uninstalling",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "installed" => Self::Installed,
            "uninstalling" => Self::Uninstalling,
            // An unknown phase resumes the install, which is idempotent.
            _ => Self::Installing,
        }
    }
}

/// One row of `apps`.
#[derive(Debug, Clone)]
pub struct AppRow {
    pub name: String,
    pub manifest: serde_json::Value,
    pub phase: AppPhase,
    pub purge: bool,
    /// The owner wants it running (else stopped, by the owner or for idleness).
    pub want_running: bool,
    /// Stopped by berth after its idle time; the next request starts it.
    /// Stored as `desired = 'idle'`.
    pub idle_stopped: bool,
    pub last_error: Option<String>,
    pub installed_at: chrono::DateTime<chrono::Utc>,
}

type Row = (
    String,
    serde_json::Value,
    String,
    bool,
    String,
    Option<String>,
    chrono::DateTime<chrono::Utc>,
);

fn from_row(r: Row) -> AppRow {
    AppRow {
        name: r.0,
        manifest: r.1,
        phase: AppPhase::parse(&r.2),
        purge: r.3,
        want_running: r.4 == "running",
        idle_stopped: r.4 == "idle",
        last_error: r.5,
        installed_at: r.6,
    }
}

const COLUMNS: &str = "name, manifest, phase, purge, desired, last_error, installed_at";

impl Store {
    /// Records an app about to be installed. `false` if the name is taken.
    pub async fn insert_app(
        &self,
        name: &str,
        manifest: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "INSERT INTO apps (name, manifest, phase) VALUES ($1, $2, 'installing') ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(manifest)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn get_app(&self, name: &str) -> Result<Option<AppRow>, StoreError> {
        let row: Option<Row> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM apps WHERE name = $1"))
                .bind(name)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(from_row))
    }

    pub async fn list_apps(&self) -> Result<Vec<AppRow>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM apps ORDER BY name"))
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(from_row).collect())
    }

    pub async fn set_app_phase(
        &self,
        name: &str,
        phase: AppPhase,
        purge: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE apps SET phase = $2, purge = $3, updated_at = now() WHERE name = $1")
            .bind(name)
            .bind(phase.as_str())
            .bind(purge)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Replaces the stored manifest (an upgrade).
    pub async fn set_app_manifest(
        &self,
        name: &str,
        manifest: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE apps SET manifest = $2, updated_at = now() WHERE name = $1")
            .bind(name)
            .bind(manifest)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every role named like an app's (`app_%`), for reconciliation.
    pub async fn list_app_roles(&self) -> Result<Vec<String>, StoreError> {
        let roles: Vec<String> = sqlx::query_scalar(
            r"SELECT rolname FROM pg_roles WHERE rolname LIKE 'app\_%' ORDER BY 1",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(roles)
    }

    /// Marks an installed app stopped for idleness, only if it is still
    /// meant to run: an owner's stop in the meantime wins. True if marked.
    pub async fn set_app_idle(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE apps SET desired = 'idle', updated_at = now() \
             WHERE name = $1 AND desired = 'running' AND phase = 'installed'",
        )
        .bind(name)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_app_desired(&self, name: &str, running: bool) -> Result<(), StoreError> {
        let desired = if running { "running" } else { "stopped" };
        sqlx::query("UPDATE apps SET desired = $2, updated_at = now() WHERE name = $1")
            .bind(name)
            .bind(desired)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_app_error(&self, name: &str, error: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE apps SET last_error = $2, updated_at = now() WHERE name = $1")
            .bind(name)
            .bind(error)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn delete_app(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM apps WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Creates the app's role and database, or brings existing ones back in
    /// line: the role gets `password`, the database is owned by the role, and
    /// only the role (and superusers) may connect to it. Idempotent.
    pub async fn ensure_app_database(&self, ident: &str, password: &str) -> Result<(), StoreError> {
        check_ident(ident)?;
        if password.len() < 32 || !password.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Invalid(
                "app database password must be hex".into(),
            ));
        }
        let pool = self.pool();
        let role_exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                .bind(ident)
                .fetch_one(pool)
                .await?;
        let verb = if role_exists { "ALTER" } else { "CREATE" };
        // The statement carries the password, and sqlx logs slow statements
        // with their text: this one goes over a connection that logs nothing.
        let options = (*pool.connect_options())
            .clone()
            .disable_statement_logging();
        let mut quiet = options.connect().await.map_err(StoreError::Connect)?;
        // INVARIANT: `ident` matches `app_[a-z0-9_]+` and `password` is hex,
        // so neither can end the identifier or the literal.
        sqlx::query(&format!(
            "{verb} ROLE {ident} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{password}'"
        ))
        .execute(&mut quiet)
        .await?;
        quiet.close().await?;
        let db_exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(ident)
                .fetch_one(pool)
                .await?;
        if !db_exists {
            sqlx::query(&format!("CREATE DATABASE {ident} OWNER {ident}"))
                .execute(pool)
                .await?;
        }
        sqlx::query(&format!(
            "REVOKE CONNECT, TEMPORARY ON DATABASE {ident} FROM PUBLIC"
        ))
        .execute(pool)
        .await?;
        sqlx::query(&format!("GRANT CONNECT ON DATABASE {ident} TO {ident}"))
            .execute(pool)
            .await?;
        Ok(())
    }

    /// Keeps app roles out of berth's own databases: PUBLIC may connect to
    /// `postgres` and to the current database by default.
    pub async fn revoke_public_connect_on_system_databases(&self) -> Result<(), StoreError> {
        let current: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(self.pool())
            .await?;
        for db in ["postgres", current.as_str()] {
            sqlx::query(&format!(
                "REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC",
                crate::admin::quote_ident(db)
            ))
            .execute(self.pool())
            .await?;
        }
        Ok(())
    }

    /// Drops the app's database (disconnecting its sessions) and role.
    pub async fn drop_app_database(&self, ident: &str) -> Result<(), StoreError> {
        check_ident(ident)?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {ident} WITH (FORCE)"))
            .execute(self.pool())
            .await?;
        sqlx::query(&format!("DROP ROLE IF EXISTS {ident}"))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Whether the role `ident` exists.
    pub async fn app_role_exists(&self, ident: &str) -> Result<bool, StoreError> {
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                .bind(ident)
                .fetch_one(self.pool())
                .await?;
        Ok(exists)
    }
}

fn check_ident(ident: &str) -> Result<(), StoreError> {
    let ok = ident.len() <= 63
        && ident.strip_prefix("app_").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "`{ident}` is not an app database name"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::check_ident;

    #[test]
    fn only_app_identifiers_reach_sql() {
        assert!(check_ident("app_paperless_ngx").is_ok());
        for bad in [
            "app_",
            "postgres",
            "app_a;drop",
            "app_A",
            "app_a\"",
            "berth",
        ] {
            assert!(check_ident(bad).is_err(), "{bad}");
        }
    }
}
