//! Portus list conventions: `page`, `per_page` (15), `all`, `sort_attr`,
//! `sort_order`, and the `X-Total`/`X-Page`/... and `Link` headers.

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Deserialize, Default)]
pub(crate) struct Pagination {
    page: Option<usize>,
    per_page: Option<usize>,
    all: Option<bool>,
    sort_attr: Option<String>,
    sort_order: Option<String>,
}

pub(crate) type PageQuery = Query<Pagination>;

/// The rows one page covers, for lists paged in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub page: usize,
    pub per_page: usize,
    /// `all=true`: every row, no paging.
    pub all: bool,
}

impl Window {
    pub fn offset(&self) -> i64 {
        if self.all {
            0
        } else {
            i64::try_from((self.page - 1).saturating_mul(self.per_page)).unwrap_or(i64::MAX)
        }
    }

    /// Rows to fetch; `all` is capped at `cap`.
    pub fn limit(&self, cap: i64) -> i64 {
        if self.all {
            cap
        } else {
            i64::try_from(self.per_page).unwrap_or(cap).min(cap)
        }
    }
}

impl Pagination {
    pub fn window(&self) -> Window {
        Window {
            page: self.page.unwrap_or(1).max(1),
            per_page: self.per_page.unwrap_or(15).clamp(1, 1000),
            all: self.all.unwrap_or(false),
        }
    }

    /// `sort_order=asc`; lists paged in the database sort by time only.
    pub fn ascending(&self) -> bool {
        self.sort_order.as_deref() == Some("asc")
    }
}

/// A page already cut by the database, with Portus's headers for `total`.
pub(crate) fn paged<T: Serialize>(items: Vec<T>, total: i64, w: Window) -> Response {
    let total = usize::try_from(total).unwrap_or(0);
    let headers = page_headers(total, w.page, w.per_page);
    (StatusCode::OK, headers, Json(items)).into_response()
}

/// Orders two JSON field values: numbers by value, everything else as text,
/// missing fields last.
fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        (Value::Null, _) => std::cmp::Ordering::Greater,
        (_, Value::Null) => std::cmp::Ordering::Less,
        (x, y) => x.to_string().cmp(&y.to_string()),
    }
}

/// One page of `items`, sorted as asked, with Portus's pagination headers.
pub(crate) fn paginate<T: Serialize>(items: Vec<T>, q: &Pagination) -> Response {
    let mut items: Vec<Value> = items
        .iter()
        .filter_map(|i| serde_json::to_value(i).ok())
        .collect();
    if let Some(attr) = q.sort_attr.as_deref() {
        items.sort_by(|a, b| compare(&a[attr], &b[attr]));
        if q.sort_order.as_deref() == Some("desc") {
            items.reverse();
        }
    }
    let total = items.len();
    let Window {
        page,
        per_page,
        all,
    } = q.window();
    let shown: Vec<Value> = if all {
        items
    } else {
        items
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .collect()
    };
    let headers = page_headers(total, page, per_page);
    (StatusCode::OK, headers, Json(shown)).into_response()
}

/// `X-Total`, `X-Page`, ... and `Link` for `total` items.
fn page_headers(total: usize, page: usize, per_page: usize) -> HeaderMap {
    let pages = total.div_ceil(per_page).max(1);
    let next = (page < pages).then(|| page + 1);
    let prev = (page > 1).then(|| page - 1);
    let link = |p: usize, rel: &str| format!("<?page={p}&per_page={per_page}>; rel=\"{rel}\"");
    let mut links = vec![link(1, "first")];
    links.extend(prev.map(|p| link(p, "prev")));
    links.extend(next.map(|p| link(p, "next")));
    links.push(link(pages, "last"));
    let mut headers = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    set("x-total", total.to_string());
    set("x-total-pages", pages.to_string());
    set("x-per-page", per_page.to_string());
    set("x-page", page.to_string());
    set(
        "x-next-page",
        next.map(|p| p.to_string()).unwrap_or_default(),
    );
    set(
        "x-prev-page",
        prev.map(|p| p.to_string()).unwrap_or_default(),
    );
    set("link", links.join(", "));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_an_attribute_and_pages() {
        let q = Pagination {
            page: Some(2),
            per_page: Some(1),
            sort_attr: Some("name".into()),
            sort_order: Some("desc".into()),
            ..Default::default()
        };
        let items = vec![
            serde_json::json!({"name": "a"}),
            serde_json::json!({"name": "c"}),
            serde_json::json!({"name": "b"}),
        ];
        let r = paginate(items, &q);
        let h = r.headers();
        assert_eq!(h["x-total"], "3");
        assert_eq!(h["x-next-page"], "3");
        assert!(h["link"].to_str().unwrap().contains("rel=\"last\""));
    }
}
