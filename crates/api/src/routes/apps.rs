//! `/protected/apps`: install, list, read, upgrade, start, stop, restart,
//! read logs of, and uninstall apps.
//!
//! Two listeners serve these routes. On berth's main listener the caller
//! must be the owner (`Authorization: Bearer <owner.token>`). On the core
//! listener (`http://portal_core/`, on the Docker network's gateway) a
//! caller without a token is the app whose container has the source address.
//! Each route declares its grant in [`grant`]; `authz::core_api` decides.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use berth_apps::{AppView, AppsError};
use berth_authz::core_api::{decide_core_api, CoreCaller, CoreGrant, CorePermission};
use berth_manifest::services::Permission;

use crate::problem::{FieldProblem, Problem};
use crate::{AppState, AppsContext};

/// Which listener a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    Main,
    Core,
}

/// The routes, each with the grant it needs.
pub(super) enum Route<'a> {
    List,
    Install,
    Get(&'a str),
    Upgrade,
    Uninstall,
    Control,
    Logs,
    /// `/internal/*`: an app's calls to its peers.
    PeersCall,
}

pub(super) fn grant(route: &Route<'_>) -> CoreGrant {
    match route {
        // `list` filters records one by one with the grant of `Get`.
        Route::List => CoreGrant::AppsRead,
        Route::Get(app) => CoreGrant::OwnAppRecord {
            app: (*app).to_owned(),
        },
        Route::Install | Route::Upgrade | Route::Uninstall | Route::Control | Route::Logs => {
            CoreGrant::Owner
        }
        Route::PeersCall => CoreGrant::PeersCall,
    }
}

pub(super) type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// Who calls: the owner by token, or (on the core listener only) the app at
/// the source address. Anyone else is refused with 401.
async fn caller(
    state: &AppState,
    ctx: &AppsContext,
    listener: Listener,
    peer: &Peer,
    headers: &HeaderMap,
) -> Result<CoreCaller, Problem> {
    let owner_token = state.owner_token();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(token) = bearer {
        return if !owner_token.is_empty()
            && constant_time_eq::constant_time_eq(token.as_bytes(), owner_token.as_bytes())
        {
            Ok(CoreCaller::Owner)
        } else {
            Err(Problem::unauthorized(
                "the bearer token is not the owner token",
            ))
        };
    }
    // On the main listener a paired terminal is the owner too, as on every
    // other `/protected` route; apps on the core listener never carry one.
    if listener == Listener::Main && headers.contains_key(header::COOKIE) {
        let outcome = crate::owner_auth::authenticate_cookie(state, headers).await?;
        return match outcome {
            Ok(o) if matches!(o.caller, berth_authz::gateway::Caller::Terminal { .. }) => {
                Ok(CoreCaller::Owner)
            }
            Ok(_) => Err(Problem::unauthorized(
                "this route needs a paired terminal's cookie or the owner token",
            )),
            Err(e) => Err(Problem::unauthorized(e.to_string())),
        };
    }
    if listener == Listener::Core {
        if let Some(Extension(ConnectInfo(addr))) = peer {
            if let Some(manifest) = ctx.apps.app_by_address(addr.ip()).await {
                let permissions: BTreeSet<CorePermission> = manifest
                    .permissions()
                    .iter()
                    .map(|p| match p {
                        Permission::AppsRead => CorePermission::AppsRead,
                        Permission::IdentityRead => CorePermission::IdentityRead,
                        Permission::PeersCall => CorePermission::PeersCall,
                    })
                    .collect();
                return Ok(CoreCaller::App {
                    name: manifest.name().as_str().to_owned(),
                    permissions,
                });
            }
        }
    }
    Err(Problem::unauthorized(
        "send `Authorization: Bearer <token>` with the owner token from `<data-dir>/owner.token`",
    ))
}

/// Resolves the caller and checks `route`'s grant.
pub(super) async fn authorize<'s>(
    state: &'s AppState,
    listener: Listener,
    peer: &Peer,
    headers: &HeaderMap,
    route: &Route<'_>,
) -> Result<(&'s AppsContext, CoreCaller), Problem> {
    let ctx = state
        .apps()
        .ok_or_else(|| Problem::not_found("this berth runs no apps"))?;
    let caller = caller(state, ctx, listener, peer, headers).await?;
    if !matches!(route, Route::List) {
        let decision = decide_core_api(&caller, &grant(route));
        if !decision.allowed() {
            return Err(Problem::forbidden(decision.reason().to_string()));
        }
    }
    Ok((ctx, caller))
}

