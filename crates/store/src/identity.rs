//! Rows of identities, terminals, pairing codes, peers and peer nonces
//! (migration 0004).
//!
//! Only metadata and public keys live here; private keys stay in files. The
//! one-time use of a pairing code is a single conditional `UPDATE` inside the
//! transaction that creates the terminal, so a code can pair exactly once and
//! a failed pairing (a taken name) does not burn the code.

use chrono::{DateTime, Utc};

use crate::{Store, StoreError};

/// One identity, without its private key.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdentityRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub description: String,
    pub public_key: Vec<u8>,
    pub is_default: bool,
}

/// One paired device.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TerminalRow {
    pub id: String,
    pub name: String,
    pub icon: String,
    pub created_at: DateTime<Utc>,
    pub last_connection: Option<DateTime<Utc>>,
}

/// One pairing code as issued.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PairingCodeRow {
    pub code: String,
    pub created_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
}

/// One known peer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PeerRow {
    pub id: String,
    pub name: String,
    pub public_key: Vec<u8>,
    /// The base URL of its domain (`http(s)://domain[:port]`), if known.
    pub url: Option<String>,
}

/// Why a pairing did not create a terminal.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    /// Unknown, used or expired: the three are indistinguishable on purpose.
    #[error("the pairing code is unknown, used or expired")]
    InvalidCode,
    #[error("a terminal named `{0}` already exists")]
    NameTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

const IDENTITY_COLUMNS: &str = "id, name, email, description, public_key, is_default";
const TERMINAL_COLUMNS: &str = "id, name, icon, created_at, last_connection";

impl Store {
    pub async fn identities(&self) -> Result<Vec<IdentityRow>, StoreError> {
        let rows = sqlx::query_as(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities ORDER BY is_default DESC, created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    pub async fn identity(&self, id: &str) -> Result<Option<IdentityRow>, StoreError> {
        let row = sqlx::query_as(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }

    pub async fn default_identity(&self) -> Result<Option<IdentityRow>, StoreError> {
        let row = sqlx::query_as(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE is_default"
        ))
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }

    /// Inserts a new identity; it becomes the default when there is none yet.
    pub async fn insert_identity(&self, row: &IdentityRow) -> Result<IdentityRow, StoreError> {
        let row = sqlx::query_as(&format!(
            "INSERT INTO identities (id, name, email, description, public_key, is_default) \
             VALUES ($1, $2, $3, $4, $5, NOT EXISTS (SELECT 1 FROM identities WHERE is_default)) \
             RETURNING {IDENTITY_COLUMNS}"
        ))
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.email)
        .bind(&row.description)
        .bind(&row.public_key)
        .fetch_one(self.pool())
        .await?;
        Ok(row)
    }

    /// Changes name, email and description; `None` when the id is unknown.
    pub async fn update_identity(
        &self,
        id: &str,
        name: &str,
        email: &str,
        description: &str,
    ) -> Result<Option<IdentityRow>, StoreError> {
        let row = sqlx::query_as(&format!(
            "UPDATE identities SET name = $2, email = $3, description = $4 WHERE id = $1 \
             RETURNING {IDENTITY_COLUMNS}"
        ))
        .bind(id)
        .bind(name)
        .bind(email)
        .bind(description)
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }

    /// Makes `id` the only default identity; false when the id is unknown.
    pub async fn make_default_identity(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM identities WHERE id = $1)")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if !exists {
            return Ok(false);
        }
        // Two statements: the partial unique index is checked row by row.
        sqlx::query("UPDATE identities SET is_default = false WHERE is_default AND id <> $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE identities SET is_default = true WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn insert_pairing_code(
        &self,
        code: &str,
        valid_for_secs: i64,
    ) -> Result<PairingCodeRow, StoreError> {
        let row = sqlx::query_as(
            "INSERT INTO pairing_codes (code, valid_until) \
             VALUES ($1, now() + make_interval(secs => $2)) \
             RETURNING code, created_at, valid_until",
        )
        .bind(code)
        .bind(valid_for_secs as f64)
        .fetch_one(self.pool())
        .await?;
        Ok(row)
    }

