//! `/api/v1/namespaces/{id}/webhooks`: a namespace's outgoing webhooks,
//! their delivery log, and manual re-send. For the namespace's owners and
//! admins (`NamespaceOwner`), checked on the namespace before anything else,
//! so a stranger learns nothing about its webhooks.
//!
//! The signing secret is generated (or given), returned once in the create
//! answer, and stored sealed; no later answer carries it.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use berth_store::sealed::SecretBox;
use berth_store::{
    DeliveryAttempt, Namespace, NewWebhook, Webhook, WebhookDelivery, WebhookUpdate,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::namespaces::load;
use super::{id, json, paged, ApiError, ApiResult, Ctx, PageQuery};

const CONTENT_TYPE: &str = "application/json";

#[derive(Deserialize, Default)]
struct Fields {
    name: Option<String>,
    url: Option<String>,
    request_method: Option<String>,
    content_type: Option<String>,
    enabled: Option<bool>,
    username: Option<String>,
    password: Option<String>,
    secret: Option<String>,
}

/// `{"webhook": {...}}` as Portus nests bodies, or the fields bare.
fn fields(bytes: &[u8]) -> Result<Fields, ApiError> {
    let v: serde_json::Value = super::body(bytes)?;
    let inner = match v.get("webhook") {
        Some(w) if w.is_object() => w.clone(),
        _ => v,
    };
    serde_json::from_value(inner).map_err(|e| ApiError::BadRequest(format!("invalid body: {e}")))
}

#[derive(Serialize)]
struct WebhookEntity {
    id: i64,
    name: String,
    namespace_id: i64,
    url: String,
    request_method: String,
    content_type: &'static str,
    enabled: bool,
    username: Option<String>,
    /// Whether a basic-auth password is set (it is never shown).
    password_set: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    updatable: bool,
    destroyable: bool,
    /// Only in the create answer: the signing secret, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<&Webhook> for WebhookEntity {
    fn from(w: &Webhook) -> Self {
        Self {
            id: w.id,
            name: w.name.clone(),
            namespace_id: w.namespace_id,
            url: w.url.clone(),
            request_method: w.request_method.clone(),
            content_type: CONTENT_TYPE,
            enabled: w.enabled,
            username: w.username.clone(),
            password_set: w.has_password,
            created_at: w.created_at,
            updated_at: w.updated_at,
            updatable: true,
            destroyable: true,
            secret: None,
        }
    }
}

#[derive(Serialize)]
struct AttemptEntity {
    attempted_at: DateTime<Utc>,
    status_code: Option<i32>,
    error: Option<String>,
    duration_ms: i64,
}

#[derive(Serialize)]
struct DeliveryEntity {
    id: i64,
    delivery: String,
    event: String,
    state: String,
    created_at: DateTime<Utc>,
    next_attempt_at: Option<DateTime<Utc>>,
    attempts: Vec<AttemptEntity>,
}

impl From<WebhookDelivery> for DeliveryEntity {
    fn from(d: WebhookDelivery) -> Self {
        Self {
            id: d.id,
            delivery: d.delivery_id,
            event: d.event,
            state: d.state,
            created_at: d.created_at,
            next_attempt_at: d.next_attempt_at,
            attempts: d
                .attempts
                .into_iter()
                .map(|a: DeliveryAttempt| AttemptEntity {
                    attempted_at: a.attempted_at,
                    status_code: a.status_code,
                    error: a.error,
                    duration_ms: a.duration_ms,
                })
                .collect(),
        }
    }
}

fn check_url(url: &str) -> Result<(), ApiError> {
    let ok = reqwest::Url::parse(url)
        .ok()
        .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if ok && url.len() <= 2048 {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(
            "url",
            "is invalid: want an http or https URL".into(),
        ))
    }
}

fn check_method(m: &str) -> Result<String, ApiError> {
    match m.to_ascii_uppercase().as_str() {
        "POST" => Ok("POST".into()),
        "PUT" => Ok("PUT".into()),
        _ => Err(ApiError::Unprocessable(
            "request_method",
            "is not included in the list (POST, PUT)".into(),
        )),
    }
}

fn check_content_type(c: Option<&str>) -> Result<(), ApiError> {
    match c {
        None | Some(CONTENT_TYPE) => Ok(()),
        Some(_) => Err(ApiError::Unprocessable(
            "content_type",
            "is not included in the list (application/json): the signature covers the JSON body"
                .into(),
        )),
    }
}

fn check_text(field: &'static str, v: &str, max: usize) -> Result<(), ApiError> {
    if v.len() > max || v.chars().any(char::is_control) {
        return Err(ApiError::Unprocessable(field, "is invalid".into()));
    }
    Ok(())
}

fn sealer(ctx: &Ctx) -> Result<&SecretBox, ApiError> {
    ctx.state
        .webhook_sealer()
        .ok_or_else(|| ApiError::internal(&"webhook sealing key not loaded"))
}

