//! Writes of the catalog sync: tags as the registry has them.
//!
//! Repository names are the registry's full names (`ns/app`, `ns/a/b`, or
//! `app` in the global namespace); the namespace is the first component.
//! Writes carry the time of the registry event that caused them, and a tag
//! only moves forward in time, so events applied out of order converge.

use std::collections::BTreeMap;

use crate::{Store, StoreError};

/// What the registry says one tag is.
#[derive(Debug, Clone)]
pub struct TagRecord {
    pub digest: String,
    pub media_type: Option<String>,
    pub size: Option<i64>,
    pub platforms: Vec<String>,
    /// Username of the pusher (the token's `sub`), if known.
    pub pusher: Option<String>,
    /// RFC 3339 time of the event; `None` for a reconcile (now).
    pub at: Option<String>,
}

/// One row of the catalog listing: namespace, repository, tag, digest.
type CatalogRow = (Option<String>, String, Option<String>, Option<String>);

/// Media type, size and platforms recorded for a digest.
pub type DigestInfo = (Option<String>, Option<i64>, Vec<String>);

/// Whether a write could be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    Applied,
    /// The namespace does not exist in berth.
    NoNamespace,
}

/// Splits a full repository name into its namespace (None: global) and the
/// repository's name within it.
pub fn split_repository(full: &str) -> (Option<&str>, &str) {
    match full.split_once('/') {
        Some((ns, rest)) => (Some(ns), rest),
        None => (None, full),
    }
}

impl Store {
    /// Every tag berth knows, by full repository name.
    pub async fn catalog_digests(
        &self,
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, StoreError> {
        let rows: Vec<CatalogRow> = sqlx::query_as(
            "SELECT n.name, r.name, g.name, g.digest FROM repositories r \
             JOIN namespaces n ON n.id = r.namespace_id \
             LEFT JOIN tags g ON g.repository_id = r.id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (ns, repo, tag, digest) in rows {
            let full = match ns {
                Some(ns) => format!("{ns}/{repo}"),
                None => repo,
            };
            let tags = out.entry(full).or_default();
            if let (Some(t), Some(d)) = (tag, digest) {
                tags.insert(t, d);
            }
        }
        Ok(out)
    }

    async fn namespace_id_for(&self, full: &str) -> Result<Option<i64>, StoreError> {
        let (ns, _) = split_repository(full);
        let id: Option<i64> = match ns {
            Some(ns) => {
                sqlx::query_scalar("SELECT id FROM namespaces WHERE name = $1")
                    .bind(ns)
                    .fetch_optional(self.pool())
                    .await?
            }
            None => {
                sqlx::query_scalar("SELECT id FROM namespaces WHERE kind = 'global'")
                    .fetch_optional(self.pool())
                    .await?
            }
        };
        Ok(id)
    }

    /// Creates or moves `full:tag`. A tag already recorded at a later event
    /// time is left alone. Re-putting the same digest (berth re-tagging the
    /// siblings of a deleted tag) keeps the original pusher.
    pub async fn apply_tag(
        &self,
        full: &str,
        tag: &str,
        rec: &TagRecord,
    ) -> Result<ApplyOutcome, StoreError> {
        let Some(namespace_id) = self.namespace_id_for(full).await? else {
            return Ok(ApplyOutcome::NoNamespace);
        };
        let (_, name) = split_repository(full);
        let mut tx = self.pool().begin().await?;
        let repo_id: i64 = sqlx::query_scalar(
            "INSERT INTO repositories (namespace_id, name) VALUES ($1, $2) \
             ON CONFLICT (namespace_id, name) DO UPDATE SET updated_at = now() RETURNING id",
        )
        .bind(namespace_id)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO tags (repository_id, name, digest, media_type, size, platforms, author_id, pushed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, (SELECT id FROM users WHERE username = $7), COALESCE($8::timestamptz, now())) \
             ON CONFLICT (repository_id, name) DO UPDATE SET \
               digest = EXCLUDED.digest, media_type = COALESCE(EXCLUDED.media_type, tags.media_type), \
               size = COALESCE(EXCLUDED.size, tags.size), platforms = EXCLUDED.platforms, \
               author_id = CASE WHEN tags.digest = EXCLUDED.digest THEN COALESCE(tags.author_id, EXCLUDED.author_id) \
                                ELSE COALESCE(EXCLUDED.author_id, tags.author_id) END, \
               pushed_at = EXCLUDED.pushed_at, updated_at = now() \
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
        tx.commit().await?;
        Ok(ApplyOutcome::Applied)
    }

    /// What berth recorded about a digest in any repository: media type,
    /// size and platforms, so that a known digest needs no manifest fetch.
    pub async fn digest_info(&self, digest: &str) -> Result<Option<DigestInfo>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT media_type, size, platforms FROM tags WHERE digest = $1 AND media_type IS NOT NULL LIMIT 1",
        )
        .bind(digest)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Removes one tag; true if it existed.
    pub async fn remove_tag(&self, full: &str, tag: &str) -> Result<bool, StoreError> {
        let (ns, name) = split_repository(full);
        let r = sqlx::query(
            "DELETE FROM tags g USING repositories r, namespaces n \
             WHERE g.repository_id = r.id AND r.namespace_id = n.id AND r.name = $2 AND g.name = $3 \
             AND (n.name = $1 OR ($1::TEXT IS NULL AND n.kind = 'global'))",
        )
        .bind(ns)
        .bind(name)
        .bind(tag)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Tags of `full` that berth records at `digest`.
    pub async fn tags_at_digest(
        &self,
        full: &str,
        digest: &str,
    ) -> Result<Vec<String>, StoreError> {
        let (ns, name) = split_repository(full);
        Ok(sqlx::query_scalar(
            "SELECT g.name FROM tags g JOIN repositories r ON r.id = g.repository_id \
             JOIN namespaces n ON n.id = r.namespace_id \
             WHERE r.name = $2 AND g.digest = $3 \
             AND (n.name = $1 OR ($1::TEXT IS NULL AND n.kind = 'global')) ORDER BY g.name",
        )
        .bind(ns)
        .bind(name)
        .bind(digest)
        .fetch_all(self.pool())
        .await?)
    }

    /// A per-tag delete as berth performed it: `tag` is gone and the
    /// `survivors` were put back at the same digest, just now. Their push
    /// time moves to now, so the registry's delete event (older) passes them
    /// by and nothing flaps. One transaction.
    pub async fn record_tag_deletion(
        &self,
        full: &str,
        tag: &str,
        survivors: &[String],
    ) -> Result<bool, StoreError> {
        let (ns, name) = split_repository(full);
        let mut tx = self.pool().begin().await?;
        let gone = sqlx::query(
            "DELETE FROM tags g USING repositories r, namespaces n \
             WHERE g.repository_id = r.id AND r.namespace_id = n.id AND r.name = $2 AND g.name = $3 \
             AND (n.name = $1 OR ($1::TEXT IS NULL AND n.kind = 'global'))",
        )
        .bind(ns)
        .bind(name)
        .bind(tag)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE tags g SET pushed_at = GREATEST(g.pushed_at, now()), updated_at = now() \
             FROM repositories r, namespaces n \
             WHERE g.repository_id = r.id AND r.namespace_id = n.id AND r.name = $2 AND g.name = ANY($3) \
             AND (n.name = $1 OR ($1::TEXT IS NULL AND n.kind = 'global'))",
        )
        .bind(ns)
        .bind(name)
        .bind(survivors)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(gone.rows_affected() > 0)
    }

