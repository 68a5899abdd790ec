//! `/api/v1/activities` (JSON) and `/api/v1/activities.csv`: the audit log,
//! filtered by user, namespace, repository, action and time, paged like
//! every Portus list.
//!
//! What a caller may see is decided by `authz::activities`: admins see all,
//! users the activities on namespaces they may pull from plus their own
//! actions; the store filters and pages in SQL on that decision.

use axum::extract::Query;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use berth_authz::activities::{activity_scope, may_see_namespace_activities, ActivityScope};
use berth_store::{Activity, ActivityAction, ActivityFilter, ActivityPage, ActivityVisibility};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::namespaces::target;
use super::{paged, ApiError, ApiResult, Ctx, PageQuery};

/// The most rows one CSV export (or `all=true`) returns.
const EXPORT_CAP: i64 = 100_000;

#[derive(Deserialize, Default)]
pub(super) struct FilterQuery {
    user: Option<String>,
    namespace: Option<String>,
    repository: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

#[derive(Serialize)]
struct Named {
    id: Option<i64>,
    name: Option<String>,
}

#[derive(Serialize)]
struct ActivityEntity {
    id: i64,
    action: String,
    actor: Named,
    addr: Option<String>,
    namespace: Named,
    repository: Option<String>,
    tag: Option<String>,
    digest: Option<String>,
    team: Named,
    target: Option<String>,
    detail: serde_json::Value,
    count: i64,
    created_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
}

impl From<Activity> for ActivityEntity {
    fn from(a: Activity) -> Self {
        Self {
            id: a.id,
            action: a.action,
            actor: Named {
                id: a.actor_id,
                name: a.actor_name,
            },
            addr: a.addr,
            namespace: Named {
                id: a.namespace_id,
                name: a.namespace_name,
            },
            repository: a.repository,
            tag: a.tag,
            digest: a.digest,
            team: Named {
                id: a.team_id,
                name: a.team_name,
            },
            target: a.target,
            detail: a.detail,
            count: a.count,
            created_at: a.created_at,
            last_at: a.last_at,
        }
    }
}

/// An RFC 3339 time, or a date (midnight UTC).
fn parse_time(field: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{field} is invalid: want an RFC 3339 time or a YYYY-MM-DD date"
            ))
        })
}

fn filter(q: FilterQuery) -> Result<ActivityFilter, ApiError> {
    let action = match q.action.as_deref().filter(|a| !a.is_empty()) {
        Some(a) => Some(ActivityAction::parse(a).ok_or_else(|| {
            ApiError::BadRequest(format!("action is invalid: `{a}` is not an activity"))
        })?),
        None => None,
    };
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    Ok(ActivityFilter {
        user: nonempty(q.user),
        namespace: nonempty(q.namespace),
        repository: nonempty(q.repository),
        action,
        since: q
            .since
            .as_deref()
            .map(|s| parse_time("since", s))
            .transpose()?,
        until: q
            .until
            .as_deref()
            .map(|s| parse_time("until", s))
            .transpose()?,
    })
}

/// The caller's visibility, from `authz::activities`.
async fn visibility(ctx: &Ctx) -> Result<ActivityVisibility, ApiError> {
    let caller = ctx.api_caller();
    match activity_scope(caller) {
        ActivityScope::Unauthenticated => Err(ApiError::Unauthorized),
        ActivityScope::All => Ok(ActivityVisibility::All),
        ActivityScope::NamespacesAndOwn { own } => {
            let policy = ctx.policy();
            let mut namespace_ids = Vec::new();
            for n in ctx.store().namespaces().await? {
                let facts = match target(ctx, &n).await? {
                    berth_authz::portus_api::ApiTarget::Namespace(f) => f,
                    _ => continue,
                };
                if may_see_namespace_activities(caller, facts, &policy) {
                    namespace_ids.push(n.id);
                }
            }
            Ok(ActivityVisibility::Only {
                namespace_ids,
                actor_id: own,
            })
        }
    }
}

fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().starts_with("text/csv")))
}

pub(super) async fn list(
    ctx: Ctx,
    headers: HeaderMap,
    page: PageQuery,
    Query(q): Query<FilterQuery>,
) -> ApiResult {
    if wants_csv(&headers) {
        return export(&ctx, q).await;
    }
    let filter = filter(q)?;
    let visible = visibility(&ctx).await?;
    let w = page.window();
    let (rows, total) = ctx
        .store()
        .activities(
            &filter,
            &visible,
            ActivityPage {
                offset: w.offset(),
                limit: w.limit(EXPORT_CAP),
                ascending: page.ascending(),
            },
        )
        .await?;
    let out: Vec<ActivityEntity> = rows.into_iter().map(ActivityEntity::from).collect();
    Ok(paged(out, total, w))
}

pub(super) async fn csv(ctx: Ctx, Query(q): Query<FilterQuery>) -> ApiResult {
    export(&ctx, q).await
}

/// Every matching activity (up to [`EXPORT_CAP`]) as CSV, newest first.
async fn export(ctx: &Ctx, q: FilterQuery) -> ApiResult {
    let filter = filter(q)?;
    let visible = visibility(ctx).await?;
    let page = ActivityPage {
        offset: 0,
        limit: EXPORT_CAP,
        ascending: false,
    };
    let (rows, total) = ctx.store().activities(&filter, &visible, page).await?;
    let out = berth_store::activities_csv::activities_csv(rows);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"activities.csv\""),
    );
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        headers.insert("x-total", v);
    }
    Ok((StatusCode::OK, headers, out).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_actions_are_checked() {
        assert!(parse_time("since", "2024-01-02").is_ok());
        assert!(parse_time("since", "2024-01-02T03:04:05Z").is_ok());
        assert!(matches!(
            parse_time("since", "yesterday"),
            Err(ApiError::BadRequest(m)) if m.starts_with("since")
        ));
        let bad = FilterQuery {
            action: Some("push".into()),
            ..Default::default()
        };
        assert!(filter(bad).is_err());
    }
}