/// The namespace (grant checked on it) and the webhook `raw` inside it.
async fn load_hook(ctx: &Ctx, ns: &str, raw: &str) -> Result<(Namespace, Webhook), ApiError> {
    let n = load(ctx, ns).await?;
    let w = ctx
        .store()
        .webhook(n.id, id(raw)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((n, w))
}

pub(super) async fn list(ctx: Ctx, Path(ns): Path<String>, page: PageQuery) -> ApiResult {
    let n = load(&ctx, &ns).await?;
    let hooks = ctx.store().webhooks(n.id).await?;
    let out: Vec<WebhookEntity> = hooks.iter().map(WebhookEntity::from).collect();
    Ok(super::paginate(out, &page))
}

pub(super) async fn create(ctx: Ctx, Path(ns): Path<String>, bytes: Bytes) -> ApiResult {
    let n = load(&ctx, &ns).await?;
    let f = fields(&bytes)?;
    let url = f
        .url
        .ok_or(ApiError::Unprocessable("url", "can't be blank".into()))?;
    check_url(&url)?;
    check_content_type(f.content_type.as_deref())?;
    let request_method = check_method(f.request_method.as_deref().unwrap_or("POST"))?;
    let secret = match f.secret {
        Some(s) if (16..=256).contains(&s.len()) && !s.chars().any(char::is_control) => s,
        Some(_) => {
            return Err(ApiError::Unprocessable(
                "secret",
                "must be 16 to 256 printable characters".into(),
            ))
        }
        None => berth_store::secret::random_token(),
    };
    let name = f.name.unwrap_or_else(|| "webhook".into());
    check_text("name", &name, 100)?;
    if let Some(u) = &f.username {
        check_text("username", u, 200)?;
    }
    if let Some(p) = &f.password {
        check_text("password", p, 200)?;
    }
    let new = NewWebhook {
        name,
        url,
        request_method,
        enabled: f.enabled.unwrap_or(true),
        username: f.username.filter(|u| !u.is_empty()),
        password: f.password,
        secret: secret.clone(),
    };
    let w = ctx
        .store()
        .create_webhook(sealer(&ctx)?, n.id, &new)
        .await?;
    let mut entity = WebhookEntity::from(&w);
    entity.secret = Some(secret);
    json(StatusCode::CREATED, entity)
}

pub(super) async fn show(ctx: Ctx, Path((ns, raw)): Path<(String, String)>) -> ApiResult {
    let (_, w) = load_hook(&ctx, &ns, &raw).await?;
    json(StatusCode::OK, WebhookEntity::from(&w))
}

pub(super) async fn update(
    ctx: Ctx,
    Path((ns, raw)): Path<(String, String)>,
    bytes: Bytes,
) -> ApiResult {
    let (n, w) = load_hook(&ctx, &ns, &raw).await?;
    let f = fields(&bytes)?;
    if let Some(u) = &f.url {
        check_url(u)?;
    }
    check_content_type(f.content_type.as_deref())?;
    if f.secret.is_some() {
        return Err(ApiError::Unprocessable(
            "secret",
            "cannot be changed: create a new webhook".into(),
        ));
    }
    for (field, v, max) in [
        ("name", &f.name, 100),
        ("username", &f.username, 200),
        ("password", &f.password, 200),
    ] {
        if let Some(v) = v {
            check_text(field, v, max)?;
        }
    }
    let update = WebhookUpdate {
        name: f.name,
        url: f.url,
        request_method: f.request_method.as_deref().map(check_method).transpose()?,
        enabled: f.enabled,
        username: f.username,
        password: f.password,
    };
    let w = ctx
        .store()
        .update_webhook(sealer(&ctx)?, n.id, w.id, &update)
        .await?
        .ok_or(ApiError::NotFound)?;
    json(StatusCode::OK, WebhookEntity::from(&w))
}

pub(super) async fn destroy(ctx: Ctx, Path((ns, raw)): Path<(String, String)>) -> ApiResult {
    let (n, w) = load_hook(&ctx, &ns, &raw).await?;
    if ctx.store().delete_webhook(n.id, w.id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::NotFound)
    }
}

pub(super) async fn deliveries(
    ctx: Ctx,
    Path((ns, raw)): Path<(String, String)>,
    page: PageQuery,
) -> ApiResult {
    let (_, w) = load_hook(&ctx, &ns, &raw).await?;
    let win = page.window();
    let (rows, total) = ctx
        .store()
        .webhook_deliveries(w.id, win.offset(), win.limit(1000))
        .await?;
    let out: Vec<DeliveryEntity> = rows.into_iter().map(DeliveryEntity::from).collect();
    Ok(paged(out, total, win))
}

pub(super) async fn resend(
    ctx: Ctx,
    Path((ns, raw, delivery)): Path<(String, String, String)>,
) -> ApiResult {
    let (_, w) = load_hook(&ctx, &ns, &raw).await?;
    if ctx
        .store()
        .resend_webhook_delivery(w.id, id(&delivery)?)
        .await?
    {
        Ok(StatusCode::ACCEPTED.into_response())
    } else {
        Err(ApiError::NotFound)
    }
}
