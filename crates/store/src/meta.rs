//! Instance facts in `berth_meta`.

use crate::{Store, StoreError};

impl Store {
    /// Returns the stored value for `key`, inserting `value` first if absent.
    /// Used for facts fixed at first start, such as the instance id.
    pub async fn meta_get_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO berth_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(self.pool())
        .await?;
        let v: String = sqlx::query_scalar("SELECT value FROM berth_meta WHERE key = $1")
            .bind(key)
            .fetch_one(self.pool())
            .await?;
        Ok(v)
    }
}
