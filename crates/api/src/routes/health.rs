//! `/healthz` and `/metrics`.
//!
//! Health is checked live on each request, with short timeouts, so that the
//! answer is never staler than the request.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use crate::metrics::ComponentLabels;
use crate::AppState;

#[derive(Serialize)]
struct Check {
    ok: bool,
    detail: String,
}

#[derive(Serialize)]
struct HealthBody {
    status: &'static str,
    /// Components that are not ready; empty when healthy.
    missing: Vec<&'static str>,
    checks: std::collections::BTreeMap<&'static str, Check>,
}

pub(super) async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let (postgres, migrations) = check_store(&state).await;
    let registry = check_registry(&state).await;
    let mut checks = std::collections::BTreeMap::new();
    checks.insert("postgres", postgres);
    checks.insert("migrations", migrations);
    checks.insert("registry", registry);
    let missing: Vec<&'static str> = checks
        .iter()
        .filter(|(_, c)| !c.ok)
        .map(|(name, _)| *name)
        .collect();
    for (name, check) in &checks {
        state
            .metrics()
            .component_healthy
            .get_or_create(&ComponentLabels {
                component: (*name).to_owned(),
            })
            .set(i64::from(check.ok));
    }
    let (status, word) = if missing.is_empty() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (
        status,
        Json(HealthBody {
            status: word,
            missing,
            checks,
        }),
    )
}

async fn check_store(state: &AppState) -> (Check, Check) {
    let store = state.store();
    match tokio::time::timeout(Duration::from_secs(2), store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return (fail(e.to_string()), fail("postgres unreachable".into())),
        Err(_) => {
            return (
                fail("timed out".into()),
                fail("postgres unreachable".into()),
            )
        }
    }
    let migrations = match store.migrations_applied().await {
        Ok(true) => ok("all applied"),
        Ok(false) => fail("pending migrations".into()),
        Err(e) => fail(e.to_string()),
    };
    (ok("reachable"), migrations)
}

async fn check_registry(state: &AppState) -> Check {
    match berth_registry::probe::challenge(&state.inner.http, &state.inner.registry_url).await {
        Ok(c) if c.status == 401 || c.status == 200 => ok(&format!("answered {}", c.status)),
        Ok(c) => fail(format!("answered {}", c.status)),
        Err(e) => fail(e.to_string()),
    }
}

fn ok(detail: &str) -> Check {
    Check {
        ok: true,
        detail: detail.to_owned(),
    }
}

fn fail(detail: String) -> Check {
    Check { ok: false, detail }
}

pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics().render(),
    )
}
