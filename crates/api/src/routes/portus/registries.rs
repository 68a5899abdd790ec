//! `POST` and `PUT /api/v1/registries`: berth fronts exactly one registry,
//! its own, configured at start. Creating another is refused; the one there
//! may be renamed and given the hostname clients see, while its address and
//! TLS follow berth's configuration and cannot be changed here.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use serde::Deserialize;

use super::entities::RegistryEntity;
use super::{body, id, json, ApiError, ApiResult, Ctx};

#[derive(Deserialize)]
pub(super) struct RegistryBody {
    registry: RegistryFields,
}

#[derive(Deserialize)]
pub(super) struct RegistryFields {
    name: Option<String>,
    hostname: Option<String>,
    use_ssl: Option<bool>,
    external_hostname: Option<String>,
}

pub(super) async fn create(ctx: Ctx, bytes: Bytes) -> ApiResult {
    let _ = body::<RegistryBody>(&bytes)?;
    if !ctx.store().registries().await?.is_empty() {
        return Err(ApiError::BadRequest(
            "berth fronts exactly one registry, its own; change it with PUT /api/v1/registries/{id}".into(),
        ));
    }
    Err(ApiError::BadRequest(
        "the managed registry is not set up yet; restart berth".into(),
    ))
}

pub(super) async fn update(ctx: Ctx, Path(raw): Path<String>, bytes: Bytes) -> ApiResult {
    let registry_id = id(&raw)?;
    let f = body::<RegistryBody>(&bytes)?.registry;
    let current = ctx
        .store()
        .registries()
        .await?
        .into_iter()
        .find(|r| r.id == registry_id)
        .ok_or(ApiError::NotFound)?;
    if f.hostname.as_ref().is_some_and(|h| *h != current.hostname) {
        return Err(ApiError::Unprocessable(
            "hostname",
            "is set by berth's configuration".into(),
        ));
    }
    if f.use_ssl.is_some_and(|s| s != current.use_ssl) {
        return Err(ApiError::Unprocessable(
            "use_ssl",
            "is set by berth's configuration".into(),
        ));
    }
    if let Some(n) = &f.name {
        if n.trim().is_empty() || n.len() > 255 {
            return Err(ApiError::Unprocessable("name", "is invalid".into()));
        }
    }
    if let Some(h) = &f.external_hostname {
        if h.is_empty() || h.len() > 255 || h.contains('/') || h.chars().any(char::is_whitespace) {
            return Err(ApiError::Unprocessable(
                "external_hostname",
                "is invalid".into(),
            ));
        }
    }
    let updated = ctx
        .store()
        .update_registry(
            registry_id,
            f.name.as_deref(),
            f.external_hostname.as_deref(),
        )
        .await?
        .ok_or(ApiError::NotFound)?;
    json(StatusCode::OK, RegistryEntity::from(&updated))
}