    /// Consumes `code` and creates the terminal, atomically.
    pub async fn pair_terminal(
        &self,
        code: &str,
        id: &str,
        name: &str,
        icon: &str,
    ) -> Result<TerminalRow, PairError> {
        let mut tx = self.pool().begin().await.map_err(StoreError::from)?;
        let consumed = sqlx::query(
            "UPDATE pairing_codes SET used_at = now() \
             WHERE code = $1 AND used_at IS NULL AND valid_until > now()",
        )
        .bind(code)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        if consumed.rows_affected() != 1 {
            return Err(PairError::InvalidCode);
        }
        let row = sqlx::query_as(&format!(
            "INSERT INTO terminals (id, name, icon, last_connection) VALUES ($1, $2, $3, now()) \
             ON CONFLICT (name) DO NOTHING RETURNING {TERMINAL_COLUMNS}"
        ))
        .bind(id)
        .bind(name)
        .bind(icon)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::from)?;
        let Some(row) = row else {
            return Err(PairError::NameTaken(name.to_owned()));
        };
        tx.commit().await.map_err(StoreError::from)?;
        Ok(row)
    }

    pub async fn terminals(&self) -> Result<Vec<TerminalRow>, StoreError> {
        let rows = sqlx::query_as(&format!(
            "SELECT {TERMINAL_COLUMNS} FROM terminals ORDER BY created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    pub async fn terminal(&self, id: &str) -> Result<Option<TerminalRow>, StoreError> {
        let row = sqlx::query_as(&format!(
            "SELECT {TERMINAL_COLUMNS} FROM terminals WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }

    pub async fn terminal_by_name(&self, name: &str) -> Result<Option<TerminalRow>, StoreError> {
        let row = sqlx::query_as(&format!(
            "SELECT {TERMINAL_COLUMNS} FROM terminals WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }

    /// Records a connection and returns the terminal, or `None` when it was
    /// deleted: the one query behind every cookie check that misses the cache.
    pub async fn touch_terminal(&self, id: &str) -> Result<Option<TerminalRow>, StoreError> {
        let row = sqlx::query_as(&format!(
            "UPDATE terminals SET last_connection = now() WHERE id = $1 RETURNING {TERMINAL_COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row)
    }

    /// Renames and re-icons; `Ok(None)` when the id is unknown.
    pub async fn update_terminal(
        &self,
        id: &str,
        name: &str,
        icon: &str,
    ) -> Result<Option<TerminalRow>, PairError> {
        let taken: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM terminals WHERE name = $1 AND id <> $2)",
        )
        .bind(name)
        .bind(id)
        .fetch_one(self.pool())
        .await
        .map_err(StoreError::from)?;
        if taken {
            return Err(PairError::NameTaken(name.to_owned()));
        }
        let row = sqlx::query_as(&format!(
            "UPDATE terminals SET name = $2, icon = $3 WHERE id = $1 RETURNING {TERMINAL_COLUMNS}"
        ))
        .bind(id)
        .bind(name)
        .bind(icon)
        .fetch_optional(self.pool())
        .await
        .map_err(StoreError::from)?;
        Ok(row)
    }

    /// True when a terminal was deleted.
    pub async fn delete_terminal(&self, id: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM terminals WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn peers(&self) -> Result<Vec<PeerRow>, StoreError> {
        let rows = sqlx::query_as("SELECT id, name, public_key, url FROM peers ORDER BY name, id")
            .fetch_all(self.pool())
            .await?;
        Ok(rows)
    }

    pub async fn peer(&self, id: &str) -> Result<Option<PeerRow>, StoreError> {
        let row = sqlx::query_as("SELECT id, name, public_key, url FROM peers WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row)
    }

    /// Inserts a peer, or replaces a known one's name and URL. The key of
    /// an existing id cannot change, since the id is derived from it.
    pub async fn upsert_peer(&self, row: &PeerRow) -> Result<PeerRow, StoreError> {
        let row = sqlx::query_as(
            "INSERT INTO peers (id, name, public_key, url) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, url = EXCLUDED.url \
             RETURNING id, name, public_key, url",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.public_key)
        .bind(&row.url)
        .fetch_one(self.pool())
        .await?;
        Ok(row)
    }

    /// Records a peer signature's nonce; false when it was recorded before
    /// and is still inside its window (a replay). Expired nonces are dropped
    /// on the way, so the table holds about two minutes of traffic.
    pub async fn first_use_of_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        forget_after_unix: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM peer_nonces WHERE forget_after < now()")
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query(
            "INSERT INTO peer_nonces (key_id, nonce, forget_after) \
             VALUES ($1, $2, to_timestamp($3)) ON CONFLICT DO NOTHING",
        )
        .bind(key_id)
        .bind(nonce)
        .bind(forget_after_unix as f64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn delete_peer(&self, id: &str) -> Result<bool, StoreError> {
        let r = sqlx::query("DELETE FROM peers WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(r.rows_affected() == 1)
    }
}
