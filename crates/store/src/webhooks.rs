//! Outgoing webhooks of a namespace, their outbox and delivery log.
//!
//! Deliveries are enqueued in the transaction that applies the registry
//! event (`catalog_events.rs`), one per enabled webhook, with the exact body
//! that will be signed; the binary's worker claims due ones, sends them
//! outside any transaction, and records each attempt here. Secrets are
//! sealed with a [`SecretBox`] before they are written.

use chrono::{DateTime, Utc};
use rand::RngCore;

use crate::activities::{insert_activity, ActivityAction, NewActivity};
use crate::sealed::{SealedKind, SecretBox};
use crate::{Store, StoreError};

/// A webhook as shown (never with its secret or password).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Webhook {
    pub id: i64,
    pub namespace_id: i64,
    pub name: String,
    pub url: String,
    /// `POST` or `PUT`.
    pub request_method: String,
    pub enabled: bool,
    pub username: Option<String>,
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A webhook to create. `secret` is the plain signing secret.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub name: String,
    pub url: String,
    pub request_method: String,
    pub enabled: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub secret: String,
}

/// Changes to a webhook; `None` keeps the field. A password of `Some("")`
/// removes it.
#[derive(Debug, Clone, Default)]
pub struct WebhookUpdate {
    pub name: Option<String>,
    pub url: Option<String>,
    pub request_method: Option<String>,
    pub enabled: Option<bool>,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// One delivery (an event for one webhook) with its attempts, oldest first.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    pub id: i64,
    pub webhook_id: i64,
    /// The id sent in the body and the `X-Berth-Delivery` header.
    pub delivery_id: String,
    /// `push` or `delete`.
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub attempts: Vec<DeliveryAttempt>,
}

/// One attempt to send a delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryAttempt {
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A delivery the worker should send now, with everything needed to send it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub id: i64,
    pub delivery_id: String,
    pub event: String,
    pub body: String,
    /// Attempts so far in this round (0 for the first).
    pub attempts: i32,
    pub url: String,
    pub request_method: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub secret: String,
}

/// What an attempt gave, and what to do next.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub delivered: bool,
    /// When to try again; `None` with `delivered == false` gives up.
    pub retry_at: Option<DateTime<Utc>>,
}

const WEBHOOK_COLUMNS: &str = "id, namespace_id, name, url, request_method, enabled, username, \
    password_sealed IS NOT NULL AS has_password, created_at, updated_at";

/// A random delivery id: 128 bits, hex, shaped like a UUID v4.
fn new_delivery_id() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = data_encoding::HEXLOWER.encode(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The event a webhook hears about.
#[derive(Debug, Clone)]
pub(crate) struct HookEvent<'a> {
    /// `push` or `delete`.
    pub kind: &'a str,
    pub namespace: Option<&'a str>,
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    /// Tags a delete removed.
    pub tags: &'a [String],
    pub digest: &'a str,
    pub actor: Option<&'a str>,
    pub at: Option<&'a str>,
}

/// Enqueues `event` for every enabled webhook of `namespace_id`, on the
/// caller's transaction; returns how many deliveries were queued.
pub(crate) async fn enqueue_deliveries(
    conn: &mut sqlx::PgConnection,
    namespace_id: i64,
    event: &HookEvent<'_>,
) -> Result<usize, StoreError> {
    let hooks: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM webhooks WHERE namespace_id = $1 AND enabled")
            .bind(namespace_id)
            .fetch_all(&mut *conn)
            .await?;
    let at = match event.at {
        Some(at) => at.to_owned(),
        None => Utc::now().to_rfc3339(),
    };
    for hook in &hooks {
        let delivery = new_delivery_id();
        let body = serde_json::json!({
            "event": event.kind,
            "delivery": delivery,
            "timestamp": at,
            "namespace": event.namespace,
            "repository": event.repository,
            "tag": event.tag,
            "tags": event.tags,
            "digest": event.digest,
            "actor": event.actor,
        })
        .to_string();
        sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, delivery_id, event, body) VALUES ($1, $2, $3, $4)",
        )
        .bind(hook)
        .bind(&delivery)
        .bind(event.kind)
        .bind(&body)
        .execute(&mut *conn)
        .await?;
    }
    Ok(hooks.len())
}

