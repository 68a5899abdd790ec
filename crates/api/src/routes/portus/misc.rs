//! `_ping`, `health`, `version`, `registries` and the OpenAPI document.

use axum::http::StatusCode;
use axum::response::IntoResponse;
use berth_authz::portus_api::{ApiGrant, ApiTarget};

use super::entities::RegistryEntity;
use super::grants::portus_routes;
use super::{json, ApiResult, Ctx};

pub(super) async fn ping(_ctx: Ctx) -> ApiResult {
    Ok(StatusCode::OK.into_response())
}

/// Portus's health shape: one entry per component with `msg` and `success`;
/// 503 when any fails. The sync entry's detail is for admins only.
pub(super) async fn health(ctx: Ctx) -> ApiResult {
    let database = ctx.store().ping().await.is_ok();
    let inner = &ctx.state.inner;
    let registry = matches!(
        berth_registry::probe::challenge(&inner.http, &inner.registry_url).await,
        Ok(c) if c.status == 401 || c.status == 200
    );
    let status = if database && registry {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let entry = |ok: bool, name: &str| serde_json::json!({"msg": format!("{name} is {}", if ok { "reachable" } else { "unreachable" }), "success": ok});
    json(
        status,
        serde_json::json!({
            "database": entry(database, "database"),
            "registry": entry(registry, "registry"),
            "sync": super::sync::health_entry(
                ctx.state.catalog_sync().and_then(|s| s.last_reconcile()).as_ref(),
                ctx.allows(ApiGrant::Admin, ApiTarget::None),
            ),
        }),
    )
}

pub(super) async fn version(_ctx: Ctx) -> ApiResult {
    json(
        StatusCode::OK,
        serde_json::json!({"api-versions": ["v1"], "git": null, "version": env!("CARGO_PKG_VERSION")}),
    )
}

pub(super) async fn registries(ctx: Ctx) -> ApiResult {
    let out: Vec<RegistryEntity> = ctx
        .store()
        .registries()
        .await?
        .iter()
        .map(RegistryEntity::from)
        .collect();
    json(StatusCode::OK, out)
}

#[derive(serde::Deserialize)]
pub(super) struct RegistryQuery {
    name: Option<String>,
    hostname: Option<String>,
}

/// `GET /api/v1/registries/validate`: berth fronts exactly one registry, its
/// own, so this only checks the fields' shape and that the name is free.
pub(super) async fn validate_registry(
    ctx: Ctx,
    axum::extract::Query(q): axum::extract::Query<RegistryQuery>,
) -> ApiResult {
    let mut messages = serde_json::Map::new();
    let existing = ctx.store().registries().await?;
    match q.name.as_deref() {
        None | Some("") => {
            messages.insert("name".into(), serde_json::json!(["can't be blank"]));
        }
        Some(n) if existing.iter().any(|r| r.name == n) => {
            messages.insert("name".into(), serde_json::json!(["has already been taken"]));
        }
        Some(_) => {}
    }
    if q.hostname
        .as_deref()
        .is_none_or(|h| h.is_empty() || h.contains('/'))
    {
        messages.insert("hostname".into(), serde_json::json!(["is invalid"]));
    }
    json(
        StatusCode::OK,
        serde_json::json!({"valid": messages.is_empty(), "messages": messages}),
    )
}

/// An OpenAPI 3.0 document generated from the route table, so it cannot
/// drift from what is served: paths, methods, summaries, and who may call.
pub(super) async fn openapi(_ctx: Ctx) -> ApiResult {
    json(StatusCode::OK, openapi_document())
}

pub fn openapi_document() -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for spec in portus_routes() {
        let params: Vec<serde_json::Value> = spec
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| serde_json::json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let open = matches!(spec.grant, ApiGrant::Anyone | ApiGrant::Bootstrap);
        let mut op = serde_json::json!({
            "summary": spec.summary,
            "description": format!("requires: {:?}", spec.grant),
            "parameters": params,
            "responses": {
                "200": {"description": "success"},
                "401": {"description": "missing or bad credentials", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "403": {"description": "not allowed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if open {
            if let Some(obj) = op.as_object_mut() {
                obj.insert("security".into(), serde_json::json!([]));
            }
        }
        if let Some(methods) = paths
            .entry(spec.path.to_owned())
            .or_insert_with(|| serde_json::json!({}))
            .as_object_mut()
        {
            methods.insert(spec.method.to_ascii_lowercase(), op);
        }
    }
    serde_json::json!({
        "openapi": "3.0.3",
        "info": {"title": "berth Portus API v1", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "security": [{"portusAuth": []}],
        "components": {
            "securitySchemes": {"portusAuth": {"type": "apiKey", "in": "header", "name": "Portus-Auth", "description": "<username>:<application token>"}},
            "schemas": {"Error": {"type": "object", "properties": {"message": {}}}}
        }
    })
}
