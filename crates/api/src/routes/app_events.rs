//! `GET /protected/events`: apps' status changes as server-sent events, for
//! the owner's home page and for scripts that would otherwise poll.
//!
//! On connect the stream sends every visible app once, then one `app` event
//! per change (`starting`, `running`, `idle-stopped`, ...), and `removed`
//! when an app is uninstalled. A subscriber that falls behind gets the full
//! list again instead of the changes it missed.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use berth_apps::{AppView, Apps, AppsError};
use berth_authz::core_api::{decide_core_api, CoreCaller};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Serialize;
use tokio::sync::broadcast::{error::RecvError, Receiver};

use super::apps::{authorize, grant, Listener, Peer, Route};
use crate::AppState;

/// An app's status, without its manifest.
#[derive(Serialize)]
struct StatusEvent<'a> {
    name: &'a str,
    phase: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i64>,
    want_running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<&'a str>,
}

fn app_event(v: &AppView) -> Event {
    let body = StatusEvent {
        name: &v.name,
        phase: v.phase,
        status: &v.status,
        exit_code: v.exit_code,
        want_running: v.want_running,
        last_error: v.last_error.as_deref(),
    };
    Event::default()
        .event("app")
        .data(serde_json::to_string(&body).unwrap_or_default())
}

fn removed_event(name: &str) -> Event {
    Event::default()
        .event("removed")
        .data(serde_json::json!({ "name": name }).to_string())
}

pub(crate) async fn events(
    State(state): State<AppState>,
    Extension(listener): Extension<Listener>,
    peer: Peer,
    headers: HeaderMap,
) -> Response {
    let (ctx, caller) = match authorize(&state, listener, &peer, &headers, &Route::List).await {
        Ok(x) => x,
        Err(p) => return p.into_response(),
    };
    let apps = ctx.apps.clone();
    // Subscribe before the snapshot, so nothing between the two is lost.
    let changes = apps.subscribe();
    Sse::new(status_stream(apps, caller, changes))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn visible(caller: &CoreCaller, name: &str) -> bool {
    decide_core_api(caller, &grant(&Route::Get(name))).allowed()
}

/// What the stream does next: send the whole list, or wait for a change.
enum Next {
    Snapshot,
    Change,
}

fn status_stream(
    apps: Apps,
    caller: CoreCaller,
    changes: Receiver<String>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let start = (apps, caller, changes, Next::Snapshot);
    stream::unfold(start, |(apps, caller, mut changes, next)| async move {
        let events: Vec<Event> = match next {
            Next::Snapshot => match apps.list().await {
                Ok(views) => views
                    .iter()
                    .filter(|v| visible(&caller, &v.name))
                    .map(app_event)
                    .collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "events: listing apps failed");
                    Vec::new()
                }
            },
            Next::Change => match changes.recv().await {
                Ok(name) if visible(&caller, &name) => match apps.get(&name).await {
                    Ok(v) => vec![app_event(&v)],
                    Err(AppsError::NotFound(_)) => vec![removed_event(&name)],
                    Err(e) => {
                        tracing::warn!(app = %name, error = %e, "events: reading app failed");
                        Vec::new()
                    }
                },
                Ok(_) => Vec::new(),
                Err(RecvError::Lagged(_)) => {
                    return Some((
                        stream::iter(Vec::new()),
                        (apps, caller, changes, Next::Snapshot),
                    ));
                }
                Err(RecvError::Closed) => return None,
            },
        };
        let batch = stream::iter(events.into_iter().map(Ok).collect::<Vec<_>>());
        Some((batch, (apps, caller, changes, Next::Change)))
    })
    .flatten()
}