impl Store {
    /// The webhooks of a namespace.
    pub async fn webhooks(&self, namespace_id: i64) -> Result<Vec<Webhook>, StoreError> {
        let sql =
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE namespace_id = $1 ORDER BY id");
        Ok(sqlx::query_as(&sql)
            .bind(namespace_id)
            .fetch_all(self.pool())
            .await?)
    }

    /// Webhook `id` of `namespace_id`.
    pub async fn webhook(&self, namespace_id: i64, id: i64) -> Result<Option<Webhook>, StoreError> {
        let sql =
            format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE namespace_id = $1 AND id = $2");
        Ok(sqlx::query_as(&sql)
            .bind(namespace_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// Creates a webhook, sealing its secret and password with `sealer`.
    pub async fn create_webhook(
        &self,
        sealer: &SecretBox,
        namespace_id: i64,
        new: &NewWebhook,
    ) -> Result<Webhook, StoreError> {
        let secret = sealer.seal(SealedKind::WebhookSecret, new.secret.as_bytes())?;
        let password = match new.password.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => Some(sealer.seal(SealedKind::WebhookPassword, p.as_bytes())?),
            None => None,
        };
        let mut tx = self.pool().begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO webhooks (namespace_id, name, url, request_method, enabled, username, \
               password_sealed, secret_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(namespace_id)
        .bind(&new.name)
        .bind(&new.url)
        .bind(&new.request_method)
        .bind(new.enabled)
        .bind(&new.username)
        .bind(password)
        .bind(secret)
        .fetch_one(&mut *tx)
        .await?;
        let mut a = NewActivity::new(ActivityAction::WebhookCreate);
        a.namespace_id = Some(namespace_id);
        a.target = Some(new.url.clone());
        a.detail = serde_json::json!({"webhook_id": id, "name": new.name});
        insert_activity(&mut tx, self.actor(), &a).await?;
        tx.commit().await?;
        self.webhook(namespace_id, id)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Applies `update` to webhook `id` of `namespace_id`.
    pub async fn update_webhook(
        &self,
        sealer: &SecretBox,
        namespace_id: i64,
        id: i64,
        update: &WebhookUpdate,
    ) -> Result<Option<Webhook>, StoreError> {
        let password = match update.password.as_deref() {
            Some("") => Some(None),
            Some(p) => Some(Some(
                sealer.seal(SealedKind::WebhookPassword, p.as_bytes())?,
            )),
            None => None,
        };
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE webhooks SET name = COALESCE($3, name), url = COALESCE($4, url), \
             request_method = COALESCE($5, request_method), enabled = COALESCE($6, enabled), \
             username = COALESCE($7, username), \
             password_sealed = CASE WHEN $8 THEN $9 ELSE password_sealed END, updated_at = now() \
             WHERE namespace_id = $1 AND id = $2",
        )
        .bind(namespace_id)
        .bind(id)
        .bind(&update.name)
        .bind(&update.url)
        .bind(&update.request_method)
        .bind(update.enabled)
        .bind(&update.username)
        .bind(password.is_some())
        .bind(password.flatten())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let mut a = NewActivity::new(ActivityAction::WebhookUpdate);
        a.namespace_id = Some(namespace_id);
        a.target = update.url.clone();
        a.detail = serde_json::json!({"webhook_id": id, "enabled": update.enabled});
        insert_activity(&mut tx, self.actor(), &a).await?;
        tx.commit().await?;
        self.webhook(namespace_id, id).await
    }

    /// Deletes webhook `id` of `namespace_id` with its deliveries.
    pub async fn delete_webhook(&self, namespace_id: i64, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let url: Option<String> = sqlx::query_scalar(
            "DELETE FROM webhooks WHERE namespace_id = $1 AND id = $2 RETURNING url",
        )
        .bind(namespace_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(url) = url else {
            return Ok(false);
        };
        let mut a = NewActivity::new(ActivityAction::WebhookDelete);
        a.namespace_id = Some(namespace_id);
        a.target = Some(url);
        a.detail = serde_json::json!({"webhook_id": id});
        insert_activity(&mut tx, self.actor(), &a).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deliveries of webhook `webhook_id`, newest first, with their attempts;
    /// and how many there are in all.
    pub async fn webhook_deliveries(
        &self,
        webhook_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<WebhookDelivery>, i64), StoreError> {
        type Row = (
            i64,
            i64,
            String,
            String,
            String,
            DateTime<Utc>,
            DateTime<Utc>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, webhook_id, delivery_id, event, state, next_attempt_at, created_at \
             FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC OFFSET $2 LIMIT $3",
        )
        .bind(webhook_id)
        .bind(offset.max(0))
        .bind(limit.max(0))
        .fetch_all(self.pool())
        .await?;
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1")
                .bind(webhook_id)
                .fetch_one(self.pool())
                .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
        type AttemptRow = (i64, DateTime<Utc>, Option<i32>, Option<String>, i64);
        let attempts: Vec<AttemptRow> = sqlx::query_as(
            "SELECT delivery_id, attempted_at, status_code, error, duration_ms FROM webhook_attempts \
             WHERE delivery_id = ANY($1) ORDER BY id",
        )
        .bind(&ids)
        .fetch_all(self.pool())
        .await?;
        let out = rows
            .into_iter()
            .map(
                |(id, webhook_id, delivery_id, event, state, next, created_at)| {
                    let pending = state == "pending";
                    WebhookDelivery {
                        id,
                        webhook_id,
                        delivery_id,
                        event,
                        state,
                        next_attempt_at: pending.then_some(next),
                        created_at,
                        attempts: attempts
                            .iter()
                            .filter(|a| a.0 == id)
                            .map(|a| DeliveryAttempt {
                                attempted_at: a.1,
                                status_code: a.2,
                                error: a.3.clone(),
                                duration_ms: a.4,
                            })
                            .collect(),
                    }
                },
            )
            .collect();
        Ok((out, total))
    }

    /// Puts delivery `id` of webhook `webhook_id` back in the outbox for a
    /// new round of attempts; false if there is no such delivery.
    pub async fn resend_webhook_delivery(
        &self,
        webhook_id: i64,
        id: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = now(), \
             updated_at = now() WHERE webhook_id = $1 AND id = $2",
        )
        .bind(webhook_id)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Claims up to `limit` due deliveries of enabled webhooks, hiding them
    /// from other claims for `lease_secs` (longer than one attempt can take),
    /// so a worker that dies mid-send only delays them.
    pub async fn claim_due_deliveries(
        &self,
        sealer: &SecretBox,
        limit: i64,
        lease_secs: f64,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        type Row = (
            i64,
            String,
            String,
            String,
            i32,
            String,
            String,
            Option<String>,
            Option<Vec<u8>>,
            Vec<u8>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $2), \
               updated_at = now() \
             FROM webhooks w \
             WHERE w.id = d.webhook_id AND d.id IN ( \
               SELECT d2.id FROM webhook_deliveries d2 JOIN webhooks w2 ON w2.id = d2.webhook_id \
               WHERE d2.state = 'pending' AND d2.next_attempt_at <= now() AND w2.enabled \
               ORDER BY d2.next_attempt_at, d2.id LIMIT $1 FOR UPDATE OF d2 SKIP LOCKED) \
             RETURNING d.id, d.delivery_id, d.event, d.body, d.attempts, w.url, w.request_method, \
               w.username, w.password_sealed, w.secret_sealed",
        )
        .bind(limit)
        .bind(lease_secs)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, delivery_id, event, body, attempts, url, method, username, password, secret) in
            rows
        {
            let secret = sealer.open(SealedKind::WebhookSecret, &secret)?;
            let password = match password {
                Some(p) => Some(sealer.open(SealedKind::WebhookPassword, &p)?),
                None => None,
            };
            out.push(DueDelivery {
                id,
                delivery_id,
                event,
                body,
                attempts,
                url,
                request_method: method,
                username,
                password: password.map(|p| String::from_utf8_lossy(&p).into_owned()),
                secret: String::from_utf8_lossy(&secret).into_owned(),
            });
        }
        Ok(out)
    }

    /// Records one attempt of delivery `id` and what comes next.
    pub async fn record_delivery_attempt(
        &self,
        id: i64,
        outcome: &AttemptOutcome,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, status_code, error, duration_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(outcome.status_code.map(i32::from))
        .bind(&outcome.error)
        .bind(outcome.duration_ms)
        .execute(&mut *tx)
        .await?;
        let state = match (outcome.delivered, outcome.retry_at) {
            (true, _) => "delivered",
            (false, Some(_)) => "pending",
            (false, None) => "failed",
        };
        sqlx::query(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, state = $2, \
             next_attempt_at = COALESCE($3, next_attempt_at), updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(outcome.retry_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn delivery_ids_look_like_uuids_and_differ() {
        let a = super::new_delivery_id();
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_ne!(a, super::new_delivery_id());
    }
}
