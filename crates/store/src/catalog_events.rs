//! Catalog writes caused by registry events, with their side effects in the
//! same transaction: the activity (who pushed, pulled or deleted, from
//! where), the webhook deliveries of the namespace (the outbox), and the
//! inbox event marked processed.
//!
//! Architecture invariant: an event's effects and its processed mark commit
//! together. Each write first locks the event's inbox row and does nothing
//! when it is already processed, so a crash between apply and mark, a replay
//! or two passes over the same event never duplicate an activity, a webhook
//! or a pull count.
//!
//! A reconcile uses the plain writes of `catalog_sync.rs` instead: it learns
//! what changed but not who did it, so it records nothing and fires nothing.

use crate::activities::{count_pull, insert_activity, ActivityAction, Actor, NewActivity};
use crate::catalog_sync::split_repository;
use crate::webhooks::{enqueue_deliveries, HookEvent};
use crate::{Store, StoreError, TagRecord};

/// Where a registry event came from.
#[derive(Debug, Clone, Default)]
pub struct EventOrigin {
    /// The event's id in the inbox (`registry_events`), marked processed by
    /// the write that applies it.
    pub event_id: String,
    /// The token's `sub` (`actor.name`).
    pub actor: Option<String>,
    /// The client's address as the registry saw it (`request.addr`).
    pub addr: Option<String>,
    /// RFC 3339 time of the event.
    pub at: Option<String>,
}

impl EventOrigin {
    fn actor(&self) -> Actor {
        Actor {
            user_id: None,
            name: self.actor.clone(),
            addr: self.addr.as_deref().map(strip_port),
        }
    }
}

/// `1.2.3.4:5678` → `1.2.3.4`, `[::1]:5678` → `::1`; anything else as is.
pub(crate) fn strip_port(addr: &str) -> String {
    match addr.parse::<std::net::SocketAddr>() {
        Ok(a) => a.ip().to_string(),
        Err(_) => addr.to_owned(),
    }
}

/// What applying one inbox event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventApplied {
    Applied,
    /// Its namespace does not exist: kept, marked `orphan`, for admins.
    Orphan,
    /// Already processed (by an earlier pass or a replay): nothing done.
    AlreadyProcessed,
}

impl EventApplied {
    /// The outcome stored on the event's row.
    fn outcome(self) -> &'static str {
        match self {
            Self::Applied | Self::AlreadyProcessed => "applied",
            Self::Orphan => "orphan",
        }
    }
}

