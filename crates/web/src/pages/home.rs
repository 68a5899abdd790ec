//! The owner's home, on a paired terminal: installed apps as tiles with
//! their status (kept live by server-sent events), their controls, logs
//! and uninstall, and installing an app from an app.json.
//!
//! It calls the same apps service as `/protected/apps`; only a visitor
//! whose terminal cookie the identity service accepts gets here, anyone
//! else is sent to pair first.

use std::convert::Infallible;
use std::sync::PoisonError;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Extension;
use berth_apps::{AppView, AppsError};
use tokio::sync::broadcast::error::RecvError;

use super::account::new_user;
use super::{page, page_with, redirect, Layout, ListQuery, PageResult};
use crate::csrf::Posted;
use crate::error::WebError;
use crate::format::{Pager, When};
use crate::visitor::Visitor;
use crate::Web;

/// The owner, or a redirect to pairing.
pub(crate) fn owner(v: &Visitor) -> Result<(), WebError> {
    if v.owner {
        Ok(())
    } else {
        Err(WebError::Pair)
    }
}

struct AppTile {
    name: String,
    image: String,
    status: String,
    phase: String,
    running: bool,
    error: String,
    installed: When,
    url: String,
    /// Through the core's hand-off, which carries this browser's terminal
    /// cookie to the app's host (Chromium keeps it on the bare domain).
    open: String,
}

/// One line of a refused app.json: where, and what is wrong there.
struct FieldLine {
    pointer: String,
    message: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    l: Layout,
    apps: Vec<AppTile>,
    pager: Pager,
    apps_enabled: bool,
    needs_admin: bool,
    admin_error: Option<String>,
    manifest: String,
    errors: Vec<FieldLine>,
    failures: Vec<(String, String)>,
}

/// `http://<app>.<domain>:<port>/`, the port being the one this page came in on.
fn app_url(web: &Web, headers: &HeaderMap, app: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let port = host
        .rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map(|(_, p)| format!(":{p}"))
        .unwrap_or_default();
    format!("http://{app}.{}{port}/", web.identities().domain())
}

fn tile(web: &Web, headers: &HeaderMap, a: AppView) -> AppTile {
    let url = app_url(web, headers, &a.name);
    AppTile {
        open: format!("/.berth/handoff?next={}", crate::format::query_value(&url)),
        url,
        running: a.status == "running",
        installed: chrono::DateTime::parse_from_rfc3339(&a.installed_at)
            .map(|t| When::new(t.with_timezone(&chrono::Utc)))
            .unwrap_or_else(|_| When::new(chrono::Utc::now())),
        name: a.name,
        image: a.image,
        status: a.status,
        phase: a.phase.to_owned(),
        error: a.last_error.unwrap_or_default(),
    }
}

struct Shown {
    page: Option<i64>,
    admin_error: Option<String>,
    manifest: String,
    errors: Vec<FieldLine>,
}

async fn render(
    web: &Web,
    v: &Visitor,
    headers: &HeaderMap,
    shown: Shown,
    status: StatusCode,
) -> PageResult {
    owner(v)?;
    let all = match web.apps() {
        Some(apps) => apps.list().await.map_err(|e| WebError::internal(&e))?,
        None => Vec::new(),
    };
    let pager = Pager::new(shown.page, all.len() as i64, "/home?".into());
    let apps = pager
        .slice(&all)
        .iter()
        .map(|a| tile(web, headers, a.clone()))
        .collect();
    let failures = web
        .inner
        .install_failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    page_with(
        status,
        &Home {
            l: Layout::new(v, "Home", "home"),
            apps,
            pager,
            apps_enabled: web.apps().is_some(),
            needs_admin: !web.store().admin_exists().await?,
            admin_error: shown.admin_error,
            manifest: shown.manifest,
            errors: shown.errors,
            failures,
        },
    )
}

