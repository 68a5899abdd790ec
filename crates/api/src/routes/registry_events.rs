//! `POST /v2/webhooks/events`: the registry's notification sink.
//!
//! Only a sender presenting the configured bearer secret is heard; anyone
//! else gets 401 and nothing is recorded (Portus accepted anybody). Events
//! are stored as received and processed later by the sync worker.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_store::StoredEvent;
use serde::Deserialize;

use crate::problem::Problem;
use crate::AppState;

#[derive(Deserialize)]
struct Envelope {
    events: Vec<serde_json::Value>,
}

pub(super) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !sender_is_registry(&headers, &state.inner.notification_secret) {
        state.metrics().registry_events_rejected.inc();
        return Problem::unauthorized("notifications must carry the registry's bearer secret")
            .into_response();
    }
    let envelope: Envelope = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            state.metrics().registry_events_rejected.inc();
            return Problem::bad_request(format!("body is not a notification envelope: {e}"))
                .with_field("events")
                .into_response();
        }
    };
    let mut events = Vec::with_capacity(envelope.events.len());
    for (i, raw) in envelope.events.into_iter().enumerate() {
        let Some(id) = raw.get("id").and_then(|v| v.as_str()).map(str::to_owned) else {
            return Problem::bad_request("event has no `id`")
                .with_field(format!("/events/{i}/id"))
                .into_response();
        };
        let action = raw
            .get("action")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let repository = raw
            .pointer("/target/repository")
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        events.push(StoredEvent {
            id,
            action,
            repository,
            payload: raw,
        });
    }
    match state.store().record_registry_events(&events).await {
        Ok(n) => {
            state.metrics().registry_events_received.inc_by(n);
            StatusCode::ACCEPTED.into_response()
        }
        Err(e) => Problem::internal(&e).into_response(),
    }
}

fn sender_is_registry(headers: &HeaderMap, secret: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(presented) = value.strip_prefix("Bearer ") else {
        return false;
    };
    !secret.is_empty()
        && constant_time_eq::constant_time_eq(presented.as_bytes(), secret.as_bytes())
}
