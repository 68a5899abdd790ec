//! `POST /api/v1/registries/{id}/sync` (berth extension): reconcile the
//! catalog with the registry now, for admins. One reconcile runs at a time:
//! a second request while one runs gets 409 rather than queueing behind it.

use std::time::UNIX_EPOCH;

use axum::extract::Path;
use axum::http::StatusCode;
use berth_sync::reconcile::{Depth, ReconcileReport};
use berth_sync::service::{ReconcileNowError, ReconcileStatus};

use super::{id, json, ApiError, ApiResult, Ctx};

pub(super) async fn reconcile_now(ctx: Ctx, Path(raw): Path<String>) -> ApiResult {
    let registry_id = id(&raw)?;
    if !ctx
        .store()
        .registries()
        .await?
        .iter()
        .any(|r| r.id == registry_id)
    {
        return Err(ApiError::NotFound);
    }
    let sync = ctx.state.catalog_sync().ok_or(ApiError::Internal)?;
    match sync.reconcile_now().await {
        Ok(report) => json(StatusCode::OK, report_json(&report)),
        Err(ReconcileNowError::Busy) => Err(ApiError::Conflict(
            "a reconcile is already running; try again when it has finished".into(),
        )),
        Err(ReconcileNowError::Sync(e)) => Err(ApiError::internal(&e)),
    }
}

/// A reconcile's report as the API shows it; `complete` is false when any
/// repository (or the whole catalog) got no answer, and then nothing was
/// removed for it.
pub(crate) fn report_json(r: &ReconcileReport) -> serde_json::Value {
    serde_json::json!({
        "complete": r.catalog_error.is_none() && r.skipped.is_empty(),
        "deep": r.depth == Depth::Deep,
        "repositories": r.repositories,
        "upserts": r.upserts,
        "removals": r.removals,
        "manifests_fetched": r.manifests_fetched,
        "requests": r.requests,
        "catalog_error": r.catalog_error,
        "skipped": r.skipped.iter().map(|(repository, reason)| serde_json::json!({"repository": repository, "reason": reason})).collect::<Vec<_>>(),
        "orphans": r.orphans,
    })
}

/// The health entry of the catalog sync: the last reconcile's outcome.
///
/// `/api/v1/health` answers anyone, but a report names repositories (every
/// known one, private ones included, when the catalog failed) and orphans,
/// and the catalog error may name internal addresses. So everyone gets the
/// summary (success, counts, time) and only `admin` callers the detail.
pub(crate) fn health_entry(last: Option<&ReconcileStatus>, admin: bool) -> serde_json::Value {
    let Some(s) = last else {
        return serde_json::json!({"msg": "no reconcile has finished yet", "success": false});
    };
    let at = s
        .finished_at
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let r = &s.report;
    let msg = match (&r.catalog_error, r.skipped.len(), admin) {
        (Some(e), _, true) => format!("last reconcile could not read the catalog: {e}"),
        (Some(_), _, false) => "last reconcile could not read the catalog".to_owned(),
        (None, 0, _) => "last reconcile complete".to_owned(),
        (None, n, _) => format!("last reconcile skipped {n} repositories without an answer"),
    };
    let mut entry = serde_json::json!({
        "msg": msg,
        "success": s.complete(),
        "finished_at": at,
        "repositories": r.repositories,
        "upserts": r.upserts,
        "removals": r.removals,
        "skipped": r.skipped.len(),
        "orphans": r.orphans.len(),
    });
    if let (true, Some(fields)) = (admin, entry.as_object_mut()) {
        fields.insert("report".into(), report_json(r));
    }
    entry
}