pub(super) async fn home(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let shown = Shown {
        page: q.page,
        admin_error: None,
        manifest: String::new(),
        errors: Vec::new(),
    };
    render(&web, &v, &headers, shown, StatusCode::OK).await
}

/// The registry's first admin, made from the owner's home: the account the
/// owner acts as on the registry's pages.
pub(super) async fn create_admin(
    State(web): State<Web>,
    headers: HeaderMap,
    form: Posted,
) -> PageResult {
    let v = &form.visitor;
    owner(v)?;
    let error = match new_user(&form, true) {
        Err(e) => e,
        Ok(new) => match v.store.bootstrap_admin(&new).await? {
            Some(_) => return redirect("/home"),
            None => "An admin exists already.".to_owned(),
        },
    };
    let shown = Shown {
        page: None,
        admin_error: Some(error),
        manifest: String::new(),
        errors: Vec::new(),
    };
    render(&web, v, &headers, shown, StatusCode::UNPROCESSABLE_ENTITY).await
}

fn record_failure(web: &Web, app: &str, e: &AppsError) {
    let mut f = web
        .inner
        .install_failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    f.retain(|(name, _)| name != app);
    f.push((app.to_owned(), e.to_string()));
    let excess = f.len().saturating_sub(10);
    f.drain(..excess);
}