fn problem(e: AppsError) -> Problem {
    match e {
        AppsError::NotFound(_) => Problem::not_found(e.to_string()).with_field("name"),
        AppsError::AlreadyInstalled(_) | AppsError::ForeignContainer(_) => {
            Problem::conflict(e.to_string()).with_field("/name")
        }
        AppsError::Busy { .. } => Problem::conflict(e.to_string()),
        AppsError::ImageUnavailable { .. } => {
            Problem::unprocessable(e.to_string()).with_field("/image")
        }
        AppsError::DataDir { .. } => Problem::unprocessable(e.to_string()).with_field("/data_dirs"),
        other => Problem::internal(&other),
    }
}

fn ok(status: StatusCode, view: &AppView) -> Response {
    (status, Json(view)).into_response()
}

pub(crate) async fn list(
    State(state): State<AppState>,
    Extension(listener): Extension<Listener>,
    peer: Peer,
    headers: HeaderMap,
) -> Response {
    let (ctx, caller) = match authorize(&state, listener, &peer, &headers, &Route::List).await {
        Ok(x) => x,
        Err(p) => return p.into_response(),
    };
    match ctx.apps.list().await {
        Ok(views) => {
            let visible: Vec<AppView> = views
                .into_iter()
                .filter(|v| decide_core_api(&caller, &grant(&Route::Get(&v.name))).allowed())
                .collect();
            Json(visible).into_response()
        }
        Err(e) => problem(e).into_response(),
    }
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(listener): Extension<Listener>,
    peer: Peer,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let ctx = match authorize(&state, listener, &peer, &headers, &Route::Get(&name)).await {
        Ok((ctx, _)) => ctx,
        Err(p) => return p.into_response(),
    };
    match ctx.apps.get(&name).await {
        Ok(view) => ok(StatusCode::OK, &view),
        Err(e) => problem(e).into_response(),
    }
}

/// Reads an app.json body; every invalid field is reported at once.
fn manifest_from(body: &Bytes) -> Result<berth_manifest::ParsedManifest, Problem> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Problem::bad_request(format!("body is not JSON: {e}")).with_field(""))?;
    berth_manifest::parse_value(value).map_err(|errors| {
        let list: Vec<FieldProblem> = errors
            .errors()
            .iter()
            .map(|e| FieldProblem {
                pointer: e.pointer().to_owned(),
                detail: e.message().to_owned(),
            })
            .collect();
        Problem::unprocessable(errors.to_string()).with_errors(list)
    })
}

pub(crate) async fn install(
    State(state): State<AppState>,
    Extension(listener): Extension<Listener>,
    peer: Peer,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let ctx = match authorize(&state, listener, &peer, &headers, &Route::Install).await {
        Ok((ctx, _)) => ctx,
        Err(p) => return p.into_response(),
    };
    let parsed = match manifest_from(&body) {
        Ok(p) => p,
        Err(p) => return p.into_response(),
    };
    let warnings: Vec<String> = parsed.warnings.iter().map(|w| w.to_string()).collect();
    if query.get("progress").map(String::as_str) == Some("true") {
        return install_with_progress(ctx.apps.clone(), parsed.manifest, warnings);
    }
    match ctx.apps.install(parsed.manifest, &|_| {}).await {
        Ok(view) => with_warnings(StatusCode::CREATED, &view, warnings),
        Err(e) => problem(e).into_response(),
    }
}

/// `?progress=true`: the answer is NDJSON, one `{"progress": ...}` line per
/// pull step, then `{"app": ...}` or `{"problem": ...}`. The install runs in
/// its own task, so a client that goes away does not abort it.
fn install_with_progress(
    apps: berth_apps::Apps,
    manifest: berth_manifest::manifest::AppManifest,
    warnings: Vec<String>,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let progress_tx = tx.clone();
        let report = move |p: berth_apps::PullProgress| {
            let line = serde_json::json!({"progress": {
                "layer": p.layer, "status": p.status, "current": p.current, "total": p.total,
            }});
            let _ = progress_tx.send(format!("{line}\n"));
        };
        let last = match apps.install(manifest, &report).await {
            Ok(view) => {
                let mut value = serde_json::to_value(&view).unwrap_or_default();
                if let Some(object) = value.as_object_mut() {
                    object.insert("warnings".into(), warnings.into());
                }
                serde_json::json!({ "app": value })
            }
            Err(e) => serde_json::json!({ "problem": problem(e) }),
        };
        let _ = tx.send(format!("{last}\n"));
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, std::convert::Infallible>(Bytes::from(line)), rx))
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// `PUT /protected/apps/{name}`: a new app.json for an installed app.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    Extension(listener): Extension<Listener>,
    peer: Peer,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let ctx = match authorize(&state, listener, &peer, &headers, &Route::Upgrade).await {
        Ok((ctx, _)) => ctx,
        Err(p) => return p.into_response(),
    };
    let parsed = match manifest_from(&body) {
        Ok(p) => p,
        Err(p) => return p.into_response(),
    };
    if parsed.manifest.name().as_str() != name {
        return Problem::unprocessable(format!(
            "the app.json names `{}`, the URL `{name}`",
            parsed.manifest.name()
        ))
        .with_field("/name")
        .into_response();
    }
    let warnings: Vec<String> = parsed.warnings.iter().map(|w| w.to_string()).collect();
    match ctx.apps.upgrade(parsed.manifest, &|_| {}).await {
        Ok(view) => with_warnings(StatusCode::OK, &view, warnings),
        Err(e) => problem(e).into_response(),
    }
}