/// Locks inbox event `id` for this transaction; false when it is already
/// processed (or unknown), and then the caller must change nothing.
async fn claim(conn: &mut sqlx::PgConnection, id: &str) -> Result<bool, StoreError> {
    let pending: Option<bool> = sqlx::query_scalar(
        "SELECT processed_at IS NULL FROM registry_events WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(pending == Some(true))
}

/// Marks inbox event `id` processed with `applied`'s outcome, in the
/// transaction of its effects.
async fn finish(
    conn: &mut sqlx::PgConnection,
    id: &str,
    applied: EventApplied,
) -> Result<EventApplied, StoreError> {
    crate::catalog_sync::mark_event(conn, id, applied.outcome(), None).await?;
    Ok(applied)
}

async fn namespace_of(
    conn: &mut sqlx::PgConnection,
    full: &str,
) -> Result<Option<i64>, StoreError> {
    let (ns, _) = split_repository(full);
    Ok(sqlx::query_scalar(
        "SELECT id FROM namespaces WHERE name = $1 OR ($1::TEXT IS NULL AND kind = 'global')",
    )
    .bind(ns)
    .fetch_optional(conn)
    .await?)
}

impl Store {
    /// [`Store::apply_tag`] for a pushed manifest, recording a
    /// `repository.push` activity and enqueueing the namespace's webhooks
    /// in the same transaction. A push older than what the tag holds
    /// changes nothing and fires nothing.
    pub async fn apply_pushed_tag(
        &self,
        full: &str,
        tag: &str,
        rec: &TagRecord,
        origin: &EventOrigin,
    ) -> Result<EventApplied, StoreError> {
        let mut tx = self.pool().begin().await?;
        if !claim(&mut tx, &origin.event_id).await? {
            return Ok(EventApplied::AlreadyProcessed);
        }
        let Some(namespace_id) = namespace_of(&mut tx, full).await? else {
            let done = finish(&mut tx, &origin.event_id, EventApplied::Orphan).await?;
            tx.commit().await?;
            return Ok(done);
        };
        let (ns, name) = split_repository(full);
        let repo_id: i64 = sqlx::query_scalar(
            "INSERT INTO repositories (namespace_id, name) VALUES ($1, $2) \
             ON CONFLICT (namespace_id, name) DO UPDATE SET updated_at = now() RETURNING id",
        )
        .bind(namespace_id)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        // berth putting a sibling back after deleting one tag pushes the
        // same digest again as its service user: not news for the log or
        // the webhooks.
        let retag: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM tags t, users u WHERE t.repository_id = $1 AND t.name = $2 \
             AND t.digest = $3 AND u.username = $4 AND u.service)",
        )
        .bind(repo_id)
        .bind(tag)
        .bind(&rec.digest)
        .bind(&rec.pusher)
        .fetch_one(&mut *tx)
        .await?;
        let moved = sqlx::query(
            "INSERT INTO tags (repository_id, name, digest, media_type, size, platforms, author_id, pushed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, (SELECT id FROM users WHERE username = $7), COALESCE($8::timestamptz, now())) \
             ON CONFLICT (repository_id, name) DO UPDATE SET \
               digest = EXCLUDED.digest, media_type = COALESCE(EXCLUDED.media_type, tags.media_type), \
               size = COALESCE(EXCLUDED.size, tags.size), platforms = EXCLUDED.platforms, \
               author_id = COALESCE(EXCLUDED.author_id, tags.author_id), pushed_at = EXCLUDED.pushed_at, updated_at = now() \
             WHERE tags.pushed_at IS NULL OR tags.pushed_at <= EXCLUDED.pushed_at",
        )
        .bind(repo_id)
        .bind(tag)
        .bind(&rec.digest)
        .bind(&rec.media_type)
        .bind(rec.size)
        .bind(&rec.platforms)
        .bind(&rec.pusher)
        .bind(&rec.at)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() > 0 && !retag {
            let mut a = NewActivity::new(ActivityAction::RepositoryPush);
            a.namespace_id = Some(namespace_id);
            a.repository = Some(full.to_owned());
            a.tag = Some(tag.to_owned());
            a.digest = Some(rec.digest.clone());
            a.at = origin.at.clone();
            insert_activity(&mut tx, Some(&origin.actor()), &a).await?;
            let event = HookEvent {
                kind: "push",
                namespace: ns,
                repository: full,
                tag: Some(tag),
                tags: &[],
                digest: &rec.digest,
                actor: origin.actor.as_deref(),
                at: origin.at.as_deref(),
            };
            enqueue_deliveries(&mut tx, namespace_id, &event).await?;
        }
        let done = finish(&mut tx, &origin.event_id, EventApplied::Applied).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// [`Store::remove_digest`] for a manifest delete event, recording a
    /// `repository.delete` activity and enqueueing the namespace's webhooks
    /// in the same transaction.
    pub async fn remove_deleted_digest(
        &self,
        full: &str,
        digest: &str,
        origin: &EventOrigin,
        keep: &[String],
    ) -> Result<EventApplied, StoreError> {
        let (ns, name) = split_repository(full);
        let mut tx = self.pool().begin().await?;
        if !claim(&mut tx, &origin.event_id).await? {
            return Ok(EventApplied::AlreadyProcessed);
        }
        let gone: Vec<String> = sqlx::query_scalar(
            "DELETE FROM tags g USING repositories r, namespaces n \
             WHERE g.repository_id = r.id AND r.namespace_id = n.id AND r.name = $2 AND g.digest = $3 \
             AND (n.name = $1 OR ($1::TEXT IS NULL AND n.kind = 'global')) \
             AND (g.pushed_at IS NULL OR g.pushed_at <= COALESCE($4::timestamptz, now())) \
             AND NOT (g.name = ANY($5)) RETURNING g.name",
        )
        .bind(ns)
        .bind(name)
        .bind(digest)
        .bind(&origin.at)
        .bind(keep)
        .fetch_all(&mut *tx)
        .await?;
        // Nothing left to remove: the deletion was berth's own (a tag
        // deleted through the API, recorded there with its real caller),
        // or an event replayed. Neither is news for the log or webhooks.
        if gone.is_empty() {
            let done = finish(&mut tx, &origin.event_id, EventApplied::Applied).await?;
            tx.commit().await?;
            return Ok(done);
        }
        if let Some(namespace_id) = namespace_of(&mut tx, full).await? {
            let mut a = NewActivity::new(ActivityAction::RepositoryDelete);
            a.namespace_id = Some(namespace_id);
            a.repository = Some(full.to_owned());
            a.digest = Some(digest.to_owned());
            a.detail = serde_json::json!({ "tags": gone });
            a.at = origin.at.clone();
            insert_activity(&mut tx, Some(&origin.actor()), &a).await?;
            let event = HookEvent {
                kind: "delete",
                namespace: ns,
                repository: full,
                tag: None,
                tags: &gone,
                digest,
                actor: origin.actor.as_deref(),
                at: origin.at.as_deref(),
            };
            enqueue_deliveries(&mut tx, namespace_id, &event).await?;
        }
        let done = finish(&mut tx, &origin.event_id, EventApplied::Applied).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Records a deletion made through the API by the acting caller (see
    /// [`Store::acting_as`]): the activity under their name and the
    /// namespace's `delete` webhooks, in one transaction. The registry's
    /// own delete event then finds nothing left to remove and stays quiet.
    pub async fn record_api_deletion(
        &self,
        full: &str,
        tag: Option<&str>,
        digest: &str,
        tags: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        if let Some(namespace_id) = namespace_of(&mut tx, full).await? {
            let action = if tag.is_some() {
                ActivityAction::TagDelete
            } else {
                ActivityAction::RepositoryDelete
            };
            let mut a = NewActivity::new(action);
            a.namespace_id = Some(namespace_id);
            a.repository = Some(full.to_owned());
            a.tag = tag.map(str::to_owned);
            a.digest = Some(digest.to_owned());
            a.detail = serde_json::json!({ "tags": tags });
            insert_activity(&mut tx, self.actor(), &a).await?;
            let (ns, _) = split_repository(full);
            let actor = self.actor().and_then(|a| a.name.clone());
            let event = HookEvent {
                kind: "delete",
                namespace: ns,
                repository: full,
                tag,
                tags,
                digest,
                actor: actor.as_deref(),
                at: None,
            };
            enqueue_deliveries(&mut tx, namespace_id, &event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// [`Store::record_pull`] for a pull event, counted into the puller's
    /// `repository.pull` activity of that day in the same transaction.
    pub async fn record_pull_event(
        &self,
        full: &str,
        tag: &str,
        origin: &EventOrigin,
    ) -> Result<EventApplied, StoreError> {
        let (ns, name) = split_repository(full);
        let mut tx = self.pool().begin().await?;
        if !claim(&mut tx, &origin.event_id).await? {
            return Ok(EventApplied::AlreadyProcessed);
        }
        sqlx::query(
            "UPDATE tags g SET pull_count = g.pull_count + 1, \
               pulled_at = GREATEST(g.pulled_at, COALESCE($4::timestamptz, now())) \
             FROM repositories r, namespaces n \
             WHERE g.repository_id = r.id AND r.namespace_id = n.id AND r.name = $2 AND g.name = $3 \
             AND (n.name = $1 OR ($1::TEXT IS NULL AND n.kind = 'global'))",
        )
        .bind(ns)
        .bind(name)
        .bind(tag)
        .bind(&origin.at)
        .execute(&mut *tx)
        .await?;
        let namespace_id = namespace_of(&mut tx, full).await?;
        if namespace_id.is_some() {
            count_pull(
                &mut tx,
                &origin.actor(),
                namespace_id,
                full,
                Some(tag),
                origin.at.as_deref(),
            )
            .await?;
        }
        let done = finish(&mut tx, &origin.event_id, EventApplied::Applied).await?;
        tx.commit().await?;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_lose_their_port() {
        assert_eq!(super::strip_port("10.0.0.2:5123"), "10.0.0.2");
        assert_eq!(super::strip_port("[::1]:80"), "::1");
        assert_eq!(super::strip_port("unix"), "unix");
    }
}
