//! The audit log as a page: filtered by user, namespace, repository,
//! action and time, paged, with the same rows as CSV. What a visitor sees
//! is `authz::activities`'s decision, as on `/api/v1/activities`: admins
//! everything, others the activities on namespaces they may read plus
//! their own.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Extension;
use berth_authz::activities::{activity_scope, may_see_namespace_activities, ActivityScope};
use berth_store::{Activity, ActivityAction, ActivityFilter, ActivityPage, ActivityVisibility};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::{page, Layout, PageResult};
use crate::error::WebError;
use crate::format::{offset, query_value, Pager, When, PER_PAGE};
use crate::visitor::Visitor;
use crate::Web;

/// The most rows one CSV download holds.
const EXPORT_CAP: i64 = 100_000;

#[derive(Deserialize, Default, Clone)]
pub(super) struct FilterQuery {
    page: Option<i64>,
    user: Option<String>,
    namespace: Option<String>,
    repository: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

impl FilterQuery {
    fn text(v: &Option<String>) -> String {
        v.clone().unwrap_or_default()
    }

    /// The filters as a query string, for pages and the CSV link.
    fn query(&self) -> String {
        let mut out = String::new();
        for (k, v) in [
            ("user", &self.user),
            ("namespace", &self.namespace),
            ("repository", &self.repository),
            ("action", &self.action),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                out.push_str(&format!("{k}={}&", query_value(v)));
            }
        }
        out
    }
}

fn date(raw: &Option<String>, end_of_day: bool) -> Result<Option<DateTime<Utc>>, String> {
    let Some(raw) = raw.as_deref().filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let d = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| format!("`{raw}` is not a date (YYYY-MM-DD)"))?;
    let d = if end_of_day {
        d.succ_opt().unwrap_or(d)
    } else {
        d
    };
    Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
}

fn filter(q: &FilterQuery) -> Result<ActivityFilter, String> {
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let action = match q.action.as_deref().filter(|a| !a.is_empty()) {
        Some(a) => Some(ActivityAction::parse(a).ok_or_else(|| format!("`{a}` is no action"))?),
        None => None,
    };
    Ok(ActivityFilter {
        user: nonempty(&q.user),
        namespace: nonempty(&q.namespace),
        repository: nonempty(&q.repository),
        action,
        since: date(&q.since, false)?,
        until: date(&q.until, true)?,
    })
}

/// What this visitor may see of the log.
async fn visibility(web: &Web, v: &Visitor) -> Result<ActivityVisibility, WebError> {
    let caller = v.api_caller();
    match activity_scope(caller) {
        ActivityScope::Unauthenticated => Err(WebError::SignIn),
        ActivityScope::All => Ok(ActivityVisibility::All),
        ActivityScope::NamespacesAndOwn { own } => {
            let policy = web.policy();
            let mut namespace_ids = Vec::new();
            for (n, role) in web.store().namespaces_with_role(Some(own)).await? {
                let role = role.as_deref().and_then(berth_store::parse_role);
                if let Some(facts) = n.facts(role) {
                    if may_see_namespace_activities(caller, facts, &policy) {
                        namespace_ids.push(n.id);
                    }
                }
            }
            Ok(ActivityVisibility::Only {
                namespace_ids,
                actor_id: own,
            })
        }
    }
}

pub(crate) struct ActivityRow {
    pub when: When,
    pub action: String,
    pub actor: String,
    pub what: String,
    pub count: i64,
}

impl From<Activity> for ActivityRow {
    fn from(a: Activity) -> Self {
        let what = [
            a.repository
                .clone()
                .map(|r| match &a.tag {
                    Some(t) => format!("{r}:{t}"),
                    None => r,
                })
                .or(a.namespace_name.clone()),
            a.team_name.clone().map(|t| format!("team {t}")),
            a.target.clone(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
        Self {
            when: When::new(a.last_at),
            action: a.action,
            actor: a.actor_name.unwrap_or_else(|| "anonymous".to_owned()),
            what,
            count: a.count,
        }
    }
}

/// The latest activities this visitor may see (the dashboard's list).
pub(crate) async fn recent(web: &Web, v: &Visitor, n: i64) -> Result<Vec<ActivityRow>, WebError> {
    let visible = visibility(web, v).await?;
    let page = ActivityPage {
        offset: 0,
        limit: n,
        ascending: false,
    };
    let (rows, _) = web
        .store()
        .activities(&ActivityFilter::default(), &visible, page)
        .await?;
    Ok(rows.into_iter().map(ActivityRow::from).collect())
}

#[derive(Template)]
#[template(path = "activities.html")]
struct Activities {
    l: Layout,
    rows: Vec<ActivityRow>,
    pager: Pager,
    user: String,
    namespace: String,
    repository: String,
    action: String,
    since: String,
    until: String,
    actions: Vec<&'static str>,
    csv: String,
    error: Option<String>,
}

pub(super) async fn list(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Query(q): Query<FilterQuery>,
) -> PageResult {
    let visible = visibility(&web, &v).await?;
    let (rows, total, error) = match filter(&q) {
        Ok(f) => {
            let page = ActivityPage {
                offset: offset(q.page),
                limit: PER_PAGE,
                ascending: false,
            };
            let (rows, total) = web.store().activities(&f, &visible, page).await?;
            (rows, total, None)
        }
        Err(e) => (Vec::new(), 0, Some(e)),
    };
    let query = q.query();
    page(&Activities {
        l: Layout::new(&v, "Activities", "activities"),
        rows: rows.into_iter().map(ActivityRow::from).collect(),
        pager: Pager::new(q.page, total, format!("/activities?{query}")),
        user: FilterQuery::text(&q.user),
        namespace: FilterQuery::text(&q.namespace),
        repository: FilterQuery::text(&q.repository),
        action: FilterQuery::text(&q.action),
        since: FilterQuery::text(&q.since),
        until: FilterQuery::text(&q.until),
        actions: ActivityAction::ALL.iter().map(|a| a.as_str()).collect(),
        csv: format!("/activities.csv?{query}"),
        error,
    })
}

pub(super) async fn csv(
    State(web): State<Web>,
    Extension(v): Extension<Visitor>,
    Query(q): Query<FilterQuery>,
) -> Result<impl IntoResponse, WebError> {
    let visible = visibility(&web, &v).await?;
    let f = filter(&q).map_err(|_| WebError::BadForm)?;
    let page = ActivityPage {
        offset: 0,
        limit: EXPORT_CAP,
        ascending: false,
    };
    let (rows, _) = web.store().activities(&f, &visible, page).await?;
    let out = berth_store::activities_csv::activities_csv(rows);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"activities.csv\"",
            ),
        ],
        out,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_filter_whole_days() {
        let q = FilterQuery {
            since: Some("2026-01-02".into()),
            until: Some("2026-01-02".into()),
            ..FilterQuery::default()
        };
        let f = filter(&q).unwrap();
        assert_eq!(f.since.unwrap().to_rfc3339(), "2026-01-02T00:00:00+00:00");
        assert_eq!(f.until.unwrap().to_rfc3339(), "2026-01-03T00:00:00+00:00");
        let bad = FilterQuery {
            since: Some("yesterday".into()),
            ..FilterQuery::default()
        };
        assert!(filter(&bad).is_err());
    }
}