fn with_warnings(status: StatusCode, view: &AppView, warnings: Vec<String>) -> Response {
    let mut value = serde_json::to_value(view).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("warnings".into(), warnings.into());
    }
    (status, Json(value)).into_response()
}

pub(crate) async fn uninstall(
    State(state): State<AppState>,
    Extension(listener): Extension<Listener>,
    peer: Peer,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let ctx = match authorize(&state, listener, &peer, &headers, &Route::Uninstall).await {
        Ok((ctx, _)) => ctx,
        Err(p) => return p.into_response(),
    };
    let purge = match query.get("purge").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Problem::bad_request(format!(
                "`purge` must be `true` or `false`, not `{other}`"
            ))
            .with_field("purge")
            .into_response()
        }
    };
    match ctx.apps.uninstall(&name, purge).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => problem(e).into_response(),
    }
}

pub(crate) async fn control(
    State(state): State<AppState>,
    Extension(listener): Extension<Listener>,
    peer: Peer,
    headers: HeaderMap,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    let ctx = match authorize(&state, listener, &peer, &headers, &Route::Control).await {
        Ok((ctx, _)) => ctx,
        Err(p) => return p.into_response(),
    };
    let result = match action.as_str() {
        "start" => ctx.apps.start(&name).await,
        "stop" => ctx.apps.stop(&name).await,
        "restart" => ctx.apps.restart(&name).await,
        other => {
            return Problem::not_found(format!("no action `{other}`; use start, stop or restart"))
                .into_response()
        }
    };
    match result {
        Ok(view) => ok(StatusCode::OK, &view),
        Err(e) => problem(e).into_response(),
    }
}

pub(crate) async fn logs(
    State(state): State<AppState>,
    Extension(listener): Extension<Listener>,
    peer: Peer,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let ctx = match authorize(&state, listener, &peer, &headers, &Route::Logs).await {
        Ok((ctx, _)) => ctx,
        Err(p) => return p.into_response(),
    };
    let follow = matches!(query.get("follow").map(String::as_str), Some("true" | "1"));
    let tail = match query.get("tail").map(|t| t.parse::<u32>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            return Problem::bad_request("`tail` must be a whole number")
                .with_field("tail")
                .into_response()
        }
    };
    match ctx.apps.logs(&name, follow, tail).await {
        Ok(stream) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            Body::from_stream(stream),
        )
            .into_response(),
        Err(e) => problem(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, permissions: &[CorePermission]) -> CoreCaller {
        CoreCaller::App {
            name: name.to_owned(),
            permissions: permissions.iter().copied().collect(),
        }
    }

    /// Every route, walked with callers lacking its grant: only the owner
    /// changes apps, and an app reads another's record only with `apps:read`.
    #[test]
    fn every_route_refuses_a_caller_lacking_its_grant() {
        let owner_only = [
            Route::Install,
            Route::Upgrade,
            Route::Uninstall,
            Route::Control,
            Route::Logs,
        ];
        let all = [
            CorePermission::AppsRead,
            CorePermission::IdentityRead,
            CorePermission::PeersCall,
        ];
        for route in &owner_only {
            assert!(decide_core_api(&CoreCaller::Owner, &grant(route)).allowed());
            for caller in [app("a", &[]), app("a", &all)] {
                assert!(!decide_core_api(&caller, &grant(route)).allowed());
            }
        }
        let own = grant(&Route::Get("a"));
        let other = grant(&Route::Get("b"));
        assert!(decide_core_api(&app("a", &[]), &own).allowed());
        assert!(!decide_core_api(&app("a", &[]), &other).allowed());
        assert!(!decide_core_api(&app("a", &[CorePermission::IdentityRead]), &other).allowed());
        assert!(decide_core_api(&app("a", &[CorePermission::AppsRead]), &other).allowed());
        assert!(decide_core_api(&CoreCaller::Owner, &other).allowed());
        // `list` filters with the `Get` grant; its own grant needs `apps:read`.
        assert!(!decide_core_api(&app("a", &[]), &grant(&Route::List)).allowed());
    }
}