    /// Removes every tag of `full` pointing at `digest` (a manifest delete);
    /// returns their names. Tags pushed after `at` are newer than the delete
    /// and stay, and so do the tags in `keep` (the registry still serves them:
    /// siblings re-tagged after a per-tag delete).
    pub async fn remove_digest(
        &self,
        full: &str,
        digest: &str,
        at: Option<&str>,
        keep: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let (ns, name) = split_repository(full);
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
        .bind(at)
        .bind(keep)
        .fetch_all(self.pool())
        .await?;
        Ok(gone)
    }

    /// Removes a repository and its tags; true if it existed.
    pub async fn remove_repository(&self, full: &str) -> Result<bool, StoreError> {
        let (ns, name) = split_repository(full);
        let r = sqlx::query(
            "DELETE FROM repositories r USING namespaces n WHERE r.namespace_id = n.id AND r.name = $2 \
             AND (n.name = $1 OR ($1::TEXT IS NULL AND n.kind = 'global'))",
        )
        .bind(ns)
        .bind(name)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Counts a pull of `full:tag`.
    pub async fn record_pull(
        &self,
        full: &str,
        tag: &str,
        at: Option<&str>,
    ) -> Result<(), StoreError> {
        let (ns, name) = split_repository(full);
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
        .bind(at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Stored events not processed yet, oldest first.
    pub async fn pending_registry_events(
        &self,
        limit: i64,
    ) -> Result<Vec<crate::StoredEvent>, StoreError> {
        let rows: Vec<(String, String, Option<String>, serde_json::Value)> = sqlx::query_as(
            "SELECT id, action, repository, payload FROM registry_events \
             WHERE processed_at IS NULL ORDER BY received_at, id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, action, repository, payload)| crate::StoredEvent {
                id,
                action,
                repository,
                payload,
            })
            .collect())
    }

    /// Marks an event processed with its outcome (`ignored`, `failed`): the
    /// events that change nothing. An event that changes the catalog is
    /// marked by the write applying it (`catalog_events.rs`), in the same
    /// transaction.
    pub async fn finish_registry_event(
        &self,
        id: &str,
        outcome: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        mark_event(&mut conn, id, outcome, detail).await
    }

    /// Marks the events `ids` processed as `ignored` in one statement (the
    /// events that change nothing); one a pass already finished keeps its
    /// outcome. Returns how many it marked.
    pub async fn finish_unchanged_registry_events(
        &self,
        ids: &[String],
    ) -> Result<usize, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let r = sqlx::query(
            "UPDATE registry_events SET processed_at = now(), outcome = 'ignored', detail = NULL, \
             event_at = (payload->>'timestamp')::timestamptz \
             WHERE id = ANY($1) AND processed_at IS NULL",
        )
        .bind(ids)
        .execute(self.pool())
        .await?;
        Ok(usize::try_from(r.rows_affected()).unwrap_or(usize::MAX))
    }

    /// Events about namespaces berth does not know, newest first (admins
    /// see these instead of losing them).
    pub async fn orphan_registry_events(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, Option<String>, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, repository, action FROM registry_events WHERE outcome = 'orphan' \
             ORDER BY received_at DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}

/// Marks inbox event `id` processed with `outcome` on `conn`.
pub(crate) async fn mark_event(
    conn: &mut sqlx::PgConnection,
    id: &str,
    outcome: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE registry_events SET processed_at = now(), outcome = $2, detail = $3, \
         event_at = (payload->>'timestamp')::timestamptz WHERE id = $1",
    )
    .bind(id)
    .bind(outcome)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_repository;

    #[test]
    fn namespace_is_the_first_component() {
        assert_eq!(split_repository("alice/app"), (Some("alice"), "app"));
        assert_eq!(split_repository("ns/a/b"), (Some("ns"), "a/b"));
        assert_eq!(split_repository("busybox"), (None, "busybox"));
    }
}