/// Validates the pasted app.json and starts the install. A refused file is
/// shown again with every error beside its field's path; an accepted one
/// installs in its own task (a slow image pull outlives the request) and
/// the home shows its progress live.
pub(super) async fn install(
    State(web): State<Web>,
    headers: HeaderMap,
    form: Posted,
) -> PageResult {
    let v = &form.visitor;
    owner(v)?;
    let apps = web.apps().ok_or(WebError::NotFound)?.clone();
    let text = form.raw("manifest").to_owned();
    let refuse = |errors: Vec<FieldLine>| Shown {
        page: None,
        admin_error: None,
        manifest: text.clone(),
        errors,
    };
    let parsed = match serde_json::from_str::<serde_json::Value>(&text) {
        Err(e) => {
            let line = FieldLine {
                pointer: String::new(),
                message: format!("not JSON: {e}"),
            };
            let shown = refuse(vec![line]);
            return render(&web, v, &headers, shown, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
        Ok(value) => berth_manifest::parse_value(value),
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(errors) => {
            let lines = errors
                .errors()
                .iter()
                .map(|e| FieldLine {
                    pointer: e.pointer().to_owned(),
                    message: e.message().to_owned(),
                })
                .collect();
            let shown = refuse(lines);
            return render(&web, v, &headers, shown, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let name = parsed.manifest.name().as_str().to_owned();
    let task_web = web.clone();
    let task_name = name.clone();
    let task = tokio::spawn(async move {
        let result = apps.install(parsed.manifest, &|_| {}).await;
        if let Err(e) = &result {
            tracing::warn!(app = %task_name, error = %e, "install from the web UI failed");
            record_failure(&task_web, &task_name, e);
        }
        result.map(|_| ())
    });
    // A quick refusal (name taken, image missing) is shown on this answer.
    if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(3), task).await {
        let line = FieldLine {
            pointer: field_of(&e).to_owned(),
            message: e.to_string(),
        };
        let shown = refuse(vec![line]);
        return render(&web, v, &headers, shown, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    redirect("/home")
}

/// The app.json field an install error is about (as the API reports it).
fn field_of(e: &AppsError) -> &'static str {
    match e {
        AppsError::AlreadyInstalled(_) | AppsError::ForeignContainer(_) => "/name",
        AppsError::ImageUnavailable { .. } => "/image",
        AppsError::DataDir { .. } => "/data_dirs",
        _ => "",
    }
}

/// Status of every app as server-sent events, one `apps` event whenever
/// something changed, so tiles update without a reload. The apps service
/// announces each change; a lagging page just reads the list again.
pub(super) async fn events(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
) -> Result<impl IntoResponse, WebError> {
    owner(&v)?;
    let apps = web.apps().ok_or(WebError::NotFound)?.clone();
    let changes = apps.subscribe();
    let start = (apps, changes, String::new());
    let stream = futures_util::stream::unfold(start, |(apps, mut changes, last)| async move {
        loop {
            let now = match apps.list().await {
                Ok(list) => serde_json::Value::Array(
                    list.iter()
                        .map(|a| {
                            serde_json::json!({
                                "name": a.name, "status": a.status, "phase": a.phase,
                                "error": a.last_error,
                            })
                        })
                        .collect(),
                )
                .to_string(),
                Err(_) => last.clone(),
            };
            if now != last {
                let event = Event::default().event("apps").data(now.clone());
                return Some((Ok::<Event, Infallible>(event), (apps, changes, now)));
            }
            // Wait for the next change; a missed one (lag) or a quiet
            // minute just means reading the list again.
            match tokio::time::timeout(Duration::from_secs(60), changes.recv()).await {
                Err(_) | Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => {}
                Ok(Err(RecvError::Closed)) => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[derive(Template)]
#[template(path = "logs.html")]
struct Logs {
    l: Layout,
    name: String,
    text: String,
}

pub(super) async fn logs(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Path(name): Path<String>,
) -> PageResult {
    use futures_util::StreamExt;
    owner(&v)?;
    let apps = web.apps().ok_or(WebError::NotFound)?;
    let stream = match apps.logs(&name, false, Some(500)).await {
        Ok(s) => s,
        Err(AppsError::NotFound(_)) => return Err(WebError::NotFound),
        Err(e) => return Err(WebError::internal(&e)),
    };
    let chunks: Vec<_> = stream.collect().await;
    let mut text = String::new();
    for c in chunks.into_iter().flatten() {
        text.push_str(&String::from_utf8_lossy(&c));
    }
    page(&Logs {
        l: Layout::new(&v, format!("Logs of {name}"), "home"),
        name,
        text,
    })
}

#[derive(Template)]
#[template(path = "uninstall.html")]
struct Uninstall {
    l: Layout,
    name: String,
}

pub(super) async fn confirm_uninstall(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Path(name): Path<String>,
) -> PageResult {
    owner(&v)?;
    let apps = web.apps().ok_or(WebError::NotFound)?;
    let app = apps.get(&name).await.map_err(|_| WebError::NotFound)?;
    page(&Uninstall {
        l: Layout::new(&v, format!("Uninstall {}", app.name), "home"),
        name: app.name,
    })
}

pub(super) async fn uninstall(
    State(web): State<Web>,
    Path(name): Path<String>,
    form: Posted,
) -> PageResult {
    owner(&form.visitor)?;
    let apps = web.apps().ok_or(WebError::NotFound)?;
    // The confirmation names the app; a form without it changes nothing.
    if form.get("confirm") != name {
        return Err(WebError::BadForm);
    }
    match apps.uninstall(&name, form.checked("purge")).await {
        Ok(()) => redirect("/home"),
        Err(AppsError::NotFound(_)) => Err(WebError::NotFound),
        Err(e) => Err(WebError::internal(&e)),
    }
}

pub(super) async fn control(
    State(web): State<Web>,
    Path((name, action)): Path<(String, String)>,
    form: Posted,
) -> PageResult {
    owner(&form.visitor)?;
    let apps = web.apps().ok_or(WebError::NotFound)?;
    let result = match action.as_str() {
        "start" => apps.start(&name).await,
        "stop" => apps.stop(&name).await,
        "restart" => apps.restart(&name).await,
        _ => return Err(WebError::NotFound),
    };
    match result {
        Ok(_) => redirect("/home"),
        Err(AppsError::NotFound(_)) => Err(WebError::NotFound),
        Err(e) => {
            record_failure(&web, &name, &e);
            redirect("/home")
        }
    }
}
