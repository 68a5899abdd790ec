//! Durable inbox of registry notifications.
//!
//! Events are written here before anything acts on them; processing (the
//! sync worker) marks them done. Redelivery of the same event id is a no-op.

use crate::{Store, StoreError};

/// One registry event as received.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: String,
    pub action: String,
    pub repository: Option<String>,
    pub payload: serde_json::Value,
}

impl Store {
    /// Stores a batch atomically; returns how many were new.
    pub async fn record_registry_events(&self, events: &[StoredEvent]) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut inserted = 0;
        for e in events {
            let r = sqlx::query(
                "INSERT INTO registry_events (id, action, repository, payload) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&e.id)
            .bind(&e.action)
            .bind(&e.repository)
            .bind(&e.payload)
            .execute(&mut *tx)
            .await?;
            inserted += r.rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Number of stored events, processed or not.
    pub async fn registry_event_count(&self) -> Result<i64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM registry_events")
            .fetch_one(self.pool())
            .await?;
        Ok(n)
    }
}
